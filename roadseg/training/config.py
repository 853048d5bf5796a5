"""What a training run is told: data sources (see :mod:`roadseg.data.spec`) and
hyper-parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roadseg.data.spec import SourceSpec
from roadseg.errors import InvalidParameterError
from roadseg.models.metadata import DEFAULT_NORMALIZATION


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run (all recorded in the checkpoint metadata).

    Attributes:
        sources: labelled data.
        out_dir: folder for checkpoints, the metrics log and the learning-curve plot.
        architecture: registry name of the network.
        base_channels: width of its first stage.
        encoder: ``residual`` (ResUNet's own) or ``mobilenet_v2``.
        decoder_unit: ``residual`` (Zhang et al.'s unit) or ``conv`` (one conv-BN-ReLU).
        imagenet_normalize: ImageNet's mean/std after the per-scene stretch
            (``mobilenet_v2`` only).
        imagenet_init: start the MobileNetV2 encoder from ImageNet's weights.
        encoder_lr: peak learning rate of the pretrainable encoder (``None``: ``lr``).
        freeze_encoder_bn: keep the pretrained encoder's batch-norm statistics.
        gsd_m: metres per pixel everything is resampled to; with ``max_gsd_m``, the
            finest resolution of the model's range.
        max_gsd_m: the coarsest resolution of the model's range: images between
            ``gsd_m`` and this are trained on at their own resolution, as ``roadseg run``
            will work scenes (see :func:`roadseg.raster.grid.working_gsd`); ``None``:
            one resolution.
        band_names: names of the model's input bands.
        normalization: per-scene normalisation (see :mod:`roadseg.raster.normalize`).
        crop: side of the square training crops, pixels.
        batch_size: crops per step.
        steps: total optimisation steps (the cosine schedule spans them).
        warmup_steps: linear warm-up steps.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        dice_weight: weight of the Dice term added to the BCE.
        cldice_weight: weight of the soft centreline-Dice term (topology; 0: off).
        eval_every: steps between validations (an "epoch" here).
        max_minutes: wall-clock budget; the run stops cleanly when it is spent.
        seed: seed of every random generator.
        device: ``auto``, ``cpu`` or ``cuda``.
        threads: CPU threads for torch.
        min_valid: least fraction of valid pixels in a training crop.
        scale_jitter: crops are resampled by a factor in ``[1/(1+s), 1+s]``.
        colour_jitter: strength of the per-band gain/offset and contrast jitter.
        grey: share of crops turned to grey (for one-band scenes).
        hard_negatives: share of crops centred on a false positive of the starting
            weights (``init`` or ``resume``; mined once before the first step; 0: off).
        init: checkpoint whose weights the run starts from (a warm start; the
            optimiser and schedule start afresh).
        apls_weight: weight of the held-out scenes' mean APLS in the checkpoint
            selection score (the rest is the mean relaxed breakeven).
        apls_thresholds: decision thresholds tried on the held-out scenes besides the
            pixel-F1 one; the checkpoint keeps the one with the best mean APLS.
        cache_dir: folder for decoded, resampled training arrays (``None``: no cache).
        name: name written into the checkpoint metadata.
    """

    sources: tuple[SourceSpec, ...]
    out_dir: Path
    architecture: str = "resunet"
    base_channels: int = 16
    encoder: str = "residual"
    decoder_unit: str = "residual"
    imagenet_normalize: bool = True
    imagenet_init: bool = False
    encoder_lr: float | None = None
    freeze_encoder_bn: bool = False
    gsd_m: float = 1.0
    max_gsd_m: float | None = None
    band_names: tuple[str, ...] = ("red", "green", "blue")
    normalization: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_NORMALIZATION))
    crop: int = 256
    batch_size: int = 4
    steps: int = 2000
    warmup_steps: int = 100
    lr: float = 2e-3
    weight_decay: float = 1e-4
    dice_weight: float = 1.0
    cldice_weight: float = 0.0
    eval_every: int = 250
    max_minutes: float | None = None
    seed: int = 0
    device: str = "auto"
    threads: int = 2
    min_valid: float = 0.5
    scale_jitter: float = 0.25
    colour_jitter: float = 0.1
    grey: float = 0.0
    hard_negatives: float = 0.0
    init: Path | None = None
    apls_weight: float = 0.5
    apls_thresholds: tuple[float, ...] = (0.5, 0.65, 0.8)
    cache_dir: Path | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.sources:
            raise InvalidParameterError("sources=(): give at least one data source (sources=...)")
        for label, value in (
            ("crop", self.crop),
            ("batch_size", self.batch_size),
            ("steps", self.steps),
            ("eval_every", self.eval_every),
            ("base_channels", self.base_channels),
        ):
            if value < 1:
                raise InvalidParameterError(f"{label} must be >= 1, got {value}")
        if self.gsd_m <= 0 or self.lr <= 0:
            raise InvalidParameterError("gsd and learning rate must be > 0")
        if self.max_gsd_m is not None and not self.max_gsd_m >= self.gsd_m:
            raise InvalidParameterError(
                f"max_gsd_m={self.max_gsd_m} is finer than gsd_m={self.gsd_m}: "
                "give a coarsest resolution of at least gsd_m (--max-gsd)"
            )
        if not 0.0 <= self.apls_weight <= 1.0 or not 0.0 <= self.grey <= 1.0:
            raise InvalidParameterError(
                f"apls_weight and grey must be between 0 and 1, got {self.apls_weight}, {self.grey}"
            )
        if not 0.0 <= self.hard_negatives <= 1.0:
            raise InvalidParameterError(
                f"hard_negatives={self.hard_negatives}: give a share between 0 and 1"
            )
        bad = [t for t in self.apls_thresholds if not 0.0 < t < 1.0]
        if bad:
            raise InvalidParameterError(
                f"apls_thresholds={bad[0]}: thresholds must lie strictly between 0 and 1"
            )
        if self.encoder_lr is not None and self.encoder_lr <= 0:
            raise InvalidParameterError(f"encoder_lr must be > 0, got {self.encoder_lr}")
        if (self.imagenet_init or self.encoder_lr or self.freeze_encoder_bn) and (
            self.encoder != "mobilenet_v2"
        ):
            raise InvalidParameterError(
                f"imagenet_init, encoder_lr and freeze_encoder_bn need "
                f"encoder='mobilenet_v2', not {self.encoder!r} (roadseg train "
                "--encoder mobilenet_v2)"
            )
        if self.imagenet_init and self.init is not None:
            raise InvalidParameterError(
                f"init={self.init} and imagenet_init: start from one of them, not both"
            )
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise InvalidParameterError(f"max_minutes must be > 0, got {self.max_minutes}")

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready summary for the checkpoint's training record."""
        return {
            "sources": [s.to_spec() for s in self.sources],
            "architecture": self.architecture,
            "base_channels": self.base_channels,
            "encoder": self.encoder,
            "decoder_unit": self.decoder_unit,
            "imagenet_normalize": self.imagenet_normalize,
            "imagenet_init": self.imagenet_init,
            "encoder_lr": self.encoder_lr,
            "freeze_encoder_bn": self.freeze_encoder_bn,
            "gsd_m": self.gsd_m,
            "max_gsd_m": self.max_gsd_m,
            "crop": self.crop,
            "batch_size": self.batch_size,
            "steps": self.steps,
            "warmup_steps": self.warmup_steps,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "dice_weight": self.dice_weight,
            "cldice_weight": self.cldice_weight,
            "eval_every": self.eval_every,
            "max_minutes": self.max_minutes,
            "seed": self.seed,
            "min_valid": self.min_valid,
            "scale_jitter": self.scale_jitter,
            "colour_jitter": self.colour_jitter,
            "grey": self.grey,
            "hard_negatives": self.hard_negatives,
            "init": None if self.init is None else Path(self.init).name,
            "apls_weight": self.apls_weight,
            "apls_thresholds": list(self.apls_thresholds),
        }
