"""Building blocks shared by the architectures."""

from __future__ import annotations

import torch
from torch import nn


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with 'same' padding for the given dilation."""
    return nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size=3,
        stride=stride,
        padding=dilation,
        dilation=dilation,
    )


class ConvBNReLU(nn.Sequential):
    """Conv 3x3, batch norm, ReLU (post-activation, as in U-Net with BN)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class BNReLUConv(nn.Sequential):
    """Batch norm, ReLU, conv 3x3: the pre-activation unit of He et al. 2016."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            conv3x3(in_channels, out_channels, stride=stride),
        )


class Shortcut(nn.Sequential):
    """1x1 projection shortcut with batch norm, matching channels and stride."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride),
            nn.BatchNorm2d(out_channels),
        )


class ResidualStem(nn.Module):
    """First unit of ResUNet: conv-BN-ReLU-conv plus a 1x1 shortcut (no leading BN-ReLU,
    because the input is the image itself)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv3x3(in_channels, out_channels),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            conv3x3(out_channels, out_channels),
        )
        self.shortcut = Shortcut(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class ResidualBlock(nn.Module):
    """Pre-activation residual unit: (BN-ReLU-conv) x2 plus a 1x1 projection shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            BNReLUConv(in_channels, out_channels, stride=stride),
            BNReLUConv(out_channels, out_channels),
        )
        self.shortcut = Shortcut(in_channels, out_channels, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class SqueezeExcitation(nn.Module):
    """Channel attention of Hu et al. 2018: global pool, bottleneck MLP, sigmoid gate."""

    def __init__(self, channels: int, ratio: int = 8) -> None:
        super().__init__()
        hidden = max(channels // ratio, 1)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, kernel_size=1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling as in ResUNet++: parallel 3x3 convolutions at
    dilations (6, 12, 18) and 1, each with batch norm, summed, then a 1x1 convolution."""

    def __init__(
        self, in_channels: int, out_channels: int, dilations: tuple[int, ...] = (6, 12, 18, 1)
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(
                conv3x3(in_channels, out_channels, dilation=d), nn.BatchNorm2d(out_channels)
            )
            for d in dilations
        )
        self.project = nn.Conv2d(out_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self.branches[0](x)
        for branch in self.branches[1:]:
            total = total + branch(x)
        return self.project(total)


class AttentionGate(nn.Module):
    """ResUNet++ attention block.

    The encoder feature ``skip`` (twice the resolution) and the decoder feature ``x``
    are each passed through BN-ReLU-conv; the encoder path is max-pooled to the decoder
    resolution; their sum passes through BN-ReLU-conv and multiplies ``x``.
    """

    def __init__(self, skip_channels: int, channels: int) -> None:
        super().__init__()
        self.skip_path = nn.Sequential(BNReLUConv(skip_channels, channels), nn.MaxPool2d(2))
        self.x_path = BNReLUConv(channels, channels)
        self.combine = BNReLUConv(channels, channels)

    def forward(self, skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.combine(self.skip_path(skip) + self.x_path(x)) * x
