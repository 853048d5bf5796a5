"""Common behaviour of roadseg's segmentation networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SegmentationModel(nn.Module):
    """Base class: accepts any input size and returns logits of the same size.

    Subclasses set :attr:`output_stride` (the product of their downsamplings) and
    implement :meth:`forward_padded`, which may assume that height and width are
    multiples of it. :meth:`forward` pads by reflection (replication for inputs too
    small to reflect), so no artificial black border is seen, and crops back.
    """

    output_stride: int = 1

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        if in_channels < 1 or num_classes < 1:
            raise ValueError(
                f"in_channels ({in_channels}) and num_classes ({num_classes}) must be >= 1"
            )
        self.in_channels = in_channels
        self.num_classes = num_classes

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits of shape ``(N, num_classes, H, W)`` for input ``(N, C, H, W)``."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected input of shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        height, width = x.shape[-2:]
        stride = self.output_stride
        pad_h = (-height) % stride
        pad_w = (-width) % stride
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        logits = self.forward_padded(x)
        return logits[..., :height, :width]
