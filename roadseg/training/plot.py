"""Learning curves and road overlays (matplotlib, Agg backend)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from roadseg.io.atomic import atomic_output


def read_metrics(path: str | os.PathLike[str]) -> list[dict]:
    """The records of a ``metrics.jsonl`` file."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def plot_learning_curve(
    metrics_path: str | os.PathLike[str], out_path: str | os.PathLike[str]
) -> Path:
    """Plot training loss and per-dataset validation breakeven/F1 against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_path)
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [r["step"] for r in records if r.get("train_loss") is not None]
    ax_loss.plot(steps, [r["train_loss"] for r in records if r.get("train_loss") is not None], "o-")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss (BCE + Dice)")
    ax_loss.grid(alpha=0.3)
    with_val = [r for r in records if r.get("val")]
    datasets = sorted({d for r in with_val for d in r["val"]["per_dataset"]})
    for name in datasets:
        xs = [r["step"] for r in with_val if name in r["val"]["per_dataset"]]
        be = [
            r["val"]["per_dataset"][name]["relaxed_breakeven"]
            for r in with_val
            if name in r["val"]["per_dataset"]
        ]
        f1 = [
            r["val"]["per_dataset"][name]["f1"] for r in with_val if name in r["val"]["per_dataset"]
        ]
        (line,) = ax_val.plot(xs, be, "o-", label=f"{name} relaxed breakeven")
        ax_val.plot(xs, f1, "s--", color=line.get_color(), label=f"{name} pixel F1")
    ax_val.set_xlabel("step")
    ax_val.set_ylabel("validation score")
    ax_val.set_ylim(0, 1)
    ax_val.grid(alpha=0.3)
    if datasets:
        ax_val.legend(fontsize=7)
    fig.tight_layout()
    with atomic_output(out_path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return Path(out_path)


def plot_overlay(
    image: np.ndarray,
    prob: np.ndarray,
    threshold: float,
    out_path: str | os.PathLike[str],
    truth: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """Save a picture of predicted roads over an image (and the truth beside it).

    Args:
        image: ``(3, H, W)`` normalised values in [0, 1].
        prob: ``(H, W)`` road probabilities.
        threshold: decision threshold.
        out_path: picture to write; ``.jpg`` keeps photographs small, else PNG.
        truth: optional ``(H, W)`` road mask, drawn in a second panel.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rgb = np.clip(np.moveaxis(image[:3], 0, -1), 0, 1)
    panels = [("roads found (red)", prob >= threshold, (1.0, 0.1, 0.1))]
    if truth is not None:
        panels.insert(0, ("labelled roads (yellow)", truth > 0, (1.0, 0.9, 0.0)))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5.5))
    for ax, (label, mask, colour) in zip(np.atleast_1d(axes), panels, strict=True):
        shown = rgb.copy()
        shown[mask] = 0.35 * shown[mask] + 0.65 * np.asarray(colour)
        ax.imshow(shown)
        ax.set_title(label, fontsize=10)
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    kind = "jpeg" if Path(out_path).suffix.lower() in (".jpg", ".jpeg") else "png"
    options = {"pil_kwargs": {"quality": 85}} if kind == "jpeg" else {}
    with atomic_output(out_path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=80, format=kind, **options)
    plt.close(fig)
    return Path(out_path)
