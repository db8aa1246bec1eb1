#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install chainrule with the
# given extras, e.g. `scripts/setup.sh train` or `scripts/setup.sh test`. Sourced by the others.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="${1:-train}"
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
