"""The tuning of centreline extraction, one frozen value travelling from the CLI down,
and the one check of a decision threshold."""

from __future__ import annotations

import math
from dataclasses import dataclass

from roadseg.errors import InvalidParameterError

#: Smallest core block side of the vector stage, in pixels.
MIN_VECTOR_BLOCK_SIZE = 16


def check_threshold(threshold: float, name: str = "threshold") -> float:
    """The one valid range of a road probability threshold: strictly between 0 and 1.

    Args:
        threshold: the value.
        name: how the message names it (the parameter, or where it was read from).

    Raises:
        InvalidParameterError: not a number strictly between 0 and 1.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InvalidParameterError(f"{name}={threshold!r}: must be a number between 0 and 1")
    if not 0 < threshold < 1:  # also refuses NaN
        raise InvalidParameterError(f"{name}={threshold!r}: must be between 0 and 1 (exclusive)")
    return float(threshold)


@dataclass(frozen=True)
class VectorOptions:
    """Tuning of centreline extraction; lengths and areas are in metres on the ground.

    Attributes:
        hysteresis: low threshold as a fraction of the threshold; pixels above it are
            road when connected to pixels above the threshold (1 = plain threshold).
        hole_area_m2: holes in the road mask smaller than this are filled.
        min_length_m: connected pieces of network shorter than this are dropped.
        spur_length_m: dead-end branches shorter than this are pruned.
        simplify_m: Douglas-Peucker tolerance (0 = keep every pixel vertex).
        gap_m: dead ends are bridged to a node up to this far ahead (0 = off).
        gap_min_prob: probability that (nearly) all of a bridge must reach (its 10th
            percentile; default: half the low hysteresis threshold).
        junction_merge_m: junction nodes joined by a line shorter than this become one
            node at their centre (skeletons split one crossing into several nodes).
        border_m: dead ends this close to the raster's border or to no-data, heading
            into it, are continued to it where the probability supports it (roads that
            leave the scene or the valid data; a skeleton stops short). 0 = off.
        vector_block_size: core block side in pixels of the vector stage's Dask tasks;
            memory per task grows with its square (speed and memory only; not the
            inference ``block_size``).
        halo: pixels read around each block so that the skeleton near its border is
            exact; more than the widest road in pixels.
    """

    hysteresis: float = 0.6
    hole_area_m2: float = 30.0
    min_length_m: float = 20.0
    spur_length_m: float = 10.0
    simplify_m: float = 1.0
    gap_m: float = 15.0
    gap_min_prob: float | None = None
    junction_merge_m: float = 3.0
    border_m: float = 10.0
    vector_block_size: int = 2048
    halo: int = 128

    def validate(self) -> VectorOptions:
        """Check every value; return ``self``.

        Raises:
            InvalidParameterError: a value is out of range; the message names the
                parameter, its value and what it must be.
        """
        for name in (
            "hole_area_m2",
            "min_length_m",
            "spur_length_m",
            "simplify_m",
            "gap_m",
            "junction_merge_m",
            "border_m",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidParameterError(f"{name}={value!r}: must be a number >= 0")
        if not (0 < self.hysteresis <= 1):
            raise InvalidParameterError(
                f"hysteresis={self.hysteresis!r}: must be in (0, 1]; 1 disables hysteresis"
            )
        if self.gap_min_prob is not None and not (0 <= self.gap_min_prob <= 1):
            raise InvalidParameterError(f"gap_min_prob={self.gap_min_prob!r}: must be in [0, 1]")
        for name, minimum in (("vector_block_size", MIN_VECTOR_BLOCK_SIZE), ("halo", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise InvalidParameterError(
                    f"{name}={value!r}: must be an integer >= {minimum} (pixels)"
                )
        return self
