"""``roadseg train``: train a road-segmentation network on labelled data."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from roadseg.cli.shared_options import device_option, overwrite_option


def _thresholds(value: str) -> tuple[float, ...]:
    """``0.5,0.65,0.8`` (or ``none``) as a tuple of thresholds in (0, 1)."""
    if value.strip().lower() in ("", "none"):
        return ()
    try:
        thresholds = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a comma-separated list of numbers, e.g. 0.5,0.65,0.8"
        ) from None
    for t in thresholds:
        if not 0.0 < t < 1.0:
            raise click.BadParameter(f"{t:g} is not strictly between 0 and 1")
    return thresholds


@click.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    required=True,
    metavar="KIND:PATH[,key=value...]",
    help="Labelled data (repeat for several). 'pairs:FOLDER,gsd=1.0[,nodata=255]' for "
    "image/mask pairs; 'scenes:FOLDER,vectors=FOLDER[,buffer=3.5]' for GeoTIFFs with road "
    "lines. Add val=STEM+STEM to hold images out for validation, weight=W to set the "
    "share of crops. See docs/training.md.",
)
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for checkpoints (best.safetensors, last.safetensors), metrics.jsonl and "
    "learning_curve.png.",
)
@click.option("--arch", default="resunet", show_default=True, help="Architecture name.")
@click.option("--base-channels", default=16, show_default=True, type=click.IntRange(1))
@click.option(
    "--encoder",
    type=click.Choice(["residual", "mobilenet_v2"]),
    default="residual",
    show_default=True,
    help="ResUNet's encoder: its own residual units, or MobileNetV2's inverted residuals "
    "(start them from ImageNet with --init imagenet).",
)
@click.option(
    "--decoder-unit",
    type=click.Choice(["residual", "conv"]),
    default="residual",
    show_default=True,
    help="The decoder's unit per resolution: Zhang et al.'s residual unit or one conv-BN-ReLU.",
)
@click.option(
    "--imagenet-normalize/--no-imagenet-normalize",
    default=True,
    show_default=True,
    help="mobilenet_v2: apply ImageNet's mean and std after the per-scene stretch.",
)
@click.option(
    "--encoder-lr",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="mobilenet_v2: peak learning rate of the encoder (default: --lr).",
)
@click.option(
    "--freeze-encoder-bn",
    is_flag=True,
    help="mobilenet_v2: keep the encoder's batch-norm statistics (ImageNet's, with --init imagenet).",
)
@click.option(
    "--gsd",
    "gsd_m",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Metres per pixel that all data is resampled to (with --max-gsd: the finest).",
)
@click.option(
    "--max-gsd",
    "max_gsd_m",
    default=None,
    type=click.FloatRange(min=0.01),
    help="Give the model a range of resolutions: images between --gsd and this many "
    "metres per pixel are trained on, and scenes run, at their own resolution; finer ones "
    "are downsampled to --gsd, coarser ones upsampled to this.",
)
@click.option("--crop", default=256, show_default=True, type=click.IntRange(16))
@click.option("--batch-size", default=4, show_default=True, type=click.IntRange(1))
@click.option(
    "--steps",
    default=2000,
    show_default=True,
    type=click.IntRange(1),
    help="Optimisation steps; the cosine schedule spans them.",
)
@click.option("--warmup", "warmup_steps", default=100, show_default=True, type=click.IntRange(0))
@click.option("--lr", default=2e-3, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--weight-decay", default=1e-4, show_default=True, type=click.FloatRange(min=0))
@click.option("--dice-weight", default=1.0, show_default=True, type=click.FloatRange(min=0))
@click.option(
    "--cldice-weight",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Weight of the soft centreline-Dice loss, which punishes broken roads.",
)
@click.option(
    "--eval-every",
    default=250,
    show_default=True,
    type=click.IntRange(1),
    help="Steps between validations.",
)
@click.option(
    "--max-minutes",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Wall-clock budget: stop cleanly (validating and saving) when it is spent.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--threads", default=2, show_default=True, type=click.IntRange(1), help="CPU threads for torch."
)
@click.option("--name", default=None, help="Name written into the checkpoint metadata.")
@click.option(
    "--resume",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Continue from a last.safetensors of an earlier run.",
)
@click.option(
    "--init",
    type=str,
    default=None,
    help="Start from the weights of this checkpoint or shipped model (a warm start: the "
    "optimiser and schedule start afresh), or 'imagenet' for the MobileNetV2 encoder's "
    "ImageNet weights. A narrower resunet is widened to --base-channels, computing the "
    "same function at the start.",
)
@click.option(
    "--grey",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of training crops turned to grey, so one-band scenes work.",
)
@click.option(
    "--hard-negatives",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of training crops centred on a false positive of the starting weights "
    "(--init or --resume), mined once before the first step.",
)
@click.option(
    "--apls-weight",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Weight of the held-out scenes' APLS (roadseg run end to end) in the score that "
    "picks the best checkpoint; the rest is the relaxed breakeven.",
)
@click.option(
    "--apls-thresholds",
    default="0.5,0.65,0.8",
    show_default=True,
    callback=lambda ctx, param, value: _thresholds(value),
    metavar="T,T,...|none",
    help="Decision thresholds tried on the held-out scenes besides the pixel-F1 one; the "
    "checkpoint keeps the one whose road networks score the best APLS.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep decoded, resampled training images here for the next run.",
)
@device_option
@overwrite_option
def train(
    sources: tuple[str, ...],
    out_dir: Path,
    arch: str,
    base_channels: int,
    encoder: str,
    decoder_unit: str,
    imagenet_normalize: bool,
    encoder_lr: float | None,
    freeze_encoder_bn: bool,
    gsd_m: float,
    max_gsd_m: float | None,
    crop: int,
    batch_size: int,
    steps: int,
    warmup_steps: int,
    lr: float,
    weight_decay: float,
    dice_weight: float,
    cldice_weight: float,
    eval_every: int,
    max_minutes: float | None,
    seed: int,
    threads: int,
    name: str | None,
    resume: Path | None,
    init: str | None,
    grey: float,
    hard_negatives: float,
    apls_weight: float,
    apls_thresholds: tuple[float, ...],
    cache_dir: Path | None,
    device: str,
    overwrite: bool,
) -> None:
    """Train a network on image/mask pairs and GeoTIFF scenes with road vectors.

    \b
    Example:
      roadseg train --source pairs:data/massachusetts/train,gsd=1.0,nodata=255 \\
        --source scenes:data/spacenet/RGB,vectors=data/spacenet/geojson,val=img308 \\
        --out runs/lite --steps 3000 --max-minutes 55
    """
    from roadseg.training import TrainConfig, parse_source_spec
    from roadseg.training import train as run_training

    config = TrainConfig(
        sources=tuple(parse_source_spec(s) for s in sources),
        out_dir=out_dir,
        architecture=arch,
        base_channels=base_channels,
        encoder=encoder,
        decoder_unit=decoder_unit,
        imagenet_normalize=imagenet_normalize,
        imagenet_init=init == "imagenet",
        encoder_lr=encoder_lr,
        freeze_encoder_bn=freeze_encoder_bn,
        gsd_m=gsd_m,
        max_gsd_m=max_gsd_m,
        crop=crop,
        batch_size=batch_size,
        steps=steps,
        warmup_steps=warmup_steps,
        lr=lr,
        weight_decay=weight_decay,
        dice_weight=dice_weight,
        cldice_weight=cldice_weight,
        eval_every=eval_every,
        max_minutes=max_minutes,
        seed=seed,
        device=device,
        threads=threads,
        name=name,
        init=None if init in (None, "imagenet") else Path(init),
        grey=grey,
        hard_negatives=hard_negatives,
        apls_weight=apls_weight,
        apls_thresholds=apls_thresholds,
        cache_dir=cache_dir,
    )
    command = "roadseg " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run_training(config, resume=resume, overwrite=overwrite, command=command)
    click.echo(
        f"trained {result.step} steps; best checkpoint {result.best} "
        f"(threshold {result.metadata.threshold:.3f}, "
        f"selection score {result.best_score if result.best_score is not None else float('nan'):.3f})"
    )
