"""The training loop: AdamW, warm-up + cosine schedule, periodic validation, best checkpoint.

Validation sees the held-out images as ``roadseg run`` does: each is read, tiled,
predicted and blended by the inference pipeline's own functions, and every held-out
*scene* of a ``scenes`` source is also run end to end (``roadseg run`` to a GeoPackage)
and scored by APLS against its road lines. The checkpoint kept as best maximises

    selection = (1 - apls_weight) * mean relaxed breakeven + apls_weight * mean APLS

(the means over datasets and over scene groups; breakeven alone when there is no
held-out scene).

Outputs in ``config.out_dir``:

* ``best.safetensors``: the checkpoint with the best selection score and full
  metadata. Its threshold maximises the pixel F1 on validation, unless a candidate of
  ``config.apls_thresholds`` gives the held-out scenes a higher mean APLS: users get
  road networks, so the networks choose;
* ``last.safetensors`` plus ``last.state.safetensors``/``last.state.json``: where
  ``--resume`` continues from;
* ``metrics.jsonl``: one JSON record per validation;
* ``learning_curve.png``: the curves of that log.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from roadseg.device import resolve_device
from roadseg.errors import InvalidParameterError, OutputExistsError
from roadseg.evaluation.endtoend import at_threshold, best_threshold
from roadseg.evaluation.scoring import evaluate_images, summarise
from roadseg.log import get_logger, progress_bar
from roadseg.models import ModelMetadata, load, save_checkpoint
from roadseg.models.base import SegmentationModel
from roadseg.training.config import TrainConfig
from roadseg.training.data import TrainingData, load_training_data
from roadseg.training.environment import (
    channels_last_trains,
    hardware,
    lr_factor,
    seed_everything,
)
from roadseg.training.hard_negatives import mine_hard_negatives
from roadseg.training.loss import bce_dice_loss, soft_cldice_loss
from roadseg.training.network import build_network, parameter_groups, set_training_mode
from roadseg.training.plot import plot_learning_curve
from roadseg.training.state import load_training_state, save_training_state
from roadseg.training.validation import score_held_out_scenes, selection_score, without_scenes

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
            f"{out}: holds an earlier training run; pass overwrite=True to replace it or "
            f"resume={out / LAST} to continue it"
        )
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    torch.set_num_threads(max(1, config.threads))
    device = resolve_device(config.device)
    data = load_training_data(config)
    model, arch_kwargs = build_network(config, device, resume)
    if config.hard_negatives > 0:
        if resume is None and config.init is None:
            raise InvalidParameterError(
                f"hard_negatives={config.hard_negatives}: the false positives are the "
                "starting weights'; give init= (or resume=) as well"
            )
        mined = mine_hard_negatives(model, data.groups, device, seed=config.seed)
        data.sampler.set_hard(mined, config.hard_negatives)
    # Channels-last convolutions train 1.2-1.4x faster on a 2-core AVX2 CPU
    # (benchmarks/bench_train_step.py: 1.45 against 1.03-1.22 steps/s) and suit GPUs.
    if channels_last_trains(model, device):
        model = model.to(memory_format=torch.channels_last)
    set_training_mode(model, config.freeze_encoder_bn)
    optimizer = torch.optim.AdamW(
        parameter_groups(model, config), lr=config.lr, weight_decay=config.weight_decay
    )
    run = _Run(config, out, device, model, optimizer, data, command, arch_kwargs)
    if resume is not None:
        run.restore(resume)
    elif overwrite:
        (out / METRICS).unlink(missing_ok=True)
    return run.loop()


class _Run:
    """The state of one training run, split into its steps and validations."""

    def __init__(
        self,
        config: TrainConfig,
        out: Path,
        device: torch.device,
        model: SegmentationModel,
        optimizer: torch.optim.Optimizer,
        data: TrainingData,
        command: str | None,
        arch_kwargs: dict[str, Any],
    ) -> None:
        self.config, self.out, self.device = config, out, device
        self.model, self.optimizer, self.data = model, optimizer, data
        self.arch_kwargs = arch_kwargs
        self.memory_format = (
            torch.channels_last if channels_last_trains(model, device) else torch.contiguous_format
        )
        self.step, self.best_score, self.best_step = 0, None, None
        self.elapsed_before = 0.0
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: lr_factor(s, config.steps, config.warmup_steps)
        )
        self.use_amp = device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.record: dict[str, Any] = {
            "config": config.to_record(),
            "split": data.split,
            "command": command,
            "hardware": hardware(device),
            "torch": torch.__version__,
        }

    def restore(self, resume: Path) -> None:
        record = load_training_state(resume, self.optimizer)
        self.step = int(record["step"])
        self.best_score = record.get("best_score")
        self.elapsed_before = float(record.get("elapsed_s", 0.0))
        self.data.sampler.set_state(record["sampler"])
        torch.manual_seed(self.config.seed + self.step)
        cfg = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * lr_factor(self.step, cfg.steps, cfg.warmup_steps)
        self.scheduler.last_epoch = self.step
        log.info("resuming from %s at step %d", resume, self.step)

    def metadata(self, threshold: float, metrics: dict[str, Any], elapsed: float) -> ModelMetadata:
        cfg = self.config
        return ModelMetadata(
            architecture=cfg.architecture,
            arch_kwargs=self.arch_kwargs,
            band_names=tuple(cfg.band_names),
            normalization=dict(cfg.normalization),
            gsd_m=cfg.gsd_m,
            max_gsd_m=cfg.max_gsd_m,
            threshold=float(threshold),
            name=cfg.name,
            training={**self.record, "step": self.step, "training_seconds": round(elapsed, 1)},
            metrics=metrics,
        )

    def train_step(self) -> float:
        batch = self.data.sampler.batch(self.config.batch_size)
        x, y, v = (
            t.to(self.device, non_blocking=True) for t in (batch.image, batch.target, batch.valid)
        )
        x = x.contiguous(memory_format=self.memory_format)
        with torch.autocast(self.device.type, enabled=self.use_amp):
            logits = self.model(x)
        loss = bce_dice_loss(logits, y, v, dice_weight=self.config.dice_weight)
        if self.config.cldice_weight > 0:
            loss = loss + self.config.cldice_weight * soft_cldice_loss(logits, y, v)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        return float(loss.detach())

    def loop(self) -> TrainResult:
        cfg = self.config
        start = time.monotonic()
        budget = None if cfg.max_minutes is None else cfg.max_minutes * 60
        eval_seconds = 0.0
        losses: list[float] = []
        last_meta = self.metadata(0.5, {}, self.elapsed_before)
        progress = progress_bar(cfg.steps, "train", "step", initial=self.step)
        stop = self.step >= cfg.steps
        while not stop:
            losses.append(self.train_step())
            progress.update(1)
            progress.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
            elapsed = time.monotonic() - start
            out_of_time = budget is not None and elapsed + eval_seconds * 1.2 >= budget
            stop = self.step >= cfg.steps or out_of_time
            if self.step % cfg.eval_every and not stop:
                continue
            eval_start = time.monotonic()
            last_meta = self.validate(losses, self.elapsed_before + elapsed)
            losses = []
            set_training_mode(self.model, cfg.freeze_encoder_bn)
            eval_seconds = time.monotonic() - eval_start
            if out_of_time:
                log.info(
                    "wall-clock budget of %g minutes spent at step %d", cfg.max_minutes, self.step
                )
        progress.close()
        best_meta = load(self.out / BEST)[1] if (self.out / BEST).exists() else last_meta
        return TrainResult(
            best=self.out / BEST,
            last=self.out / LAST,
            metrics_log=self.out / METRICS,
            step=self.step,
            best_score=self.best_score,
            metadata=replace(best_meta),
        )

    def validate(self, losses: list[float], elapsed: float) -> ModelMetadata:
        """Score the model, save ``last`` (and ``best`` when it is), log the record."""
        record: dict[str, Any] = {
            "step": self.step,
            "elapsed_s": round(elapsed, 1),
            # The last group is the network's (the first the pretrained encoder's).
            "lr": self.optimizer.param_groups[-1]["lr"],
            "train_loss": float(np.mean(losses)) if losses else None,
        }
        threshold, metrics = 0.5, {}
        if self.data.val_images:
            accumulators = evaluate_images(
                self.model,
                self.data.val_images,
                self.device,
                slack=None,  # 3 m at each image's working resolution
            )
            threshold, metrics = summarise(accumulators)
        meta = self.metadata(threshold, metrics, elapsed)
        save_checkpoint(self.model, meta, self.out / LAST)
        if self.data.val_images:
            end_to_end = (
                score_held_out_scenes(
                    self.out / LAST, self.data.val_scenes, self.device, self.config.apls_thresholds
                )
                if self.config.apls_weight > 0
                else None
            )
            if end_to_end is not None:
                # The threshold users get is the one whose road networks score best,
                # among the pixel-F1 one and the candidates (APLS moved by up to 0.03
                # between them on the held-out chips of the CPU default).
                chosen = best_threshold(end_to_end)
                if chosen is not None and chosen != threshold:
                    threshold, metrics = summarise(accumulators, chosen)
                    end_to_end = at_threshold(end_to_end, chosen)
                metrics = {**metrics, "end_to_end": without_scenes(end_to_end)}
                meta = self.metadata(threshold, metrics, elapsed)
                save_checkpoint(self.model, meta, self.out / LAST)
            score = selection_score(metrics, end_to_end, self.config.apls_weight)
            metrics["selection"] = score
            record["val"] = metrics
            if self.best_score is None or score > self.best_score:
                self.best_score, self.best_step = score, self.step
                save_checkpoint(self.model, replace(meta, metrics=metrics), self.out / BEST)
            log.info(
                "step %d: loss %.4f, breakeven %.3f, APLS %s, selection %.3f at threshold %.3f%s",
                self.step,
                record["train_loss"] or float("nan"),
                metrics["mean_relaxed_breakeven"],
                "-" if end_to_end is None else f"{end_to_end['mean_apls']:.3f}",
                score,
                threshold,
                " (best)" if self.best_step == self.step else "",
            )
        else:
            save_checkpoint(self.model, meta, self.out / BEST)
        save_training_state(
            self.out / LAST,
            self.optimizer,
            {
                "step": self.step,
                "best_score": self.best_score,
                "elapsed_s": elapsed,
                "sampler": self.data.sampler.state(),
            },
        )
        with open(self.out / METRICS, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        plot_learning_curve(self.out / METRICS, self.out / CURVE)
        return meta
