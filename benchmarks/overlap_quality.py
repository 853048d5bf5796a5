"""What the tile overlap costs and buys: probabilities and scores against a wide overlap.

Every held-out image of the CPU default's recipe is predicted through the run
pipeline's tiles and blend (``predict_grid``) with each overlap asked for and with a
reference overlap wide enough that no tile border reaches a kept pixel's receptive
field's worth of context. The network is not shift-invariant (its pooling grid has
the phase of the tile origin), so each overlap is compared with the widest reference
whose tiles start at the same phase: the difference is then the seams alone.
Reported per overlap: the mean and 99.9th-percentile
absolute difference of the probabilities from the reference, the share of pixels
whose road / no-road decision at the model's threshold differs, the relaxed
breakeven per dataset, and the tiled pixels per scene pixel (the inference cost) at
the default tile size on a 4096² scene.

Usage:
    python benchmarks/overlap_quality.py --model resunet-lite --overlaps 16 24 32 \
        [--reference-span 128] [--out overlap.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from heldout_eval import RECIPE

from roadseg.data import load_source_for_model, read_recipe
from roadseg.evaluation.pixel import PixelAccumulator
from roadseg.inference.defaults import DEFAULT_BLOCK_SIZE, DEFAULT_TILE_SIZE
from roadseg.inference.grid_predict import predict_grid
from roadseg.inference.layout import Layout, split_overlap
from roadseg.inference.predictor import run_model
from roadseg.models import load


def tiled_pixels_ratio(size: int, overlap: int, align: int) -> float:
    """Pixels the model sees per scene pixel for a ``size``² scene with default tiles."""
    layout = Layout.create(
        size,
        size,
        tile_size=DEFAULT_TILE_SIZE,
        overlap=overlap,
        block_size=DEFAULT_BLOCK_SIZE,
        align=align,
    )
    seen = sum(w.width * w.height for b in layout.blocks() for w in layout.tile_windows(b))
    return seen / size**2


def same_phase_reference(overlap: int, span: int, align: int) -> int:
    """The smallest overlap at least ``span`` wider than ``overlap`` whose tiles start
    at the same phase of the ``align`` grid (first origin ``margin + ramp`` before the
    scene, stride a multiple of ``align``)."""

    def phase(o: int) -> int:
        return (o - split_overlap(o)[0]) % align

    o = overlap + span
    while o % align != overlap % align or phase(o) != phase(overlap):
        o += 1
    return o


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resunet-lite")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--overlaps", type=int, nargs="+", default=[16, 24, 32])
    parser.add_argument("--reference-span", type=int, default=128)
    parser.add_argument("--out", type=Path, default=None, help="write the table as JSON")
    args = parser.parse_args()

    net, meta = load(args.model)
    net.eval()
    images = []
    for spec in read_recipe(RECIPE, args.data.resolve()):
        if spec.val:
            images += load_source_for_model(spec, meta, validation_only=True)[1]
    device = torch.device("cpu")

    def predict(tiles: np.ndarray) -> np.ndarray:
        return run_model(net, device, tiles, batch_size=1)

    overlaps = sorted(set(args.overlaps))
    stride = net.output_stride
    references = {o: same_phase_reference(o, args.reference_span, stride) for o in overlaps}
    accumulators: dict[int, dict[str, PixelAccumulator]] = {o: {} for o in overlaps}
    diffs: dict[int, list[np.ndarray]] = {o: [] for o in overlaps}
    flips = {o: [0, 0] for o in overlaps}
    for image in images:
        for overlap in overlaps:
            prob, valid = predict_grid(image.scene, predict, overlap=overlap, align=stride)
            reference, _ = predict_grid(
                image.scene, predict, overlap=references[overlap], align=stride
            )
            diffs[overlap].append(np.abs(prob - reference)[valid])
            changed = (prob[valid] >= meta.threshold) != (reference[valid] >= meta.threshold)
            flips[overlap][0] += int(changed.sum())
            flips[overlap][1] += int(valid.sum())
            acc = accumulators[overlap].setdefault(image.dataset, PixelAccumulator(slack=3))
            acc.update(prob, image.label, valid)
    table = []
    for overlap in overlaps:
        breakeven = {k: round(a.breakeven(), 4) for k, a in sorted(accumulators[overlap].items())}
        row = {
            "overlap": overlap,
            "tiled_pixels_per_scene_pixel_4096": round(
                tiled_pixels_ratio(4096, overlap, net.output_stride), 4
            ),
            "relaxed_breakeven": breakeven,
            "mean_breakeven": round(float(np.mean(list(breakeven.values()))), 4),
        }
        delta = np.concatenate(diffs[overlap])
        row |= {
            "reference_overlap": references[overlap],
            "mean_abs_diff": float(delta.mean()),
            "p999_abs_diff": float(np.percentile(delta, 99.9)),
            "decisions_changed": flips[overlap][0] / max(1, flips[overlap][1]),
        }
        table.append(row)
        extra = (
            f"  vs {references[overlap]}: |dp| mean {row['mean_abs_diff']:.5f}"
            f" p99.9 {row['p999_abs_diff']:.4f}"
            f"  decisions changed {100 * row['decisions_changed']:.3f} %"
        )
        print(
            f"overlap {overlap:>3}: tiled px {row['tiled_pixels_per_scene_pixel_4096']:.3f}  "
            f"mean breakeven {row['mean_breakeven']:.4f}" + extra
        )
        print("    " + ", ".join(f"{k} {v:.4f}" for k, v in breakeven.items()))
    print(f"{len(images)} held-out images, threshold {meta.threshold:.3f}")
    if args.out:
        args.out.write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
