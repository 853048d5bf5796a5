"""ResUNet++ (Jha et al. 2019): ResUNet with squeeze-and-excitation, ASPP and attention."""

from __future__ import annotations

import torch
from torch import nn

from roadseg.models.base import SegmentationModel
from roadseg.models.units import (
    ASPP,
    AttentionGate,
    ResidualBlock,
    ResidualStem,
    SqueezeExcitation,
)


class _SEResidual(nn.Sequential):
    """A residual unit followed by squeeze-and-excitation (ratio 8)."""

    def __init__(self, block: nn.Module, channels: int, se_ratio: int) -> None:
        super().__init__(block, SqueezeExcitation(channels, se_ratio))


class ResUNetPlusPlus(SegmentationModel):
    """ResUNet++.

    Encoder: stem and three stride-2 residual units, each followed by
    squeeze-and-excitation; an ASPP bridge (dilations 6/12/18 and a plain 3x3, summed,
    1x1). Decoder: before each of three upsamplings an attention gate weighs the decoder
    feature by the encoder one; then bilinear x2, concatenation and a residual unit. An
    ASPP block precedes the 1x1 head.

    Args:
        in_channels: number of input bands.
        num_classes: number of output channels.
        base_channels: filters of the stem; the article's 16 gives 16/32/64/128 and a
            256-filter bridge.
        se_ratio: squeeze-and-excitation reduction ratio (8 in the article).
    """

    output_stride = 8

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1,
        base_channels: int = 16,
        se_ratio: int = 8,
    ) -> None:
        super().__init__(in_channels, num_classes)
        self.base_channels = base_channels
        c1, c2, c3, c4, c5 = (base_channels * 2**i for i in range(5))
        self.encoder1 = _SEResidual(ResidualStem(in_channels, c1), c1, se_ratio)
        self.encoder2 = _SEResidual(ResidualBlock(c1, c2, stride=2), c2, se_ratio)
        self.encoder3 = _SEResidual(ResidualBlock(c2, c3, stride=2), c3, se_ratio)
        self.encoder4 = _SEResidual(ResidualBlock(c3, c4, stride=2), c4, se_ratio)
        self.bridge = ASPP(c4, c5)
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.attention1 = AttentionGate(c3, c5)
        self.decoder1 = ResidualBlock(c5 + c3, c4)
        self.attention2 = AttentionGate(c2, c4)
        self.decoder2 = ResidualBlock(c4 + c2, c3)
        self.attention3 = AttentionGate(c1, c3)
        self.decoder3 = ResidualBlock(c3 + c1, c2)
        self.output_aspp = ASPP(c2, c1)
        self.head = nn.Conv2d(c1, num_classes, kernel_size=1)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.encoder1(x)
        e2 = self.encoder2(e1)
        e3 = self.encoder3(e2)
        e4 = self.encoder4(e3)
        b = self.bridge(e4)
        d = self.attention1(e3, b)
        d = self.decoder1(torch.cat([self.upsample(d), e3], dim=1))
        d = self.attention2(e2, d)
        d = self.decoder2(torch.cat([self.upsample(d), e2], dim=1))
        d = self.attention3(e1, d)
        d = self.decoder3(torch.cat([self.upsample(d), e1], dim=1))
        return self.head(self.output_aspp(d))
