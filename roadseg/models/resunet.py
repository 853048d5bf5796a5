"""ResUNet (Zhang, Liu & Wang 2018, "Road Extraction by Deep Residual U-Net"), over a
choice of encoder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from roadseg.errors import InvalidParameterError
from roadseg.models.base import SegmentationModel
from roadseg.models.decoders import ResUNetDecoder
from roadseg.models.encoders import MobileNetV2Encoder, ResidualEncoder, get_encoder_class

#: Decoder widths of the MobileNetV2 ResUNet as multiples of ``base_channels``, deepest
#: first (8 gives 96, 48, 32, 24 and 8 channels at strides 16 to 1).
MOBILENET_DECODER_WIDTHS = (12, 6, 4, 3, 1)

#: Parameter names of checkpoints written before the encoder/decoder split, and their
#: names now (the same tensors: the network computes the same function).
_LEGACY_PREFIXES = {
    "encoder1.": "encoder.stem.",
    "encoder2.": "encoder.stages.0.",
    "encoder3.": "encoder.stages.1.",
    "bridge.": "encoder.stages.2.",
    "decoder1.": "decoder.blocks.0.",
    "decoder2.": "decoder.blocks.1.",
    "decoder3.": "decoder.blocks.2.",
}


class ResUNet(SegmentationModel):
    """Deep residual U-Net: an encoder, the residual decoder and a 1x1 head (logits; the
    article's sigmoid belongs to the loss and to inference here).

    With the ``residual`` encoder this is the article's network: a stem unit and two
    pre-activation residual units, the second and third downsampling by a stride-2
    convolution, and a residual bridge, also stride 2; the decoder has three stages of
    bilinear x2 upsampling, concatenation and a residual unit. With ``mobilenet_v2``
    the encoder is MobileNetV2's inverted residuals (ImageNet-initialisable) beside a
    full-resolution stem, and the decoder climbs five stages from stride 32, the last,
    at full resolution, one conv-BN-ReLU.

    Args:
        in_channels: number of input bands.
        num_classes: number of output channels.
        base_channels: filters of the first unit; the article's 64 gives 64/128/256/512.
            With ``mobilenet_v2``, the stem's filters and the decoder's unit of width
            (:data:`MOBILENET_DECODER_WIDTHS`).
        encoder: ``residual`` or ``mobilenet_v2``.
        decoder_unit: ``residual`` (the article's) or ``conv`` (one conv-BN-ReLU).
        imagenet_normalize: ``mobilenet_v2`` only: ImageNet's mean and standard
            deviation applied after the per-scene stretch, as its weights expect.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 1,
        base_channels: int = 64,
        encoder: str = "residual",
        decoder_unit: str = "residual",
        imagenet_normalize: bool = True,
    ) -> None:
        super().__init__(in_channels, num_classes)
        self.base_channels = base_channels
        self.encoder_name = encoder
        cls = get_encoder_class(encoder)
        if cls is ResidualEncoder:
            if not imagenet_normalize:
                raise InvalidParameterError(
                    "imagenet_normalize applies to the mobilenet_v2 encoder only; "
                    "leave it at its default for the residual encoder"
                )
            self.encoder: nn.Module = ResidualEncoder(in_channels, base_channels)
            widths = self.encoder.out_channels[-2::-1]
        else:
            self.encoder = MobileNetV2Encoder(in_channels, base_channels, imagenet_normalize)
            widths = tuple(base_channels * m for m in MOBILENET_DECODER_WIDTHS)
        self.output_stride = self.encoder.output_stride
        # The full-resolution stage of the MobileNetV2 network is one conv-BN-ReLU, as its
        # stem is (see MobileNetV2Encoder); the residual encoder keeps the article's.
        last = "conv" if isinstance(self.encoder, MobileNetV2Encoder) else None
        self.decoder = ResUNetDecoder(
            self.encoder.out_channels, widths, unit=decoder_unit, last_unit=last
        )
        self.head = nn.Conv2d(self.decoder.out_channels, num_classes, kernel_size=1)

    @staticmethod
    def stride_for(encoder: str = "residual", **_: Any) -> int:
        """The output stride of a ResUNet built with these arguments."""
        return 8 if get_encoder_class(encoder) is ResidualEncoder else 32

    @staticmethod
    def upgrade_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Rename the parameters of a checkpoint written before the encoder/decoder split."""
        renamed = {}
        for key, value in state.items():
            for old, new in _LEGACY_PREFIXES.items():
                if key.startswith(old):
                    key = new + key[len(old) :]
                    break
            renamed[key] = value
        return renamed

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(self.encoder(x)))
