"""Vectorising ground truth burnt on a real SpaceNet chip gives back its road graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from roadseg.evaluation.apls import evaluate_vector_files, read_lines
from roadseg.raster.probability import TAG_THRESHOLD, encode_probability
from roadseg.raster.rasterize import rasterize_roads
from roadseg.vector import VectorOptions, vectorize


@pytest.mark.realdata
def test_perfect_mask_of_vegas_chip_scores_near_one(shared_data: Path, tmp_path: Path) -> None:
    chip = shared_data / "spacenet" / "vegas_pan"
    truth = chip / "sample_roads_for_masking.geojson"
    lines = read_lines(truth)
    with rasterio.open(chip / "road_mask_input.tif") as src:
        shape = (src.height, src.width)
        mask = rasterize_roads(lines, src.crs, src.transform, shape, 3.0) > 0
        profile = dict(
            driver="GTiff",
            width=src.width,
            height=src.height,
            count=1,
            dtype="uint8",
            crs=src.crs,
            transform=src.transform,
            nodata=255,
        )
    # about 6 m wide roads at 0.3 m per pixel: 15-25 pixels across
    assert 0.02 < mask.mean() < 0.3
    prob = tmp_path / "prob.tif"
    with rasterio.open(prob, "w", **profile) as dst:
        dst.write(encode_probability(mask.astype(np.float32)), 1)
        dst.update_tags(**{TAG_THRESHOLD: "0.5"})
    one = vectorize(prob, tmp_path / "one.gpkg")
    many = vectorize(
        prob, tmp_path / "many.gpkg", options=VectorOptions(vector_block_size=300, halo=64)
    )
    assert one.crs == "EPSG:4326" and many.n_blocks == 25
    m1 = evaluate_vector_files(one.path, truth)
    mm = evaluate_vector_files(many.path, truth)
    assert m1["apls"] > 0.97
    assert mm["apls"] == pytest.approx(m1["apls"], abs=0.01)
    assert m1["pred_length_m"] == pytest.approx(m1["truth_length_m"], rel=0.05)
