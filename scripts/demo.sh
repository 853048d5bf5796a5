#!/usr/bin/env bash
# Set up .venv (if needed) and run the main job on a sample scene.
#
#   bash scripts/demo.sh              # a synthetic 1 m scene written to out/sample.tif
#   bash scripts/demo.sh scene.tif    # your own GeoTIFF
#
# Outputs in out/: roads.gpkg (open it in QGIS), probs.tif (road probability COG) and
# roads.png (a quick look of the roads over the scene).
set -euo pipefail
scene=${1:-}
if [ -n "$scene" ]; then
  # Resolve the scene from the folder the script was called in, before the cd below.
  if [ ! -f "$scene" ]; then
    echo "demo.sh: $scene: no such file" >&2
    exit 2
  fi
  scene="$(cd "$(dirname "$scene")" && pwd)/$(basename "$scene")"
fi
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
mkdir -p out
if [ -z "$scene" ]; then
  scene=out/sample.tif
  .venv/bin/python scripts/sample_scene.py "$scene"
fi
.venv/bin/roadseg models
.venv/bin/roadseg run "$scene" --out out/roads.gpkg --prob-out out/probs.tif \
  --preview out/roads.png --overwrite
echo "Done: open out/roads.gpkg in QGIS (drag and drop; it opens styled), or look at out/roads.png"
