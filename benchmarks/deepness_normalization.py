"""What Deepness's fixed standardisation costs against ``roadseg run``'s per-scene stretch.

Deepness (the QGIS plugin) feeds a model ``(x / 255 - mean) / std``, the same for every
scene, where roadseg stretches each scene between its own 2nd and 98th percentiles. On
the held-out 8-bit RGB images of the default recipe (``scripts/recipes/cpu-default.sources``:
Massachusetts, DeepGlobe, ETH, CIL, SpaceNet Vegas, Paris, Shanghai), this scores the
shipped model's relaxed breakeven both ways, for candidate fixed stretches chosen on
the *training* images only:

* ``identity``: mean 0, std 1 (the 8-bit values / 255 as they are);
* ``median``: per band, the medians of the training images' 2nd and 98th percentiles;
* ``mean``: the same with means.

Deepness's path is reproduced as it runs: no clipping, the whole image through the
network at once (Deepness tiles it; with a wide overlap the difference is small).

Usage:
    python benchmarks/deepness_normalization.py [--data ../shared/data] [--model NAME]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from roadseg.data import load_source_for_model, read_recipe
from roadseg.evaluation.pixel import PixelAccumulator
from roadseg.evaluation.scoring import predict_image
from roadseg.models import load

ROOT = Path(__file__).resolve().parents[1]


def fixed_probability(model, raw: np.ndarray, low, high) -> np.ndarray:
    """Deepness's input for the whole image, through the model (reflection padding)."""
    low = np.asarray(low, np.float32)[:, None, None]
    high = np.asarray(high, np.float32)[:, None, None]
    x = torch.from_numpy((raw.astype(np.float32) - low) / (high - low))[None]
    pad = 32
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    with torch.inference_mode():
        prob = torch.sigmoid(model(x))[0, 0, pad:-pad, pad:-pad]
    return prob.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--model", default="resunet-lite")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "data")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, meta = load(args.model)
    specs = [
        s
        for s in read_recipe(ROOT / "scripts" / "recipes" / "cpu-default.sources", args.data)
        if "PAN" not in str(s.path) and "vegas_pan" not in str(s.path)
    ]
    lows, highs, held_out = [], [], []
    for spec in specs:
        train, val = load_source_for_model(spec, meta, cache_dir=args.cache_dir)
        for image in train:
            pixels = image.raw[:, image.valid]
            if pixels.size:
                lo, hi = np.percentile(pixels, [2, 98], axis=1)
                lows.append(lo)
                highs.append(hi)
        held_out.extend(val)
    candidates = {
        "identity": ((0.0, 0.0, 0.0), (255.0, 255.0, 255.0)),
        "median": (tuple(np.median(lows, 0)), tuple(np.median(highs, 0))),
        "mean": (tuple(np.mean(lows, 0)), tuple(np.mean(highs, 0))),
    }
    print(f"{len(lows)} training images, {len(held_out)} held-out images")
    for name, (lo, hi) in candidates.items():
        print(f"  {name:<8} low {np.round(lo, 1).tolist()} high {np.round(hi, 1).tolist()}")
    per_scene: dict[str, PixelAccumulator] = {}
    fixed = {name: {} for name in candidates}
    agreement = {name: [] for name in candidates}
    for image in held_out:
        prob, valid = predict_image(model, image, torch.device("cpu"))
        per_scene.setdefault(image.dataset, PixelAccumulator()).update(prob, image.label, valid)
        ours = (prob >= meta.threshold) & valid
        for name, (lo, hi) in candidates.items():
            other = fixed_probability(model, image.raw, lo, hi)
            fixed[name].setdefault(image.dataset, PixelAccumulator()).update(
                other, image.label, valid
            )
            theirs = (other >= meta.threshold) & valid
            union = (ours | theirs).sum()
            agreement[name].append((ours & theirs).sum() / union if union else 1.0)

    def scores(accs: dict[str, PixelAccumulator]) -> dict[str, float]:
        return {d: a.scores(meta.threshold)["relaxed_breakeven"] for d, a in sorted(accs.items())}

    base = scores(per_scene)
    print(f"\nrelaxed breakeven at the model's threshold {meta.threshold:.3f}")
    header = "".join(f"{d[:10]:>11}" for d in base)
    print(f"{'stretch':<12}{header}{'mean':>9}{'mask IoU':>10}")
    print(
        f"{'per-scene':<12}"
        + "".join(f"{v:11.3f}" for v in base.values())
        + f"{np.mean(list(base.values())):9.3f}{'-':>10}"
    )
    for name in candidates:
        got = scores(fixed[name])
        print(
            f"{name:<12}"
            + "".join(f"{v:11.3f}" for v in got.values())
            + f"{np.mean(list(got.values())):9.3f}{np.mean(agreement[name]):10.3f}"
        )


if __name__ == "__main__":
    main()
