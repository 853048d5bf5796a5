"""The network a run trains: built, warm-started or ImageNet-initialised, and the
optimiser's parameter groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from roadseg.errors import InvalidParameterError
from roadseg.log import get_logger
from roadseg.models import ModelMetadata, build, load
from roadseg.models.base import SegmentationModel
from roadseg.models.imagenet import load_imagenet_encoder
from roadseg.models.widen import widen_resunet
from roadseg.raster.grid import resolutions_text
from roadseg.training.config import TrainConfig

log = get_logger(__name__)


def arch_kwargs_of(config: TrainConfig) -> dict[str, Any]:
    """The architecture's arguments, as the checkpoint records them (defaults left out,
    so that checkpoints of the residual ResUNet keep the record they always had)."""
    kwargs: dict[str, Any] = {
        "in_channels": len(config.band_names),
        "num_classes": 1,
        "base_channels": config.base_channels,
    }
    if config.encoder != "residual":
        kwargs["encoder"] = config.encoder
    if config.decoder_unit != "residual":
        kwargs["decoder_unit"] = config.decoder_unit
    if not config.imagenet_normalize:
        kwargs["imagenet_normalize"] = False
    return kwargs


def build_network(
    config: TrainConfig, device: torch.device, resume: Path | None
) -> tuple[SegmentationModel, dict[str, Any]]:
    """The model a run starts from: its last state (``resume``), a warm start
    (``config.init``, widened when narrower), ImageNet's encoder, or scratch."""
    arch_kwargs = arch_kwargs_of(config)
    start = resume if resume is not None else config.init
    if start is None:
        model = build(config.architecture, **arch_kwargs)
        if config.imagenet_init:
            load_imagenet_encoder(model)
            log.info("encoder initialised with ImageNet weights (torchvision's MobileNetV2)")
        return model.to(device), arch_kwargs
    model, old_meta = load(start, device)
    if resume is None and _widens(old_meta, config.architecture, arch_kwargs):
        log.info(
            "starting from the weights of %s, widened from %d to %d base channels",
            start,
            old_meta.arch_kwargs["base_channels"],
            config.base_channels,
        )
        wide = widen_resunet(model.cpu(), config.base_channels, seed=config.seed)
        return wide.to(device), arch_kwargs
    if old_meta.arch_kwargs != arch_kwargs or old_meta.architecture != config.architecture:
        raise InvalidParameterError(
            f"{start}: holds {old_meta.architecture} {old_meta.arch_kwargs}, but this run "
            f"asks for {config.architecture} {arch_kwargs}; use the same model options"
        )
    if resume is None:
        log.info("starting from the weights of %s", start)
        # A warm start at other resolutions is allowed (the 0.5 m links started from 1 m
        # weights), but never silently: the run's --gsd/--max-gsd decide the new model's.
        if (old_meta.gsd_m, old_meta.max_gsd_m) != (config.gsd_m, config.max_gsd_m):
            log.warning(
                "%s was trained at %s m; this run trains at %s m (--gsd, --max-gsd)",
                start,
                resolutions_text(old_meta.gsd_m, old_meta.max_gsd_m),
                resolutions_text(config.gsd_m, config.max_gsd_m),
            )
    return model, arch_kwargs


def _widens(old: ModelMetadata, architecture: str, arch_kwargs: dict[str, Any]) -> bool:
    """Whether a warm start is a narrower ResUNet of this run's kind, to be widened
    (``roadseg.models.widen``; the other architectures start at their own width)."""
    others = {k: v for k, v in arch_kwargs.items() if k != "base_channels"}
    return (
        architecture == old.architecture == "resunet"
        and "encoder" not in arch_kwargs
        and {k: v for k, v in old.arch_kwargs.items() if k != "base_channels"} == others
        and int(old.arch_kwargs.get("base_channels", 0)) < int(arch_kwargs["base_channels"])
    )


def pretrained_part(model: nn.Module) -> nn.Module | None:
    """The part of ``model`` that can start from ImageNet (MobileNetV2's ``features``)."""
    return getattr(getattr(model, "encoder", None), "features", None)


def parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    """AdamW's groups: the pretrainable encoder at ``config.encoder_lr`` (when set), the
    rest at ``config.lr``."""
    part = pretrained_part(model)
    if part is None or config.encoder_lr is None:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": config.lr}]
    inside = {id(p) for p in part.parameters()}
    encoder = [p for p in part.parameters() if p.requires_grad]
    rest = [p for p in model.parameters() if id(p) not in inside and p.requires_grad]
    return [{"params": encoder, "lr": config.encoder_lr}, {"params": rest, "lr": config.lr}]


def set_training_mode(model: nn.Module, freeze_encoder_bn: bool) -> None:
    """``model.train()``, with the pretrained encoder's batch norms kept in evaluation
    mode (their ImageNet statistics unchanged) when ``freeze_encoder_bn``."""
    model.train()
    part = pretrained_part(model)
    if freeze_encoder_bn and part is not None:
        for module in part.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
