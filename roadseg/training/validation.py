"""Validation and selection: the score the best checkpoint maximises, and the held-out
scenes run end to end (``roadseg run`` to a GeoPackage, scored by APLS)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from roadseg.evaluation.endtoend import SceneCase, score_scenes
from roadseg.inference.predictor import clear_model_cache


def selection_score(
    metrics: dict[str, Any], end_to_end: dict[str, Any] | None, apls_weight: float
) -> float:
    """The score the best checkpoint maximises (see the module documentation)."""
    breakeven = float(metrics["mean_relaxed_breakeven"])
    if not end_to_end or end_to_end.get("mean_apls") is None:
        return breakeven
    return (1 - apls_weight) * breakeven + apls_weight * float(end_to_end["mean_apls"])


def score_held_out_scenes(
    checkpoint: Path,
    scenes: Sequence[SceneCase],
    device: torch.device,
    thresholds: Sequence[float],
) -> dict[str, Any] | None:
    """APLS of ``roadseg run`` with ``checkpoint`` on the held-out scenes, at the model's
    threshold and each candidate (``None`` without scenes or scores)."""
    if not scenes:
        return None
    try:
        # Eager PyTorch: an ONNX export of every validation checkpoint would fill the
        # export cache (the engines agree within 1e-4).
        result = score_scenes(
            checkpoint, scenes, device=str(device), engine="torch", thresholds=thresholds
        )
    finally:
        clear_model_cache()  # the next validation rewrites the same checkpoint path
    if result["mean_apls"] is None:
        return None
    return result


def without_scenes(end_to_end: dict[str, Any]) -> dict[str, Any]:
    """The end-to-end scores for the record: the per-threshold tables without their
    per-scene copies (the chosen threshold's scenes are kept at the top level)."""
    tables = end_to_end.get("by_threshold")
    if not tables:
        return end_to_end
    slim = {
        str(t): {k: v for k, v in table.items() if k != "scenes"} for t, table in tables.items()
    }
    return {**end_to_end, "by_threshold": slim}
