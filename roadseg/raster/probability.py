"""The road-probability raster: how probabilities are stored on disk and read back.

``roadseg run`` writes, and ``roadseg vectorize`` and ``roadseg evaluate`` read, a
single-band uint8 GeoTIFF on the scene's grid. A probability ``p`` in [0, 1] is stored
as ``round(p * 254)``; 255 is nodata (outside the scene's valid data). The band's
scale (1/254) lets GDAL and QGIS show the real probability, and dataset tags record the
model and its decision threshold, so the vector stage needs nothing but the file.
"""

from __future__ import annotations

import numpy as np

from roadseg.io.atomic import OutputFormat

#: Stored value of probability 1.0.
PROB_MAX = 254
#: Stored value of pixels without data.
PROB_NODATA = 255
#: Band scale: stored value x scale = probability.
PROB_SCALE = 1.0 / PROB_MAX

#: The probability raster as an output (``.tif`` suggested).
PROBABILITY_FORMAT = OutputFormat((".tif", ".tiff"), "a Cloud-Optimised GeoTIFF")

#: Dataset tags written with the probabilities.
TAG_MODEL = "ROADSEG_MODEL"
TAG_THRESHOLD = "ROADSEG_THRESHOLD"
TAG_GSD = "ROADSEG_GSD_M"
TAG_VERSION = "ROADSEG_VERSION"
TAG_SOURCE = "ROADSEG_SOURCE"


def encode_probability(prob: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Float probabilities (NaN = no data) to the stored uint8 values."""
    prob = np.asarray(prob, dtype=np.float32)
    missing = ~np.isfinite(prob)
    if valid is not None:
        missing |= ~np.asarray(valid, dtype=bool)
    out = np.rint(np.clip(np.nan_to_num(prob, nan=0.0), 0.0, 1.0) * PROB_MAX).astype(np.uint8)
    out[missing] = PROB_NODATA
    return out


def decode_probability(stored: np.ndarray) -> np.ndarray:
    """Stored uint8 values to float32 probabilities, NaN where there is no data."""
    stored = np.asarray(stored)
    out = stored.astype(np.float32) * np.float32(PROB_SCALE)
    out[stored == PROB_NODATA] = np.nan
    return out
