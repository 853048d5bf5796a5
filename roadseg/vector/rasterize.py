"""Road lines to a road mask on a raster grid (ground truth as a 'perfect' probability)."""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
from affine import Affine
from pyproj import CRS
from rasterio.features import rasterize


def burn_roads(
    lines: Iterable[object],
    crs: object,
    transform: Affine,
    shape: tuple[int, int],
    half_width_m: float = 3.0,
) -> np.ndarray:
    """Boolean mask of pixels within ``half_width_m`` metres of any line.

    The buffer is made in metres (the local UTM zone for a geographic CRS) and burnt
    on the given grid, so a 6 m wide road is 6 m wide whatever the CRS.
    """
    gs = gpd.GeoSeries(list(lines), crs=CRS.from_user_input(crs))
    gs = gs[gs.notna() & ~gs.is_empty]
    if len(gs) == 0:
        return np.zeros(shape, dtype=bool)
    metric = gs.estimate_utm_crs() if gs.crs.is_geographic else gs.crs
    buffered = gs.to_crs(metric).buffer(half_width_m).to_crs(gs.crs)
    burnt = rasterize(
        [(g, 1) for g in buffered if g is not None and not g.is_empty],
        out_shape=shape,
        transform=transform,
        dtype="uint8",
    )
    return burnt.astype(bool)
