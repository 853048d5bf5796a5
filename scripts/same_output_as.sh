#!/usr/bin/env bash
# Check that this working tree gives the same outputs as revision REV on the sample scene:
# byte-identical probability COGs (both engines, default and small blocks and tiles) and
# equal road and junction layers.
#   bash scripts/same_output_as.sh REV
# Run from the repository root with the project's .venv.
set -euo pipefail
rev="$1"
root="$(pwd)"
python="$root/.venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/old"
git archive "$rev" roadseg scripts | tar -x -C "$work/old"
cd "$work"  # not the checkout: python -m would import its roadseg first
PYTHONPATH="$root" "$python" "$root/scripts/sample_scene.py" sample.tif >/dev/null
status=0
for engine in torch onnx; do
  for size in default small; do
    opts=(--engine "$engine" --device cpu)
    [[ $size == small ]] && opts+=(--block-size 300 --tile-size 128)
    for side in old new; do
      path="$root"; [[ $side == old ]] && path="$work/old"
      PYTHONPATH="$path" "$python" -m roadseg -q run sample.tif --prob-out "$side-$engine-$size.tif" "${opts[@]}"
    done
    if cmp -s "old-$engine-$size.tif" "new-$engine-$size.tif"; then
      echo "probabilities $engine $size: byte-identical"
    else
      echo "probabilities $engine $size: DIFFERENT"; status=1
    fi
  done
done
for side in old new; do
  path="$root"; [[ $side == old ]] && path="$work/old"
  PYTHONPATH="$path" "$python" -m roadseg -q vectorize new-torch-default.tif --out "$side.gpkg" --no-progress
done
"$python" - <<'PY' || status=1
import sys

import geopandas as gpd

same = True
for layer in ("roads", "junctions"):
    a, b = (gpd.read_file(f"{side}.gpkg", layer=layer) for side in ("old", "new"))
    equal = (
        len(a) == len(b)
        and bool(a.geometry.geom_equals_exact(b.geometry, 0).all())
        and a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    )
    print(f"{layer}: {len(a)} and {len(b)} features, {'equal' if equal else 'DIFFERENT'}")
    same &= equal
sys.exit(0 if same else 1)
PY
exit $status
