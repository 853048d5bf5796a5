"""U-Net (Ronneberger, Fischer & Brox 2015) with batch normalisation."""

from __future__ import annotations

import torch
from torch import nn

from roadseg.models.base import SegmentationModel
from roadseg.models.units import ConvBNReLU


class DoubleConv(nn.Sequential):
    """Two 3x3 conv-BN-ReLU units, the basic stage of U-Net."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            ConvBNReLU(in_channels, out_channels), ConvBNReLU(out_channels, out_channels)
        )


class UNet(SegmentationModel):
    """U-Net: four encoder stages with 2x2 max-pooling, a bottleneck of 16x the base
    width, and a decoder of 2x2 transposed convolutions with skip concatenation.

    Args:
        in_channels: number of input bands.
        num_classes: number of output channels (1 for road / not road).
        base_channels: filters of the first stage; the article uses 64 (so a 1024-channel
            bottleneck). Smaller values make narrow, fast variants.
    """

    output_stride = 16

    def __init__(self, in_channels: int = 3, num_classes: int = 1, base_channels: int = 64) -> None:
        super().__init__(in_channels, num_classes)
        self.base_channels = base_channels
        widths = [base_channels * 2**i for i in range(5)]  # 64 ... 1024
        self.encoders = nn.ModuleList()
        previous = in_channels
        for width in widths[:-1]:
            self.encoders.append(DoubleConv(previous, width))
            previous = width
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = DoubleConv(widths[-2], widths[-1])
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for deep, shallow in zip(widths[:0:-1], widths[-2::-1], strict=True):
            self.ups.append(nn.ConvTranspose2d(deep, shallow, kernel_size=2, stride=2))
            self.decoders.append(DoubleConv(2 * shallow, shallow))
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips), strict=True):
            x = decoder(torch.cat([up(x), skip], dim=1))
        return self.head(x)
