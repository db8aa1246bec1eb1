#!/usr/bin/env bash
# Make the default text of `chainrule train --task charlm` available: the King James Bible
# (public domain) of Debian's packages bible-kjv-text (the text, compressed) and bible-kjv (its
# reader, `bible`, through which chainrule reads it). Nothing is downloaded at run time; without
# root or apt, pass `--text FILE` (any UTF-8 text).
set -uo pipefail
cd "$(dirname "$0")/.."
{ command -v bible >/dev/null 2>&1 && [ -f /usr/lib/bible.data ]; } || \
  bash scripts/apt_install.sh bible-kjv bible-kjv-text
exit 0
