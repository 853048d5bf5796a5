"""Hard negatives: where the starting model sees roads that the labels do not have.

Before training, the starting weights predict every training image exactly as
validation does (the run pipeline's tiles and blend). Pixels at or above the threshold
that lie farther than ``slack`` pixels from any labelled road are the model's false
positives: pond rims, dry riverbeds, field edges. A share of the training crops is then
centred on one of them (:class:`roadseg.data.CropSampler`'s ``hard``), so that the
network sees its own mistakes more often than their area alone would give.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from roadseg.data import LabelledImage
from roadseg.evaluation.pixel import near
from roadseg.evaluation.scoring import predict_image
from roadseg.log import get_logger
from roadseg.models.base import SegmentationModel

log = get_logger(__name__)


def false_positives(
    prob: np.ndarray, label: np.ndarray, valid: np.ndarray, threshold: float, slack: int
) -> np.ndarray:
    """``(height, width)`` bool: predicted road, valid, and over ``slack`` px from a road
    (the distance of the relaxed metrics)."""
    return (prob >= threshold) & valid & ~near(label, slack)


def mine_hard_negatives(
    model: SegmentationModel,
    groups: Sequence[Sequence[LabelledImage]],
    device: torch.device,
    threshold: float = 0.5,
    slack: int = 3,
    max_points: int = 4000,
    seed: int = 0,
) -> list[list[np.ndarray | None]]:
    """False-positive pixels of ``model`` on every training image.

    Args:
        model: the starting network (put in eval mode here; the caller restores it).
        groups: training images, one list per source (as the sampler takes them).
        device: where the model runs.
        threshold: decision threshold of a road pixel.
        slack: distance in pixels within which a prediction counts as the road's.
        max_points: most points kept per image (drawn evenly at random).
        seed: seed of that draw.

    Returns:
        Per group, per image: an ``(n, 2)`` int array of (row, column), or ``None``
        where the model makes no such mistake.
    """
    rng = np.random.default_rng(seed)
    model.eval()
    mined: list[list[np.ndarray | None]] = []
    for group in groups:
        points_of_group: list[np.ndarray | None] = []
        found = 0
        for image in group:
            prob, valid = predict_image(model, image, device)
            points = np.argwhere(false_positives(prob, image.label, valid, threshold, slack))
            found += len(points)
            if len(points) > max_points:
                points = points[rng.choice(len(points), max_points, replace=False)]
            points_of_group.append(points if len(points) else None)
        if group:
            log.info(
                "hard negatives of %s: %d false-positive px in %d of %d images",
                group[0].dataset,
                found,
                sum(p is not None for p in points_of_group),
                len(group),
            )
        mined.append(points_of_group)
    return mined
