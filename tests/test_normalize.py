"""Per-scene normalisation shared by training and inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from roadseg.raster.normalize import BandStats, compute_band_stats, normalize, scene_band_stats


def test_percentile_stretch_maps_to_unit_range() -> None:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 2048, size=(3, 200, 300), dtype=np.uint16)
    stats = compute_band_stats(array)
    out = normalize(array, stats)
    assert out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == 1.0
    assert 0.45 < float(np.median(out)) < 0.55


def test_invalid_pixels_do_not_count() -> None:
    array = np.full((1, 100, 100), 100, dtype=np.uint8)
    array[0, :50] = np.arange(50)[:, None] + 100
    valid = np.ones((100, 100), bool)
    array[0, 90:] = 0  # no-data border
    valid[90:] = False
    stats = compute_band_stats(array, valid)
    assert stats.low[0] >= 100


def test_scene_stats_match_in_memory_stats(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    array = rng.normal(500, 100, size=(2, 300, 400)).astype(np.float32)
    path = tmp_path / "s.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=400,
        height=300,
        count=2,
        dtype="float32",
        crs="EPSG:32633",
        transform=from_origin(500000, 4000000, 1, 1),
    ) as dst:
        dst.write(array)
    with rasterio.open(path) as src:
        stats = scene_band_stats(src, [1, 2])
    direct = compute_band_stats(array)
    np.testing.assert_allclose(stats.low, direct.low, rtol=1e-3)
    assert BandStats.from_dict(stats.to_dict()) == stats
