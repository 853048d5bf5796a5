"""Which rasters the vector stage accepts, and how their values become probabilities.

``roadseg vectorize`` reads roadseg's own probability rasters (uint8, value/254, 255 =
no data, ``ROADSEG_*`` tags) and also foreign ones: float probabilities in 0-1, uint8
probabilities in 0-255, and binary road masks (0/1 or 0/255). The file's own nodata
value, internal mask and band scale/offset are honoured; 255 is no data only when the
file says so (or it is roadseg's). Everything is converted, window by window, to
roadseg's stored units, so the rest of the vector stage has one encoding to handle.
Multi-band rasters (a colour image) and rasters whose values are not probabilities are
refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import rasterio
from rasterio.enums import MaskFlags, Resampling
from rasterio.windows import Window

from roadseg.errors import InvalidInputError
from roadseg.io.quiet import quiet_raster_warnings
from roadseg.raster.probability import (
    PROB_MAX,
    PROB_NODATA,
    TAG_THRESHOLD,
    encode_probability,
)

#: Pixels read to decide how a foreign raster is encoded.
SAMPLE_PIXELS = 1 << 20


class GeoreferencedProbabilities(Protocol):
    """A probability raster together with the georeferencing it was computed on.

    ``roadseg.inference.PredictionResult`` is one: what ``predict_scene`` returns goes
    to ``vectorize`` as it is, so the CRS, transform, ground sample distance and the
    model's threshold travel with the pixels rather than through the file's tags.
    (The vector stage does not import the inference stage; any object with these
    attributes will do.)
    """

    @property
    def path(self) -> Path:
        """The probability raster."""

    @property
    def width(self) -> int:
        """Its width in pixels."""

    @property
    def height(self) -> int:
        """Its height in pixels."""

    @property
    def crs(self) -> Any:
        """Its CRS (anything ``pyproj.CRS.from_user_input`` reads), or ``None``."""

    @property
    def transform(self) -> Any:
        """Its pixel-to-CRS ``affine.Affine`` transform."""

    @property
    def gsd_m(self) -> float:
        """Its ground sample distance in metres."""

    @property
    def threshold(self) -> float:
        """The model's decision threshold."""


@dataclass(frozen=True)
class ProbabilityEncoding:
    """How a raster's values map to road probability.

    Attributes:
        kind: ``roadseg`` (native), ``float`` (0-1), ``uint8`` (0-255 probability) or
            ``binary`` (a road mask).
        scale, offset: probability = value x scale + offset.
        nodata: the file's nodata value, or ``None``.
        masked: whether the file has an internal mask or alpha to honour.
    """

    kind: str
    scale: float = 1.0 / PROB_MAX
    offset: float = 0.0
    nodata: float | None = PROB_NODATA
    masked: bool = False

    @property
    def native(self) -> bool:
        return self.kind == "roadseg"

    def describe(self) -> str:
        nodata = "none" if self.nodata is None else f"{self.nodata:g}"
        return f"{self.kind} (probability = value x {self.scale:.4g} + {self.offset:g}, nodata {nodata})"

    def to_stored(self, data: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """Values of this encoding to roadseg's stored uint8 (0..254, 255 = no data), by
        :func:`~roadseg.raster.probability.encode_probability` (which also takes
        non-finite values for no data)."""
        if self.native and valid is None:
            return data
        missing = np.zeros(data.shape, bool) if valid is None else ~valid
        if self.nodata is not None:
            missing |= data == self.nodata
        prob = data.astype(np.float32) * np.float32(self.scale) + np.float32(self.offset)
        return encode_probability(prob, ~missing)


NATIVE = ProbabilityEncoding("roadseg")


def read_stored(
    src: rasterio.io.DatasetReader, window: Window, encoding: ProbabilityEncoding | None
) -> np.ndarray:
    """Band 1 in ``window`` as roadseg stored values."""
    data = src.read(1, window=window)
    if encoding is None or (encoding.native and not encoding.masked):
        return data
    valid = src.read_masks(1, window=window) > 0 if encoding.masked else None
    return encoding.to_stored(data, valid)


def open_probability(path: Path) -> rasterio.io.DatasetReader:
    """Open a raster with no warning for a missing CRS (roadseg warns itself)."""
    with quiet_raster_warnings():
        return rasterio.open(path)


def detect_encoding(src: rasterio.io.DatasetReader, path: Path) -> ProbabilityEncoding:
    """Decide how ``src`` encodes road probability, or refuse it.

    Raises:
        InvalidInputError: several bands, an unsupported pixel type, or values that are
            not probabilities.
    """
    if src.count != 1:
        raise InvalidInputError(
            f"{path}: has {src.count} bands; a probability raster or road mask has one "
            "(for an image, run 'roadseg run' on it; else pick a band with gdal_translate -b N)"
        )
    dtype = np.dtype(src.dtypes[0])
    tags = src.tags()
    nodata = src.nodata
    masked = (
        MaskFlags.per_dataset in src.mask_flag_enums[0]
        or MaskFlags.alpha in (src.mask_flag_enums[0])
    )
    if dtype == np.uint8 and TAG_THRESHOLD in tags:
        return ProbabilityEncoding("roadseg", nodata=PROB_NODATA, masked=masked)
    scale = float(src.scales[0]) if src.scales and src.scales[0] else 1.0
    offset = float(src.offsets[0]) if src.offsets and src.offsets[0] else 0.0
    if dtype.kind not in "uif":
        raise InvalidInputError(
            f"{path}: pixel type {dtype.name} is not a probability; give 0-1 floats, "
            "0-255 bytes or a 0/1 road mask"
        )
    values = _sample_values(src, nodata)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    explicit = scale != 1.0 or offset != 0.0
    if explicit:
        kind = "float" if dtype.kind == "f" else "uint8"
        enc = ProbabilityEncoding(kind, scale, offset, nodata, masked)
    elif values.size and np.isin(values, (0, 1)).all() and dtype.kind in "ui":
        enc = ProbabilityEncoding("binary", 1.0, 0.0, nodata, masked)
    elif dtype.kind == "f":
        enc = ProbabilityEncoding("float", 1.0, 0.0, nodata, masked)
    elif dtype == np.uint8:
        binary = values.size and np.isin(values, (0, 255)).all()
        enc = ProbabilityEncoding("binary" if binary else "uint8", 1 / 255, 0.0, nodata, masked)
    else:
        raise InvalidInputError(
            f"{path}: {dtype.name} values from {lo:g} to {hi:g} are not probabilities; give "
            "0-1 floats, 0-255 bytes, a 0/1 mask, or set the band scale (gdal_edit.py -scale)"
        )
    plo, phi = lo * enc.scale + enc.offset, hi * enc.scale + enc.offset
    if values.size and (plo < -1e-3 or phi > 1 + 1e-3):
        raise InvalidInputError(
            f"{path}: values from {lo:g} to {hi:g} are not probabilities (they map to "
            f"{plo:.3g}..{phi:.3g}, not 0..1); give a probability raster or road mask"
        )
    return enc


def _sample_values(src: rasterio.io.DatasetReader, nodata: float | None) -> np.ndarray:
    """Distinct valid values of a decimated read (overviews when present)."""
    scale = max(1.0, math.sqrt(src.width * src.height / SAMPLE_PIXELS))
    shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
    data = src.read(1, out_shape=shape, resampling=Resampling.nearest, masked=True)
    values = data.compressed()
    if values.dtype.kind == "f":
        values = values[np.isfinite(values)]
    if nodata is not None:
        values = values[values != nodata]
    return np.unique(values)
