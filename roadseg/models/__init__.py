"""Segmentation networks, their registry and the checkpoint format."""

from roadseg.models.base import SegmentationModel
from roadseg.models.checkpoint import (
    available_weights,
    default_weights_name,
    load,
    read_metadata,
    resolve_checkpoint,
    resolve_model,
    save_checkpoint,
)
from roadseg.models.metadata import DEFAULT_NORMALIZATION, ModelMetadata
from roadseg.models.registry import (
    ARCHITECTURES,
    build,
    count_parameters,
    get_architecture,
    output_stride,
)
from roadseg.models.resunet import ResUNet
from roadseg.models.resunetpp import ResUNetPlusPlus
from roadseg.models.unet import UNet

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_NORMALIZATION",
    "ModelMetadata",
    "ResUNet",
    "ResUNetPlusPlus",
    "SegmentationModel",
    "UNet",
    "available_weights",
    "build",
    "count_parameters",
    "default_weights_name",
    "get_architecture",
    "load",
    "output_stride",
    "read_metadata",
    "resolve_checkpoint",
    "resolve_model",
    "save_checkpoint",
]
