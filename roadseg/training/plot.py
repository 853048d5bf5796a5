"""Learning curves and road overlays (matplotlib, Agg backend)."""

from __future__ import annotations

import json
import os
from pathlib import Path

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
