"""Where the defaults of ``roadseg conflate`` come from: how far apart and how differently
oriented two maps of the same roads are.

On the SpaceNet Las Vegas pairs in ``../shared/data/apls_pairs`` (SpaceNet's surveyed
centrelines and OpenStreetMap's lines of the same chips, no imagery), each SpaceNet
segment (4 m) is matched to the nearest OpenStreetMap segment; the distances and angle
differences of those that have one within 25 m give the tolerance and the angle. Then,
with the defaults, the share of SpaceNet's length that the comparison reports missing
from OpenStreetMap (the maps are nearly complete: it should be small), and the same for a
copy of SpaceNet with one road removed and for one shifted by half the tolerance.

Usage:
    python benchmarks/conflation_defaults.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from roadseg.vector.conflate import ConflateOptions, conflate, metric_crs, segments_of


def pairs(data: Path) -> list[tuple[str, Path, Path]]:
    root = data / "apls_pairs" / "AOI_2_Vegas"
    return [
        (p.stem, p, root / "osm" / p.name)
        for p in sorted((root / "spacenetroads").glob("*.geojson"))
    ]


def read(path: Path) -> gpd.GeoDataFrame:
    frame = gpd.read_file(path)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    return frame.explode(index_parts=False, ignore_index=True)


def offsets(truth: gpd.GeoDataFrame, osm: gpd.GeoDataFrame, local) -> tuple[np.ndarray, np.ndarray]:
    """Distance and angle difference from each truth segment to its nearest OSM segment."""
    a = segments_of(truth.geometry.to_crs(local).to_numpy(), 4.0)
    b = segments_of(osm.geometry.to_crs(local).to_numpy(), 4.0)
    if not len(a.line) or not len(b.line):
        return np.zeros(0), np.zeros(0)
    tree = shapely.STRtree(b.geometries())
    mids = shapely.points((a.start + a.end) / 2)
    (ia, ib), dist = tree.query_nearest(mids, max_distance=25.0, return_distance=True)
    diff = np.abs(a.angle[ia] - b.angle[ib])
    return dist, np.minimum(diff, 180 - diff)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    args = parser.parse_args()
    dists, angles = [], []
    options = ConflateOptions()
    rows = []
    cases = []
    for name, truth_path, osm_path in pairs(args.data):
        truth, osm = read(truth_path), read(osm_path)
        truth["id"] = np.arange(1, len(truth) + 1)
        footprint = (
            shapely.box(*np.r_[truth.total_bounds[:2], truth.total_bounds[2:]])
            .union(shapely.box(*osm.total_bounds))
            .envelope
        )
        local = metric_crs(footprint, truth.crs)
        d, a = offsets(truth, osm, local)
        dists.append(d)
        angles.append(a)
        cases.append((name, truth, osm.to_crs(truth.crs), footprint))
        found = conflate(truth, osm.to_crs(truth.crs), footprint, options)
        rows.append(
            (
                name,
                found.detected_length_m,
                found.missing_length_m,
                found.map_recall,
                found.map_precision,
            )
        )
    dist, angle = np.concatenate(dists), np.concatenate(angles)
    print(f"SpaceNet segments with an OSM segment within 25 m: {len(dist)}")
    for q in (50, 75, 90, 95, 99):
        print(
            f"  distance p{q}: {np.percentile(dist, q):5.1f} m   "
            f"angle p{q}: {np.percentile(angle, q):5.1f} deg"
        )
    aligned = dist[angle <= 30]
    print(f"of those running within 30 deg of it ({len(aligned)}):")
    for q in (50, 75, 90, 95, 99):
        print(f"  distance p{q}: {np.percentile(aligned, q):5.1f} m")
    print("\nshare of SpaceNet reported missing from OSM, by tolerance (rows) and angle (columns):")
    angles_tried = (10, 20, 30, 45)
    print("  tol m " + "".join(f"{a:>7d}" for a in angles_tried))
    for tol in (2, 4, 6, 8, 10, 12, 15, 20):
        shares = []
        for a in angles_tried:
            opts = ConflateOptions(tolerance_m=tol, max_angle_deg=a)
            total = missing = 0.0
            for _, truth, osm, footprint in cases:
                found = conflate(truth, osm, footprint, opts)
                total += found.detected_length_m
                missing += found.missing_length_m
            shares.append(missing / total)
        print(f"  {tol:5d} " + "".join(f"{v:7.1%}" for v in shares))
    print(f"\ndefaults: {options}")
    print(
        f"{'pair':<22} {'SpaceNet km':>11} {'missing m':>9} {'OSM covered':>11} {'SN covered':>10}"
    )
    for name, total, missing, recall, precision in rows:
        print(f"{name:<22} {total / 1000:11.2f} {missing:9.0f} {recall:11.3f} {precision:10.3f}")
    total = sum(r[1] for r in rows)
    missing = sum(r[2] for r in rows)
    print(
        f"{'all':<22} {total / 1000:11.2f} {missing:9.0f}  ({missing / total:.1%} of SpaceNet "
        "reported missing from OSM)"
    )


if __name__ == "__main__":
    main()
