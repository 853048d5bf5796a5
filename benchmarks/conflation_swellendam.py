"""Roads missing from OpenStreetMap on the Swellendam aerial: figures, the cost of the
comparison, the tolerance's effect, and a picture.

Runs ``roadseg run`` on the scene with and without ``--reference`` (its
``training_data.gpkg`` ``roads`` layer is OpenStreetMap), alternately, and reports the
wall time of each and their ratio; the comparison's own time (reading the reference
within the footprint, matching, writing the layer) is timed apart. Then the two
figures for a range of tolerances, and a picture of the missing roads over the scene.

Usage:
    python benchmarks/conflation_swellendam.py [--data ../shared/data] [--rounds 2]
        [--picture docs/images/conflate-swellendam.jpg] [--model NAME]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import rasterio
from rasterio.enums import Resampling

from roadseg.inference import InferenceOptions
from roadseg.pipeline import run_scene
from roadseg.vector.conflate import ConflateOptions
from roadseg.vector.footprint import valid_footprint
from roadseg.vector.missing import compare_with_reference, write_missing_layer
from roadseg.vector.reference import ReferenceSpec, read_reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=root.parent / "shared" / "data")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", default=None)
    parser.add_argument("--picture", type=Path, default=None)
    args = parser.parse_args()
    folder = args.data / "swellendam"
    scene = folder / "3420B_2010_328_RGB_LATLNG.tif"
    reference = ReferenceSpec(folder / "training_data.gpkg", layer="roads")
    inference = InferenceOptions(model=args.model)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        run_scene(scene, out / "warm.gpkg", inference=inference, overwrite=True)  # caches
        plain, compared = [], []
        for _ in range(args.rounds):
            for times, ref in ((plain, None), (compared, reference)):
                start = time.perf_counter()
                result = run_scene(
                    scene,
                    out / "roads.gpkg",
                    prob_out=out / "probs.tif",
                    inference=inference,
                    reference=ref,
                    overwrite=True,
                )
                times.append(time.perf_counter() - start)
        missing = result.vectors.missing
        roads = gpd.read_file(out / "roads.gpkg", layer="roads")
        footprint = valid_footprint(out / "probs.tif")
        start = time.perf_counter()
        found = compare_with_reference(roads, reference, footprint, ConflateOptions())
        write_missing_layer(out / "roads.gpkg", found, reference, ConflateOptions(), None)
        alone = time.perf_counter() - start
        print(f"run without --reference: {statistics.median(plain):.2f} s {plain}")
        print(f"run with --reference:    {statistics.median(compared):.2f} s {compared}")
        print(
            f"ratio with/without: {statistics.median(compared) / statistics.median(plain):.3f}; "
            f"the comparison alone: {alone:.2f} s "
            f"({alone / statistics.median(plain):.1%} of a run)"
        )
        osm = read_reference(reference, footprint, roads.crs)
        print(
            f"\ndetected: {len(roads)} roads, {roads.length_m.sum() / 1000:.2f} km; "
            f"OpenStreetMap in the scene: {len(osm)} lines; missing from it: "
            f"{missing.n_missing} roads, {missing.missing_length_m / 1000:.2f} km; "
            f"recall against the map {missing.map_recall:.3f}, precision against the map "
            f"{missing.map_precision:.3f}"
        )
        print("\ntolerance  missing km  map recall  map precision")
        for tol in (4, 6, 8, 10, 12, 15, 20):
            f = compare_with_reference(
                roads, reference, footprint, ConflateOptions(tolerance_m=tol)
            )
            print(
                f"{tol:9d} {f.missing_length_m / 1000:11.2f} {f.map_recall:11.3f} "
                f"{f.map_precision:14.3f}"
            )
        if args.picture is not None:
            picture(scene, roads, osm, found.missing, args.picture)


def picture(scene: Path, roads, osm, missing, path: Path) -> None:
    """The scene (decimated), OpenStreetMap in cyan, detections in orange, missing ones
    in magenta."""
    with rasterio.open(scene) as src:
        scale = max(src.width, src.height) / 1600
        shape = (int(src.height / scale), int(src.width / scale))
        image = src.read((1, 2, 3), out_shape=(3, *shape), resampling=Resampling.average)
        extent = (src.bounds.left, src.bounds.right, src.bounds.bottom, src.bounds.top)
    fig, ax = plt.subplots(figsize=(6, 6 * shape[0] / shape[1]), dpi=200)
    ax.imshow(np.moveaxis(image, 0, -1), extent=extent)
    osm.plot(ax=ax, color="#00e5ff", linewidth=1.2, label="OpenStreetMap")
    roads.plot(ax=ax, color="#ff8c00", linewidth=0.8, label="detected")
    missing.plot(ax=ax, color="#e6007e", linewidth=2.0, label="missing from OpenStreetMap")
    ax.set_axis_off()
    ax.legend(loc="lower left", fontsize=6, framealpha=0.8)
    fig.tight_layout(pad=0)
    fig.savefig(path, pil_kwargs={"quality": 85})
    print(f"picture: {path}")


if __name__ == "__main__":
    main()
