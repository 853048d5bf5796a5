"""The tuning of centreline extraction, one frozen value travelling from the CLI down."""

from __future__ import annotations

import math
from dataclasses import dataclass

from roadseg.errors import InvalidParameterError


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

    def validate(self) -> None:
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
