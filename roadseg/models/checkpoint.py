"""The checkpoint format: safetensors weights plus a JSON metadata record.

No pickle is involved. The metadata and a SHA-256 digest of every tensor live in the
safetensors header, so one file carries everything and any change to the weights is
caught on load.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from roadseg.device import resolve_device
from roadseg.errors import CheckpointError, InputNotFoundError
from roadseg.io.atomic import atomic_output
from roadseg.models.base import SegmentationModel
from roadseg.models.metadata import ModelMetadata
from roadseg.models.registry import build

FORMAT = "roadseg-checkpoint"
FORMAT_VERSION = "1"
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    sha = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach().cpu().contiguous()
        sha.update(key.encode())
        sha.update(str(tensor.dtype).encode())
        sha.update(json.dumps(list(tensor.shape)).encode())
        sha.update(
            tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        )
    return sha.hexdigest()


def save_checkpoint(
    model: SegmentationModel,
    metadata: ModelMetadata,
    path: str | os.PathLike[str],
    *,
    half: bool = False,
    overwrite: bool = True,
) -> Path:
    """Write ``model``'s weights and ``metadata`` to a ``.safetensors`` file, atomically.

    Args:
        model: the network; its state dict is saved.
        metadata: the record stored in the header.
        path: output file.
        half: store floating-point tensors as float16 (halves the size; they are cast
            back to float32 on load).
        overwrite: replace an existing file.
    """
    tensors = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu().contiguous()
        if half and value.is_floating_point():
            value = value.to(torch.float16)
        tensors[key] = value
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": metadata.to_json(),
        "sha256": _digest(tensors),
    }
    with atomic_output(path, overwrite=overwrite) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return Path(path)


def resolve_checkpoint(path_or_name: str | os.PathLike[str]) -> Path:
    """Find a checkpoint: a file path, or the name of weights shipped in the package.

    Raises:
        InputNotFoundError: neither a file nor a shipped name.
    """
    candidate = Path(path_or_name)
    if candidate.is_file():
        return candidate
    shipped = WEIGHTS_DIR / f"{path_or_name}.safetensors"
    if shipped.is_file():
        return shipped
    names = ", ".join(available_weights()) or "none are installed"
    raise InputNotFoundError(
        f"{path_or_name}: no such checkpoint file and no shipped weights of that name "
        f"(shipped: {names})"
    )


def available_weights() -> list[str]:
    """Names of the weights shipped in the package."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


def _read(path: Path) -> tuple[dict[str, torch.Tensor], ModelMetadata]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: not a readable safetensors checkpoint ({exc}); the file is corrupt "
            "or not a roadseg checkpoint"
        ) from None
    if header.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: safetensors file without roadseg metadata; save it with "
            "roadseg.models.save_checkpoint"
        )
    if header.get("sha256") != _digest(tensors):
        raise CheckpointError(
            f"{path}: weights do not match the checksum in the header; the file was "
            "modified or damaged after it was written"
        )
    return tensors, ModelMetadata.from_json(header.get("metadata", ""), source=str(path))


def read_metadata(path_or_name: str | os.PathLike[str]) -> ModelMetadata:
    """Read only the metadata of a checkpoint (weights are still verified)."""
    return _read(resolve_checkpoint(path_or_name))[1]


def load(
    path_or_name: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[SegmentationModel, ModelMetadata]:
    """Load a checkpoint into a ready model in eval mode, and return its metadata.

    Args:
        path_or_name: a ``.safetensors`` file or the name of shipped weights.
        device: where to put the model.

    Raises:
        InputNotFoundError: no such file or name.
        CheckpointError: the file is corrupt, tampered with, or its tensors do not fit
            the architecture its metadata names.
    """
    path = resolve_checkpoint(path_or_name)
    tensors, metadata = _read(path)
    model = build(metadata.architecture, **metadata.arch_kwargs)
    state = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    upgrade = getattr(model, "upgrade_state_dict", None)
    if upgrade is not None:
        state = upgrade(state)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong_shape:
        problems = []
        if missing:
            problems.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
        if unexpected:
            problems.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        if wrong_shape:
            problems.append(
                f"{len(wrong_shape)} tensors of the wrong shape (e.g. {wrong_shape[0]})"
            )
        raise CheckpointError(
            f"{path}: weights do not match architecture {metadata.architecture!r} "
            f"with {metadata.arch_kwargs}: {'; '.join(problems)}"
        )
    model.load_state_dict(state)
    model.eval()
    return model.to(device), metadata


#: Shipped weights preferred on each kind of device, best first. The full-width
#: ``resunet`` is for GPUs; ``resunet-lite`` is a quarter of the filters and runs well
#: on a laptop CPU (and on a GPU when the full model is not installed).
DEFAULT_WEIGHTS: dict[str, tuple[str, ...]] = {
    "cuda": ("resunet", "resunet-lite"),
    "cpu": ("resunet-lite", "resunet"),
}


def default_weights_name(device: torch.device) -> str:
    """The shipped weights used when no model is given, for a kind of device.

    Raises:
        InputNotFoundError: no shipped weights are installed at all.
    """
    preferred = DEFAULT_WEIGHTS.get(device.type, DEFAULT_WEIGHTS["cpu"])
    shipped = set(available_weights())
    for name in preferred:
        if name in shipped:
            return name
    raise InputNotFoundError(
        f"no shipped weights in {WEIGHTS_DIR} (expected one of {', '.join(preferred)}); "
        "reinstall roadseg or pass model=PATH to a checkpoint"
    )


def resolve_model(
    model: str | os.PathLike[str] | None, device: str | torch.device = "auto"
) -> Path:
    """The checkpoint to load: ``model`` (a file or shipped name), or, when it is
    ``None``, the shipped weights preferred on ``device``.

    Only the kind of device matters and it need not be present here (a batch driver
    without a GPU resolves the model of its GPU workers): ``auto`` means this
    machine's, ``cuda`` and ``cuda:N`` a GPU, anything else a CPU.

    Raises:
        InputNotFoundError: no such file or shipped name, or no weights installed.
    """
    if model is not None:
        return resolve_checkpoint(model)
    return resolve_checkpoint(default_weights_name(_device_kind(device)))


def _device_kind(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return torch.device(device.type)
    name = device.strip().lower()
    if name == "auto":
        return resolve_device("auto")
    return torch.device("cuda" if name.startswith("cuda") else "cpu")


def checkpoint_size_mb(path: str | os.PathLike[str]) -> float:
    """File size in megabytes (for model listings)."""
    return float(np.round(Path(path).stat().st_size / 1e6, 2))
