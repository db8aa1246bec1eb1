#!/usr/bin/env bash
# The main job: set everything up on a fresh machine, then train LeNet-5 on Fashion-MNIST.
# Extra arguments go to `chainrule train` (e.g. --epochs 1; `--task charlm` trains the GPT on
# the King James Bible that scripts/get_text.sh installs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh train
bash scripts/get_data.sh
bash scripts/get_text.sh
exec .venv/bin/chainrule train "$@"
