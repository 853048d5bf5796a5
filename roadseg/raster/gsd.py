"""Ground sample distance in metres, for projected and geographic rasters."""

from __future__ import annotations

import math

from affine import Affine
from pyproj import CRS, Geod

from roadseg.raster.crs import metres_per_unit

_WGS84 = Geod(ellps="WGS84")


def pixel_size_m(
    crs: CRS | object | None, transform: Affine, width: int, height: int
) -> tuple[float, float] | None:
    """Width and height of a pixel in metres, or ``None`` when the raster has no CRS.

    Geographic CRSs are measured geodesically at the scene centre, so an EPSG:4326
    pixel of 2.7e-6 degrees at 31 degrees north is about 0.26 m wide and 0.30 m high.
    """
    if crs is None:
        return None
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        cx, cy = transform @ (width / 2, height / 2)
        ex, ey = transform @ (width / 2 + 1, height / 2)
        sx, sy = transform @ (width / 2, height / 2 + 1)
        return float(_WGS84.inv(cx, cy, ex, ey)[2]), float(_WGS84.inv(cx, cy, sx, sy)[2])
    factor = metres_per_unit(crs)
    return (
        float(math.hypot(transform.a, transform.d) * factor),
        float(math.hypot(transform.b, transform.e) * factor),
    )


def ground_sample_distance(
    crs: CRS | object | None, transform: Affine, width: int, height: int
) -> float | None:
    """Mean pixel size in metres, or ``None`` when the raster has no CRS.

    Projected CRSs use their linear unit; geographic CRSs measure the pixel's geodesic
    width and height at the scene centre (so an EPSG:4326 scene at 0.3 m gives 0.3,
    not 2.7e-6).
    """
    size = pixel_size_m(crs, transform, width, height)
    return None if size is None else float((size[0] + size[1]) / 2)
