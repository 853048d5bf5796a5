"""CPU engines side by side on bare tiles: eager PyTorch, ONNX Runtime, OpenVINO.

Times one forward pass of the model per tile in each engine, in one process, on the
same random tile, and reports the seconds per tile, the ratio to eager PyTorch and the
largest difference from eager's probabilities. OpenVINO is optional (``pip install
openvino``; not a roadseg dependency): it runs the same cached ONNX export, once at
float32 precision and once at its CPU default (bfloat16 where the CPU has it).

Usage:
    python benchmarks/bench_engines.py --model resunet-lite --tile 512 --threads 2 \
        [--repeats 6]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable

import numpy as np
import torch

from roadseg.inference.engine import export_path, onnx_engine, weights_sha256
from roadseg.models import load, resolve_model


def seconds_per_call(call: Callable[[], np.ndarray], repeats: int) -> float:
    """Median wall seconds of ``call`` after one warm-up call."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resunet-lite")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    checkpoint = resolve_model(args.model, "cpu")
    model, meta = load(checkpoint)
    model.eval()
    tile = np.random.default_rng(0).random((1, meta.in_channels, args.tile, args.tile))
    tile = tile.astype(np.float32)

    def eager() -> np.ndarray:
        with torch.inference_mode():
            return torch.sigmoid(model(torch.from_numpy(tile))[:, 0]).numpy()

    engines: dict[str, Callable[[], np.ndarray]] = {"eager PyTorch": eager}
    ort = onnx_engine(checkpoint, model, meta, args.threads)
    out = np.empty((1, args.tile, args.tile), np.float32)
    engines["ONNX Runtime"] = lambda: ort.predict(tile, out).copy()
    if importlib.util.find_spec("openvino") is not None:
        import openvino

        core = openvino.Core()
        onnx_file = str(export_path(weights_sha256(checkpoint)))
        for label, precision in (("OpenVINO f32", "f32"), ("OpenVINO CPU default", None)):
            config = {"INFERENCE_NUM_THREADS": args.threads, "PERFORMANCE_HINT": "LATENCY"}
            if precision:
                config["INFERENCE_PRECISION_HINT"] = precision
            request = core.compile_model(onnx_file, "CPU", config).create_infer_request()

            def run(request=request) -> np.ndarray:
                return np.array(next(iter(request.infer({0: tile}).values()))[:, 0])

            name = label
            if precision is None:
                hint = core.get_property("CPU", "INFERENCE_PRECISION_HINT")
                name = f"{label} ({str(hint).split(':')[-1].strip(' >')})"
            engines[name] = run
    reference = eager()
    base = None
    print(f"{args.model}, {args.tile}² tiles, {args.threads} threads, median of {args.repeats}")
    for name, call in engines.items():
        seconds = seconds_per_call(call, args.repeats)
        base = base or seconds
        diff = float(np.abs(call() - reference).max())
        print(f"  {name:<32} {seconds:.3f} s/tile  {seconds / base:.2f}x eager  max|dp| {diff:.1e}")


if __name__ == "__main__":
    main()
