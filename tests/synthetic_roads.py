"""Synthetic probability rasters with known centrelines (the vector tests), and a small
labelled scene with its road line (the data-path and validation tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio.features import rasterize
from rasterio.transform import from_origin

from roadseg.raster.probability import TAG_THRESHOLD, encode_probability

#: A UTM grid at 0.5 m and a geographic grid at about 0.5 m (Las Vegas latitude).
UTM = ("EPSG:32611", Affine(0.5, 0, 500_000.0, 0, -0.5, 4_000_000.0))
GEO = ("EPSG:4326", Affine(4.5e-6, 0, -115.2, 0, -4.5e-6, 36.2))


def pixel_lines_to_map(lines_px: list[list[tuple[float, float]]], transform: Affine) -> list:
    """Lines given in pixel (col, row) coordinates, as map-coordinate LineStrings."""
    out = []
    for line in lines_px:
        xy = np.asarray(line, dtype=float)
        xs, ys = transform @ (xy[:, 0], xy[:, 1])
        out.append(shapely.linestrings(np.column_stack([xs, ys])))
    return out


def write_prob_raster(
    path: Path,
    lines_px: list[list[tuple[float, float]]],
    shape: tuple[int, int],
    grid: tuple[str, Affine] = UTM,
    half_width_px: float = 4.0,
    threshold: float | None = 0.5,
    nodata_rows: slice | None = None,
) -> Path:
    """Write roads along ``lines_px`` (pixel coordinates) as a probability raster.

    Probability falls off with distance from the centreline: 0.95 on it, 0 beyond
    twice the half width, 0.5 at the half width.
    """
    h, w = shape
    dist = np.full(shape, np.inf, dtype=np.float32)
    if lines_px:
        # distance to the nearest centreline, computed in pixel space
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
        pts = shapely.points(xx.ravel(), yy.ravel())
        union = shapely.union_all(
            [shapely.linestrings(np.asarray(line, float)) for line in lines_px]
        )
        dist = shapely.distance(pts, union).reshape(shape).astype(np.float32)
    prob = np.clip(0.95 - 0.45 * (dist / half_width_px) ** 2, 0.0, 1.0)
    prob = np.where(dist > 2 * half_width_px, 0.02, prob)
    valid = np.ones(shape, bool)
    if nodata_rows is not None:
        valid[nodata_rows] = False
    return save_probabilities(path, prob, grid, valid, threshold)


def save_probabilities(
    path: Path,
    prob: np.ndarray,
    grid: tuple[str, Affine] = UTM,
    valid: np.ndarray | None = None,
    threshold: float | None = 0.5,
) -> Path:
    """Write probabilities in 0-1 as roadseg's probability raster (uint8, 255 = no data)."""
    crs, transform = grid
    h, w = prob.shape
    stored = encode_probability(prob, np.ones(prob.shape, bool) if valid is None else valid)
    profile = dict(
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="uint8",
        crs=crs,
        transform=transform,
        nodata=255,
        tiled=True,
        blockxsize=64,
        blockysize=64,
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(stored, 1)
        if threshold is not None:
            dst.update_tags(**{TAG_THRESHOLD: str(threshold)})
    return path


def burn_lines(geoms: list, shape: tuple[int, int], transform: Affine) -> np.ndarray:
    return rasterize([(g, 1) for g in geoms], out_shape=shape, transform=transform, dtype="uint8")


def write_road_scene(folder: Path, name: str = "RGB_AOI_img5.tif") -> tuple[Path, Path]:
    """A 0.6 m UTM uint16 four-band scene with a no-data corner and a bright east-west
    road, and its road line as GeoJSON: ``(scene, truth)``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    pixels = rng.integers(200, 1800, size=(4, 150, 170)).astype(np.uint16)
    pixels[:, 60:70, :] = 3000  # a bright east-west road
    pixels[:, :20, :30] = 0  # no data
    path = folder / name
    transform = from_origin(500000.0, 4000000.0, 0.6, 0.6)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=170,
        height=150,
        count=4,
        dtype="uint16",
        crs="EPSG:32633",
        transform=transform,
        nodata=0,
    ) as dst:
        dst.write(pixels)
    y = 4000000.0 - 65 * 0.6
    line = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "LineString", "coordinates": [[500000.0, y], [500102.0, y]]},
            }
        ],
    }
    truth = folder / "roads_AOI_img5.geojson"
    truth.write_text(json.dumps(line))
    return path, truth
