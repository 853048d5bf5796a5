"""APLS of the SpaceNet scenes of the CPU default's recipe over a grid of vector settings.

Each scene is predicted once (as ``roadseg run`` does, to a probability COG); the
probabilities are then vectorised with every combination of the settings asked for
and scored by APLS against the scene's road lines, per city. This is how the vector
defaults and the model's threshold are chosen on road networks rather than on pixels.

``--split train`` sweeps the recipe's *training* chips, ``--split val`` its held-out
ones. Choosing settings on the training chips keeps the held-out figures honest (the
model has seen those chips, so its probabilities there are more confident than on new
ones); the held-out sweep shows how far the choice carries.

Usage:
    python benchmarks/vector_sweep.py --model resunet-lite --split train \
        --threshold 0.6 0.7 0.8 --gap-m 15 25 [--hysteresis 0.6] [--overlap 32]
        [--out sweep.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import tempfile
from pathlib import Path

import numpy as np
from heldout_eval import RECIPE

from roadseg.data import load_source, read_recipe
from roadseg.evaluation.apls import evaluate_vector_files, read_lines
from roadseg.inference import InferenceOptions, predict_scene
from roadseg.models import load
from roadseg.vector import VectorOptions, vectorize

CITIES = ("vegas", "paris", "shanghai")


def spacenet_scenes(data: Path, split: str, gsd: float, channels: int, norm: dict) -> list:
    """``(city, stem, scene path, truth path)`` of the RGB SpaceNet chips of ``split``."""
    cases = []
    for spec in read_recipe(RECIPE, data):
        if spec.kind != "scenes" or spec.name not in CITIES:
            continue
        train, held_out = load_source(spec, gsd, channels, norm, validation_only=split == "val")
        for image in held_out if split == "val" else train:
            if not read_lines(image.truth).empty:
                cases.append((spec.name, image.stem, image.path, image.truth))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resunet-lite")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--split", choices=("train", "val"), default="train")
    parser.add_argument("--threshold", type=float, nargs="+", default=[None])
    parser.add_argument("--hysteresis", type=float, nargs="+", default=[0.6])
    parser.add_argument("--gap-m", type=float, nargs="+", default=[15.0])
    parser.add_argument(
        "--overlap", type=int, default=None, help="tile overlap (default: roadseg run's)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the table as JSON")
    args = parser.parse_args()

    _, meta = load(args.model)
    cases = spacenet_scenes(
        args.data.resolve(), args.split, meta.gsd_m, meta.in_channels, meta.normalization
    )
    options = InferenceOptions(model=args.model)
    if args.overlap is not None:
        options = dataclasses.replace(options, overlap=args.overlap)
    grid = list(itertools.product(args.threshold, args.hysteresis, args.gap_m))
    scores: dict[tuple, dict[str, list[float]]] = {g: {} for g in grid}
    with tempfile.TemporaryDirectory(prefix="roadseg-sweep-") as tmp:
        for city, stem, scene, truth in cases:
            prediction = predict_scene(scene, Path(tmp) / f"{stem}.tif", options)
            for threshold, hysteresis, gap in grid:
                out = Path(tmp) / f"{stem}.gpkg"
                vectorize(
                    prediction,
                    out,
                    options=VectorOptions(hysteresis=hysteresis, gap_m=gap),
                    threshold=threshold,
                    overwrite=True,
                )
                apls = evaluate_vector_files(out, truth)["apls"]
                scores[(threshold, hysteresis, gap)].setdefault(city, []).append(apls)
    table = []
    for (threshold, hysteresis, gap), per_city in scores.items():
        means = {c: float(np.mean(v)) for c, v in per_city.items()}
        row = {
            "threshold": threshold if threshold is not None else meta.threshold,
            "hysteresis": hysteresis,
            "gap_m": gap,
            "apls": {c: round(m, 4) for c, m in means.items()},
            "mean_apls": round(float(np.mean(list(means.values()))), 4),
        }
        table.append(row)
        print(
            f"threshold {row['threshold']:.3f} hysteresis {hysteresis:.2f} gap {gap:>4.0f} m: "
            + ", ".join(f"{c} {m:.3f}" for c, m in row["apls"].items())
            + f"  mean {row['mean_apls']:.3f}"
        )
    print(f"{len(cases)} {args.split} scenes: " + ", ".join(f"{c}/{s}" for c, s, _, _ in cases))
    if args.out:
        args.out.write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
