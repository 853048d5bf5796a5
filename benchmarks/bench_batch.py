"""Batch throughput of ``roadseg batch`` on 1 and 2 local workers, in one run.

Writes synthetic georeferenced scenes, saves a narrow ResUNet checkpoint, then runs the
same batch (real ``run_scene``, probability COG and GeoPackage per scene) on a local
cluster of 1 worker and of 2 workers, into fresh output folders. Reports scenes per
minute and megapixels per second, both end to end (cluster start-up included) and over
the processing window (first scene start to last scene end), and each worker's peak
resident memory (from the run record).

    python benchmarks/bench_batch.py --scenes 8 --size 1024 [--workers 1,2] [--base-channels 8]

Results go to stdout as a Markdown table and, with --json, to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from roadseg.batch import RunRecord, collect_scenes, run_batch
from roadseg.inference import InferenceOptions
from roadseg.log import configure_logging
from roadseg.models import ModelMetadata, build, save_checkpoint


def write_scene(path: Path, seed: int, size: int) -> None:
    """A 3-band uint8 UTM scene with a few bright straight 'roads' on noise."""
    rng = np.random.default_rng(seed)
    data = rng.integers(20, 110, size=(3, size, size), dtype=np.uint8)
    for _ in range(4):
        r, c = rng.integers(0, size - 6, size=2)
        data[:, r : r + 6, :] = 220
        data[:, :, c : c + 6] = 220
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": Affine(1.0, 0, 500_000 + 10_000 * seed, 0, -1.0, 4_000_000),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


def run(scenes_dir: Path, out_dir: Path, model: Path, workers: int, size: int) -> dict:
    scenes = collect_scenes([str(scenes_dir)])
    t0 = time.perf_counter()
    inference = InferenceOptions(model=str(model), device="cpu")
    summary = run_batch(scenes, out_dir, inference=inference, workers=workers, prob_cog=True)
    total = time.perf_counter() - t0
    if not summary.ok:
        raise SystemExit(f"{summary.n_failed} scenes failed; see {summary.record_path}")
    done = [e for e in RunRecord(out_dir) if e.status == "done"]
    start = min(datetime.fromisoformat(e.started) for e in done)
    end = max(datetime.fromisoformat(e.finished) for e in done)
    window = (end - start).total_seconds()
    peaks: dict[str, float] = {}
    for e in done:
        peaks[e.worker] = max(peaks.get(e.worker, 0.0), e.worker_peak_rss_mb or 0.0)
    mpx = len(done) * size * size / 1e6
    return {
        "workers": workers,
        "scenes": len(done),
        "megapixels": round(mpx, 2),
        "total_s": round(total, 2),
        "window_s": round(window, 2),
        "scenes_per_min_total": round(len(done) / total * 60, 2),
        "scenes_per_min_window": round(len(done) / window * 60, 2),
        "mpx_per_s_total": round(mpx / total, 3),
        "mpx_per_s_window": round(mpx / window, 3),
        "mean_scene_s": round(sum(e.duration_s for e in done) / len(done), 2),
        "peak_rss_mb_per_worker": sorted(peaks.values(), reverse=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--size", type=int, default=1024, help="scene width = height, pixels")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--base-channels", type=int, default=8, help="ResUNet width")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    configure_logging(-1)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        root = Path(tmp)
        scenes_dir = root / "scenes"
        scenes_dir.mkdir()
        for i in range(args.scenes):
            write_scene(scenes_dir / f"scene{i:03d}.tif", seed=i, size=args.size)
        model = root / "model.safetensors"
        save_checkpoint(
            build("resunet", base_channels=args.base_channels),
            ModelMetadata(
                architecture="resunet",
                arch_kwargs={"base_channels": args.base_channels},
                gsd_m=1.0,
            ),
            model,
        )
        results = [
            run(scenes_dir, root / f"out-{w}", model, w, args.size)
            for w in (int(v) for v in args.workers.split(","))
        ]
    header = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "model": f"resunet base_channels={args.base_channels} (CPU)",
        "scenes": f"{args.scenes} x {args.size}x{args.size} px, 3-band uint8",
        "load_average_1min": f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after",
    }
    print(
        f"# batch throughput: {header['scenes']}; {header['model']}; {header['machine']}; "
        f"load average {header['load_average_1min']}\n"
    )
    print(
        "| workers | total s | scenes/min (total) | Mpx/s (total) | window s | "
        "scenes/min (window) | Mpx/s (window) | mean s/scene | peak RSS per worker (MB) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['workers']} | {r['total_s']} | {r['scenes_per_min_total']} | "
            f"{r['mpx_per_s_total']} | {r['window_s']} | {r['scenes_per_min_window']} | "
            f"{r['mpx_per_s_window']} | {r['mean_scene_s']} | "
            f"{', '.join(f'{p:.0f}' for p in r['peak_rss_mb_per_worker'])} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"setup": header, "results": results}, indent=2))


if __name__ == "__main__":
    main()
