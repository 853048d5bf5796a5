"""The shipped weights end to end on real georeferenced chips: APLS and pixel scores.

For every SpaceNet chip with road labels in ../shared/data (the five Shanghai
pan-sharpened RGB chips and the single-band Las Vegas PAN chip, all EPSG:4326 at about
0.3 m), ``roadseg.pipeline.run_scene`` runs with the default weights (read at the
model's 1 m), the road network is scored with APLS against the ground-truth centrelines,
and the probability raster with relaxed precision/recall (3 px slack, roads buffered
3.5 m). Only Shanghai img308 was held out of training; the other Shanghai chips were
trained on, and the Vegas chip (panchromatic) is a sensor the model never saw.

Usage:
    python benchmarks/apls_default_weights.py [--data ../shared/data] [--model NAME|PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from roadseg.evaluation.apls import evaluate_vector_files
from roadseg.evaluation.command import evaluate_probability_raster
from roadseg.inference import InferenceOptions
from roadseg.pipeline import run_scene

HELD_OUT = {"AOI_4_Shanghai_img308"}


def chips(data: Path) -> list[tuple[str, Path, Path]]:
    """(name, scene, ground-truth GeoJSON) for every labelled chip."""
    out = []
    sh = data / "spacenet" / "shanghai"
    for img in sorted((sh / "RGB-PanSharpen").glob("RGB-PanSharpen_*.tif")):
        stem = img.stem.removeprefix("RGB-PanSharpen_")
        out.append((stem, img, sh / "geojson" / f"spacenetroads_{stem}.geojson"))
    vegas = data / "spacenet" / "vegas_pan"
    out.append(
        ("vegas_pan", vegas / "road_mask_input.tif", vegas / "sample_roads_for_masking.geojson")
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    header = (
        f"{'chip':<24} {'split':<9} {'APLS':>6} {'gt>prop':>7} {'prop>gt':>7} "
        f"{'rel.P':>6} {'rel.R':>6} {'rel.F1':>6} {'truth km':>8} {'found km':>8} {'s':>5}"
    )
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for name, scene, truth in chips(args.data):
            t0 = time.perf_counter()
            out, probs = Path(tmp) / f"{name}.gpkg", Path(tmp) / f"{name}.tif"
            run_scene(
                scene,
                out,
                prob_out=probs,
                inference=InferenceOptions(model=args.model, device="cpu"),
            )
            seconds = time.perf_counter() - t0
            graph = evaluate_vector_files(out, truth)
            pixel = evaluate_probability_raster(probs, truth, slack=3)["all"]
            split = "held-out" if name in HELD_OUT else ("unseen" if "vegas" in name else "trained")
            print(
                f"{name:<24} {split:<9} {graph['apls']:6.3f} {graph['apls_gt_to_prop']:7.3f} "
                f"{graph['apls_prop_to_gt']:7.3f} {pixel['relaxed_precision']:6.3f} "
                f"{pixel['relaxed_recall']:6.3f} {pixel['relaxed_f1']:6.3f} "
                f"{graph['truth_length_m'] / 1000:8.2f} {graph['pred_length_m'] / 1000:8.2f} "
                f"{seconds:5.1f}"
            )


if __name__ == "__main__":
    main()
