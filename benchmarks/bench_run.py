"""Benchmark of ``roadseg run`` (raster half): speed against the bare model, and memory.

One run measures, on CPU, for synthetic scenes of several sizes, each in a fresh
subprocess, with a narrow untrained ResUNet (``--width`` base channels) or given
weights (``--model resunet-lite``):

* the bare models: batched forward passes on tiles already in memory, of the shape the
  pipeline uses, in a worker thread as the pipeline runs them, timed just before and
  just after the pipeline (the mean is used: a shared machine's load drifts). The
  *bare eager* model is the checkpoint as loaded, ``sigmoid(model(x))`` in
  ``torch.inference_mode()`` (what a user's own PyTorch loop does); with ``--engine
  onnx`` (or ``auto``) the *bare engine* is the same ONNX Runtime session the pipeline
  uses. Times the pipeline's tile count it is the *bare time on the same tiles*
  (overlap included); per pixel times the scene's own pixels it is the *floor*;
* the full pipeline (``predict_scene``: read, normalise, tile, infer, blend, write the
  COG), with its split into stages;
* wall-clock, user and system CPU time and minor page faults of the pipeline (all
  threads of the process);
* the peak resident memory of the subprocess: ``VmHWM`` (its own address space's
  high-water mark). ``ru_maxrss`` would not do: a child started by ``vfork`` + ``exec``
  (as ``subprocess`` starts it) inherits the parent's peak, which is how the scene
  generation of the parent once showed as a "jump" at 16384². With ``--memory-only``
  the subprocess runs the pipeline alone (no bare-model timing).

Usage::

    nice -n 5 python benchmarks/bench_run.py --sizes 2048 8192 --threads 2 --model resunet-lite
    nice -n 5 python benchmarks/bench_run.py --sizes 8192 16384 32768 --memory-only

Prints a table and one JSON line per scene (on stderr). Run from another checkout's
``benchmarks/`` folder it measures that checkout (``--engine`` is then ignored if its
``predict_scene`` has none).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import compat
import numpy as np

# Measure this checkout's roadseg, not whichever one is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_scene(path: Path, size: int, seed: int = 0) -> None:
    """Write a ``size`` x ``size`` RGB uint8 GeoTIFF strip by strip (bounded memory)."""
    import rasterio
    from affine import Affine

    rng = np.random.default_rng(seed)
    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=3,
        dtype="uint8",
        crs="EPSG:32633",
        transform=Affine(1.0, 0, 500_000, 0, -1.0, 5_000_000),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        BIGTIFF="IF_SAFER",
    )
    with rasterio.open(path, "w", **profile) as dst:
        rows = 128  # strips of bounded memory (float32), whatever the size
        xx = np.arange(size, dtype=np.float32)[None, :]
        for r in range(0, size, rows):
            h = min(rows, size - r)
            yy = np.arange(r, r + h, dtype=np.float32)[:, None]
            base = 100 + 60 * np.sin(xx / 37.0) * np.cos(yy / 53.0)
            band = base[None] + rng.normal(0, 20, (3, h, size)).astype(np.float32)
            dst.write(np.clip(band, 0, 255).astype(np.uint8), window=((r, r + h), (0, size)))


def make_model(path: Path, width: int) -> None:
    """An untrained ResUNet, the same weights every time (so an ONNX export is reused)."""
    import torch

    from roadseg.models import ModelMetadata, build, save_checkpoint

    torch.manual_seed(0)
    model = build("resunet", in_channels=3, base_channels=width)
    meta = ModelMetadata(
        "resunet", {"in_channels": 3, "base_channels": width}, gsd_m=1.0, name="bench"
    )
    save_checkpoint(model, meta, path)


def _timed(step: object, batch: int, n_tiles: int) -> tuple[float, float]:
    step()  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    done = 0
    while done < n_tiles:
        step()
        done += batch
    return (time.perf_counter() - start) / done, (time.process_time() - cpu) / done


def _bare_loop(
    checkpoint: Path, shape: tuple[int, int], batch: int, n_tiles: int, engine: str
) -> tuple[float, float]:
    import torch

    from roadseg.models import load

    model, meta = load(checkpoint)
    x = torch.rand((batch, meta.in_channels, *shape))
    if engine == "torch":
        with torch.inference_mode():
            return _timed(lambda: torch.sigmoid(model(x)), batch, n_tiles)
    from roadseg.inference.engine import onnx_engine

    session = onnx_engine(checkpoint, model, meta)
    tiles = x.numpy()
    out = np.empty((batch, *shape), dtype=np.float32)
    return _timed(lambda: session.predict(tiles, out), batch, n_tiles)


def bare_model_seconds_per_tile(
    checkpoint: Path, shape: tuple[int, int], batch: int, n_tiles: int, engine: str = "torch"
) -> tuple[float, float]:
    """Wall and CPU seconds per tile of batched forward passes on tiles in memory.

    Run in a worker thread, as the pipeline runs the model: torch's OpenMP thread team
    belongs to the calling thread, and on a busy machine the main thread's team can be
    several times slower, which would flatter the pipeline.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(_bare_loop, checkpoint, shape, batch, n_tiles, engine).result()


def peak_rss_mb() -> float:
    """This process's own peak resident memory (``VmHWM``; ``ru_maxrss`` off Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _engine_kwargs(engine: str) -> dict[str, str]:
    """``engine=`` for a roadseg that has engines (another checkout may not)."""
    import inspect

    import roadseg.inference as inference

    if hasattr(inference, "InferenceOptions"):
        return {"engine": engine}
    has_engine = "engine" in inspect.signature(inference.predict_scene).parameters
    return {"engine": engine} if has_engine else {}


def child(args: argparse.Namespace) -> None:
    """In a fresh process: time the bare models on tiles of the pipeline's shape, then
    run the pipeline once; print a JSON record."""
    import rasterio
    import torch

    from roadseg.inference.layout import Layout
    from roadseg.models import ResUNet, resolve_checkpoint

    torch.set_num_threads(args.threads)
    checkpoint = resolve_checkpoint(args.model)
    engine_kwargs = _engine_kwargs(args.engine)
    engine = "torch"
    load_s = 0.0
    if engine_kwargs:
        from roadseg.inference.predictor import ModelSpec, get_predictor

        tick = time.perf_counter()  # load, and export once (cached for later runs)
        get_predictor(
            ModelSpec(str(checkpoint.resolve()), "cpu", args.batch_size, False, args.engine)
        )
        load_s = time.perf_counter() - tick
        from roadseg.inference.engine import resolve_engine

        engine = resolve_engine(args.engine, torch.device("cpu"))
    with rasterio.open(args.scene) as src:
        width, height = src.width, src.height
    layout = Layout.create(
        width,
        height,
        tile_size=args.tile_size,
        overlap=args.overlap,
        block_size=args.block_size,
        align=ResUNet.output_stride,
    )
    bare_tiles = min(layout.n_tiles, args.bare_tiles)
    engines = ["torch"] if engine == "torch" else ["torch", engine]
    bare: dict[str, list[tuple[float, float]]] = {e: [] for e in engines}

    def time_bare() -> None:
        for name in engines:
            bare[name].append(
                bare_model_seconds_per_tile(
                    checkpoint, layout.tile_shape, args.batch_size, bare_tiles, name
                )
            )

    if bare_tiles:
        time_bare()
    out = Path(args.scene).with_suffix(".prob.tif")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = compat.predict(
        args.scene,
        out,
        model=str(checkpoint),
        device="cpu",
        tile_size=args.tile_size,
        overlap=args.overlap,
        batch_size=args.batch_size,
        block_size=args.block_size,
        engine=args.engine,
    )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    out.unlink()
    record = {
        "size": width,
        "tiles": layout.n_tiles,
        "tile_shape": list(layout.tile_shape),
        "blocks": result.blocks,
        "engine": engine,
        "threads": args.threads,
        "seconds": seconds,
        "user_s": after.ru_utime - usage.ru_utime,
        "system_s": after.ru_stime - usage.ru_stime,
        "minor_faults": after.ru_minflt - usage.ru_minflt,
        "load_s": load_s,
        "stages": getattr(result, "stages", {}),
        "peak_rss_mb": peak_rss_mb(),
    }
    record["cpu_seconds"] = record["user_s"] + record["system_s"]
    if not bare_tiles:  # memory only: nothing else ran in this process
        print(json.dumps(record))
        return
    time_bare()  # again after the pipeline: on a shared machine the load drifts
    th, tw = layout.tile_shape
    record["overlap_factor"] = layout.n_tiles * th * tw / (width * height)
    for name, runs in bare.items():
        per_tile = sum(b[0] for b in runs) / len(runs)
        cpu_per_tile = sum(b[1] for b in runs) / len(runs)
        record[f"bare_{name}_s_per_tile"] = per_tile
        record[f"bare_{name}_before_after"] = runs
        record[f"bare_{name}_same_tiles_s"] = layout.n_tiles * per_tile
        record[f"bare_{name}_floor_s"] = width * height * per_tile / (th * tw)
        record[f"bare_{name}_mpx_per_s"] = th * tw / per_tile / 1e6
        record[f"cpu_bare_{name}_same_tiles_s"] = layout.n_tiles * cpu_per_tile
    # The pipeline against the bare model that runs inside it (same tiles), and against
    # the bare eager model on the scene's own pixels.
    record["overhead"] = seconds / record[f"bare_{engine}_same_tiles_s"]
    record["vs_eager_floor"] = seconds / record["bare_torch_floor_s"]
    record["overhead_cpu"] = record["cpu_seconds"] / record[f"cpu_bare_{engine}_same_tiles_s"]
    record["mpx_per_s"] = width * height / seconds / 1e6
    print(json.dumps(record))


def _split(stages: dict[str, float]) -> str:
    keys = ("read", "infer", "blend", "write", "cog")
    return "/".join(f"{stages.get(k, float('nan')):.0f}" for k in keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 8192, 16384])
    parser.add_argument("--width", type=int, default=8, help="ResUNet base channels")
    parser.add_argument(
        "--model", default=None, help="shipped weights name or checkpoint (default: untrained)"
    )
    parser.add_argument("--engine", default="auto", choices=["auto", "torch", "onnx"])
    parser.add_argument("--tile-size", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--block-size", type=int, default=1536)
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="torch and ONNX Runtime threads; 1 gives steadier CPU times on a shared machine",
    )
    parser.add_argument(
        "--bare-tiles", type=int, default=24, help="most tiles timed for each bare model"
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only the pipeline in each subprocess (no bare-model timing)",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmpdir = Path(tmp)
        if args.model is None:
            model = tmpdir / "bench.safetensors"
            make_model(model, args.width)
            described = f"ResUNet base_channels={args.width} (untrained)"
        else:
            model, described = args.model, args.model
        print(
            f"model: {described}, engine {args.engine}, tiles <= {args.tile_size} px, "
            f"overlap {args.overlap}, batch {args.batch_size}, block {args.block_size}, "
            f"{args.threads} threads, CPU"
        )
        if args.memory_only:
            print(
                f"{'size':>6} {'tiles':>5} {'blocks':>6} {'wall s':>7} {'user s':>7} "
                f"{'sys s':>6} {'sys/user':>8} {'faults':>9} {'peak RSS MB':>11}"
            )
        else:
            print(
                f"{'size':>6} {'tile':>8} {'tiles':>5} {'eager s/tile':>12} "
                f"{'engine s/tile':>13} {'pipeline s':>10} {'vs eager floor':>14} "
                f"{'overhead':>8} {'CPU overhead':>12} {'user s':>7} {'sys s':>6} "
                f"{'read/infer/blend/write/cog s':>28} {'peak RSS MB':>11}"
            )
        for size in args.sizes:
            scene = tmpdir / f"scene_{size}.tif"
            make_scene(scene, size)
            cmd = [sys.executable, __file__, "--child", "--scene", str(scene)]
            cmd += ["--model", str(model), "--tile-size", str(args.tile_size)]
            cmd += ["--overlap", str(args.overlap), "--batch-size", str(args.batch_size)]
            cmd += ["--block-size", str(args.block_size), "--threads", str(args.threads)]
            cmd += ["--engine", args.engine]
            cmd += ["--bare-tiles", "0" if args.memory_only else str(args.bare_tiles)]
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            scene.unlink()
            rec.update(model=described, overlap=args.overlap, batch_size=args.batch_size)
            split = _split(rec["stages"])
            if args.memory_only:
                print(
                    f"{size:>6} {rec['tiles']:>5} {rec['blocks']:>6} {rec['seconds']:>7.1f} "
                    f"{rec['user_s']:>7.1f} {rec['system_s']:>6.1f} "
                    f"{rec['system_s'] / rec['user_s']:>8.3f} {rec['minor_faults']:>9} "
                    f"{rec['peak_rss_mb']:>11.0f}",
                    flush=True,
                )
            else:
                tile = "x".join(map(str, rec["tile_shape"]))
                engine_s = rec.get(f"bare_{rec['engine']}_s_per_tile", float("nan"))
                print(
                    f"{size:>6} {tile:>8} {rec['tiles']:>5} {rec['bare_torch_s_per_tile']:>12.3f} "
                    f"{engine_s:>13.3f} {rec['seconds']:>10.1f} {rec['vs_eager_floor']:>14.3f} "
                    f"{rec['overhead']:>8.3f} {rec['overhead_cpu']:>12.3f} "
                    f"{rec['user_s']:>7.1f} {rec['system_s']:>6.1f} {split:>28} "
                    f"{rec['peak_rss_mb']:>11.0f}",
                    flush=True,
                )
            print(json.dumps(rec), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
