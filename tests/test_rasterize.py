"""Road lines to masks, CRS-aware, with the buffer in metres."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer
from shapely.geometry import LineString

from roadseg.errors import InputNotFoundError
from roadseg.raster.rasterize import (
    lane_half_widths,
    local_metric_crs,
    rasterize_roads,
    read_roads,
)


def _write_geojson(path: Path, lines: list[list[tuple[float, float]]]) -> Path:
    features = [
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": c}}
        for c in lines
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_utm_grid_with_lonlat_vectors(tmp_path: Path) -> None:
    # 100 x 100 px at 1 m in UTM 33N; a north-south road at column 40 given in lon/lat.
    transform = Affine(1.0, 0, 500000.0, 0, -1.0, 5000100.0)
    to_lonlat = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    x = 500000.0 + 40.5
    line = [to_lonlat.transform(x, 5000100.0 + 10), to_lonlat.transform(x, 5000000.0 - 10)]
    roads = read_roads(_write_geojson(tmp_path / "roads.geojson", [line]))
    mask = rasterize_roads(roads, "EPSG:32633", transform, (100, 100), buffer_m=3.0)
    columns = np.flatnonzero(mask.any(axis=0))
    assert mask[:, 40].all()
    assert columns.min() >= 36 and columns.max() <= 44  # about 6 m wide
    assert 5 <= len(columns) <= 9


def test_lonlat_grid_buffer_is_in_metres(tmp_path: Path) -> None:
    # An EPSG:4326 grid of about 0.3 m pixels at 31 degrees north (as SpaceNet Shanghai).
    res = 2.7e-6
    transform = Affine(res, 0, 121.0, 0, -res, 31.0)
    lon = 121.0 + 50.5 * res
    roads = gpd.GeoDataFrame(
        geometry=[LineString([(lon, 31.0), (lon, 31.0 - 100 * res)])], crs=4326
    )
    mask = rasterize_roads(roads, "EPSG:4326", transform, (100, 100), buffer_m=1.5)
    columns = np.flatnonzero(mask.any(axis=0))
    assert mask[:, 50].all()
    # 3 m wide: about 3 / (2.7e-6 deg * 111 km * cos 31 deg = 0.257 m) = 11.7 px.
    assert 10 <= len(columns) <= 14
    assert not mask[:, :40].any()


def test_roads_drawn_as_wide_as_their_lanes() -> None:
    # Three north-south roads on a 1 m UTM grid: 1 lane, 4 lanes, and no usable count
    # (SpaceNet writes the count as text; a road without one keeps the plain buffer).
    transform = Affine(1.0, 0, 500000.0, 0, -1.0, 5000100.0)
    xs = (500020.5, 500060.5, 500090.5)
    roads = gpd.GeoDataFrame(
        {"lane_number": ["1", "4", "n/a"]},
        geometry=[LineString([(x, 5000110.0), (x, 4999990.0)]) for x in xs],
        crs="EPSG:32633",
    )
    half = lane_half_widths(roads, "lane_number", lane_width_m=3.5, default_m=2.5)
    assert half.tolist() == [1.75, 7.0, 2.5]
    mask = rasterize_roads(roads, "EPSG:32633", transform, (100, 100), half)
    row = mask[50]
    widths = [int(row[lo:hi].sum()) for lo, hi in ((5, 40), (41, 80), (81, 100))]
    # all_touched adds up to a pixel on each side of the exact width.
    assert 3 <= widths[0] <= 5 and 14 <= widths[1] <= 16 and 5 <= widths[2] <= 7
    assert lane_half_widths(roads, "lanes", 3.5, 2.5).tolist() == [2.5, 2.5, 2.5]


def test_empty_file_means_no_roads(tmp_path: Path) -> None:
    empty = tmp_path / "none.geojson"
    empty.write_bytes(b"")
    roads = read_roads(empty)
    assert roads.empty
    mask = rasterize_roads(roads, "EPSG:32633", Affine(1, 0, 0, 0, -1, 0), (8, 8), 2.0)
    assert mask.shape == (8, 8) and not mask.any()


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        read_roads(tmp_path / "absent.geojson")


def test_local_metric_crs() -> None:
    assert local_metric_crs("EPSG:32633", (0, 0, 1, 1)).to_epsg() == 32633
    assert local_metric_crs("EPSG:4326", (121.6, 31.3, 121.61, 31.31)).to_epsg() == 32651
