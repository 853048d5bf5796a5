#!/usr/bin/env bash
# Set up .venv (if needed) and show roadseg working.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/roadseg models
