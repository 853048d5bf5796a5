"""Is it data or capacity? Relaxed breakeven of models trained on nested subsets of
the Massachusetts training tiles, on the tiles they saw and on tiles none of them saw.

Each model is given with the recipe it was trained from (``scripts/recipes/
mass-scaling-*.sources``: one Massachusetts source, the 8 held-out tiles as ``val=``,
the tiles it did not train on as ``exclude=``). Every model is scored, each image
predicted as ``roadseg run`` predicts it, on

* ``own training tiles``: what it was fitted to (the fit),
* ``held out``: the recipe's 8 held-out tiles, the same for every model,
* ``unseen by all but the largest``: the held-out tiles plus every tile that all the
  smaller models left out, for each model but the largest (more tiles, a steadier
  figure).

A gap between the first and the other two that shrinks as tiles are added, with the
held-out figure rising, says data is what is missing; a fit that stays as low as the
held-out figure says capacity (or steps) is.

Usage:
    python benchmarks/data_scaling.py --data ../shared/data --out scaling.json \\
        --run runs/mass-scaling-quarter/best.safetensors scripts/recipes/mass-scaling-quarter.sources \\
        --run runs/mass-scaling-half/best.safetensors scripts/recipes/mass-scaling-half.sources \\
        --run runs/mass-scaling-all/best.safetensors scripts/recipes/mass-scaling-all.sources
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch

from roadseg.data import SourceSpec, find_pairs, load_source_for_model, read_recipe
from roadseg.evaluation.scoring import evaluate_images, summarise
from roadseg.models import ModelMetadata, SegmentationModel, load


def recipe_spec(recipe: Path, data: Path) -> SourceSpec:
    """The one source of a scaling recipe."""
    specs = read_recipe(recipe, data)
    if len(specs) != 1:
        raise SystemExit(f"{recipe}: expected one source line, found {len(specs)}")
    return specs[0]


def all_stems(spec: SourceSpec) -> list[str]:
    """Every tile stem of the source: training, held out and excluded."""
    return sorted(stem for stem, _, _ in find_pairs(spec.path))


def breakeven(
    net: SegmentationModel, meta: ModelMetadata, spec: SourceSpec, stems: list[str]
) -> float:
    """Relaxed breakeven (3 px) of a model on the given tiles of a source, pooled."""
    subset = replace(spec, val=tuple(stems), exclude=())
    _, val = load_source_for_model(subset, meta, validation_only=True)
    _, metrics = summarise(evaluate_images(net, val, torch.device("cpu"), None), meta.threshold)
    return float(metrics["per_dataset"][spec.name]["relaxed_breakeven"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument(
        "--run", nargs=2, action="append", required=True, metavar=("MODEL", "RECIPE")
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON of the figures")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    runs = [(model, recipe_spec(Path(recipe), args.data)) for model, recipe in args.run]
    stems = all_stems(runs[0][1])
    held = sorted(runs[0][1].val)
    trained = {model: sorted(set(stems) - set(spec.exclude) - set(held)) for model, spec in runs}
    largest = max(trained, key=lambda m: len(trained[m]))
    unseen = sorted(set(stems) - set().union(*(trained[m] for m in trained if m != largest)))

    rows = []
    for model, spec in runs:
        net, meta = load(model, torch.device("cpu"))
        row = {
            "model": model,
            "training_tiles": len(trained[model]),
            "own_training_tiles": breakeven(net, meta, spec, trained[model]),
            "held_out": breakeven(net, meta, spec, held),
        }
        if model != largest:
            row["unseen_by_all_but_largest"] = breakeven(net, meta, spec, unseen)
        rows.append(row)
        print(json.dumps(row), flush=True)
    args.out.write_text(
        json.dumps({"held_out": held, "unseen_by_all_but_largest": unseen, "runs": rows}, indent=1)
    )
    print(f"| training tiles | fit (own tiles) | held out ({len(held)}) | unseen ({len(unseen)}) |")
    print("| ---: | ---: | ---: | ---: |")
    for r in rows:
        u = r.get("unseen_by_all_but_largest")
        print(
            f"| {r['training_tiles']} | {r['own_training_tiles']:.3f} | {r['held_out']:.3f} | "
            f"{'-' if u is None else f'{u:.3f}'} |"
        )


if __name__ == "__main__":
    main()
