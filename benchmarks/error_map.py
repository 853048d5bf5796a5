"""Where a model's pixels go wrong on labelled images: a picture per image.

Each image is predicted as ``roadseg run`` predicts it (``evaluation.scoring.predict_image``)
and thresholded at the model's threshold; over the dimmed image, labelled road the model
found is yellow, labelled road it missed blue, and road it called where none is
labelled orange. The per-image scores of ``roadseg evaluate --out`` say which images to
look at.

Usage:
    python benchmarks/error_map.py --model resunet-lite --out DIR \\
        --source "pairs:../shared/data/massachusetts/train,gsd=1.0,nodata=255,val=26728750_15"
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from roadseg.data import load_source_for_model, parse_source_spec
from roadseg.evaluation.scoring import predict_image
from roadseg.models import load

FOUND, MISSED, INVENTED = (255, 255, 0), (0, 120, 255), (255, 60, 0)


def error_map(image: np.ndarray, truth: np.ndarray, road: np.ndarray) -> np.ndarray:
    """An RGB picture: ``image`` (bands first, raw values) stretched and dimmed, errors
    coloured."""
    bands = image[:3] if image.shape[0] >= 3 else np.repeat(image[:1], 3, axis=0)
    low, high = np.nanpercentile(bands, (2, 98))
    rgb = np.clip((np.moveaxis(bands, 0, -1) - low) / max(high - low, 1e-6), 0, 1) * 150
    out = np.nan_to_num(rgb).astype(np.uint8)
    out[truth & road] = FOUND
    out[truth & ~road] = MISSED
    out[road & ~truth] = INVENTED
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resunet-lite")
    parser.add_argument(
        "--source", required=True, help="as for roadseg evaluate; val= picks images"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the JPEGs")
    parser.add_argument("--side", type=int, default=640, help="longest side of a picture")
    args = parser.parse_args()
    net, meta = load(args.model)
    spec = parse_source_spec(args.source)
    train, val = load_source_for_model(spec, meta, validation_only=bool(spec.val))
    args.out.mkdir(parents=True, exist_ok=True)
    for item in val if spec.val else train:
        prob, valid = predict_image(net, item, torch.device("cpu"), False)
        road = (prob > meta.threshold) & valid
        truth = item.label.astype(bool) & valid
        picture = Image.fromarray(error_map(item.raw.astype(np.float32), truth, road))
        picture.thumbnail((args.side, args.side))
        target = args.out / f"{item.dataset}-{item.stem}-errors.jpg"
        picture.save(target, quality=80)
        print(target)


if __name__ == "__main__":
    main()
