"""MobileNetV2's inverted-residual feature extractor (Sandler et al. 2018), written here
with torchvision's parameter names.

torchvision's own module would do, but its wheels are built against one torch build
each: beside the CPU torch wheel that roadseg installs, ``import torchvision`` fails
(its compiled operators do not register). The network is small enough to write out;
``tests/test_mobilenetv2.py`` checks that it computes torchvision's function with the
same weights, and the ImageNet weights load into it by name (``roadseg.models.imagenet``).
"""

from __future__ import annotations

import torch
from torch import nn

#: torchvision's table: expansion t, output channels c, repeats n, first stride s.
INVERTED_RESIDUAL_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
FIRST_CHANNELS = 32
#: ``features`` indices whose outputs are the skips, at strides 2, 4, 8, 16 and 32 (the
#: last block of each resolution; ``features.18``, the 1280-channel classifier
#: projection, is not needed for segmentation and is not built).
SKIP_INDICES: tuple[int, ...] = (1, 3, 6, 13, 17)


class ConvBNReLU6(nn.Sequential):
    """Convolution, batch norm, ReLU6: torchvision's ``Conv2dNormActivation``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                (kernel_size - 1) // 2,
                groups=groups,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """Expand (1x1), depthwise 3x3, project linearly (1x1); an identity shortcut when
    the block keeps resolution and width."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = round(in_channels * expand)
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNReLU6(in_channels, hidden, kernel_size=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


def mobilenetv2_features(in_channels: int = 3) -> nn.Sequential:
    """``features.0`` to ``features.17`` of torchvision's ``mobilenet_v2()`` (width 1)."""
    layers: list[nn.Module] = [ConvBNReLU6(in_channels, FIRST_CHANNELS, stride=2)]
    channels = FIRST_CHANNELS
    for expand, out_channels, repeats, stride in INVERTED_RESIDUAL_SETTINGS:
        for i in range(repeats):
            layers.append(InvertedResidual(channels, out_channels, stride if i == 0 else 1, expand))
            channels = out_channels
    return nn.Sequential(*layers)


def skip_channels() -> tuple[int, ...]:
    """Channels of the features at :data:`SKIP_INDICES`."""
    features = mobilenetv2_features()
    return tuple(features[i].conv[-1].num_features for i in SKIP_INDICES)
