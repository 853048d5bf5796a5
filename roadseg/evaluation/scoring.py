"""Scoring a model on labelled images, each read and predicted exactly as ``roadseg run``
does (same reader, tiles and blend, see :mod:`roadseg.inference.grid_predict`): the
pixel accumulators per dataset, their summary, and :func:`evaluate_model` on data
sources. Training's validation and the benchmarks use it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from roadseg.device import resolve_device
from roadseg.errors import InvalidInputError
from roadseg.evaluation.pixel import PixelAccumulator, slack_facts, slack_pixels
from roadseg.inference.grid_predict import predict_grid
from roadseg.inference.predictor import run_model
from roadseg.log import get_logger
from roadseg.models.base import SegmentationModel

if TYPE_CHECKING:
    from roadseg.data import LabelledImage, SourceSpec

log = get_logger(__name__)


def predict_image(
    model: SegmentationModel,
    image: LabelledImage,
    device: torch.device,
    tta: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and valid mask of ``image`` on its grid, predicted as ``roadseg run``
    would (its tiles and blend; ``tta``: as ``roadseg run --tta``)."""
    return predict_grid(
        image.scene_spec,
        lambda tiles: run_model(model, device, tiles, batch_size=1, tta=tta),
        align=model.output_stride,
    )


def evaluate_images(
    model: SegmentationModel,
    images: Sequence[LabelledImage],
    device: torch.device | str = "cpu",
    slack: int | None = 3,
    tta: bool = False,
    per_image: dict[tuple[str, str], PixelAccumulator] | None = None,
) -> dict[str, PixelAccumulator]:
    """Pixel accumulators per dataset, each image predicted as ``roadseg run`` would
    (``tta``: as ``roadseg run --tta`` would, the mean over the four flips).

    ``slack`` is the relaxation in pixels; ``None`` gives each image 3 m on the ground
    at its working resolution (:func:`~roadseg.evaluation.pixel.slack_pixels`), for
    models that work scenes at several resolutions.

    ``per_image``, when given, also receives one accumulator per image, keyed by
    ``(dataset, stem)``.
    """
    device = torch.device(device)
    model.eval()
    accumulators: dict[str, PixelAccumulator] = {}
    for image in images:
        prob, valid = predict_image(model, image, device, tta)
        pixels = slack_pixels(image.grid.gsd_m) if slack is None else slack
        acc = accumulators.setdefault(image.dataset, PixelAccumulator(slack=pixels))
        acc.update(prob, image.label, valid, slack=pixels)
        if per_image is not None:
            own = per_image.setdefault((image.dataset, image.stem), PixelAccumulator(pixels))
            own.update(prob, image.label, valid, slack=pixels)
    return accumulators


def summarise(
    accumulators: dict[str, PixelAccumulator], threshold: float | None = None
) -> tuple[float, dict[str, Any]]:
    """Scores per dataset, their means, and the scores over all data pooled.

    Args:
        accumulators: one per dataset.
        threshold: decision threshold; ``None`` chooses the one that maximises the
            pixel F1 over all data pooled (how a model's threshold is set on validation).

    Returns:
        ``(threshold, metrics)``.
    """
    if not accumulators:
        raise InvalidInputError("nothing was evaluated: no labelled images")
    total = PixelAccumulator(slack=next(iter(accumulators.values())).slack)
    for acc in accumulators.values():
        total.merge(acc)
    if threshold is None:
        threshold = total.best_threshold("f1")
    per_dataset = {name: acc.scores(threshold) for name, acc in sorted(accumulators.items())}
    metrics: dict[str, Any] = {
        f"mean_{k}": float(np.mean([s[k] for s in per_dataset.values()]))
        for k in ("relaxed_breakeven", "relaxed_f1", "iou", "f1")
    }
    metrics["threshold"] = float(threshold)
    metrics["per_dataset"] = per_dataset
    metrics["all"] = total.scores(threshold)
    return float(threshold), metrics


def evaluate_model(
    model: str | os.PathLike[str],
    sources: Sequence[SourceSpec],
    device: str | torch.device = "auto",
    threshold: float | None = None,
    slack: int | None = None,
) -> dict[str, Any]:
    """Score a checkpoint on labelled data sources.

    A source whose spec lists ``val=`` stems is evaluated on those images only (the
    held-out split); otherwise on all its images.

    Args:
        model: shipped weights name or checkpoint path.
        sources: data sources, as for training.
        device: ``auto``, ``cpu`` or ``cuda``.
        threshold: decision threshold; default the model's.
        slack: relaxation distance in pixels; ``None``: 3 m on the ground at each
            image's working resolution, as training's validation scores.
    """
    from roadseg.data import load_source_for_model
    from roadseg.models import load

    dev = resolve_device(device)
    net, meta = load(model, dev)
    images: list[LabelledImage] = []
    for spec in sources:
        train, val = load_source_for_model(spec, meta, validation_only=bool(spec.val))
        images.extend(val if spec.val else train)
    threshold = meta.threshold if threshold is None else threshold
    own: dict[tuple[str, str], PixelAccumulator] = {}
    accumulators = evaluate_images(net, images, dev, slack, per_image=own)
    _, metrics = summarise(accumulators, threshold)
    metrics["model"] = meta.name or str(model)
    used: dict[str, list[int]] = {}
    for (dataset, _), acc in own.items():
        used.setdefault(dataset, []).append(acc.slack)
    metrics.update(slack_facts(slack, used))
    metrics["images"] = {
        name: sorted(i.stem for i in images if i.dataset == name) for name in metrics["per_dataset"]
    }
    # Which images pull a dataset's score down: the user's next labels or fixes.
    metrics["per_image"] = {
        name: {stem: acc.scores(threshold) for (ds, stem), acc in sorted(own.items()) if ds == name}
        for name in metrics["per_dataset"]
    }
    return metrics
