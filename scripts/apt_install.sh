#!/usr/bin/env bash
# Best-effort install of Debian packages (needs root and apt-get); never fails the caller.
# Usage: scripts/apt_install.sh PACKAGE...
set -uo pipefail
[ "$#" -gt 0 ] || exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Installing Debian packages: $* ..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@") >/dev/null 2>&1 \
    || echo "apt-get could not install: $*"
else
  echo "No root/apt-get: not installing $*"
fi
exit 0
