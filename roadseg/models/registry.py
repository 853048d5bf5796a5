"""Build architectures by name, as segmentation_models.pytorch does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roadseg.errors import InvalidParameterError, UnknownNameError
from roadseg.models.base import SegmentationModel
from roadseg.models.resunet import ResUNet
from roadseg.models.resunetpp import ResUNetPlusPlus
from roadseg.models.unet import UNet


@dataclass(frozen=True)
class Architecture:
    """A registered architecture: its class, the article's width and a reference."""

    name: str
    cls: type[SegmentationModel]
    default_base_channels: int
    reference: str


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("unet", UNet, 64, "Ronneberger, Fischer & Brox 2015 (with batch norm)"),
        Architecture("resunet", ResUNet, 64, "Zhang, Liu & Wang 2018"),
        Architecture("resunetpp", ResUNetPlusPlus, 16, "Jha et al. 2019"),
    )
}
_ALIASES = {"resunet++": "resunetpp", "resunetplusplus": "resunetpp", "u-net": "unet"}


def get_architecture(name: str) -> Architecture:
    """Look an architecture up by (case-insensitive) name or alias."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return ARCHITECTURES[key]
    except KeyError:
        raise UnknownNameError(
            f"unknown architecture {name!r}; choose one of {', '.join(sorted(ARCHITECTURES))}"
        ) from None


def build(
    name: str,
    in_channels: int = 3,
    num_classes: int = 1,
    base_channels: int | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """Build an untrained model by architecture name.

    Args:
        name: ``unet``, ``resunet`` or ``resunetpp``.
        in_channels: number of input bands.
        num_classes: number of output channels (logits).
        base_channels: width of the first stage; ``None`` uses the article's value.
        **kwargs: further arguments of the architecture's class.

    Example:
        >>> from roadseg.models import build
        >>> model = build("resunet", in_channels=3, base_channels=16)
    """
    arch = get_architecture(name)
    width = arch.default_base_channels if base_channels is None else int(base_channels)
    if width < 1:
        raise InvalidParameterError(f"base_channels must be a positive integer, got {width}")
    try:
        return arch.cls(
            in_channels=in_channels, num_classes=num_classes, base_channels=width, **kwargs
        )
    except TypeError as exc:
        raise InvalidParameterError(
            f"bad arguments for architecture {arch.name!r}: {exc}"
        ) from None


def output_stride(name: str, arch_kwargs: dict[str, Any]) -> int:
    """The product of the downsamplings of architecture ``name`` built with ``arch_kwargs``:
    input sides are padded to a multiple of it."""
    cls = get_architecture(name).cls
    stride_for = getattr(cls, "stride_for", None)
    return int(stride_for(**arch_kwargs)) if stride_for is not None else int(cls.output_stride)


def count_parameters(model: SegmentationModel) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
