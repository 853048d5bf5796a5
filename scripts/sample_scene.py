"""Write a small synthetic georeferenced scene for the quick start.

The scene is an RGB GeoTIFF at 1 m in UTM zone 33N: fields and trees, a few buildings
and asphalt roads (a grid, a diagonal and a curve). It lets ``scripts/demo.sh`` run the
whole job on a machine without real imagery. Real imagery gives more interesting
results; see data/README.md.

Usage: python scripts/sample_scene.py OUT.tif [--size 1024] [--seed 0]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from scipy import ndimage
from skimage.draw import line_aa, polygon


def _texture(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.standard_normal((size, size)), sigma)
    return (noise - noise.min()) / (np.ptp(noise) + 1e-9)


def _draw_road(mask: np.ndarray, points: np.ndarray, width: int) -> None:
    centre = np.zeros_like(mask)
    for (r0, c0), (r1, c1) in itertools.pairwise(points):
        rr, cc, _ = line_aa(int(r0), int(c0), int(r1), int(c1))
        keep = (rr >= 0) & (rr < mask.shape[0]) & (cc >= 0) & (cc < mask.shape[1])
        centre[rr[keep], cc[keep]] = True
    mask |= ndimage.binary_dilation(centre, iterations=width // 2)


def make_scene(size: int = 1024, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(rgb uint8 (3, size, size), road mask bool (size, size))``."""
    rng = np.random.default_rng(seed)
    fields = _texture(rng, size, 40)
    trees = _texture(rng, size, 3) > 0.62
    rgb = np.empty((3, size, size), np.float32)
    rgb[0] = 90 + 60 * fields
    rgb[1] = 105 + 50 * fields
    rgb[2] = 70 + 30 * fields
    rgb[:, trees] *= np.array([0.55, 0.7, 0.5], np.float32)[:, None]
    roads = np.zeros((size, size), bool)
    step = size // 3
    for k in (1, 2):
        _draw_road(roads, np.array([[k * step, 0], [k * step, size - 1]]), 8)
        _draw_road(roads, np.array([[0, k * step + 40], [size - 1, k * step - 40]]), 8)
    t = np.linspace(0, 1, 60)
    curve = np.stack([size * t, size * (0.15 + 0.1 * np.sin(6 * t))], axis=1)
    _draw_road(roads, curve, 6)
    for _ in range(40):
        r, c = rng.integers(20, size - 40, 2)
        h, w = rng.integers(10, 24, 2)
        rr, cc = polygon([r, r, r + h, r + h], [c, c + w, c + w, c], (size, size))
        rgb[:, rr, cc] = rng.integers(150, 220)
    rgb[:, roads] = np.array([118, 117, 122], np.float32)[:, None]
    rgb += rng.normal(0, 4, rgb.shape).astype(np.float32)
    return np.clip(rgb, 0, 255).astype(np.uint8), roads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rgb, _ = make_scene(args.size, args.seed)
    profile = {
        "driver": "GTiff",
        "width": args.size,
        "height": args.size,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": from_origin(500_000, 5_500_000, 1.0, 1.0),
        "tiled": True,
        "compress": "deflate",
        "photometric": "RGB",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(args.out, "w", **profile) as dst:
        dst.write(rgb)


if __name__ == "__main__":
    main()
