#!/usr/bin/env bash
# Install the test dependencies (PyTorch 2.13 CPU as the reference, hypothesis, ...) into .venv
# and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# optional system tools some tests use (graph pictures need Graphviz's `dot`; one test reads the
# real Fashion-MNIST); the tests that need them are skipped where they cannot be installed
command -v dot >/dev/null 2>&1 || bash scripts/apt_install.sh graphviz
bash scripts/get_data.sh
exec .venv/bin/python -m pytest "$@"
