"""Pixel space to map coordinates, and lengths in metres."""

from __future__ import annotations

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS, Geod

from roadseg.raster.crs import metres_per_unit

_GEOD = Geod(ellps="WGS84")


def pixel_to_map(xy: np.ndarray, transform: Affine) -> np.ndarray:
    """(N, 2) pixel-space (col, row) coordinates to map coordinates via the transform."""
    xs, ys = transform @ (xy[:, 0], xy[:, 1])
    return np.column_stack([xs, ys])


def line_lengths_m(lines: np.ndarray | list[shapely.LineString], crs: CRS | None) -> np.ndarray:
    """Lengths in metres: geodesic (WGS84) for a geographic CRS, else the CRS's unit."""
    lines = np.asarray(lines, dtype=object)
    if len(lines) == 0:
        return np.zeros(0)
    if crs is not None and crs.is_geographic:
        return np.array([_GEOD.geometry_length(g) for g in lines], dtype=np.float64)
    factor = 1.0 if crs is None else metres_per_unit(crs)
    return shapely.length(lines) * factor
