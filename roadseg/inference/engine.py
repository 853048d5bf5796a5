"""The ONNX Runtime engine: the loaded model exported once to ONNX, run on the CPU.

On a CPU, ONNX Runtime runs the shipped ResUNet several times faster than eager
PyTorch (fused convolutions and activations, one memory arena reused from tile to
tile). The export is made from the checkpoint the user gave, never downloaded, and
cached under :func:`cache_dir` by the SHA-256 of the weights that the checkpoint's
header carries (and that loading verifies), so a changed checkpoint gets a new export.
The graph includes the sigmoid and keeps the batch, height and width dynamic; eager
PyTorch stays the engine on CUDA and the fallback where ONNX Runtime is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from roadseg import __version__
from roadseg.errors import CheckpointError, InvalidParameterError
from roadseg.inference.defaults import ENGINE_CHOICES
from roadseg.inference.forward import FORWARD_LOCK
from roadseg.io.atomic import atomic_output
from roadseg.log import get_logger
from roadseg.models.base import SegmentationModel
from roadseg.models.metadata import ModelMetadata

log = get_logger(__name__)

#: ONNX operator set of the export.
OPSET = 17
#: Bumped whenever the exported graph changes for the same weights (it is in the
#: cache key, so old exports are not reused).
EXPORT_VERSION = 1
INPUT_NAME = "image"
OUTPUT_NAME = "probability"


_SESSIONS: dict[tuple[str, int], OnnxEngine] = {}
_SESSIONS_LOCK = threading.Lock()


def onnxruntime_available() -> bool:
    """Whether ONNX Runtime is installed."""
    return importlib.util.find_spec("onnxruntime") is not None


def resolve_engine(engine: str, device: torch.device) -> str:
    """``torch`` or ``onnx`` for an ``engine`` choice (:data:`ENGINE_CHOICES`) and the
    model's device: ``auto`` is ONNX Runtime on a CPU when it is installed, eager
    PyTorch otherwise.

    Raises:
        InvalidParameterError: an unknown engine, ``onnx`` on a GPU, or ``onnx``
            without ONNX Runtime installed.
    """
    name = engine.strip().lower()
    if name not in ENGINE_CHOICES:
        raise InvalidParameterError(
            f"unknown engine {engine!r}; choose one of {', '.join(ENGINE_CHOICES)}"
        )
    if name == "auto":
        return "onnx" if device.type == "cpu" and onnxruntime_available() else "torch"
    if name == "onnx":
        if device.type != "cpu":
            raise InvalidParameterError(
                f"engine='onnx' runs on the CPU, not on {device}; use device='cpu', or "
                "engine='torch' (or 'auto') on a GPU"
            )
        if not onnxruntime_available():
            raise InvalidParameterError(
                "engine='onnx' needs ONNX Runtime; install it with 'pip install onnxruntime' "
                "or use engine='torch'"
            )
    return name


def cache_dir() -> Path:
    """Where ONNX exports are kept: ``$ROADSEG_CACHE_DIR/onnx``, else the user's cache
    folder (``$XDG_CACHE_HOME/roadseg/onnx`` or ``~/.cache/roadseg/onnx``)."""
    root = os.environ.get("ROADSEG_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "onnx"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "roadseg" / "onnx"


def weights_sha256(checkpoint: str | os.PathLike[str]) -> str:
    """The SHA-256 of the weights recorded in a checkpoint's header (verified on load).

    Raises:
        CheckpointError: the header has no digest.
    """
    with safe_open(str(checkpoint), framework="pt") as handle:
        digest = (handle.metadata() or {}).get("sha256")
    if not digest:
        raise CheckpointError(f"{checkpoint}: no weight digest in the header; re-save it")
    return digest


def export_path(digest: str) -> Path:
    """The cached export of the weights with SHA-256 ``digest``."""
    return cache_dir() / f"{digest}-opset{OPSET}-v{EXPORT_VERSION}.onnx"


class _Probability(torch.nn.Module):
    """The model's first output channel through a sigmoid: what the blend needs.

    It calls ``forward_padded``: sizes that are not multiples of the output stride are
    padded by :class:`OnnxEngine` as ``SegmentationModel.forward`` pads them, since a
    traced graph would bake in the example's padding.
    """

    def __init__(self, model: SegmentationModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model.forward_padded(x)[:, :1])


def export_onnx(
    model: SegmentationModel,
    metadata: ModelMetadata,
    path: str | os.PathLike[str],
    digest: str,
    *,
    tile_size: int | None = None,
    extra_metadata: dict[str, str] | None = None,
    overwrite: bool = True,
) -> Path:
    """Export ``model`` (float32, on the CPU) to an ONNX file, atomically.

    The graph maps ``image`` ``(N, C, H, W)`` float32 in [0, 1] (normalised as the
    metadata says) to ``probability`` ``(N, 1, H, W)``; ``H`` and ``W`` must be
    multiples of the architecture's output stride. The file's metadata properties
    carry the roadseg metadata and the weights' SHA-256.
    """
    import onnx

    from roadseg.models import build

    # Export a float32, contiguous CPU copy: the caller's model may be channels-last.
    copy = build(metadata.architecture, **metadata.arch_kwargs)
    copy.load_state_dict(
        {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
    )
    wrapper = _Probability(copy.eval()).eval()
    stride = int(getattr(model, "output_stride", 1))
    side = tile_size or 8 * stride
    example = torch.rand((1, metadata.in_channels, side, side))
    buffer = io.BytesIO()
    # A fixed tile size (for other programs, which read it off the input) keeps only the
    # batch dynamic.
    dynamic = {0: "batch"} if tile_size else {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # The TorchScript exporter is deprecated in favour of torch.export, which needs
        # onnxscript; this one needs nothing more and handles the dynamic sizes.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (example,),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: dynamic, OUTPUT_NAME: dynamic},
        )
    proto = onnx.load_from_string(buffer.getvalue())
    props = {
        "roadseg_weights_sha256": digest,
        "roadseg_version": __version__,
        "roadseg_metadata": metadata.to_json(),
        "architecture": metadata.architecture,
        "input": "image: (N, C, H, W) float32 in [0, 1], bands "
        + ",".join(metadata.band_names)
        + (f"; H = W = {tile_size}" if tile_size else f"; H, W multiples of {stride}"),
        "output": "probability: (N, 1, H, W) float32, road probability",
        "normalization": json.dumps(metadata.normalization, sort_keys=True),
        "gsd_m": f"{metadata.gsd_m:g}",
        **({"max_gsd_m": f"{metadata.max_gsd_m:g}"} if metadata.max_gsd_m is not None else {}),
        "threshold": f"{metadata.threshold:g}",
        **(extra_metadata or {}),
    }
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name, proto.producer_version = "roadseg", __version__
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Atomic: another process exporting the same weights at once writes the same bytes.
    with atomic_output(target, overwrite=overwrite) as tmp:
        tmp.write_bytes(proto.SerializeToString())
    return target


class OnnxEngine:
    """An ONNX Runtime session of one export: ``(N, C, H, W)`` tiles to ``(N, H, W)``.

    Outputs are written straight into the caller's array (no copy, no per-call
    allocation); ONNX Runtime reuses its arena for the activations. Calls are
    serialised by :data:`FORWARD_LOCK`.
    """

    def __init__(self, path: str | os.PathLike[str], threads: int, stride: int = 1) -> None:
        import onnxruntime as ort

        ort.disable_telemetry_events()  # as well as roadseg/__init__.py's variable

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # The arena alone reuses the activations' memory from tile to tile; the memory
        # pattern planner allocates a fresh block for every run on top (about 3000 page
        # faults per 512² tile of resunet-lite, and 70 MB more resident), for no speed.
        options.enable_mem_pattern = False
        # Idle pool threads sleep rather than spin: on a CPU shared with other work
        # spinning threads take cores from the ones computing (0.48 against 0.38 s per
        # 496² tile on a loaded 2-core machine) and burn CPU time for nothing.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = Path(path)
        self.stride = max(1, stride)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.metadata = self.session.get_modelmeta().custom_metadata_map

    def predict(self, tiles: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Probabilities of float32 ``tiles`` ``(N, C, H, W)``, written into ``out``
        ``(N, H, W)`` float32 (allocated when ``None``)."""
        tiles = np.ascontiguousarray(tiles, dtype=np.float32)
        n, _, h, w = tiles.shape
        if out is None:
            out = np.empty((n, h, w), dtype=np.float32)
        if out.shape != (n, h, w) or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise InvalidParameterError(
                f"output must be C-contiguous float32 {(n, h, w)}, got {out.dtype} {out.shape}"
            )
        pad_h, pad_w = (-h) % self.stride, (-w) % self.stride
        if pad_h or pad_w:
            # As SegmentationModel.forward: reflect (replicate when too small), crop back.
            mode = "reflect" if pad_h < h and pad_w < w else "edge"
            padded = np.pad(tiles, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode=mode)
            out[...] = self.predict(padded)[:, :h, :w]
            return out
        with FORWARD_LOCK:
            binding = self.session.io_binding()
            binding.bind_cpu_input(INPUT_NAME, tiles)
            binding.bind_output(OUTPUT_NAME, "cpu", 0, np.float32, (n, 1, h, w), out.ctypes.data)
            self.session.run_with_iobinding(binding)
        return out


def onnx_engine(
    checkpoint: str | os.PathLike[str],
    model: SegmentationModel | None,
    metadata: ModelMetadata,
    threads: int | None = None,
) -> OnnxEngine:
    """The ONNX Runtime engine of ``checkpoint``, exported on first use, once per process.

    Args:
        checkpoint: the (already verified) checkpoint.
        model: the loaded model, exported when no cached export exists.
        metadata: its metadata (stored in the export).
        threads: intra-op threads; default: torch's, so ``torch.set_num_threads`` and
            ``OMP_NUM_THREADS`` apply to both engines alike.
    """
    digest = weights_sha256(checkpoint)
    threads = torch.get_num_threads() if threads is None else threads
    key = (digest, threads)
    from roadseg.models import output_stride

    stride = output_stride(metadata.architecture, metadata.arch_kwargs)
    with _SESSIONS_LOCK:
        engine = _SESSIONS.get(key)
        if engine is not None:
            return engine
        path = export_path(digest)
        if path.is_file():
            with contextlib.suppress(Exception):
                engine = OnnxEngine(path, threads, stride)
            if engine is not None and engine.metadata.get("roadseg_weights_sha256") != digest:
                engine = None  # damaged or foreign file under our name: export again
        if engine is None:
            if model is None:
                from roadseg.models import load

                model, _ = load(checkpoint)
            log.info("exporting %s to ONNX (once for these weights): %s", checkpoint, path)
            export_onnx(model, metadata, path, digest)
            engine = OnnxEngine(path, threads, stride)
        _SESSIONS[key] = engine
        return engine


def clear_engine_cache() -> None:
    """Forget the ONNX Runtime sessions of this process."""
    with _SESSIONS_LOCK:
        _SESSIONS.clear()
