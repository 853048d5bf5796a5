"""The ResUNet decoder: back up the encoder's features, one unit per resolution."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from roadseg.errors import UnknownNameError
from roadseg.models.units import ConvBNReLU, ResidualBlock

#: The unit that joins the upsampled deeper feature with the skip: Zhang et al.'s
#: pre-activation residual unit, or one conv-BN-ReLU (about half the arithmetic).
DECODER_UNITS: dict[str, type[nn.Module]] = {"residual": ResidualBlock, "conv": ConvBNReLU}


class ResUNetDecoder(nn.Module):
    """From the deepest feature up: bilinear x2 upsampling, concatenation with the
    encoder's feature of that resolution, a unit (:data:`DECODER_UNITS`).

    Args:
        encoder_channels: widths of the encoder's features, shallowest first.
        decoder_channels: output width of each unit, deepest first (one per skip).
        unit: ``residual`` or ``conv``.
        last_unit: the unit of the last (shallowest) stage, when not ``unit``.
    """

    def __init__(
        self,
        encoder_channels: Sequence[int],
        decoder_channels: Sequence[int],
        unit: str = "residual",
        last_unit: str | None = None,
    ) -> None:
        super().__init__()
        if len(decoder_channels) != len(encoder_channels) - 1:
            raise ValueError(
                f"{len(encoder_channels)} encoder features need "
                f"{len(encoder_channels) - 1} decoder widths, got {len(decoder_channels)}"
            )
        for name in (unit, last_unit or unit):
            if name not in DECODER_UNITS:
                raise UnknownNameError(
                    f"unknown decoder unit {name!r}; choose one of {', '.join(DECODER_UNITS)}"
                )
        skips = list(encoder_channels[-2::-1])
        inputs = [encoder_channels[-1], *decoder_channels[:-1]]
        units = [unit] * (len(skips) - 1) + [last_unit or unit]
        self.blocks = nn.ModuleList(
            DECODER_UNITS[kind](deep + skip, out)
            for kind, deep, skip, out in zip(units, inputs, skips, decoder_channels, strict=True)
        )
        self.out_channels = int(decoder_channels[-1])

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for block, skip in zip(self.blocks, features[-2::-1], strict=True):
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return x
