"""Running the model on batches of tiles, in whichever process the work lands.

Each process loads a checkpoint once (from its path) and keeps it, so Dask tasks carry
only the path, never the weights. Forward passes in one process are serialised by a
lock: on a CPU the model already uses every core, and on a GPU one stream is enough;
reading and blending of other blocks proceed meanwhile.

Two engines run the model: eager PyTorch (channels-last, which oneDNN runs about twice
as fast on a CPU, and bf16 autocast on CUDA) and ONNX Runtime on the CPU
(:mod:`roadseg.inference.engine`), chosen by :attr:`ModelSpec.engine`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from roadseg.device import resolve_device
from roadseg.inference.engine import clear_engine_cache, onnx_engine, resolve_engine
from roadseg.inference.forward import FORWARD_LOCK
from roadseg.models import load
from roadseg.models.base import SegmentationModel
from roadseg.models.metadata import ModelMetadata

_CACHE: dict[tuple[str, str], tuple[SegmentationModel, ModelMetadata, torch.device]] = {}
_CACHE_LOCK = threading.Lock()
_PREDICTORS: dict[tuple[ModelSpec, int], Callable[[np.ndarray, np.ndarray | None], np.ndarray]] = {}


@dataclass(frozen=True)
class ModelSpec:
    """How to run the model: a checkpoint path, a device name, batch size, TTA and the
    engine (``auto``, ``torch`` or ``onnx``, see :func:`~roadseg.inference.engine.resolve_engine`)."""

    checkpoint: str
    device: str = "auto"
    batch_size: int = 4
    tta: bool = False
    engine: str = "auto"


def get_model(
    checkpoint: str, device: str = "auto"
) -> tuple[SegmentationModel, ModelMetadata, torch.device]:
    """The model of ``checkpoint`` on ``device``, loaded once per process."""
    key = (str(checkpoint), str(device))
    with _CACHE_LOCK:
        if key not in _CACHE:
            dev = resolve_device(device)
            model, meta = load(checkpoint, device=dev)
            model = model.to(memory_format=torch.channels_last)
            _CACHE[key] = (model, meta, dev)
        return _CACHE[key]


def clear_model_cache() -> None:
    """Forget the models (and ONNX Runtime sessions) loaded in this process."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _PREDICTORS.clear()
    clear_engine_cache()


def release_engines() -> None:
    """Drop this process's ONNX Runtime sessions (and the predictors using them).

    A session's arena keeps the activations of its largest run resident (about 200 MB
    for ``resunet-lite`` at 512² tiles); the next use rebuilds the session from the
    cached export in a fraction of a second. The PyTorch models are kept.
    """
    with _CACHE_LOCK:
        _PREDICTORS.clear()
    clear_engine_cache()


def get_predictor(spec: ModelSpec) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray]:
    """A ``(tiles, out=None) -> probabilities`` function for ``spec``, made once per
    process (and thread count).

    Raises:
        InvalidParameterError: the engine cannot run here (see ``resolve_engine``).
    """
    key = (spec, torch.get_num_threads())
    predictor = _PREDICTORS.get(key)
    if predictor is None:
        model, meta, device = get_model(spec.checkpoint, spec.device)
        if resolve_engine(spec.engine, device) == "onnx":
            engine = onnx_engine(spec.checkpoint, model, meta)
            predictor = partial(_tta_numpy, engine.predict) if spec.tta else engine.predict
        else:
            predictor = partial(_run_model_into, model, device, spec.batch_size, spec.tta)
        with _CACHE_LOCK:
            predictor = _PREDICTORS.setdefault(key, predictor)
    return predictor


def _forward(model: SegmentationModel, x: torch.Tensor, tta: bool) -> torch.Tensor:
    if not tta:
        return torch.sigmoid(model(x)[:, :1].float())
    total = torch.zeros((x.shape[0], 1, *x.shape[-2:]), dtype=torch.float32, device=x.device)
    for dims in ((), (-1,), (-2,), (-2, -1)):
        xi = torch.flip(x, dims) if dims else x
        out = torch.sigmoid(model(xi)[:, :1].float())
        total += torch.flip(out, dims) if dims else out
    return total / 4


def predict_tiles(spec: ModelSpec, tiles: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Road probabilities of ``(N, bands, H, W)`` float32 tiles, as ``(N, H, W)`` float32,
    written into ``out`` when given."""
    return get_predictor(spec)(tiles, out)


def _tta_numpy(
    predict: Callable[[np.ndarray, np.ndarray | None], np.ndarray],
    tiles: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The mean of the four flips' probabilities, as ``_forward`` computes it."""
    if out is None:
        out = np.empty((tiles.shape[0], *tiles.shape[-2:]), dtype=np.float32)
    total = np.zeros(out.shape, dtype=np.float32)
    flipped = np.empty_like(tiles)
    prob = np.empty_like(out)
    for axes in ((), (-1,), (-2,), (-2, -1)):
        np.copyto(flipped, np.flip(tiles, axes) if axes else tiles)
        predict(flipped, prob)
        total += np.flip(prob, axes) if axes else prob
    np.divide(total, 4, out=out)
    return out


def _run_model_into(
    model: SegmentationModel,
    device: torch.device,
    batch_size: int,
    tta: bool,
    tiles: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    return run_model(model, device, tiles, batch_size, tta, out=out)


def run_model(
    model: SegmentationModel,
    device: torch.device,
    tiles: np.ndarray,
    batch_size: int,
    tta: bool = False,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Road probabilities of ``(N, bands, H, W)`` tiles with a loaded model (in eval mode).

    The input is passed channels-last (what :func:`get_model` makes the model) and the
    probabilities are copied into ``out`` (``(N, H, W)`` float32, allocated when
    ``None``).
    """
    if out is None:
        out = np.empty((tiles.shape[0], *tiles.shape[-2:]), dtype=np.float32)
    cuda = device.type == "cuda"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()
    with FORWARD_LOCK, torch.inference_mode(), autocast:
        for start in range(0, tiles.shape[0], batch_size):
            x = torch.from_numpy(tiles[start : start + batch_size]).to(device)
            x = x.contiguous(memory_format=torch.channels_last)
            prob = _forward(model, x, tta)
            target = torch.from_numpy(out[start : start + x.shape[0]])
            target.copy_(prob[:, 0])
    return out
