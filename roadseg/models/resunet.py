"""ResUNet (Zhang, Liu & Wang 2018, "Road Extraction by Deep Residual U-Net")."""

from __future__ import annotations

import torch
from torch import nn

from roadseg.models.base import SegmentationModel
from roadseg.models.blocks import ResidualBlock, ResidualStem


class ResUNet(SegmentationModel):
    """Deep residual U-Net.

    Encoder: a stem unit and two pre-activation residual units, the second and third
    downsampling by a stride-2 convolution; a residual bridge, also stride 2. Decoder:
    three stages of bilinear x2 upsampling, concatenation with the encoder feature and a
    residual unit. A 1x1 convolution gives the logits (the article's sigmoid belongs to
    the loss and to inference here).

    Args:
        in_channels: number of input bands.
        num_classes: number of output channels.
        base_channels: filters of the first unit; the article's 64 gives 64/128/256/512.
    """

    output_stride = 8

    def __init__(self, in_channels: int = 3, num_classes: int = 1, base_channels: int = 64) -> None:
        super().__init__(in_channels, num_classes)
        self.base_channels = base_channels
        c1, c2, c3, c4 = (base_channels * 2**i for i in range(4))
        self.encoder1 = ResidualStem(in_channels, c1)
        self.encoder2 = ResidualBlock(c1, c2, stride=2)
        self.encoder3 = ResidualBlock(c2, c3, stride=2)
        self.bridge = ResidualBlock(c3, c4, stride=2)
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.decoder1 = ResidualBlock(c4 + c3, c3)
        self.decoder2 = ResidualBlock(c3 + c2, c2)
        self.decoder3 = ResidualBlock(c2 + c1, c1)
        self.head = nn.Conv2d(c1, num_classes, kernel_size=1)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.encoder1(x)
        e2 = self.encoder2(e1)
        e3 = self.encoder3(e2)
        b = self.bridge(e3)
        d = self.decoder1(torch.cat([self.upsample(b), e3], dim=1))
        d = self.decoder2(torch.cat([self.upsample(d), e2], dim=1))
        d = self.decoder3(torch.cat([self.upsample(d), e1], dim=1))
        return self.head(d)
