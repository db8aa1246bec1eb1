#!/usr/bin/env bash
# Make the real Fashion-MNIST available: Debian's package installs the IDX files in
# /usr/share/datasets/fashion-mnist. Without root or apt, `chainrule train --download` fetches
# the files (and verifies their checksums) into chainrule's cache.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || \
  bash scripts/apt_install.sh dataset-fashion-mnist
exit 0
