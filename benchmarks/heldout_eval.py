"""A model on the held-out split of the CPU default's recipe, as users see it.

For every source of ``scripts/recipes/cpu-default.sources``:

* the held-out images (``val=``) are predicted exactly as ``roadseg run`` does and
  scored by relaxed breakeven (3 m of slack: 3 px at 1 m, 6 at 0.5 m), per dataset;
* the held-out SpaceNet scenes are run end to end (``roadseg run`` to a GeoPackage)
  and scored by APLS against their road lines, per city; a chip without roads
  (Shanghai img1890) reports the length of road the model invents there;
* the *twins* of the held-out SpaceNet chips are run end to end too, as a check that
  no checkpoint was selected on them: the same ground in the panchromatic band (*PAN
  twins*, the recipe's ``exclude=``) and in the 1.2 m multispectral product, red,
  green and blue of its 8 bands (*MUL twins*, ``MUL/`` beside ``RGB-PanSharpen/``).
  Neither is ever trained on nor used to choose a checkpoint.

Usage:
    python benchmarks/heldout_eval.py --model resunet-lite [--data ../shared/data]
        [--out results.json] [--pictures DIR] [--tta]
    python benchmarks/heldout_eval.py --compare before.json after.json [--labels A B]

``--compare`` prints the before/after tables of the model card (Markdown) from
``--out`` files, the best figure of each row in bold. Files given the same label
(checkpoints or seeds of one model) make one column: their mean and range.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from roadseg.data import SourceSpec, load_source_for_model, read_recipe
from roadseg.evaluation.endtoend import SceneCase, score_scenes
from roadseg.evaluation.scoring import evaluate_images, summarise
from roadseg.models import load

RECIPE = Path(__file__).resolve().parents[1] / "scripts" / "recipes" / "cpu-default.sources"


#: WorldView-3's 8 multispectral bands: coastal, blue, green, yellow, red, red edge, NIR1,
#: NIR2; red, green and blue in the model's order.
MUL_RGB = (5, 3, 2)
TWINS = ("pan_twins", "mul_twins")
TWIN_LABELS = {"pan_twins": "PAN twins", "mul_twins": "MUL twins"}


def twin_sources(spec: SourceSpec) -> dict[str, SourceSpec]:
    """The twin sources of a recipe line: its held-out chips in another product."""
    twins = {}
    if spec.kind == "scenes" and spec.exclude and not spec.val:
        twins["pan_twins"] = replace(
            spec, val=spec.exclude, exclude=(), name=f"{spec.name.removesuffix('-train')}-twins"
        )
    mul = spec.path.parent / "MUL"
    if spec.kind == "scenes" and spec.val and spec.path.name == "RGB-PanSharpen" and mul.is_dir():
        twins["mul_twins"] = replace(spec, path=mul, bands=MUL_RGB, name=f"{spec.name}-mul")
    return twins


def evaluate(model: str, data: Path, pictures: Path | None, tta: bool = False) -> dict:
    net, meta = load(model)
    images, cases = [], []
    twins: dict[str, list[SceneCase]] = {key: [] for key in TWINS}

    def held_out(spec: SourceSpec) -> list:
        """The source's held-out images, on the grids ``roadseg run`` works them on."""
        return load_source_for_model(spec, meta, validation_only=True)[1]

    for spec in read_recipe(RECIPE, data):
        for key, twin in twin_sources(spec).items():
            twins[key].extend(SceneCase.of(i) for i in held_out(twin))
        if not spec.val:
            continue
        images.extend(held_out(spec))
        if spec.kind == "scenes":
            cases.extend(SceneCase.of(i) for i in images if i.dataset == spec.name)
    started = time.perf_counter()
    # 3 m of slack on the ground, at each image's working resolution.
    _, pixel = summarise(evaluate_images(net, images, slack=None, tta=tta), meta.threshold)
    end_to_end = score_scenes(
        model, cases, keep_dir=pictures, previews=pictures is not None, tta=tta
    )
    twin_results = {key: score_scenes(model, c, tta=tta) if c else None for key, c in twins.items()}
    return {
        "model": meta.name or model,
        "threshold": meta.threshold,
        "tta": tta,
        "gsd_m": meta.gsd_m,
        "max_gsd_m": meta.max_gsd_m,
        "relaxed_breakeven": {
            k: round(v["relaxed_breakeven"], 4) for k, v in pixel["per_dataset"].items()
        },
        "apls": {k: round(v, 4) for k, v in end_to_end["groups"].items()},
        "mean_apls": end_to_end["mean_apls"],
        "scenes": end_to_end["scenes"],
        **{
            key: None
            if twin is None
            else {
                "apls": {k: round(v, 4) for k, v in twin["groups"].items()},
                "mean_apls": twin["mean_apls"],
                "scenes": twin["scenes"],
            }
            for key, twin in twin_results.items()
        },
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


SPACENET = ("vegas", "paris", "shanghai")


def _columns(labels: list[str]) -> dict[str, list[int]]:
    """The results of each column: results given the same label are one column."""
    columns: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        columns.setdefault(label, []).append(index)
    return columns


def _cell(values: list[float]) -> tuple[float | None, str]:
    """A column's figure: one value, or the mean of several and their range."""
    if not values:
        return None, "-"
    mean = round(sum(values) / len(values), 3)
    if len(values) == 1:
        return mean, f"{mean:.3f}"
    return mean, f"{mean:.3f} ({min(values):.3f}-{max(values):.3f})"


def _row(label: str, values: list[float | None], columns: dict[str, list[int]]) -> str:
    cells = [
        _cell([values[i] for i in index if values[i] is not None]) for index in columns.values()
    ]
    known = [mean for mean, _ in cells if mean is not None]
    best = max(known) if len(set(known)) > 1 else None
    texts = [f"**{text}**" if mean is not None and mean == best else text for mean, text in cells]
    return f"| {label} | " + " | ".join(texts) + " |"


def compare_tables(results: list[dict], labels: list[str]) -> str:
    """The breakeven and APLS tables of several ``evaluate`` results, in Markdown.

    Results with the same label (checkpoints or seeds of one model) share a column: its
    figure is their mean, with their range beside it, the spread a difference between
    columns has to exceed. The best mean of each row is in bold.
    """
    columns = _columns(labels)
    head = "| held-out set | " + " | ".join(columns) + " |"
    rule = "| --- |" + " ---: |" * len(columns)
    lines = [head, rule]
    for key in results[0]["relaxed_breakeven"]:
        lines.append(_row(key, [r["relaxed_breakeven"].get(key) for r in results], columns))
    lines += ["", head.replace("held-out set", "APLS of `roadseg run`"), rule]
    for stem, scene in results[0]["scenes"].items():
        if scene["apls"] is not None:
            values = [r["scenes"][stem]["apls"] for r in results]
            lines.append(_row(f"{scene['group']} {stem}", values, columns))
    for key in results[0]["apls"]:
        lines.append(_row(f"**{key}** (mean)", [r["apls"].get(key) for r in results], columns))
    means = [sum(r["apls"][c] for c in SPACENET) / len(SPACENET) for r in results]
    lines.append(_row("**SpaceNet mean of the three cities**", means, columns))
    for twins in TWINS:
        if not all(r.get(twins) for r in results):
            continue
        label = TWIN_LABELS[twins]
        for key in results[0][twins]["apls"]:
            values = [r[twins]["apls"].get(key) for r in results]
            lines.append(_row(f"{key} ({label}, never selected on)", values, columns))
        values = [r[twins]["mean_apls"] for r in results]
        lines.append(_row(f"**{label} mean**", values, columns))
    for stem, scene in results[0]["scenes"].items():
        if scene["apls"] is None:
            lengths = [round(r["scenes"][stem]["pred_length_m"]) for r in results]
            cells = []
            for index in columns.values():
                low, high = min(lengths[i] for i in index), max(lengths[i] for i in index)
                cells.append(f"{low} m" if low == high else f"{low}-{high} m")
            lines.append(
                f"| {scene['group']} {stem} (no roads): road invented | {' | '.join(cells)} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resunet-lite")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    parser.add_argument("--pictures", type=Path, default=None, help="keep GeoPackages and PNGs")
    parser.add_argument("--tta", action="store_true", help="predict as roadseg run --tta")
    parser.add_argument("--compare", type=Path, nargs="+", help="print tables of --out files")
    parser.add_argument(
        "--labels", nargs="+", help="column names for --compare (repeat one to pool files)"
    )
    args = parser.parse_args()
    if args.compare:
        results = [json.loads(p.read_text()) for p in args.compare]
        print(compare_tables(results, args.labels or [p.stem for p in args.compare]))
        return
    result = evaluate(args.model, args.data.resolve(), args.pictures, args.tta)
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
    spacenet = [v for k, v in result["apls"].items() if k in SPACENET]
    if spacenet:
        print(f"SpaceNet mean APLS (vegas, paris, shanghai): {sum(spacenet) / len(spacenet):.3f}")
    for stem, scene in result["scenes"].items():
        apls = "-" if scene["apls"] is None else f"{scene['apls']:.3f}"
        print(
            f"  {scene['group']:<10} {stem:<16} APLS {apls:>6}  road {scene['pred_length_m']:.0f} m"
        )
    for key in TWINS:
        if twins := result.get(key):
            print(
                f"{TWIN_LABELS[key]} APLS (never selected on): "
                + ", ".join(f"{k} {v:.3f}" for k, v in twins["apls"].items())
                + f"; mean {twins['mean_apls']:.3f}"
            )


if __name__ == "__main__":
    main()
