"""Road widths measured by ``roadseg run`` against SpaceNet's ``lane_number``.

For every SpaceNet chip with road labels in ``../shared/data`` (Las Vegas, Paris and
Shanghai pan-sharpened RGB), the roads are extracted with the shipped model and each
detected road is matched to the labelled centreline it follows (within 6 m, within 30
degrees, over most of its length, by the conflation's own matching). The widths of the
matched roads are grouped by the label's ``lane_number``: wider roads should measure
wider. Reported: count, median and quartiles of width per lane count, and Spearman's
rank correlation between lane count and width.

Usage:
    python benchmarks/road_width_lanes.py [--data ../shared/data] [--model NAME]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from roadseg.inference import InferenceOptions
from roadseg.pipeline import run_scene
from roadseg.vector.conflate import ConflateOptions, covered, metric_crs, segments_of


def chips(data: Path) -> list[tuple[str, Path, Path]]:
    out = []
    for city in ("vegas", "paris", "shanghai"):
        root = data / "spacenet" / city
        for image in sorted((root / "RGB-PanSharpen").glob("*.tif")):
            stem = image.stem.split("_")[-1]
            truth = next(iter((root / "geojson").glob(f"*_{stem}.geojson")), None)
            if truth is not None and truth.stat().st_size > 0:
                out.append((f"{city}/{stem}", image, truth))
    return out


def matched_widths(roads: gpd.GeoDataFrame, truth: gpd.GeoDataFrame) -> list[tuple[int, float]]:
    """(lane_number, width_m) of each detected road that follows one labelled road."""
    if roads.empty or truth.empty:
        return []
    local = metric_crs(gpd.GeoSeries(roads.geometry).union_all().envelope, roads.crs)
    options = ConflateOptions(tolerance_m=6.0, max_angle_deg=30.0)
    found = []
    det = roads.to_crs(local)
    ref = truth.to_crs(local)
    for _, road in det.iterrows():
        if not np.isfinite(road.width_m):
            continue
        pieces = segments_of(np.array([road.geometry], dtype=object), options.step_m)
        best = None
        for _, label in ref.iterrows():
            one = segments_of(np.array([label.geometry], dtype=object), options.step_m)
            share = covered(pieces, one, options).mean() if len(pieces.line) else 0.0
            if share >= 0.6 and (best is None or share > best[0]):
                best = (share, label.lane_number)
        if best is not None:
            found.append((int(best[1]), float(road.width_m)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=root.parent / "shared" / "data")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, image, truth_path in chips(args.data):
            out = Path(tmp) / "roads.gpkg"
            run_scene(image, out, inference=InferenceOptions(model=args.model), overwrite=True)
            roads = gpd.read_file(out, layer="roads")
            truth = gpd.read_file(truth_path)
            truth = truth[truth.geometry.notna()].explode(index_parts=False, ignore_index=True)
            truth["lane_number"] = pd.to_numeric(truth["lane_number"], errors="coerce")
            truth = truth[truth.lane_number.notna()]
            for lanes, width in matched_widths(roads, truth):
                rows.append((name.split("/")[0], lanes, width))
    table = pd.DataFrame(rows, columns=["city", "lanes", "width_m"])
    print(f"{len(table)} detected roads matched to a labelled road\n")
    print("lanes  roads  median width  quartiles")
    for lanes, group in table.groupby("lanes"):
        q1, q2, q3 = np.percentile(group.width_m, [25, 50, 75])
        print(f"{lanes:5d} {len(group):6d} {q2:13.1f}  {q1:.1f}-{q3:.1f} m")
    rho, p = spearmanr(table.lanes, table.width_m)
    print(f"\nSpearman rank correlation of lanes and width: {rho:.3f} (p = {p:.2g})")
    for city, group in table.groupby("city"):
        r, _ = spearmanr(group.lanes, group.width_m)
        print(f"  {city}: {len(group)} roads, rho {r:.3f}")


if __name__ == "__main__":
    main()
