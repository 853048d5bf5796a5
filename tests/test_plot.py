"""Pictures: learning curves."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from roadseg.training.plot import plot_learning_curve


def test_learning_curve_from_log(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    records = [
        {
            "step": s,
            "train_loss": 1.0 / s,
            "val": {"per_dataset": {"a": {"relaxed_breakeven": 0.1 * s, "f1": 0.05 * s}}},
        }
        for s in (1, 2, 3)
    ]
    log.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    out = plot_learning_curve(log, tmp_path / "c.png")
    assert Image.open(out).size[0] > 500


def test_learning_curve_with_end_to_end_scores(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    records = [
        {
            "step": s,
            "train_loss": 1.0 / s,
            "val": {
                "per_dataset": {"a": {"relaxed_breakeven": 0.1 * s, "f1": 0.05 * s}},
                "end_to_end": {"groups": {"vegas": 0.2 * s}, "mean_apls": 0.2 * s},
                "selection": 0.15 * s,
            },
        }
        for s in (1, 2, 3)
    ]
    log.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    out = plot_learning_curve(log, tmp_path / "c.png")
    assert Image.open(out).size[0] > 1500  # three panels
