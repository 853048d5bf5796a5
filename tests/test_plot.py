"""Pictures: learning curves and roads over an image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from roadseg.training.plot import plot_learning_curve, plot_overlay


def test_overlay_draws_roads_where_predicted(tmp_path: Path) -> None:
    image = np.full((3, 40, 40), 0.5, np.float32)
    prob = np.zeros((40, 40), np.float32)
    prob[:, 18:22] = 0.9
    out = plot_overlay(image, prob, 0.5, tmp_path / "o.png", truth=prob > 0.5, title="t")
    picture = np.asarray(Image.open(out).convert("RGB")).astype(int)
    reddish = (picture[..., 0] > 180) & (picture[..., 1] < 120) & (picture[..., 2] < 120)
    assert reddish.sum() > 100


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


def test_overlay_as_jpeg(tmp_path: Path) -> None:
    image = np.random.default_rng(0).random((3, 64, 64)).astype(np.float32)
    out = plot_overlay(image, image[0], 0.5, tmp_path / "o.jpg")
    assert Image.open(out).format == "JPEG"
