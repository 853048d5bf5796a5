"""predict_scene on real scenes: a drone mosaic with alpha, a WorldView PAN chip in EPSG:4326."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from inference_helpers import local_checkpoint
from rasterio.enums import Resampling

from roadseg.inference import InferenceOptions, predict_scene
from roadseg.raster.probability import PROB_NODATA

pytestmark = pytest.mark.realdata


def test_drone_mosaic_with_alpha_keeps_footprint_and_no_data(
    shared_data: Path, tmp_path: Path
) -> None:
    scene = shared_data / "unlabelled_aerial" / "pix4d_alpha_nodata.tif"
    model = local_checkpoint(tmp_path / "m.safetensors", gsd_m=0.7)  # about half the 0.35 m
    result = predict_scene(
        scene, tmp_path / "p.tif", InferenceOptions(model=model, device="cpu", tile_size=128)
    )
    with rasterio.open(scene) as src, rasterio.open(result.path) as dst:
        assert dst.crs == src.crs
        np.testing.assert_allclose(tuple(dst.bounds), tuple(src.bounds), atol=1e-6)
        assert dst.width < src.width * 0.6  # resampled to the model's coarser grid
        valid = src.dataset_mask(out_shape=dst.shape, resampling=Resampling.nearest) > 0
        stored = dst.read(1)
    assert 0.05 < (~valid).mean() < 0.95  # the mosaic has transparent corners
    agree = ((stored == PROB_NODATA) == ~valid).mean()
    assert agree > 0.99
    assert result.gsd_m == pytest.approx(0.7, rel=0.01)


def test_worldview_pan_uint16_in_epsg4326(shared_data: Path, tmp_path: Path) -> None:
    scene = shared_data / "spacenet" / "shanghai" / "PAN" / "PAN_AOI_4_Shanghai_img1700.tif"
    model = local_checkpoint(tmp_path / "m.safetensors", gsd_m=0.6)
    result = predict_scene(
        scene, tmp_path / "p.tif", InferenceOptions(model=model, device="cpu", tile_size=256)
    )
    with rasterio.open(scene) as src, rasterio.open(result.path) as dst:
        assert src.crs.to_epsg() == 4326 and src.dtypes[0] == "uint16" and src.count == 1
        assert dst.crs == src.crs
        np.testing.assert_allclose(tuple(dst.bounds), tuple(src.bounds), atol=1e-9)
        assert dst.width < src.width * 0.6
        stored = dst.read(1)
    assert result.gsd_m == pytest.approx(0.6, rel=0.01)
    assert (stored != PROB_NODATA).mean() > 0.5
