"""Helpers for the inference tests: synthetic scenes and tiny checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from affine import Affine

from roadseg.models import ModelMetadata, build, save_checkpoint
from roadseg.raster.normalize import normalize, scene_band_stats
from roadseg.raster.probability import decode_probability

UTM_TRANSFORM = Affine(1.0, 0.0, 500_000.0, 0.0, -1.0, 4_100_000.0)
UTM_CRS = "EPSG:32633"


def write_scene(
    path: Path,
    array: np.ndarray,
    *,
    crs: str | None = UTM_CRS,
    transform: Affine | None = UTM_TRANSFORM,
    nodata: float | None = None,
    alpha: bool = False,
) -> Path:
    """Write a ``(bands, h, w)`` array as a GeoTIFF (last band marked alpha if asked)."""
    count, height, width = array.shape
    profile = dict(
        driver="GTiff",
        width=width,
        height=height,
        count=count,
        dtype=array.dtype.name,
        nodata=nodata,
    )
    if crs is not None:
        profile.update(crs=crs, transform=transform)
    if alpha:
        profile["photometric"] = "RGB"
        profile["alpha"] = "YES"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array)
    return path


def textured(height: int, width: int, bands: int = 3, seed: int = 0) -> np.ndarray:
    """Smooth random texture with edges, uint8 ``(bands, h, w)``."""
    rng = np.random.default_rng(seed)
    base = rng.random((bands, height // 4 + 2, width // 4 + 2))
    up = np.kron(base, np.ones((4, 4)))[:, :height, :width]
    noise = rng.random((bands, height, width)) * 0.3
    return ((up * 0.7 + noise) * 255).astype(np.uint8)


def local_checkpoint(
    path: Path, gsd_m: float = 1.0, in_channels: int = 3, max_gsd_m: float | None = None
) -> Path:
    """A ResUNet checkpoint whose output depends only on each pixel's 5x5 neighbourhood.

    Everything past the first stage is switched off (its contribution multiplied by
    zero), so the prediction for a whole image can be computed directly and compared
    with the tiled, blended pipeline. The head is scaled so probabilities span 0-1.
    """
    torch.manual_seed(0)
    model = build("resunet", in_channels=in_channels, base_channels=4)
    c1 = model.base_channels
    with torch.no_grad():
        last_conv = model.decoder.blocks[2].body[1][2]
        last_conv.weight.zero_()
        last_conv.bias.zero_()
        shortcut = model.decoder.blocks[2].shortcut[0]
        shortcut.weight[:, : shortcut.in_channels - c1].zero_()
        model.head.weight.mul_(150.0)
    meta = ModelMetadata(
        "resunet",
        {"in_channels": in_channels, "base_channels": 4},
        gsd_m=gsd_m,
        max_gsd_m=max_gsd_m,
        name=None,
    )
    return save_checkpoint(model, meta, path)


def resunet_checkpoint(path: Path, gsd_m: float = 1.0) -> Path:
    """An untrained narrow ResUNet checkpoint (the full receptive field)."""
    torch.manual_seed(1)
    model = build("resunet", in_channels=3, base_channels=4)
    meta = ModelMetadata("resunet", {"in_channels": 3, "base_channels": 4}, gsd_m=gsd_m)
    return save_checkpoint(model, meta, path)


def whole_image_probability(scene: Path, checkpoint: Path, pad: int = 8) -> np.ndarray:
    """The local model applied to the whole (reflection-padded) scene at once."""
    from roadseg.models import load

    model, meta = load(checkpoint)
    with rasterio.open(scene) as src:
        bands = list(range(1, meta.in_channels + 1))
        stats = scene_band_stats(src, bands, meta.normalization)
        image = normalize(src.read(bands), stats)
    x = torch.from_numpy(image)[None]
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    with torch.inference_mode():
        prob = torch.sigmoid(model(x))[0, 0, pad:-pad, pad:-pad]
    return prob.numpy()


def read_probability(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return decode_probability(src.read(1))
