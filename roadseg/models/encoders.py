"""Encoders of the U-Net family: an image in, features at growing strides out.

An encoder returns a list of features, the first at full resolution and each next one
at twice the stride of the one before, as segmentation_models.pytorch's encoders do;
the decoder walks them back up. Encoders are built by name (:data:`ENCODERS`).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from roadseg.errors import UnknownNameError
from roadseg.models.mobilenetv2 import SKIP_INDICES, mobilenetv2_features, skip_channels
from roadseg.models.units import ConvBNReLU, ResidualBlock, ResidualStem

#: ImageNet's per-channel mean and standard deviation of RGB values in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Encoder(nn.Module):
    """Base class: ``out_channels[i]`` is the width of feature ``i``, at stride ``2**i``."""

    out_channels: tuple[int, ...]

    @property
    def output_stride(self) -> int:
        return 2 ** (len(self.out_channels) - 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError


class ResidualEncoder(Encoder):
    """ResUNet's encoder (Zhang, Liu & Wang 2018): a stem unit, two residual units and the
    bridge, each after the stem halving the resolution with a stride-2 convolution.

    Args:
        in_channels: input bands.
        base_channels: filters of the stem; each unit doubles them.
    """

    def __init__(self, in_channels: int, base_channels: int) -> None:
        super().__init__()
        widths = tuple(base_channels * 2**i for i in range(4))
        self.out_channels = widths
        self.stem = ResidualStem(in_channels, widths[0])
        self.stages = nn.ModuleList(
            ResidualBlock(a, b, stride=2) for a, b in itertools.pairwise(widths)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [self.stem(x)]
        for stage in self.stages:
            features.append(stage(features[-1]))
        return features


class MobileNetV2Encoder(Encoder):
    """MobileNetV2's inverted residuals (Sandler et al. 2018) beside a full-resolution stem.

    The stem (one conv-BN-ReLU, ``base_channels`` wide) keeps the pixel-level detail
    that MobileNetV2's stride-2 first convolution drops. It is one convolution, not a
    residual unit: at full resolution every layer costs as much as the whole encoder's
    deep stages, and a post-activation convolution fuses with its batch norm in ONNX
    Runtime (``benchmarks/README.md``). ``features`` carries
    torchvision's parameter names, so ImageNet weights load into it
    (:func:`roadseg.models.imagenet.load_imagenet_encoder`).

    Args:
        in_channels: input bands (the first convolution takes any number; ImageNet
            weights are adapted to it on loading).
        base_channels: filters of the full-resolution stem.
        imagenet_normalize: subtract ImageNet's mean and divide by its standard
            deviation before ``features`` (the input is the per-scene stretch in
            [0, 1]; for other than three bands, their means over the channels).
    """

    def __init__(
        self, in_channels: int, base_channels: int, imagenet_normalize: bool = True
    ) -> None:
        super().__init__()
        self.stem = ConvBNReLU(in_channels, base_channels)
        self.features = mobilenetv2_features(in_channels)
        self.out_channels = (base_channels, *skip_channels())
        self.imagenet_normalize = imagenet_normalize
        mean, std = _channel_statistics(in_channels)
        # Not persistent: they follow from the arguments, and checkpoints stay weights only.
        self.register_buffer("mean", mean.view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [self.stem(x)]
        y = (x - self.mean) / self.std if self.imagenet_normalize else x
        wanted = iter(SKIP_INDICES)
        target = next(wanted)
        for index, layer in enumerate(self.features):
            y = layer(y)
            if index == target:
                features.append(y)
                target = next(wanted, -1)
        return features


def _channel_statistics(in_channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet's statistics for ``in_channels`` bands: RGB's own for three, their mean
    for any other count (a grey band is the mean of R, G and B)."""
    if in_channels == 3:
        return torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    mean = sum(IMAGENET_MEAN) / 3
    std = sum(IMAGENET_STD) / 3
    return torch.full((in_channels,), mean), torch.full((in_channels,), std)


#: Encoder names, as checkpoints record them in ``arch_kwargs["encoder"]``.
ENCODERS: dict[str, type[Encoder]] = {
    "residual": ResidualEncoder,
    "mobilenet_v2": MobileNetV2Encoder,
}


def get_encoder_class(name: str) -> type[Encoder]:
    """The encoder class registered as ``name``."""
    try:
        return ENCODERS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown encoder {name!r}; choose one of {', '.join(sorted(ENCODERS))}"
        ) from None
