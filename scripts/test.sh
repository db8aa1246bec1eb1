#!/usr/bin/env bash
# Install the test dependencies (PyTorch 2.13 CPU as the reference, hypothesis, ...) into .venv
# and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec .venv/bin/python -m pytest "$@"
