"""Time and peak memory of ``vectorize`` on synthetic road-grid probability rasters.

Each size runs in its own subprocess, so its peak resident memory (ru_maxrss) is its
own. The rasters are written window by window (never whole in memory) with a street
grid every 256 pixels, diagonal avenues every 2048 pixels and soft road edges, in the
probability format of ``roadseg run`` (EPSG:32611, 0.5 m).

Usage:
    python benchmarks/bench_vectorize.py [--sizes 4096,8192,16384] [--workdir DIR]
        [--block-size 2048]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID_PX = 256
DIAGONAL_PX = 2048
HALF_WIDTH_PX = 5.0


def write_grid(path: Path, size: int) -> None:
    """Write a size x size probability raster of a street grid, one strip at a time."""
    import numpy as np
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    from roadseg.raster.probability import TAG_THRESHOLD, encode_probability

    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="uint8",
        crs="EPSG:32611",
        transform=Affine(0.5, 0, 500_000.0, 0, -0.5, 4_100_000.0),
        nodata=255,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        BIGTIFF="IF_SAFER",
    )
    strip = 512
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, strip):
            h = min(strip, size - row)
            yy, xx = np.mgrid[row : row + h, 0:size].astype(np.float32) + 0.5
            off = GRID_PX / 2
            dh = np.abs((yy - off) % GRID_PX - GRID_PX / 2)
            dv = np.abs((xx - off) % GRID_PX - GRID_PX / 2)
            dd = np.abs((xx - yy) % DIAGONAL_PX - DIAGONAL_PX / 2) / np.sqrt(2)
            dist = np.minimum(
                np.minimum(GRID_PX / 2 - dh, GRID_PX / 2 - dv), DIAGONAL_PX / 2 / np.sqrt(2) - dd
            )
            prob = np.clip(0.95 - 0.45 * (dist / HALF_WIDTH_PX) ** 2, 0.02, 1.0)
            dst.write(encode_probability(prob), 1, window=Window(0, row, size, h))
        dst.update_tags(**{TAG_THRESHOLD: "0.5"})


def child(prob: str, out: str, block_size: int) -> None:
    """Run vectorize once and print a JSON line with time and peak RSS."""
    import resource

    import compat

    start = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = start.ru_utime + start.ru_stime
    t0 = time.perf_counter()
    res = compat.vectorize(prob, out, vector_block_size=block_size)
    dt = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    print(
        json.dumps(
            {
                "seconds": round(dt, 2),
                "cpu_seconds": round(cpu, 2),
                "peak_rss_mb": round(peak_mb, 1),
                "roads": res.n_roads,
                "junctions": res.n_junctions,
                "km": round(res.total_length_m / 1000, 2),
                "blocks": res.n_blocks,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="4096,8192")
    ap.add_argument("--block-size", type=int, default=2048)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--child", nargs=2, metavar=("PROB", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.block_size)
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_vectorize_"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"{'size':>7} {'blocks':>6} {'seconds':>8} {'CPU s':>7} {'Mpx/s':>6} {'peak RSS MB':>11} "
        f"{'roads':>6} {'junctions':>9} {'km':>7}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        prob = work / f"grid_{size}.tif"
        if not prob.exists():
            write_grid(prob, size)
        out = work / f"grid_{size}.gpkg"
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(prob),
            str(out),
            "--block-size",
            str(args.block_size),
        ]
        line = (
            subprocess.run(cmd, check=True, capture_output=True, text=True)
            .stdout.strip()
            .splitlines()[-1]
        )
        r = json.loads(line)
        print(
            f"{size:>7} {r['blocks']:>6} {r['seconds']:>8.1f} {r['cpu_seconds']:>7.1f} "
            f"{size * size / 1e6 / r['seconds']:>6.1f} "
            f"{r['peak_rss_mb']:>11.0f} {r['roads']:>6} {r['junctions']:>9} {r['km']:>7.1f}"
        )


if __name__ == "__main__":
    main()
