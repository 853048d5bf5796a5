"""Benchmark of ``roadseg run`` end to end on real scenes, each in a fresh subprocess.

For each scene (found under the real-data folder, ``--data`` or ``$ROADSEG_SHARED_DATA``)
the subprocess runs what ``roadseg run SCENE --out roads.gpkg`` runs, with the shipped
CPU weights: ``predict_scene`` (probabilities to a temporary COG), then ``vectorize``
(centrelines to a GeoPackage), and reports

* wall-clock, user and system CPU time, and minor page faults, of the whole run;
* the split: ``read``, ``infer`` and ``blend`` summed over blocks (two blocks are in
  flight, so they may overlap), ``write`` (cells to the GeoTIFF and the COG
  conversion), ``vectorise``, and ``other`` (statistics, model load, set-up);
  (both stages are warmed before the clock starts, as a long-running service would
  have them: the model loaded and its ONNX session built, and the vector stage run
  once on a tiny raster, which imports its libraries and opens the GeoPackage driver;
  cold, that is about a second, which would dominate a small chip);
* the peak resident memory of the subprocess (``VmHWM``, see ``bench_run.py``);
* with ``--bare-tiles N``, the bare eager model (``sigmoid(model(x))`` on tiles in
  memory) timed on N tiles of the pipeline's shape, and the ratio of the run's
  wall-clock time to the eager model's time for the scene's own pixels.

Usage::

    nice -n 5 python benchmarks/bench_scenes.py --engine auto --bare-tiles 6

Run from another checkout's ``benchmarks/`` folder it measures that checkout.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import compat
from bench_run import _engine_kwargs, bare_model_seconds_per_tile, peak_rss_mb
from bench_vectorize import write_grid

#: (label, path under the data folder, gsd to declare or None).
SCENES = (
    ("Swellendam (2.5 m, RGBA)", "swellendam/3420B_2010_328_RGB_LATLNG.tif", None),
    (
        "SpaceNet Shanghai img308 (0.3 m)",
        "spacenet/shanghai/RGB-PanSharpen/RGB-PanSharpen_AOI_4_Shanghai_img308.tif",
        None,
    ),
    ("Massachusetts 10378675_15 (1 m, plain)", "massachusetts/train/images/10378675_15.jpg", 1.0),
)


def child(args: argparse.Namespace) -> None:
    import geopandas  # noqa: F401  (the vector stage's imports are not its work)
    import torch

    from roadseg.inference.layout import Layout
    from roadseg.models import ResUNet, default_weights_name, resolve_checkpoint

    torch.set_num_threads(args.threads)
    checkpoint = resolve_checkpoint(args.model or default_weights_name(torch.device("cpu")))
    engine_kwargs = _engine_kwargs(args.engine)
    if engine_kwargs:  # the export, once per weights, is cached: not part of a run
        from roadseg.inference.predictor import ModelSpec, get_predictor

        get_predictor(ModelSpec(str(checkpoint.resolve()), "cpu", 1, False, args.engine))
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        # Warm the vector stage as the model is warmed (imports, GeoPackage driver).
        write_grid(Path(tmp) / "warm.tif", 256)
        compat.vectorize(Path(tmp) / "warm.tif", Path(tmp) / "warm.gpkg")
    gsd = float(args.gsd) if args.gsd else None
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        prediction = compat.predict(
            args.scene,
            Path(tmp) / "p.tif",
            model=str(checkpoint),
            device="cpu",
            gsd=gsd,
            **engine_kwargs,
        )
        tick = time.perf_counter()
        vectors = compat.vectorize(prediction, Path(tmp) / "roads.gpkg", scene=args.scene)
        vectorise_s = time.perf_counter() - tick
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
    stages = dict(getattr(prediction, "stages", {}))
    record = {
        "scene": args.label,
        "grid": [prediction.width, prediction.height],
        "tiles": prediction.tiles,
        "engine": getattr(prediction, "engine", "torch"),
        "threads": args.threads,
        "seconds": seconds,
        "user_s": after.ru_utime - usage.ru_utime,
        "system_s": after.ru_stime - usage.ru_stime,
        "minor_faults": after.ru_minflt - usage.ru_minflt,
        "predict_s": prediction.seconds,
        "vectorise_s": vectorise_s,
        "roads": vectors.n_roads,
        "km": vectors.total_length_m / 1000,
        "stages": stages,
        "peak_rss_mb": peak_rss_mb(),
    }
    if stages:
        record["write_s"] = stages.get("write", 0.0) + stages.get("cog", 0.0)
    if args.bare_tiles:
        layout = Layout.create(
            prediction.width,
            prediction.height,
            tile_size=512,
            overlap=32,
            block_size=1536,
            align=ResUNet.output_stride,
        )
        per_tile, _ = bare_model_seconds_per_tile(
            checkpoint, layout.tile_shape, 1, args.bare_tiles, "torch"
        )
        th, tw = layout.tile_shape
        floor = prediction.width * prediction.height * per_tile / (th * tw)
        record.update(bare_eager_s_per_tile=per_tile, eager_floor_s=floor)
        record["vs_eager_floor"] = seconds / floor
    print(json.dumps(record))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="the real-data folder")
    parser.add_argument("--engine", default="auto", choices=["auto", "torch", "onnx"])
    parser.add_argument("--model", default=None, help="weights (default: the CPU default)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--bare-tiles", type=int, default=0, help="tiles timed for bare eager")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    parser.add_argument("--label", help=argparse.SUPPRESS)
    parser.add_argument("--gsd", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    data = args.data or Path(os.environ.get("ROADSEG_SHARED_DATA", "../shared/data"))
    print(f"engine {args.engine}, {args.threads} threads, CPU; data {data.name}/")
    print(
        f"{'scene':<40} {'grid':>11} {'wall s':>7} {'user s':>7} {'sys s':>6} {'sys/user':>8} "
        f"{'read/infer/blend/write/vectorise s':>34} {'vector %':>8} {'vs eager floor':>14} "
        f"{'peak RSS MB':>11}"
    )
    for label, relative, gsd in SCENES:
        path = data / relative
        if not path.exists():
            print(f"{label:<40} missing: {path}")
            continue
        cmd = [sys.executable, __file__, "--child", "--scene", str(path), "--label", label]
        cmd += ["--engine", args.engine, "--threads", str(args.threads)]
        cmd += ["--bare-tiles", str(args.bare_tiles)]
        if gsd:
            cmd += ["--gsd", str(gsd)]
        if args.model:
            cmd += ["--model", args.model]
        if args.workdir:
            cmd += ["--workdir", str(args.workdir)]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
        rec = json.loads(out.stdout.strip().splitlines()[-1])
        st = rec["stages"]
        nan = float("nan")
        split = "/".join(
            f"{v:.1f}"
            for v in (
                st.get("read", nan),
                st.get("infer", nan),
                st.get("blend", nan),
                rec.get("write_s", nan),
                rec["vectorise_s"],
            )
        )
        grid = "x".join(map(str, rec["grid"]))
        print(
            f"{label:<40} {grid:>11} {rec['seconds']:>7.1f} {rec['user_s']:>7.1f} "
            f"{rec['system_s']:>6.1f} {rec['system_s'] / rec['user_s']:>8.3f} {split:>34} "
            f"{100 * rec['vectorise_s'] / rec['seconds']:>7.1f}% "
            f"{rec.get('vs_eager_floor', nan):>14.3f} {rec['peak_rss_mb']:>11.0f}",
            flush=True,
        )
        print(json.dumps(rec), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
