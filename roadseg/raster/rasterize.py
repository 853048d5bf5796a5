"""Road lines to a road mask on a raster grid, with a buffer in metres (CRS-aware)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from pyproj import CRS
from rasterio.features import rasterize
from rasterio.transform import array_bounds

from roadseg.errors import InputNotFoundError, InvalidInputError, InvalidParameterError
from roadseg.io.remote import vector_network_env
from roadseg.io.urls import display_url, gdal_path, is_remote, redact
from roadseg.raster.crs import local_metric_crs, metres_per_unit

__all__ = ["lane_half_widths", "local_metric_crs", "rasterize_roads", "read_roads"]

#: CRS assumed for vector files that declare none (GeoJSON's default).
DEFAULT_VECTOR_CRS = "EPSG:4326"


def read_roads(path: str | os.PathLike[str], layer: str | None = None) -> gpd.GeoDataFrame:
    """Read road lines from a GeoJSON or GeoPackage file.

    An empty (0-byte) file, as SpaceNet ships for chips without roads, gives an empty
    frame. A file without a CRS is taken to be in EPSG:4326.

    Raises:
        InputNotFoundError: the file does not exist.
        InvalidInputError: the file cannot be read as vectors.
    """
    if is_remote(path):  # read by GDAL's network file systems, as the scenes are
        source: str | Path = gdal_path(path)
    else:
        source = Path(path)
        if not source.is_file():
            raise InputNotFoundError(f"{source}: road vector file not found")
        if source.stat().st_size == 0:
            return gpd.GeoDataFrame(geometry=[], crs=DEFAULT_VECTOR_CRS)
    try:
        with vector_network_env() if is_remote(path) else contextlib.nullcontext():
            frame = gpd.read_file(source, layer=layer) if layer else gpd.read_file(source)
    except Exception as exc:  # pyogrio raises several unrelated types
        raise InvalidInputError(
            f"{display_url(path)}: cannot read road vectors ({redact(str(exc))})"
        ) from None
    if frame.crs is None:
        frame = frame.set_crs(DEFAULT_VECTOR_CRS)
    return frame[~frame.geometry.is_empty & frame.geometry.notna()]


def lane_half_widths(
    roads: gpd.GeoDataFrame, field: str, lane_width_m: float, default_m: float
) -> np.ndarray:
    """Each road's half-width in metres from its lane count: ``lanes * lane_width_m / 2``.

    A road whose ``field`` is missing, not a number or not positive keeps ``default_m``
    (SpaceNet stores the count as text, ``"2"``).
    """
    if field not in roads.columns:
        return np.full(len(roads), default_m)
    lanes = pd.to_numeric(roads[field], errors="coerce").to_numpy(dtype=float)
    counted = np.isfinite(lanes) & (lanes > 0)
    return np.where(counted, lanes * lane_width_m / 2, default_m)


def rasterize_roads(
    roads: gpd.GeoDataFrame,
    crs: CRS | str,
    transform: Affine,
    shape: tuple[int, int],
    buffer_m: float | np.ndarray,
) -> np.ndarray:
    """Burn road lines, buffered by ``buffer_m`` metres on each side, onto a grid.

    ``buffer_m`` is one half-width for every road, or one per road (row order).

    The lines are reprojected to the grid's CRS; the buffer is drawn in metres in the
    grid's CRS when it is projected, or in the local UTM zone for geographic grids
    (EPSG:4326), then brought back.

    Returns:
        ``uint8`` array of ``shape``: 1 on roads, 0 elsewhere.
    """
    out = np.zeros(shape, dtype=np.uint8)
    if roads.empty:
        return out
    crs = CRS.from_user_input(crs)
    distance = np.asarray(buffer_m, dtype=float)
    if distance.ndim and distance.shape != (len(roads),):
        raise InvalidParameterError(f"{distance.size} buffers for {len(roads)} roads")
    if crs.is_geographic:
        metric = local_metric_crs(crs, array_bounds(shape[0], shape[1], transform))
        shapes = roads.to_crs(metric).buffer(distance).to_crs(crs)
    else:
        shapes = roads.to_crs(crs).buffer(distance / metres_per_unit(crs))
    shapes = [g for g in shapes if g is not None and not g.is_empty]
    if shapes:
        rasterize(
            ((g, 1) for g in shapes), out=out, transform=transform, all_touched=True, dtype="uint8"
        )
    return out
