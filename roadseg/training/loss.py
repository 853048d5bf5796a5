"""BCE + Dice on logits, ignoring no-data pixels."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bce_dice_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    dice_weight: float = 1.0,
    smooth: float = 1.0,
) -> torch.Tensor:
    """Mean binary cross-entropy plus ``dice_weight`` times the soft Dice loss.

    The BCE term keeps the probabilities calibrated (the F1-optimal threshold stays
    near the middle); the Dice term counters the rarity of road pixels. Both are
    computed over valid pixels only, the Dice over the whole batch (so crops without
    roads do not give it a degenerate value).

    Args:
        logits: ``(N, 1, H, W)`` raw network outputs.
        target: same shape, 1 on roads, 0 elsewhere.
        valid: same shape, 1 where the pixel counts; ``None`` counts all.
        dice_weight: weight of the Dice term (0 gives plain BCE).
        smooth: additive smoothing of the Dice ratio.
    """
    logits = logits.float()
    target = target.float()
    valid = torch.ones_like(target) if valid is None else valid.float()
    count = valid.sum().clamp_min(1.0)
    bce = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * valid).sum()
    bce = bce / count
    if dice_weight == 0:
        return bce
    prob = torch.sigmoid(logits) * valid
    truth = target * valid
    intersection = (prob * truth).sum()
    dice = 1 - (2 * intersection + smooth) / (prob.sum() + truth.sum() + smooth)
    return bce + dice_weight * dice
