"""The training loop: AdamW, warm-up + cosine schedule, periodic validation, best checkpoint.

Outputs in ``config.out_dir``:

* ``best.safetensors``: the checkpoint with the best validation score (mean over the
  validation datasets of the relaxed breakeven), its threshold chosen on validation to
  maximise the pixel F1, and full metadata;
* ``last.safetensors`` plus ``last.state.safetensors``/``last.state.json``: where
  ``--resume`` continues from;
* ``metrics.jsonl``: one JSON record per validation;
* ``learning_curve.png``: the curves of that log.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from roadseg.device import resolve_device
from roadseg.errors import InvalidParameterError, OutputExistsError
from roadseg.evaluation.runner import evaluate_images, summarise
from roadseg.log import get_logger
from roadseg.models import ModelMetadata, build, load, save_checkpoint
from roadseg.training.config import TrainConfig
from roadseg.training.loss import bce_dice_loss
from roadseg.training.plot import plot_learning_curve
from roadseg.training.sampler import CropSampler
from roadseg.training.sources import load_source
from roadseg.training.state import load_training_state, save_training_state

log = get_logger(__name__)

BEST = "best.safetensors"
LAST = "last.safetensors"
METRICS = "metrics.jsonl"
CURVE = "learning_curve.png"


@dataclass(frozen=True)
class TrainResult:
    """What a run produced."""

    best: Path
    last: Path
    metrics_log: Path
    step: int
    best_score: float | None
    metadata: ModelMetadata


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up to 1, then cosine decay to 0 at ``total`` steps."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    return f"CPU {_cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def train(
    config: TrainConfig,
    resume: Path | None = None,
    overwrite: bool = False,
    command: str | None = None,
) -> TrainResult:
    """Train a road-segmentation network as ``config`` says.

    Args:
        config: data, model and hyper-parameters.
        resume: a ``last.safetensors`` written by an earlier run to continue from.
        overwrite: allow writing into an ``out_dir`` that already holds a run.
        command: the command line, recorded in the checkpoint.

    Raises:
        OutputExistsError: ``out_dir`` holds a run and neither ``overwrite`` nor
            ``resume`` was given.
    """
    out = Path(config.out_dir)
    if (out / LAST).exists() and not (overwrite or resume):
        raise OutputExistsError(
            f"{out}: holds an earlier training run; pass --overwrite to replace it or "
            f"--resume {out / LAST} to continue it"
        )
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    torch.set_num_threads(max(1, config.threads))
    device = resolve_device(config.device)
    band_count = len(config.band_names)

    groups, weights, val_images = [], [], []
    for spec in config.sources:
        train_images, held_out = load_source(spec, config.gsd_m, band_count, config.normalization)
        groups.append(train_images)
        weights.append(spec.weight)
        val_images.extend(held_out)
    sampler = CropSampler(
        groups,
        weights,
        config.crop,
        seed=config.seed,
        min_valid=config.min_valid,
        scale_jitter=config.scale_jitter,
        colour_jitter=config.colour_jitter,
    )
    split = {
        spec.name: {
            "train": sorted(i.stem for i in g),
            "val": sorted(i.stem for i in val_images if i.dataset == spec.name),
        }
        for spec, g in zip(config.sources, groups, strict=True)
    }

    arch_kwargs = {
        "in_channels": band_count,
        "num_classes": 1,
        "base_channels": config.base_channels,
    }
    if resume is not None:
        model, old_meta = load(resume, device)
        if old_meta.arch_kwargs != arch_kwargs or old_meta.architecture != config.architecture:
            raise InvalidParameterError(
                f"{resume}: holds {old_meta.architecture} {old_meta.arch_kwargs}, but this run "
                f"asks for {config.architecture} {arch_kwargs}; use the same model options"
            )
    else:
        model = build(config.architecture, **arch_kwargs).to(device)
    model.train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    step, best_score, elapsed_before, history_best = 0, None, 0.0, None
    if resume is not None:
        record = load_training_state(resume, optimizer)
        step = int(record["step"])
        best_score = record.get("best_score")
        elapsed_before = float(record.get("elapsed_s", 0.0))
        sampler.set_state(record["sampler"])
        torch.manual_seed(config.seed + step)
        log.info("resuming from %s at step %d", resume, step)
    elif overwrite:
        (out / METRICS).unlink(missing_ok=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, config.steps, config.warmup_steps)
    )
    if step:
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * lr_factor(step, config.steps, config.warmup_steps)
        scheduler.last_epoch = step
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    training_record: dict[str, Any] = {
        "config": config.to_record(),
        "split": split,
        "command": command,
        "hardware": _hardware(device),
        "torch": torch.__version__,
    }

    def metadata(threshold: float, metrics: dict[str, Any], elapsed: float) -> ModelMetadata:
        return ModelMetadata(
            architecture=config.architecture,
            arch_kwargs=arch_kwargs,
            band_names=tuple(config.band_names),
            normalization=dict(config.normalization),
            gsd_m=config.gsd_m,
            threshold=float(threshold),
            name=config.name,
            training={**training_record, "step": step, "training_seconds": round(elapsed, 1)},
            metrics=metrics,
        )

    start = time.monotonic()
    budget = None if config.max_minutes is None else config.max_minutes * 60
    eval_seconds = 0.0
    losses: list[float] = []
    last_meta = metadata(0.5, {}, elapsed_before)
    progress = tqdm(total=config.steps, initial=step, desc="train", unit="step", dynamic_ncols=True)
    stop = step >= config.steps
    while not stop:
        batch = sampler.batch(config.batch_size)
        x, y, v = (
            t.to(device, non_blocking=True) for t in (batch.image, batch.target, batch.valid)
        )
        with torch.autocast(device.type, enabled=use_amp):
            logits = model(x)
        loss = bce_dice_loss(logits, y, v, dice_weight=config.dice_weight)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        step += 1
        losses.append(float(loss.detach()))
        progress.update(1)
        progress.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        elapsed = time.monotonic() - start
        out_of_time = budget is not None and elapsed + eval_seconds * 1.2 >= budget
        stop = step >= config.steps or out_of_time
        if step % config.eval_every and not stop:
            continue
        eval_start = time.monotonic()
        record: dict[str, Any] = {
            "step": step,
            "elapsed_s": round(elapsed_before + elapsed, 1),
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": float(np.mean(losses)) if losses else None,
        }
        losses = []
        threshold, metrics = 0.5, {}
        if val_images:
            accumulators = evaluate_images(model, val_images, device)
            model.train()
            threshold, metrics = summarise(accumulators)
            record["val"] = metrics
            score = metrics["mean_relaxed_breakeven"]
            if best_score is None or score > best_score:
                best_score = score
                history_best = step
                save_checkpoint(
                    model, metadata(threshold, metrics, elapsed_before + elapsed), out / BEST
                )
            log.info(
                "step %d: loss %.4f, breakeven %.3f, F1 %.3f at threshold %.3f%s",
                step,
                record["train_loss"] or float("nan"),
                score,
                metrics["mean_f1"],
                threshold,
                " (best)" if history_best == step else "",
            )
        last_meta = metadata(threshold, metrics, elapsed_before + elapsed)
        save_checkpoint(model, last_meta, out / LAST)
        if not val_images:
            save_checkpoint(model, last_meta, out / BEST)
        save_training_state(
            out / LAST,
            optimizer,
            {
                "step": step,
                "best_score": best_score,
                "elapsed_s": elapsed_before + elapsed,
                "sampler": sampler.state(),
            },
        )
        with open(out / METRICS, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        plot_learning_curve(out / METRICS, out / CURVE)
        eval_seconds = time.monotonic() - eval_start
        if out_of_time:
            log.info("wall-clock budget of %g minutes spent at step %d", config.max_minutes, step)
    progress.close()
    best_meta = load(out / BEST)[1] if (out / BEST).exists() else last_meta
    return TrainResult(
        best=out / BEST,
        last=out / LAST,
        metrics_log=out / METRICS,
        step=step,
        best_score=best_score,
        metadata=replace(best_meta),
    )
