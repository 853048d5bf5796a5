"""Each road's width, measured on the probability raster across its centreline."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from synthetic_roads import UTM, save_probabilities

from roadseg.vector import vectorize
from roadseg.vector.width import road_widths_px


def _write_roads(path: Path, roads: list[tuple[list[tuple[float, float]], float]], shape) -> Path:
    """Roads as (pixel line, width in pixels): probability 0.9 on them, 0.02 elsewhere."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    points = shapely.points(xx.ravel(), yy.ravel())
    prob = np.full(h * w, 0.02)
    for line, width in roads:
        near = shapely.distance(points, shapely.linestrings(line)) <= width / 2
        prob[near] = 0.9
    return save_probabilities(path, prob.reshape(shape), UTM)


def test_known_widths_straight_diagonal_and_through_a_junction(tmp_path: Path) -> None:
    # At 0.5 m per pixel: 4, 8 and 12 m wide horizontal roads, crossed by a 6 m road.
    roads = [
        ([(0, 40), (300, 40)], 8),
        ([(0, 120), (300, 120)], 16),
        ([(0, 220), (300, 220)], 24),
        ([(150, 0), (150, 300)], 12),
        ([(200, 260), (290, 290)], 10),  # diagonal, 5 m, a dead end at each side
    ]
    prob = _write_roads(tmp_path / "p.tif", roads, (300, 300))
    vectorize(prob, tmp_path / "r.gpkg")
    found = gpd.read_file(tmp_path / "r.gpkg", layer="roads")
    assert "width_m" in found.columns
    for line, width_px in roads:
        truth = shapely.linestrings(np.asarray(line, float))
        truth = shapely.transform(truth, lambda xy: np.column_stack(UTM[1] @ tuple(xy.T)))
        near = found[found.geometry.within(truth.buffer(4.0))]  # the pieces of this road
        assert len(near), f"road of {width_px} px not found"
        for got in near.width_m:
            assert got == pytest.approx(width_px * 0.5, abs=0.6), (width_px, list(near.width_m))


def test_width_reads_only_small_windows() -> None:
    reads: list[tuple[int, int]] = []
    mask = np.zeros((2000, 2000), bool)
    mask[995:1005, :] = True  # a 10 px road across a large raster

    def read(window):
        reads.append((int(window.height), int(window.width)))
        rows, cols = window.toslices()
        return mask[rows, cols]

    widths = road_widths_px(
        [np.array([[0.5, 1000.5], [1999.5, 1000.5]])], read, lambda v: v, mask.shape
    )
    assert widths[0] == pytest.approx(10, abs=1)
    assert len(reads) >= 7 and max(h * w for h, w in reads) < 400 * 400


def test_no_road_pixels_give_no_width() -> None:
    widths = road_widths_px(
        [np.array([[5.5, 5.5], [50.5, 5.5]])],
        lambda window: np.zeros((int(window.height), int(window.width)), bool),
        lambda v: v,
        (64, 64),
    )
    assert np.isnan(widths[0])
