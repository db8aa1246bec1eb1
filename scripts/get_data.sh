#!/usr/bin/env bash
# Make the real Fashion-MNIST available: Debian's package installs the IDX files in
# /usr/share/datasets/fashion-mnist. Without root or apt, chainrule downloads the files itself
# (and verifies their checksums) the first time they are needed.
set -uo pipefail
dir=/usr/share/datasets/fashion-mnist
if [ -f "$dir/train-images-idx3-ubyte.gz" ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Installing Debian's dataset-fashion-mnist ..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) \
    >/dev/null 2>&1 || echo "apt-get could not install dataset-fashion-mnist; chainrule will download the files."
else
  echo "No root/apt: chainrule will download Fashion-MNIST into its cache on first use."
fi
exit 0
