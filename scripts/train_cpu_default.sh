#!/usr/bin/env bash
# Train the CPU default weights on the shared data with the recipe's held-out split.
#   bash scripts/train_cpu_default.sh DATA_DIR OUT_DIR [more 'roadseg train' options]
# DATA_DIR is the shared data folder (see data/README.md); the sources and their
# held-out images are in scripts/recipes/cpu-default.sources (RECIPE=FILE for a variant).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$(cd "$1" && pwd)"
out="$2"
shift 2
args=()
while IFS= read -r line; do
  [[ -z "$line" || "$line" == \#* ]] && continue
  args+=(--source "${line//\{data\}/$data}")
done <"${RECIPE:-$here/recipes/cpu-default.sources}"
exec "${ROADSEG:-roadseg}" train "${args[@]}" --out "$out" "$@"
