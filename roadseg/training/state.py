"""Resumable training state beside a checkpoint, without pickle.

``last.safetensors`` (a normal checkpoint) is accompanied by
``last.state.safetensors`` (the optimiser's tensors) and ``last.state.json`` (step,
best score, parameter groups, scheduler and sampler state).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from roadseg.errors import CheckpointError, InputNotFoundError
from roadseg.io.atomic import atomic_output


def state_paths(checkpoint: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The tensor file and the JSON file of the state that belongs to ``checkpoint``."""
    path = Path(checkpoint)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return path.with_name(stem + ".state.safetensors"), path.with_name(stem + ".state.json")


def save_training_state(
    checkpoint: str | os.PathLike[str],
    optimizer: torch.optim.Optimizer,
    record: dict[str, Any],
) -> None:
    """Write the optimiser state and a JSON ``record`` beside ``checkpoint``."""
    tensor_path, json_path = state_paths(checkpoint)
    opt = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in opt["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    with atomic_output(tensor_path, overwrite=True) as tmp:
        save_file(tensors, str(tmp))
    payload = {
        "record": record,
        "param_groups": opt["param_groups"],
        "scalars": scalars,
        "indices": sorted(int(i) for i in opt["state"]),
    }
    with atomic_output(json_path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(payload, indent=1))


def load_training_state(
    checkpoint: str | os.PathLike[str], optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore the optimiser saved beside ``checkpoint`` and return its record.

    Raises:
        InputNotFoundError: the state files are missing.
        CheckpointError: they do not fit the optimiser.
    """
    tensor_path, json_path = state_paths(checkpoint)
    for path in (tensor_path, json_path):
        if not path.is_file():
            raise InputNotFoundError(
                f"{path}: training state not found; resume=... needs the last.safetensors "
                "written by roadseg train, with its .state.json and .state.safetensors"
            )
    try:
        payload = json.loads(json_path.read_text())
        tensors = load_file(str(tensor_path))
        state: dict[int, dict[str, Any]] = {}
        for index in payload["indices"]:
            entry: dict[str, Any] = dict(payload["scalars"].get(str(index), {}))
            prefix = f"{index}."
            for key, value in tensors.items():
                if key.startswith(prefix):
                    entry[key[len(prefix) :]] = value
            state[int(index)] = entry
        optimizer.load_state_dict({"state": state, "param_groups": payload["param_groups"]})
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{json_path}: cannot restore the training state ({exc})") from None
    return dict(payload["record"])
