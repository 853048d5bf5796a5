"""Benchmark of ``roadseg run`` (raster half): pipeline overhead and peak memory.

One run measures, on CPU, with a narrow ResUNet (``--width`` base channels):

* the bare model: batched forward passes on tiles already in memory, giving seconds
  per tile; times the number of tiles the pipeline uses it is the *bare time on the
  same tiles* (overlap included), and per pixel times the scene's own pixels it is
  the *floor* (no overlap at all);
* the full pipeline (``predict_scene``: read, normalise, tile, infer, blend, write the
  COG) on synthetic scenes of several sizes, each in a fresh subprocess so that its
  peak resident memory (``ru_maxrss``) is its own.

Usage::

    nice -n 10 python benchmarks/bench_run.py --sizes 2048 8192 16384

Prints a table and one JSON line per scene.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


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


def bare_model_seconds_per_tile(
    checkpoint: Path, tile: int, batch: int, n_tiles: int, threads: int
) -> float:
    """Seconds per tile of batched forward passes on tiles in memory (after warm-up)."""
    import torch

    from roadseg.models import load

    torch.set_num_threads(threads)
    model, _ = load(checkpoint)
    x = torch.rand((batch, 3, tile, tile))
    with torch.inference_mode():
        torch.sigmoid(model(x))  # warm-up
        start = time.perf_counter()
        done = 0
        while done < n_tiles:
            torch.sigmoid(model(x))
            done += batch
    return (time.perf_counter() - start) / done


def child(args: argparse.Namespace) -> None:
    """Run the pipeline once (in a fresh process) and print a JSON record."""
    import torch

    from roadseg.inference import predict_scene
    from roadseg.inference.layout import Layout

    torch.set_num_threads(args.threads)
    out = Path(args.scene).with_suffix(".prob.tif")
    start = time.perf_counter()
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
    layout = Layout.create(
        result.width,
        result.height,
        tile_size=args.tile_size,
        overlap=args.overlap,
        block_size=args.block_size,
    )
    out.unlink()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "size": result.width,
                "tiles": layout.n_tiles,
                "blocks": result.blocks,
                "seconds": seconds,
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
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--block-size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--bare-tiles", type=int, default=24, help="tiles timed for the bare model")
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
        per_tile = bare_model_seconds_per_tile(
            checkpoint, args.tile_size, args.batch_size, args.bare_tiles, args.threads
        )
        px_per_s = args.tile_size**2 / per_tile
        print(
            f"model: ResUNet base_channels={args.width}, tile {args.tile_size}, batch "
            f"{args.batch_size}, {args.threads} threads, CPU; bare model "
            f"{per_tile:.3f} s/tile = {px_per_s / 1e6:.2f} Mpx/s"
        )
        print(
            f"{'size':>7} {'tiles':>6} {'overlap':>8} {'pipeline s':>11} {'bare same tiles s':>18} "
            f"{'overhead':>9} {'floor s':>8} {'vs floor':>9} {'Mpx/s':>6} {'peak RSS MB':>12}"
        )
        for size in args.sizes:
            scene = tmpdir / f"scene_{size}.tif"
            make_scene(scene, size)
            cmd = [
                sys.executable,
                __file__,
                "--child",
                "--scene",
                str(scene),
                "--model",
                str(checkpoint),
                "--tile-size",
                str(args.tile_size),
                "--overlap",
                str(args.overlap),
                "--batch-size",
                str(args.batch_size),
                "--block-size",
                str(args.block_size),
                "--threads",
                str(args.threads),
            ]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            scene.unlink()
            bare_same = rec["tiles"] * per_tile
            floor = size * size / px_per_s
            overlap_factor = rec["tiles"] * args.tile_size**2 / (size * size)
            rec.update(
                bare_same_tiles_s=bare_same,
                floor_s=floor,
                overlap_factor=overlap_factor,
                overhead=rec["seconds"] / bare_same,
                vs_floor=rec["seconds"] / floor,
                mpx_per_s=size * size / rec["seconds"] / 1e6,
                bare_mpx_per_s=px_per_s / 1e6,
                width=args.width,
                tile_size=args.tile_size,
                overlap=args.overlap,
                batch_size=args.batch_size,
            )
            print(
                f"{size:>7} {rec['tiles']:>6} {overlap_factor:>8.3f} {rec['seconds']:>11.1f} "
                f"{bare_same:>18.1f} {rec['overhead']:>9.3f} {floor:>8.1f} "
                f"{rec['vs_floor']:>9.3f} {rec['mpx_per_s']:>6.2f} {rec['peak_rss_mb']:>12.0f}",
                flush=True,
            )
            print(json.dumps(rec), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
