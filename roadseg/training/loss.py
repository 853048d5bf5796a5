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


def _soft_erode(x: torch.Tensor) -> torch.Tensor:
    return torch.minimum(-F.max_pool2d(-x, (3, 1), 1, (1, 0)), -F.max_pool2d(-x, (1, 3), 1, (0, 1)))


def _soft_dilate(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 3, 1, 1)


def soft_skeleton(x: torch.Tensor, iterations: int = 10) -> torch.Tensor:
    """A differentiable skeleton of ``(N, 1, H, W)`` values in [0, 1] (Shit et al. 2021)."""
    skeleton = F.relu(x - _soft_dilate(_soft_erode(x)))
    for _ in range(iterations):
        x = _soft_erode(x)
        delta = F.relu(x - _soft_dilate(_soft_erode(x)))
        skeleton = skeleton + F.relu(delta - skeleton * delta)
    return skeleton


def soft_cldice_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None = None,
    iterations: int = 10,
    smooth: float = 1.0,
) -> torch.Tensor:
    """The soft centreline-Dice loss (Shit et al., "clDice", CVPR 2021).

    It rewards a prediction whose skeleton lies inside the true roads (topology
    precision) and that covers the true roads' skeleton (topology sensitivity), so a
    road broken in two costs more than the same number of pixels lost at its edge.
    ``iterations`` should exceed the half-width of the widest road, in pixels.
    """
    prob = torch.sigmoid(logits.float())
    target = target.float()
    if valid is not None:
        prob = prob * valid
        target = target * valid
    skel_pred = soft_skeleton(prob, iterations)
    skel_true = soft_skeleton(target, iterations)
    precision = ((skel_pred * target).sum() + smooth) / (skel_pred.sum() + smooth)
    sensitivity = ((skel_true * prob).sum() + smooth) / (skel_true.sum() + smooth)
    return 1 - 2 * precision * sensitivity / (precision + sensitivity)
