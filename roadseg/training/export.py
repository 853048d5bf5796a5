"""Turn a training checkpoint into shipped weights: fp16, named, with a clean record."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from roadseg.models import ModelMetadata, load, save_checkpoint


def _rewrite(value: Any, aliases: Mapping[str, str]) -> Any:
    text = json.dumps(value)
    for old, new in aliases.items():
        text = text.replace(old, new)
    return json.loads(text)


def export_weights(
    checkpoint: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    name: str,
    *,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    path_aliases: Mapping[str, str] | None = None,
    half: bool = True,
    overwrite: bool = False,
) -> tuple[Path, ModelMetadata]:
    """Write ``checkpoint`` as distributable weights.

    Args:
        checkpoint: a ``best.safetensors`` written by ``roadseg train``.
        out_path: the ``.safetensors`` file to write (e.g. in ``roadseg/weights/``).
        name: the weights' name (what ``--model`` takes).
        metrics: replaces the checkpoint's metrics (e.g. a fresh evaluation).
        training: entries added to the training record (training time, notes).
        path_aliases: ``{local prefix: public form}`` rewrites in the training record,
            so that no machine-specific path is shipped.
        half: store float16 tensors (half the size; loaded back as float32).
        overwrite: replace an existing file.
    """
    model, meta = load(checkpoint)
    record = {**meta.training, **(training or {})}
    new_metrics = meta.metrics if metrics is None else metrics
    if path_aliases:
        record = _rewrite(record, path_aliases)
        new_metrics = _rewrite(new_metrics, path_aliases)
    meta = replace(meta, name=name, training=record, metrics=new_metrics)
    path = save_checkpoint(model, meta, out_path, half=half, overwrite=overwrite)
    return path, meta
