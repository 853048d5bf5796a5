"""Benchmark of ``roadseg run`` (raster half): pipeline overhead and peak memory.

One run measures, on CPU, with a narrow untrained ResUNet (``--width`` base channels),
for synthetic scenes of several sizes, each in a fresh subprocess:

* the bare model: batched forward passes on tiles already in memory, of the shape the
  pipeline uses, in a worker thread as the pipeline runs them, timed just before and
  just after the pipeline (the mean is used: a shared machine's load drifts). Times
  the number of tiles the pipeline uses it is the *bare time on the same tiles*
  (overlap included); per pixel times the scene's own pixels it is the *floor*;
* the full pipeline (``predict_scene``: read, normalise, tile, infer, blend, write the
  COG);
* wall-clock and CPU time (all threads of the process) of each: on a shared machine
  wall-clock ratios swing with other people's load, CPU-time ratios much less;
* the peak resident memory (``ru_maxrss``) of the subprocess. With ``--memory-only``
  the subprocess runs the pipeline alone (no bare-model timing), so the figure is the
  pipeline's own.

Usage::

    nice -n 5 python benchmarks/bench_run.py --sizes 2048 8192 16384 --threads 1
    nice -n 5 python benchmarks/bench_run.py --sizes 2048 8192 16384 --memory-only

Prints a table and one JSON line per scene (on stderr).
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
        rows = 512
        for r in range(0, size, rows):
            h = min(rows, size - r)
            yy, xx = np.mgrid[r : r + h, 0:size]
            base = 100 + 60 * np.sin(xx / 37.0) * np.cos(yy / 53.0)
            band = base[None] + rng.normal(0, 20, (3, h, size))
            dst.write(np.clip(band, 0, 255).astype(np.uint8), window=((r, r + h), (0, size)))


def make_model(path: Path, width: int) -> None:
    from roadseg.models import ModelMetadata, build, save_checkpoint

    model = build("resunet", in_channels=3, base_channels=width)
    meta = ModelMetadata(
        "resunet", {"in_channels": 3, "base_channels": width}, gsd_m=1.0, name="bench"
    )
    save_checkpoint(model, meta, path)


def _bare_loop(
    checkpoint: Path, shape: tuple[int, int], batch: int, n_tiles: int
) -> tuple[float, float]:
    import torch

    from roadseg.models import load

    model, _ = load(checkpoint)
    x = torch.rand((batch, 3, *shape))
    with torch.inference_mode():
        torch.sigmoid(model(x))  # warm-up
        start, cpu = time.perf_counter(), time.process_time()
        done = 0
        while done < n_tiles:
            torch.sigmoid(model(x))
            done += batch
    return (time.perf_counter() - start) / done, (time.process_time() - cpu) / done


def bare_model_seconds_per_tile(
    checkpoint: Path, shape: tuple[int, int], batch: int, n_tiles: int
) -> tuple[float, float]:
    """Wall and CPU seconds per tile of batched forward passes on tiles in memory.

    Run in a worker thread, as the pipeline runs the model: torch's OpenMP thread team
    belongs to the calling thread, and on a busy machine the main thread's team can be
    several times slower, which would flatter the pipeline.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(_bare_loop, checkpoint, shape, batch, n_tiles).result()


def child(args: argparse.Namespace) -> None:
    """In a fresh process: time the bare model on tiles of the pipeline's shape, then
    run the pipeline once; print a JSON record."""
    import rasterio
    import torch

    from roadseg.inference import predict_scene
    from roadseg.inference.layout import Layout
    from roadseg.models import ResUNet

    torch.set_num_threads(args.threads)
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
    bare = []
    if bare_tiles:
        bare.append(
            bare_model_seconds_per_tile(
                Path(args.model), layout.tile_shape, args.batch_size, bare_tiles
            )
        )
    out = Path(args.scene).with_suffix(".prob.tif")
    start, cpu_start = time.perf_counter(), time.process_time()
    result = predict_scene(
        args.scene,
        out,
        model=args.model,
        device="cpu",
        tile_size=args.tile_size,
        overlap=args.overlap,
        batch_size=args.batch_size,
        block_size=args.block_size,
        overwrite=True,
    )
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    out.unlink()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if not bare_tiles:  # memory only: nothing else ran in this process
        record = {"size": width, "tiles": layout.n_tiles, "blocks": result.blocks}
        record.update(seconds=seconds, cpu_seconds=cpu_seconds, peak_rss_mb=peak_kb / 1024)
        print(json.dumps(record))
        return
    # Timed again after the pipeline: on a shared machine the load drifts.
    bare.append(
        bare_model_seconds_per_tile(
            Path(args.model), layout.tile_shape, args.batch_size, bare_tiles
        )
    )
    per_tile = sum(b[0] for b in bare) / len(bare)
    cpu_per_tile = sum(b[1] for b in bare) / len(bare)
    th, tw = layout.tile_shape
    bare_same = layout.n_tiles * per_tile
    floor = width * height * per_tile / (th * tw)
    bare_same_cpu = layout.n_tiles * cpu_per_tile
    floor_cpu = width * height * cpu_per_tile / (th * tw)
    print(
        json.dumps(
            {
                "size": width,
                "tiles": layout.n_tiles,
                "tile_shape": [th, tw],
                "blocks": result.blocks,
                "seconds": seconds,
                "bare_s_per_tile": per_tile,
                "bare_s_per_tile_before_after": bare,
                "bare_same_tiles_s": bare_same,
                "floor_s": floor,
                "overlap_factor": layout.n_tiles * th * tw / (width * height),
                "overhead": seconds / bare_same,
                "vs_floor": seconds / floor,
                "cpu_seconds": cpu_seconds,
                "bare_cpu_s_per_tile": cpu_per_tile,
                "overhead_cpu": cpu_seconds / bare_same_cpu,
                "vs_floor_cpu": cpu_seconds / floor_cpu,
                "mpx_per_s": width * height / seconds / 1e6,
                "bare_mpx_per_s": th * tw / per_tile / 1e6,
                "peak_rss_mb": peak_kb / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 8192, 16384])
    parser.add_argument("--width", type=int, default=8, help="ResUNet base channels")
    parser.add_argument("--tile-size", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--block-size", type=int, default=1536)
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="torch (OpenMP) threads; 1 gives stable CPU times on a shared machine",
    )
    parser.add_argument(
        "--bare-tiles", type=int, default=40, help="most tiles timed for the bare model"
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only the pipeline in each subprocess (no bare-model timing): clean peak RSS",
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmpdir = Path(tmp)
        checkpoint = tmpdir / "bench.safetensors"
        make_model(checkpoint, args.width)
        print(
            f"model: ResUNet base_channels={args.width} (untrained), tiles <= {args.tile_size} "
            f"px, overlap {args.overlap}, batch {args.batch_size}, block {args.block_size}, "
            f"{args.threads} torch threads, CPU"
        )
        print(
            f"{'size':>6} {'tile':>8} {'tiles':>5} {'overlap':>7} {'bare Mpx/s':>10} "
            f"{'pipeline s':>10} {'bare same tiles s':>17} {'overhead':>8} {'floor s':>8} "
            f"{'vs floor':>8} {'Mpx/s':>6} {'CPU overhead':>12} {'CPU vs floor':>12} "
            f"{'peak RSS MB':>11}"
        )
        for size in args.sizes:
            scene = tmpdir / f"scene_{size}.tif"
            make_scene(scene, size)
            cmd = [sys.executable, __file__, "--child", "--scene", str(scene)]
            cmd += ["--model", str(checkpoint), "--tile-size", str(args.tile_size)]
            cmd += ["--overlap", str(args.overlap), "--batch-size", str(args.batch_size)]
            cmd += ["--block-size", str(args.block_size), "--threads", str(args.threads)]
            cmd += ["--bare-tiles", "0" if args.memory_only else str(args.bare_tiles)]
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            scene.unlink()
            if args.memory_only:
                print(
                    f"{size:>6} {rec['tiles']:>5} tiles {rec['blocks']:>4} blocks "
                    f"{rec['seconds']:>8.1f} s {rec['cpu_seconds']:>8.1f} CPU s "
                    f"peak RSS {rec['peak_rss_mb']:>6.0f} MB",
                    flush=True,
                )
                print(json.dumps(rec), file=sys.stderr, flush=True)
                continue
            rec.update(width=args.width, overlap=args.overlap, batch_size=args.batch_size)
            tile = "x".join(map(str, rec["tile_shape"]))
            print(
                f"{size:>6} {tile:>8} {rec['tiles']:>5} {rec['overlap_factor']:>7.3f} "
                f"{rec['bare_mpx_per_s']:>10.3f} {rec['seconds']:>10.1f} "
                f"{rec['bare_same_tiles_s']:>17.1f} {rec['overhead']:>8.3f} "
                f"{rec['floor_s']:>8.1f} {rec['vs_floor']:>8.3f} {rec['mpx_per_s']:>6.3f} "
                f"{rec['overhead_cpu']:>12.3f} {rec['vs_floor_cpu']:>12.3f} "
                f"{rec['peak_rss_mb']:>11.0f}",
                flush=True,
            )
            print(json.dumps(rec), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
