"""Exporting a checkpoint as shipped weights."""

from __future__ import annotations

from pathlib import Path

import torch

from roadseg.models import ModelMetadata, build, load, save_checkpoint
from roadseg.training.export import export_weights


def test_export_halves_renames_and_cleans_paths(tmp_path: Path) -> None:
    model = build("resunet", base_channels=4)
    meta = ModelMetadata(
        "resunet",
        {"in_channels": 3, "num_classes": 1, "base_channels": 4},
        threshold=0.4,
        training={"command": "roadseg train --source pairs:/home/me/data/mass,gsd=1"},
        metrics={"mean_f1": 0.5},
    )
    full = save_checkpoint(model, meta, tmp_path / "best.safetensors")
    out, new = export_weights(
        full,
        tmp_path / "lite.safetensors",
        "lite",
        training={"training_minutes": 3},
        path_aliases={"/home/me/data": "../shared/data"},
    )
    assert out.stat().st_size < 0.6 * full.stat().st_size
    loaded, loaded_meta = load(out)
    assert loaded_meta == new
    assert loaded_meta.name == "lite" and loaded_meta.threshold == 0.4
    assert loaded_meta.training["command"].endswith("pairs:../shared/data/mass,gsd=1")
    assert loaded_meta.training["training_minutes"] == 3
    x = torch.rand(1, 3, 16, 16)
    assert torch.allclose(loaded(x), model.eval()(x), atol=2e-2)
