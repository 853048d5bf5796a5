"""Learning curves (matplotlib, Agg backend)."""

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
    """Plot training loss, per-dataset relaxed breakeven and, when validation ran scenes
    end to end, per-group APLS and the selection score, against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(metrics_path)
    with_val = [r for r in records if r.get("val")]
    with_e2e = [r for r in with_val if r["val"].get("end_to_end")]
    panels = 3 if with_e2e else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4))
    ax_loss, ax_val = axes[0], axes[1]
    steps = [r["step"] for r in records if r.get("train_loss") is not None]
    ax_loss.plot(steps, [r["train_loss"] for r in records if r.get("train_loss") is not None], "o-")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss")
    ax_loss.grid(alpha=0.3)
    datasets = sorted({d for r in with_val for d in r["val"]["per_dataset"]})
    for name in datasets:
        rows = [r for r in with_val if name in r["val"]["per_dataset"]]
        ax_val.plot(
            [r["step"] for r in rows],
            [r["val"]["per_dataset"][name]["relaxed_breakeven"] for r in rows],
            "o-",
            label=name,
        )
    ax_val.set_xlabel("step")
    ax_val.set_ylabel("held-out relaxed breakeven")
    ax_val.set_ylim(0, 1)
    ax_val.grid(alpha=0.3)
    if datasets:
        ax_val.legend(fontsize=7)
    if with_e2e:
        ax_e2e = axes[2]
        groups = sorted({g for r in with_e2e for g in r["val"]["end_to_end"]["groups"]})
        for name in groups:
            rows = [r for r in with_e2e if name in r["val"]["end_to_end"]["groups"]]
            ax_e2e.plot(
                [r["step"] for r in rows],
                [r["val"]["end_to_end"]["groups"][name] for r in rows],
                "o-",
                label=f"APLS {name}",
            )
        ax_e2e.plot(
            [r["step"] for r in with_e2e],
            [r["val"].get("selection", float("nan")) for r in with_e2e],
            "k^--",
            label="selection score",
        )
        ax_e2e.set_xlabel("step")
        ax_e2e.set_ylabel("held-out scenes, roadseg run end to end")
        ax_e2e.set_ylim(0, 1)
        ax_e2e.grid(alpha=0.3)
        ax_e2e.legend(fontsize=7)
    fig.tight_layout()
    with atomic_output(out_path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return Path(out_path)
