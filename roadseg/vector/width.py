"""Each road's width, measured across its centreline on the probability raster.

Where the probability reaches the threshold is road; the Euclidean distance transform of
that mask gives, at a centreline pixel, the distance to the nearest pixel that is not
road, and twice it (less half a pixel) is the road's width there, whatever its direction.
Samples near a road's ends are left out, because a junction's crossing roads (and a
rounded dead end) make it look wider (or narrower) there, and the road's width is the
median of the rest. The raster is read in small windows along each road, never whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from rasterio.windows import Window
from scipy import ndimage

#: Centreline samples per pixel of length.
SAMPLES_PER_PX = 0.5
#: Longest stretch of road measured from one window read, in pixels.
CHUNK_PX = 256
#: Pixels read beyond a chunk's samples on every side: more than half the widest road.
PAD_PX = 48


def road_widths_px(
    lines: Sequence[np.ndarray],
    read: Callable[[Window], np.ndarray],
    is_road: Callable[[np.ndarray], np.ndarray],
    shape: tuple[int, int],
) -> np.ndarray:
    """The width in pixels of each road (NaN where it cannot be measured).

    Args:
        lines: each road's centreline as (x, y) pixel coordinates (pixel centres at
            ``col + 0.5``), in the raster's pixel space.
        read: reads the raster's stored values in a window.
        is_road: which stored values are road.
        shape: the raster's (height, width).
    """
    return np.array([_width(xy, read, is_road, shape) for xy in lines], dtype=np.float64)


def _width(
    xy: np.ndarray,
    read: Callable[[Window], np.ndarray],
    is_road: Callable[[np.ndarray], np.ndarray],
    shape: tuple[int, int],
) -> float:
    points, along, length = _samples(xy)
    if not len(points):
        return math.nan
    widths = np.full(len(points), np.nan)
    for start in range(0, len(points), int(CHUNK_PX * SAMPLES_PER_PX)):
        chunk = slice(start, start + int(CHUNK_PX * SAMPLES_PER_PX))
        widths[chunk] = _measure(points[chunk], read, is_road, shape)
    valid = np.isfinite(widths)
    if not valid.any():
        return math.nan
    typical = float(np.median(widths[valid]))
    # Leave out a road width (and at least 3 px) at each end, or the middle half of a
    # road too short for that.
    margin = min(max(typical, 3.0), 0.25 * length)
    inner = valid & (along >= margin) & (along <= length - margin)
    return float(np.median(widths[inner])) if inner.any() else typical


def _samples(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Points along the line every 1 / SAMPLES_PER_PX pixels, and their distance along it."""
    steps = np.hypot(*np.diff(xy, axis=0).T)
    cumulative = np.r_[0.0, np.cumsum(steps)]
    length = float(cumulative[-1])
    if length <= 0:
        return np.zeros((0, 2)), np.zeros(0), 0.0
    along = np.linspace(0.0, length, max(2, math.ceil(length * SAMPLES_PER_PX) + 1))
    points = np.column_stack(
        [np.interp(along, cumulative, xy[:, 0]), np.interp(along, cumulative, xy[:, 1])]
    )
    return points, along, length


def _measure(
    points: np.ndarray,
    read: Callable[[Window], np.ndarray],
    is_road: Callable[[np.ndarray], np.ndarray],
    shape: tuple[int, int],
) -> np.ndarray:
    height, width = shape
    cols, rows = np.floor(points[:, 0]).astype(int), np.floor(points[:, 1]).astype(int)
    c0, r0 = max(int(cols.min()) - PAD_PX, 0), max(int(rows.min()) - PAD_PX, 0)
    c1, r1 = min(int(cols.max()) + PAD_PX + 1, width), min(int(rows.max()) + PAD_PX + 1, height)
    if c1 <= c0 or r1 <= r0:
        return np.full(len(points), np.nan)
    mask = is_road(read(Window(c0, r0, c1 - c0, r1 - r0)))
    if mask.all():  # road to the window's edges: wider than it can measure
        return np.full(len(points), np.nan)
    distance = ndimage.distance_transform_edt(mask)
    # The centreline may run a pixel off the mask's middle: the largest distance in
    # its 3x3 neighbourhood is the half-width (sampled there, not filtered everywhere).
    half = np.zeros(len(points))
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            rr = np.clip(rows - r0 + dr, 0, mask.shape[0] - 1)
            cc = np.clip(cols - c0 + dc, 0, mask.shape[1] - 1)
            np.maximum(half, distance[rr, cc], out=half)
    # The distance runs to the centre of the first pixel off the road: twice it is
    # w + 1 for an odd width w and w for an even one (the centreline then lies on a
    # pixel edge); half a pixel less is right on average wherever the road lies.
    return np.where(half > 0, 2.0 * half - 0.5, np.nan)
