"""The settings of scene inference, one frozen value travelling from the CLI down."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from roadseg.errors import InvalidParameterError
from roadseg.inference.defaults import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_TILE_SIZE,
    ENGINE_CHOICES,
)

#: Smallest tile side the model is given, in working-grid pixels.
MIN_TILE_SIZE = 16


@dataclass(frozen=True)
class InferenceOptions:
    """How a scene's road probabilities are computed.

    Frozen and picklable: the same value goes to every Dask worker, and
    ``dataclasses.asdict`` of it is what a batch records as its settings.

    Attributes:
        model: shipped weights name or checkpoint path; ``None`` picks the shipped
            weights for the device (see :func:`roadseg.models.resolve_model`).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        engine: what runs the model: ``torch`` (eager PyTorch), ``onnx`` (ONNX Runtime,
            CPU only; exported once and cached, see :mod:`roadseg.inference.engine`) or
            ``auto`` (ONNX Runtime on a CPU when installed, else PyTorch).
        bands: 1-based bands in model order; ``None`` picks them.
        gsd: the scene's ground sample distance in metres, overriding its own (needed
            for plain images whose resolution differs from the model's).
        tile_size: largest tile side in working-grid pixels (tiles are shrunk to fit
            the scene without waste, to a multiple of the model's output stride).
        overlap: pixels shared by neighbouring tiles (a quarter at each end is
            discarded, the rest blended); less than half of ``tile_size``.
        batch_size: tiles per forward pass; ``None``: 1 on a CPU, 8 on a GPU (speed
            and memory only).
        block_size: approximate side in pixels of the blocks inference reads, predicts
            and writes a scene in, rounded to whole tiles (speed and memory only; not
            the vector stage's ``VectorOptions.vector_block_size``).
        tta: average the predictions of the four flips of each tile.
    """

    model: str | os.PathLike[str] | None = None
    device: str = "auto"
    engine: str = "auto"
    bands: tuple[int, ...] | None = None
    gsd: float | None = None
    tile_size: int = DEFAULT_TILE_SIZE
    overlap: int = DEFAULT_OVERLAP
    batch_size: int | None = None
    block_size: int = DEFAULT_BLOCK_SIZE
    tta: bool = False

    def __post_init__(self) -> None:
        # A list of bands (from a caller or JSON) becomes a tuple: hashable, frozen.
        if self.bands is not None and not isinstance(self.bands, tuple):
            object.__setattr__(self, "bands", tuple(self.bands))

    def validate(self) -> InferenceOptions:
        """Check the values that need no scene or model; return ``self``.

        Raises:
            InvalidParameterError: a value is out of range; the message names the
                parameter, its value and what it must be.
        """
        _check_int("tile_size", self.tile_size, MIN_TILE_SIZE)
        _check_int("overlap", self.overlap, 0)
        if self.overlap >= self.tile_size // 2:
            raise InvalidParameterError(
                f"overlap={self.overlap}: must be less than half of tile_size={self.tile_size}"
            )
        if self.batch_size is not None:
            _check_int("batch_size", self.batch_size, 1)
        _check_int("block_size", self.block_size, 1)
        if self.gsd is not None and not (
            isinstance(self.gsd, int | float) and math.isfinite(self.gsd) and self.gsd > 0
        ):
            raise InvalidParameterError(
                f"gsd={self.gsd!r}: must be a positive number of metres per pixel"
            )
        if self.bands is not None and not (
            self.bands and all(isinstance(b, int) and b >= 1 for b in self.bands)
        ):
            raise InvalidParameterError(
                f"bands={self.bands!r}: must be 1-based band numbers, e.g. (3, 2, 1)"
            )
        if not isinstance(self.engine, str) or self.engine.strip().lower() not in ENGINE_CHOICES:
            raise InvalidParameterError(
                f"engine={self.engine!r}: must be one of {', '.join(ENGINE_CHOICES)}"
            )
        if not isinstance(self.tta, bool):
            raise InvalidParameterError(f"tta={self.tta!r}: must be True or False")
        return self


def _check_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidParameterError(f"{name}={value!r}: must be an integer >= {minimum}")
