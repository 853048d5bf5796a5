"""APLS of vectorize on 'perfect' probabilities: ground-truth roads burnt on real chips.

For each georeferenced SpaceNet chip in ../shared/data (Shanghai PAN chips and the Las
Vegas PAN chip, EPSG:4326, about 0.3 m), the ground-truth centrelines are buffered by
a few metres and burnt on the chip's grid as a probability raster (1 on the road, 0
elsewhere, the format 'roadseg run' writes). ``roadseg.vector.vectorize`` turns it back
into lines and APLS compares them with the ground truth. This isolates the vector stage:
any loss here is the vectoriser's, not the model's.

Usage:
    python benchmarks/apls_perfect_mask.py [--half-width 3] [--data ../shared/data]
        [--option spur_length_m=10 ...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import compat
import rasterio

from roadseg.evaluation.apls import evaluate_vector_files, read_lines
from roadseg.raster.probability import TAG_THRESHOLD, encode_probability
from roadseg.raster.rasterize import rasterize_roads


def chips(data: Path) -> list[tuple[str, Path, Path]]:
    """(name, grid raster, ground-truth GeoJSON) for every chip with road labels."""
    out = []
    sh = data / "spacenet" / "shanghai"
    for img in sorted((sh / "PAN").glob("PAN_*.tif")):
        stem = img.stem.removeprefix("PAN_")
        out.append((stem, img, sh / "geojson" / f"spacenetroads_{stem}.geojson"))
    vegas = data / "spacenet" / "vegas_pan"
    out.append(
        ("vegas_pan", vegas / "road_mask_input.tif", vegas / "sample_roads_for_masking.geojson")
    )
    return out


def perfect_probability(
    grid: Path, truth: Path, out: Path, half_width_m: float, keep_nodata: bool = False
) -> int:
    """Write the burnt ground truth as a probability raster; returns road pixels.

    With ``keep_nodata`` the image's no-data pixels are no-data in the probabilities
    too, as they would be in the output of 'roadseg run'.
    """
    lines = read_lines(truth)
    with rasterio.open(grid) as src:
        profile = dict(
            driver="GTiff",
            width=src.width,
            height=src.height,
            count=1,
            dtype="uint8",
            crs=src.crs,
            transform=src.transform,
            nodata=255,
            tiled=True,
            blockxsize=256,
            blockysize=256,
            compress="deflate",
        )
        shape = (src.height, src.width)
        mask = rasterize_roads(lines, src.crs, src.transform, shape, half_width_m) > 0
        valid = src.read_masks(1) > 0 if keep_nodata else None
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(encode_probability(mask.astype("float32"), valid), 1)
        dst.update_tags(**{TAG_THRESHOLD: "0.5"})
    return int(mask.sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    ap.add_argument("--half-width", type=float, default=3.0, help="road half width burnt (m)")
    ap.add_argument(
        "--keep-nodata",
        action="store_true",
        help="carry the image's no-data into the probabilities (as 'roadseg run' does)",
    )
    ap.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a vectorize tuning option, e.g. spur_length_m=10",
    )
    args = ap.parse_args()
    options = {k: float(v) for k, v in (o.split("=", 1) for o in args.option)}
    print(
        f"half width {args.half_width} m, options {options or 'defaults'}"
        + (", image no-data kept" if args.keep_nodata else "")
    )
    print(
        f"{'chip':<26} {'APLS':>6} {'gt>prop':>7} {'prop>gt':>7} {'truth m':>8} {'pred m':>8} {'edges t/p':>9} {'s':>5}"
    )
    scores = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, grid, truth in chips(args.data):
            prob = Path(tmp) / f"{name}.tif"
            perfect_probability(grid, truth, prob, args.half_width, args.keep_nodata)
            t0 = time.perf_counter()
            res = compat.vectorize(prob, Path(tmp) / f"{name}.gpkg", **options)
            dt = time.perf_counter() - t0
            m = evaluate_vector_files(res.path, truth)
            scores.append(m["apls"])
            print(
                f"{name:<26} {m['apls']:6.3f} {m['apls_gt_to_prop']:7.3f} {m['apls_prop_to_gt']:7.3f} "
                f"{m['truth_length_m']:8.0f} {m['pred_length_m']:8.0f} "
                f"{int(m['n_truth_edges']):>4}/{int(m['n_pred_edges']):<4} {dt:5.2f}"
            )
    print(f"{'mean':<26} {sum(scores) / len(scores):6.3f}")


if __name__ == "__main__":
    main()
