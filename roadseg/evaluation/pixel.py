"""Pixel metrics of road masks, accumulated image by image (or window by window).

Relaxed precision and recall follow Mnih (2013): a predicted road pixel is correct if
a true road pixel lies within ``slack`` pixels of it, and a true road pixel is found if
a predicted one lies within ``slack`` pixels. The breakeven is the point where relaxed
precision equals relaxed recall as the threshold varies. IoU and F1 are the strict
per-pixel scores.

Everything is kept as histograms over 255 probability levels (the levels of the
probability raster format), so the scores at every threshold come from one pass and
memory does not grow with the data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from roadseg.errors import InvalidParameterError

LEVELS = 255  #: probability levels: round(p * 254)

#: Mnih's relaxation, 3 pixels of his 1 m imagery, on the ground: models working at
#: other resolutions are scored with the same slack in metres.
RELAXED_SLACK_M = 3.0


def slack_pixels(gsd_m: float) -> int:
    """The relaxation distance in pixels of ``gsd_m``-metre pixels (3 at 1 m, 6 at 0.5 m)."""
    if not gsd_m > 0:
        raise InvalidParameterError(f"gsd_m={gsd_m!r}: must be a positive number of metres")
    return max(1, math.floor(RELAXED_SLACK_M / gsd_m + 0.5))  # halves up: 1.2 m -> 3 px


def slack_facts(slack: int | None, used: dict[str, Iterable[int]]) -> dict[str, Any]:
    """How the relaxed scores were relaxed, for the metrics.

    ``{"slack_px": N}`` for a slack given in pixels, else ``{"slack_m": 3.0,
    "slack_px_by_dataset": {name: [pixels, ...]}}`` from ``used``, the pixels each
    dataset's images were scored with (one value per resolution among them).
    """
    if slack is not None:
        return {"slack_px": slack}
    by_dataset = {name: sorted(set(pixels)) for name, pixels in sorted(used.items())}
    return {"slack_m": RELAXED_SLACK_M, "slack_px_by_dataset": by_dataset}


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (yy * yy + xx * xx) <= radius * radius


def near(mask: np.ndarray, slack: int) -> np.ndarray:
    """Pixels within ``slack`` pixels (a disk) of ``mask``: the relaxed metrics' "near"."""
    mask = np.asarray(mask).astype(bool)
    return ndimage.binary_dilation(mask, structure=_disk(slack)) if slack else mask


def _levels(prob: np.ndarray) -> np.ndarray:
    return np.clip(
        np.rint(np.asarray(prob, dtype=np.float32) * (LEVELS - 1)), 0, LEVELS - 1
    ).astype(np.intp)


@dataclass
class PixelAccumulator:
    """Streaming road-mask metrics at all thresholds.

    Args:
        slack: relaxation distance in pixels (3 in Mnih 2013 at 1 m).

    Example:
        >>> acc = PixelAccumulator()
        >>> acc.update(prob, truth, valid)  # doctest: +SKIP
        >>> acc.scores(0.5)["relaxed_f1"]  # doctest: +SKIP
    """

    slack: int = 3
    pred_all: np.ndarray = field(default_factory=lambda: np.zeros(LEVELS, np.int64))
    pred_near: np.ndarray = field(default_factory=lambda: np.zeros(LEVELS, np.int64))
    truth_found: np.ndarray = field(default_factory=lambda: np.zeros(LEVELS, np.int64))
    truth_strict: np.ndarray = field(default_factory=lambda: np.zeros(LEVELS, np.int64))
    images: int = 0

    def update(
        self,
        prob: np.ndarray,
        truth: np.ndarray,
        valid: np.ndarray | None = None,
        slack: int | None = None,
    ) -> None:
        """Add one image: road probabilities (or a 0/1 mask), truth mask, valid mask;
        ``slack`` in pixels for this image (``None``: the accumulator's), so images of
        different resolutions can be scored with the same slack on the ground."""
        slack = self.slack if slack is None else slack
        prob = np.asarray(prob)
        truth = np.asarray(truth).astype(bool)
        if prob.shape != truth.shape:
            raise InvalidParameterError(
                f"prediction shape {prob.shape} differs from truth shape {truth.shape}"
            )
        valid = np.ones(truth.shape, bool) if valid is None else np.asarray(valid).astype(bool)
        levels = _levels(prob)
        footprint = _disk(slack)
        near_truth = near(truth, slack)
        nearby_max = ndimage.maximum_filter(levels, footprint=footprint) if slack else levels
        truth_valid = truth & valid
        self.pred_all += np.bincount(levels[valid], minlength=LEVELS)
        self.pred_near += np.bincount(levels[valid & near_truth], minlength=LEVELS)
        self.truth_found += np.bincount(nearby_max[truth_valid], minlength=LEVELS)
        self.truth_strict += np.bincount(levels[truth_valid], minlength=LEVELS)
        self.images += 1

    def merge(self, other: PixelAccumulator) -> None:
        """Add another accumulator's counts (each image's slack is in its counts)."""
        for name in ("pred_all", "pred_near", "truth_found", "truth_strict"):
            getattr(self, name).__iadd__(getattr(other, name))
        self.images += other.images

    def _curves(self) -> dict[str, np.ndarray]:
        def above(h: np.ndarray) -> np.ndarray:  # count with level >= k, for every k
            return np.cumsum(h[::-1])[::-1].astype(np.float64)

        n_pred, n_near = above(self.pred_all), above(self.pred_near)
        n_found, tp = above(self.truth_found), above(self.truth_strict)
        n_truth = float(self.truth_strict.sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            rp = np.where(n_pred > 0, n_near / n_pred, 1.0)
            rr = n_found / n_truth if n_truth else np.zeros(LEVELS)
            precision = np.where(n_pred > 0, tp / n_pred, 1.0)
            recall = tp / n_truth if n_truth else np.zeros(LEVELS)
            union = n_pred + n_truth - tp
            iou = np.where(union > 0, tp / union, 1.0)
            f1 = np.where(
                precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0
            )
            rf1 = np.where(rp + rr > 0, 2 * rp * rr / (rp + rr), 0.0)
        return {
            "relaxed_precision": rp,
            "relaxed_recall": rr,
            "relaxed_f1": rf1,
            "precision": precision,
            "recall": recall,
            "iou": iou,
            "f1": f1,
        }

    @staticmethod
    def _level(threshold: float) -> int:
        if not 0.0 <= threshold <= 1.0:
            raise InvalidParameterError(f"threshold must lie in [0, 1], got {threshold}")
        # A pixel is road when p >= threshold; on the 255-level grid that is the first
        # level whose value reaches the threshold.
        return int(np.ceil(threshold * (LEVELS - 1) - 1e-9))

    def scores(self, threshold: float = 0.5) -> dict[str, float]:
        """Relaxed precision/recall/F1, strict precision/recall/IoU/F1 at a threshold,
        plus the relaxed breakeven (threshold-free)."""
        k = max(1, self._level(threshold))
        curves = self._curves()
        out = {name: float(values[k]) for name, values in curves.items()}
        out["relaxed_breakeven"] = self.breakeven()
        out["threshold"] = float(threshold)
        out["road_pixels"] = float(self.truth_strict.sum())
        return out

    def breakeven(self) -> float:
        """Relaxed precision = relaxed recall point, interpolated along the thresholds."""
        curves = self._curves()
        rp, rr = curves["relaxed_precision"][1:], curves["relaxed_recall"][1:]
        if not self.truth_strict.sum():
            return 0.0
        diff = rp - rr  # rises with the threshold (precision up, recall down)
        for i in range(len(diff) - 1):
            if diff[i] <= 0 <= diff[i + 1]:
                span = diff[i + 1] - diff[i]
                t = 0.0 if span == 0 else -diff[i] / span
                return float(rp[i] + t * (rp[i + 1] - rp[i]))
        # No crossing: the closest point.
        i = int(np.argmin(np.abs(diff)))
        return float((rp[i] + rr[i]) / 2)

    def best_threshold(self, metric: str = "f1") -> float:
        """The threshold (a probability level) that maximises ``metric``."""
        values = self._curves()[metric][1:]
        return float((int(np.argmax(values)) + 1) / (LEVELS - 1))
