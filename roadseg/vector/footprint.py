"""The valid area of a raster as a polygon in its CRS, from a decimated read of its mask."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.features import shapes

#: Longest side of the mask read to outline the valid area, in pixels.
OUTLINE_PX = 512


def valid_footprint(path: Path) -> shapely.Geometry:
    """The area of ``path`` holding data (not no-data), in the raster's CRS.

    The mask is read decimated to at most :data:`OUTLINE_PX` pixels a side, so the
    outline is accurate to a few output pixels and the read is small for any raster.
    """
    with rasterio.open(path) as src:
        scale = max(1.0, max(src.width, src.height) / OUTLINE_PX)
        out_shape = (max(1, math.ceil(src.height / scale)), max(1, math.ceil(src.width / scale)))
        mask = src.read_masks(1, out_shape=out_shape, resampling=Resampling.nearest) > 0
        transform = src.transform @ src.transform.scale(
            src.width / out_shape[1], src.height / out_shape[0]
        )
        bounds = shapely.box(*src.bounds)
    if mask.all():
        return bounds
    polygons = [
        shapely.geometry.shape(geom)
        for geom, value in shapes(mask.astype(np.uint8), mask=mask, transform=transform)
        if value
    ]
    return shapely.union_all(polygons) if polygons else shapely.Polygon()
