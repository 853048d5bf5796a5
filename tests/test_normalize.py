"""Per-scene normalisation shared by training and inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
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


def test_huge_scene_without_overviews_is_sampled_in_windows(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the size limit the statistics come from a grid of small windows, and they
    agree with the whole scene's."""
    import rasterio
    from rasterio.transform import from_origin

    import roadseg.raster.normalize as N

    rng = np.random.default_rng(1)
    pixels = rng.normal(1000, 200, size=(2, 600, 700)).clip(1, 4000).astype(np.uint16)
    path = tmp_path / "big.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=700,
        height=600,
        count=2,
        dtype="uint16",
        crs="EPSG:32633",
        transform=from_origin(0, 0, 1, 1),
        tiled=True,
    ) as dst:
        dst.write(pixels)
    reads: list[object] = []
    with rasterio.open(path) as src:
        whole = N.scene_band_stats(src, (1, 2))
        monkeypatch.setattr(N, "STATS_WINDOWED_PIXELS", 1000)
        real_read = type(src).read

        def counting_read(self, *args, **kwargs):
            reads.append(kwargs.get("window"))
            return real_read(self, *args, **kwargs)

        monkeypatch.setattr(type(src), "read", counting_read)
        sampled = N.scene_band_stats(src, (1, 2))
    assert len(reads) == N.STATS_WINDOWS**2 and all(w is not None for w in reads)
    np.testing.assert_allclose(sampled.low, whole.low, rtol=0.03)
    np.testing.assert_allclose(sampled.high, whole.high, rtol=0.03)
