"""A model on the held-out split of the CPU default's recipe, as users see it.

For every source of ``scripts/recipes/cpu-default.sources``:

* the held-out images (``val=``) are predicted exactly as ``roadseg run`` does and
  scored by relaxed breakeven (3 px slack), per dataset;
* the held-out SpaceNet scenes are run end to end (``roadseg run`` to a GeoPackage)
  and scored by APLS against their road lines, per city; a chip without roads
  (Shanghai img1890) reports the length of road the model invents there.

Usage:
    python benchmarks/heldout_eval.py --model resunet-lite [--data ../shared/data]
        [--out results.json] [--pictures DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from roadseg.data import load_source, parse_source_spec
from roadseg.evaluation.endtoend import SceneCase, score_scenes
from roadseg.evaluation.runner import evaluate_images, summarise
from roadseg.models import load

RECIPE = Path(__file__).resolve().parents[1] / "scripts" / "recipes" / "cpu-default.sources"


def recipe_sources(data: Path) -> list:
    lines = [ln.strip() for ln in RECIPE.read_text().splitlines()]
    return [
        parse_source_spec(ln.replace("{data}", str(data)))
        for ln in lines
        if ln and not ln.startswith("#")
    ]


def evaluate(model: str, data: Path, pictures: Path | None) -> dict:
    net, meta = load(model)
    images, cases = [], []
    for spec in recipe_sources(data):
        if not spec.val:
            continue
        _, held_out = load_source(
            spec, meta.gsd_m, meta.in_channels, meta.normalization, validation_only=True
        )
        images.extend(held_out)
        if spec.kind == "scenes":
            cases.extend(SceneCase.of(i) for i in held_out)
    started = time.perf_counter()
    _, pixel = summarise(evaluate_images(net, images), meta.threshold)
    end_to_end = score_scenes(model, cases, keep_dir=pictures, previews=pictures is not None)
    return {
        "model": meta.name or model,
        "threshold": meta.threshold,
        "relaxed_breakeven": {
            k: round(v["relaxed_breakeven"], 4) for k, v in pixel["per_dataset"].items()
        },
        "apls": {k: round(v, 4) for k, v in end_to_end["groups"].items()},
        "mean_apls": end_to_end["mean_apls"],
        "scenes": end_to_end["scenes"],
        "seconds": round(time.perf_counter() - started, 1),
    }


def small_jpegs(folder: Path, side: int = 640) -> list[Path]:
    """A ``side``-pixel JPEG beside every preview PNG, for the model card."""
    from PIL import Image

    out = []
    for png in sorted(folder.glob("*.png")):
        with Image.open(png) as image:
            image = image.convert("RGB")
            image.thumbnail((side, side))
            target = png.with_suffix(".jpg")
            image.save(target, quality=82)
            out.append(target)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resunet-lite")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    parser.add_argument("--pictures", type=Path, default=None, help="keep GeoPackages and PNGs")
    args = parser.parse_args()
    result = evaluate(args.model, args.data.resolve(), args.pictures)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    if args.pictures:
        small_jpegs(args.pictures)
    print(f"model {result['model']} (threshold {result['threshold']:.3f})")
    print(
        "relaxed breakeven: "
        + ", ".join(f"{k} {v:.3f}" for k, v in result["relaxed_breakeven"].items())
    )
    print("APLS: " + ", ".join(f"{k} {v:.3f}" for k, v in result["apls"].items()))
    spacenet = [v for k, v in result["apls"].items() if k in ("vegas", "paris", "shanghai")]
    if spacenet:
        print(f"SpaceNet mean APLS (vegas, paris, shanghai): {sum(spacenet) / len(spacenet):.3f}")
    for stem, scene in result["scenes"].items():
        apls = "-" if scene["apls"] is None else f"{scene['apls']:.3f}"
        print(
            f"  {scene['group']:<10} {stem:<16} APLS {apls:>6}  road {scene['pred_length_m']:.0f} m"
        )


if __name__ == "__main__":
    main()
