"""Running the model on batches of tiles, in whichever process the work lands.

Each process loads a checkpoint once (from its path) and keeps it, so Dask tasks carry
only the path, never the weights. Forward passes in one process are serialised by a
lock: on a CPU the model already uses every core, and on a GPU one stream is enough;
reading and blending of other blocks proceed meanwhile.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import numpy as np
import torch

from roadseg.device import resolve_device
from roadseg.models import load
from roadseg.models.base import SegmentationModel
from roadseg.models.metadata import ModelMetadata

_CACHE: dict[tuple[str, str], tuple[SegmentationModel, ModelMetadata, torch.device]] = {}
_CACHE_LOCK = threading.Lock()
_FORWARD_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelSpec:
    """How to run the model: a checkpoint path, a device name, batch size and TTA."""

    checkpoint: str
    device: str = "auto"
    batch_size: int = 4
    tta: bool = False


def get_model(
    checkpoint: str, device: str = "auto"
) -> tuple[SegmentationModel, ModelMetadata, torch.device]:
    """The model of ``checkpoint`` on ``device``, loaded once per process."""
    key = (str(checkpoint), str(device))
    with _CACHE_LOCK:
        if key not in _CACHE:
            dev = resolve_device(device)
            model, meta = load(checkpoint, device=dev)
            if dev.type == "cuda":
                model = model.to(memory_format=torch.channels_last)
            _CACHE[key] = (model, meta, dev)
        return _CACHE[key]


def clear_model_cache() -> None:
    """Forget the models loaded in this process."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _forward(model: SegmentationModel, x: torch.Tensor, tta: bool) -> torch.Tensor:
    if not tta:
        return torch.sigmoid(model(x)[:, :1].float())
    total = torch.zeros((x.shape[0], 1, *x.shape[-2:]), dtype=torch.float32, device=x.device)
    for dims in ((), (-1,), (-2,), (-2, -1)):
        xi = torch.flip(x, dims) if dims else x
        out = torch.sigmoid(model(xi)[:, :1].float())
        total += torch.flip(out, dims) if dims else out
    return total / 4


def predict_tiles(spec: ModelSpec, tiles: np.ndarray) -> np.ndarray:
    """Road probabilities of ``(N, bands, H, W)`` float32 tiles, as ``(N, H, W)`` float32."""
    model, _, device = get_model(spec.checkpoint, spec.device)
    return run_model(model, device, tiles, spec.batch_size, spec.tta)


def run_model(
    model: SegmentationModel,
    device: torch.device,
    tiles: np.ndarray,
    batch_size: int,
    tta: bool = False,
) -> np.ndarray:
    """Road probabilities of ``(N, bands, H, W)`` tiles with a loaded model (in eval mode)."""
    out = np.empty((tiles.shape[0], *tiles.shape[-2:]), dtype=np.float32)
    cuda = device.type == "cuda"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()
    with _FORWARD_LOCK, torch.inference_mode(), autocast:
        for start in range(0, tiles.shape[0], batch_size):
            x = torch.from_numpy(tiles[start : start + batch_size]).to(device)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            prob = _forward(model, x, tta)
            out[start : start + x.shape[0]] = prob[:, 0].cpu().numpy()
    return out
