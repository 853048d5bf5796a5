"""Small reads of the probability raster along a segment or a ray (vector stage)."""

from __future__ import annotations

import math

import numpy as np
import rasterio
from rasterio.windows import Window

from roadseg.raster.probability import PROB_MAX, PROB_NODATA
from roadseg.vector.source import ProbabilityEncoding, read_stored


def segment_support(
    src: rasterio.DatasetReader,
    p0: np.ndarray,
    p1: np.ndarray,
    encoding: ProbabilityEncoding | None = None,
) -> float:
    """Probability along a pixel-space segment: the 10th percentile of per-pixel samples.

    A low quantile, not the mean, so that a bridge is only made where (nearly) all of
    it has some support: a bridge across empty ground to another road does not pass.
    Nodata counts as 0.
    """
    n = max(2, math.ceil(float(np.hypot(*(p1 - p0)))) + 1)
    t = np.linspace(0, 1, n)
    cols = np.floor(p0[0] + (p1[0] - p0[0]) * t).astype(int)
    rows = np.floor(p0[1] + (p1[1] - p0[1]) * t).astype(int)
    cols = np.clip(cols, 0, src.width - 1)
    rows = np.clip(rows, 0, src.height - 1)
    c0, r0 = cols.min(), rows.min()
    win = Window(c0, r0, cols.max() - c0 + 1, rows.max() - r0 + 1)
    data = read_stored(src, win, encoding)
    vals = data[rows - r0, cols - c0].astype(np.float64)
    vals[vals == PROB_NODATA] = 0
    return float(np.percentile(vals, 10) / PROB_MAX)


def distance_to_nodata(
    src: rasterio.DatasetReader,
    p: np.ndarray,
    heading: np.ndarray,
    length: float,
    encoding: ProbabilityEncoding | None = None,
) -> float | None:
    """Distance from ``p`` along ``heading`` to the first no-data pixel, within ``length``.

    Samples every half pixel; returns a distance just inside the last valid pixel, or
    None when there is no no-data on the way (or the ray leaves the raster first).
    """
    steps = np.arange(0.25, length + 0.25, 0.5)
    if steps.size == 0:
        return None
    pts = p[None, :] + steps[:, None] * heading[None, :]
    cols, rows = np.floor(pts[:, 0]).astype(int), np.floor(pts[:, 1]).astype(int)
    inside = (cols >= 0) & (cols < src.width) & (rows >= 0) & (rows < src.height)
    n_in = int(np.argmin(inside)) if not inside.all() else inside.size
    if n_in == 0:
        return None
    cols, rows, steps = cols[:n_in], rows[:n_in], steps[:n_in]
    c0, r0 = int(cols.min()), int(rows.min())
    win = Window(c0, r0, int(cols.max()) - c0 + 1, int(rows.max()) - r0 + 1)
    vals = read_stored(src, win, encoding)[rows - r0, cols - c0]
    hit = np.nonzero(vals == PROB_NODATA)[0]
    if hit.size == 0:
        return None
    return max(0.0, float(steps[hit[0]]) - 0.5)
