"""Per-scene input normalisation, shared by training and inference.

Statistics are computed once per scene from a decimated read, never per tile: a
per-tile stretch gives each tile its own brightness and makes seams. The same
functions turn a training image and an inference scene into model input, so the model
sees identical value ranges in both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from roadseg.errors import InvalidParameterError

#: Pixels read to estimate the statistics of a scene (a decimated overview).
STATS_MAX_PIXELS = 1 << 20
#: Above this many pixels, a scene without overviews is sampled in windows: a
#: decimated read of it would still decode every block of the file.
STATS_WINDOWED_PIXELS = 10_000 * 10_000
#: The windowed sample: a grid of STATS_WINDOWS x STATS_WINDOWS windows of
#: STATS_WINDOW x STATS_WINDOW full-resolution pixels, evenly spaced.
STATS_WINDOWS = 16
STATS_WINDOW = 64


@dataclass(frozen=True)
class BandStats:
    """Per-band low and high values of a percentile stretch."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.low) != len(self.high):
            raise InvalidParameterError("BandStats needs as many low values as high values")

    @property
    def count(self) -> int:
        return len(self.low)

    def to_dict(self) -> dict[str, list[float]]:
        return {"low": list(self.low), "high": list(self.high)}

    @classmethod
    def from_dict(cls, raw: dict[str, Sequence[float]]) -> BandStats:
        return cls(tuple(float(v) for v in raw["low"]), tuple(float(v) for v in raw["high"]))


def compute_band_stats(
    array: np.ndarray,
    valid: np.ndarray | None = None,
    normalization: dict[str, Any] | None = None,
) -> BandStats:
    """Percentile statistics of a ``(bands, height, width)`` array.

    Args:
        array: pixel values, any numeric dtype.
        valid: optional ``(height, width)`` boolean mask of pixels to use (False for
            no-data); if no pixel is valid the dtype's range is used.
        normalization: ``{"method": "percentile", "low": 2, "high": 98}`` (the default).
    """
    method, low_pct, high_pct = _parse(normalization)
    if array.ndim != 3:
        raise InvalidParameterError(f"expected a (bands, height, width) array, got {array.shape}")
    step = max(1, math.isqrt(array.shape[1] * array.shape[2] // STATS_MAX_PIXELS))
    sample = array[:, ::step, ::step]
    mask = None if valid is None else valid[::step, ::step]
    lows, highs = [], []
    for band in sample:
        values = band[mask] if mask is not None else band.ravel()
        values = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        if values.size == 0:
            lo, hi = _dtype_range(array.dtype)
        elif method == "minmax":
            lo, hi = float(values.min()), float(values.max())
        else:
            lo, hi = (float(v) for v in np.percentile(values, [low_pct, high_pct]))
        if hi <= lo:
            hi = lo + 1.0
        lows.append(lo)
        highs.append(hi)
    return BandStats(tuple(lows), tuple(highs))


def scene_band_stats(
    dataset: rasterio.io.DatasetReader,
    bands: Sequence[int],
    normalization: dict[str, Any] | None = None,
    max_pixels: int = STATS_MAX_PIXELS,
    nodata: float | None = None,
) -> BandStats:
    """Statistics of a whole scene from one decimated read (overviews when present).

    Memory is bounded by ``max_pixels`` whatever the scene size. No-data, internal
    masks and alpha are excluded, and so are pixels whose bands all equal ``nodata``.
    A scene of over ``STATS_WINDOWED_PIXELS`` without overviews is sampled instead in
    a grid of small full-resolution windows, so the time does not grow with its size.
    """
    pixels = dataset.width * dataset.height
    if pixels > STATS_WINDOWED_PIXELS and not dataset.overviews(bands[0]):
        data, valid = _windowed_sample(dataset, bands)
        if nodata is not None:
            valid &= ~np.all(data == nodata, axis=0)
        return compute_band_stats(data, valid, normalization)
    scale = max(1.0, math.sqrt(pixels / max_pixels))
    out_h = max(1, round(dataset.height / scale))
    out_w = max(1, round(dataset.width / scale))
    data = dataset.read(
        list(bands), out_shape=(len(bands), out_h, out_w), resampling=Resampling.nearest
    )
    valid = dataset.dataset_mask(out_shape=(out_h, out_w), resampling=Resampling.nearest) > 0
    if nodata is not None:
        valid &= ~np.all(data == nodata, axis=0)
    return compute_band_stats(data, valid, normalization)


def _windowed_sample(
    dataset: rasterio.io.DatasetReader, bands: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """A ``STATS_WINDOWS``-square grid of windows, tiled side by side into one array."""
    n, side = STATS_WINDOWS, STATS_WINDOW
    data = np.zeros((len(bands), n * side, n * side), dtype=dataset.dtypes[bands[0] - 1])
    valid = np.zeros((n * side, n * side), dtype=bool)
    h, w = min(side, dataset.height), min(side, dataset.width)
    for i in range(n):
        top = round((dataset.height - h) * (i + 0.5) / n)
        for j in range(n):
            left = round((dataset.width - w) * (j + 0.5) / n)
            window = Window(left, top, w, h)
            rows, cols = Window(j * side, i * side, w, h).toslices()  # its place in the mosaic
            data[:, rows, cols] = dataset.read(list(bands), window=window)
            valid[rows, cols] = dataset.dataset_mask(window=window) > 0
    return data, valid


def normalize(array: np.ndarray, stats: BandStats) -> np.ndarray:
    """Stretch ``(bands, ...)`` values to float32 in [0, 1] with per-band statistics."""
    if array.shape[0] != stats.count:
        raise InvalidParameterError(
            f"array has {array.shape[0]} bands but the statistics have {stats.count}"
        )
    low = np.asarray(stats.low, dtype=np.float32).reshape((-1,) + (1,) * (array.ndim - 1))
    high = np.asarray(stats.high, dtype=np.float32).reshape(low.shape)
    out = array.astype(np.float32)  # a copy; the rest works in place (bounded memory)
    out -= low
    out /= high - low
    np.clip(out, 0.0, 1.0, out=out)
    return out


def _parse(normalization: dict[str, Any] | None) -> tuple[str, float, float]:
    spec = normalization or {"method": "percentile", "low": 2.0, "high": 98.0}
    method = spec.get("method", "percentile")
    if method not in ("percentile", "minmax"):
        raise InvalidParameterError(
            f"unknown normalisation method {method!r}; use 'percentile' or 'minmax'"
        )
    low, high = float(spec.get("low", 2.0)), float(spec.get("high", 98.0))
    if not 0 <= low < high <= 100:
        raise InvalidParameterError(
            f"percentiles must satisfy 0 <= low < high <= 100, got {low}, {high}"
        )
    return method, low, high


def _dtype_range(dtype: np.dtype) -> tuple[float, float]:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    return 0.0, 1.0
