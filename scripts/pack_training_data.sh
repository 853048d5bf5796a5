#!/usr/bin/env bash
# Copy the labelled training data into one folder small enough to send to a GPU machine
# (< 64 MiB): the Massachusetts tiles under 30 % white, DeepGlobe's labelled pairs and
# the SpaceNet Shanghai pan-sharpened chips with their road lines.
#
#   bash scripts/pack_training_data.sh ../shared/data pack
#
# The result keeps the source layouts, so the same --source options work on it.
set -euo pipefail
src=${1:?usage: pack_training_data.sh SHARED_DATA_FOLDER OUT_FOLDER}
out=${2:?usage: pack_training_data.sh SHARED_DATA_FOLDER OUT_FOLDER}
mkdir -p "$out/massachusetts/train/images" "$out/massachusetts/train/masks" \
  "$out/deepglobe/train" "$out/spacenet/shanghai"
# tiles.csv: column 2 is the file name (its extension is that of the source repository), 13 the white fraction.
awk -F, 'NR > 1 && $13 < 0.3 { sub(/\.[a-z]+$/, "", $2); print $2 }' "$src/massachusetts/tiles.csv" |
  while read -r stem; do
    cp "$src/massachusetts/train/images/$stem.jpg" "$out/massachusetts/train/images/"
    cp "$src/massachusetts/train/masks/$stem.png" "$out/massachusetts/train/masks/"
  done
cp "$src"/deepglobe/train/*_sat.jpg "$src"/deepglobe/train/*_mask.png "$out/deepglobe/train/"
cp -r "$src/spacenet/shanghai/RGB-PanSharpen" "$src/spacenet/shanghai/geojson" "$out/spacenet/shanghai/"
du -sh "$out"
