"""Labelled images from data sources, read once and resampled to the model's GSD.

Training data here is small (a few hundred megapixels at 1 m), so every image is read
into memory once, as its original integer values plus its per-image normalisation
statistics; crops are normalised when they are drawn. The statistics come from
:func:`roadseg.raster.normalize.compute_band_stats` over the whole image and its valid
mask, exactly as inference computes them over a whole scene.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
import torch.nn.functional as F
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.warp import calculate_default_transform, reproject, transform_bounds

from roadseg.errors import InputNotFoundError, InvalidInputError
from roadseg.log import get_logger
from roadseg.raster.gsd import ground_sample_distance
from roadseg.raster.normalize import BandStats, compute_band_stats, normalize
from roadseg.raster.rasterize import local_metric_crs, rasterize_roads, read_roads
from roadseg.training.config import SourceSpec

log = get_logger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg")
_PAIR_FOLDERS = (("images", "masks"), ("sat", "map"), ("image", "mask"), ("img", "gt"))


@dataclass(frozen=True)
class LabelledImage:
    """An image at the training GSD with its road mask and valid-pixel mask.

    Attributes:
        dataset: name of the source it came from.
        stem: identifier of the image inside its source.
        pixels: ``(bands, height, width)`` original values (not normalised).
        stats: per-image normalisation statistics.
        label: ``(height, width)`` uint8, 1 on roads.
        valid: ``(height, width)`` bool, False on no-data.
    """

    dataset: str
    stem: str
    pixels: np.ndarray
    stats: BandStats
    label: np.ndarray
    valid: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.label.shape  # type: ignore[return-value]

    def normalized(self) -> np.ndarray:
        """The whole image as float32 model input."""
        return normalize(self.pixels, self.stats)


def find_pairs(folder: Path) -> list[tuple[str, Path, Path]]:
    """``(stem, image, mask)`` for every image/mask pair in ``folder``, sorted by stem.

    Layouts: ``images/``+``masks/`` (or ``sat/``+``map/``, ...) with the same stems,
    or DeepGlobe's ``NAME_sat.jpg`` with ``NAME_mask.png`` in one folder.

    Raises:
        InputNotFoundError: no folder, or no pairs in it.
    """
    if not folder.is_dir():
        raise InputNotFoundError(f"{folder}: image/mask folder not found")
    pairs: list[tuple[str, Path, Path]] = []
    for image_dir, mask_dir in _PAIR_FOLDERS:
        if (folder / image_dir).is_dir() and (folder / mask_dir).is_dir():
            masks = _by_stem(folder / mask_dir)
            for stem, image in _by_stem(folder / image_dir).items():
                if stem in masks:
                    pairs.append((stem, image, masks[stem]))
            break
    else:
        files = _by_stem(folder)
        for stem, image in files.items():
            if stem.endswith("_sat") and stem[:-4] + "_mask" in files:
                pairs.append((stem[:-4], image, files[stem[:-4] + "_mask"]))
    if not pairs:
        raise InputNotFoundError(
            f"{folder}: no image/mask pairs found; expected images/ and masks/ (or sat/ and "
            "map/) with the same file names, or NAME_sat.jpg with NAME_mask.png"
        )
    return sorted(pairs)


def _by_stem(folder: Path) -> dict[str, Path]:
    return {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    }


def find_scenes(folder: Path, vectors: Path) -> list[tuple[str, Path, Path]]:
    """``(key, scene, vector file)`` for every GeoTIFF in ``folder`` with its roads.

    The key is the last ``_``-separated part of the scene's name (``img308``), or the
    whole name when those parts are not unique.

    A vector file belongs to a scene when both names end with the same
    ``_``-separated part (``RGB-PanSharpen_AOI_4_Shanghai_img308.tif`` and
    ``spacenetroads_AOI_4_Shanghai_img308.geojson``); the longest such part wins.

    Raises:
        InputNotFoundError: a folder is missing, or a scene has no vector file.
    """
    for path in (folder, vectors):
        if not path.is_dir():
            raise InputNotFoundError(f"{path}: folder not found")
    vector_files = [p for p in sorted(vectors.iterdir()) if p.suffix.lower() in VECTOR_SUFFIXES]
    found = []
    for scene in sorted(folder.iterdir()):
        if scene.suffix.lower() not in (".tif", ".tiff"):
            continue
        best, best_len = None, 0
        for vec in vector_files:
            length = _common_token_suffix(scene.stem, vec.stem)
            if length > best_len:
                best, best_len = vec, length
        if best is None:
            raise InputNotFoundError(
                f"{scene}: no road vector file in {vectors} ends with the same name part"
            )
        found.append((scene.stem.rsplit("_", 1)[-1], scene, best))
    if not found:
        raise InputNotFoundError(f"{folder}: no GeoTIFF scenes (.tif) found")
    if len({key for key, _, _ in found}) < len(found):
        found = [(scene.stem, scene, vec) for _, scene, vec in found]
    return found


def _common_token_suffix(a: str, b: str) -> int:
    ta, tb = re.split(r"_", a), re.split(r"_", b)
    n = 0
    while n < min(len(ta), len(tb)) and ta[-1 - n] == tb[-1 - n]:
        n += 1
    return len("_".join(ta[len(ta) - n :])) if n else 0


def load_source(
    spec: SourceSpec,
    gsd_m: float,
    band_count: int,
    normalization: dict[str, Any] | None = None,
    validation_only: bool = False,
) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """Read a source into ``(training images, validation images)``.

    With ``validation_only`` the training images are not read (the first list is
    empty), which is quick for evaluating held-out images of a large source.

    Raises:
        InputNotFoundError: missing folders/files, or a ``val`` stem that does not exist.
        InvalidInputError: an image has fewer bands than the model needs.
    """
    if spec.kind == "pairs":
        items: Iterator[tuple[str, Any]] = (
            (stem, (image, mask)) for stem, image, mask in find_pairs(spec.path)
        )
    else:
        assert spec.vectors is not None
        items = ((key, (scene, vec)) for key, scene, vec in find_scenes(spec.path, spec.vectors))
    entries = [(stem, paths) for stem, paths in items if stem not in spec.exclude]
    missing = set(spec.val) - {stem for stem, _ in entries}
    if missing:
        raise InputNotFoundError(
            f"source {spec.name}: validation stems {sorted(missing)} are not in {spec.path}"
        )
    train, val = [], []
    for stem, paths in entries:
        if validation_only and stem not in spec.val:
            continue
        if spec.kind == "pairs":
            image = _load_pair(spec, stem, *paths, gsd_m, band_count, normalization)
        else:
            image = _load_scene(spec, stem, *paths, gsd_m, band_count, normalization)
        (val if stem in spec.val else train).append(image)
    log.info(
        "source %s: %d training and %d validation images at %g m",
        spec.name,
        len(train),
        len(val),
        gsd_m,
    )
    return train, val


def _resize(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample ``(bands, h, w)`` float values: area average down, bilinear up."""
    if array.shape[-2:] == shape:
        return array
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None]
    if shape[0] < array.shape[-2]:
        out = F.interpolate(tensor, size=shape, mode="area")
    else:
        out = F.interpolate(tensor, size=shape, mode="bilinear", align_corners=False)
    return out[0].numpy()


def _load_pair(
    spec: SourceSpec,
    stem: str,
    image_path: Path,
    mask_path: Path,
    gsd_m: float,
    band_count: int,
    normalization: dict[str, Any] | None,
) -> LabelledImage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return _read_pair(spec, stem, image_path, mask_path, gsd_m, band_count, normalization)


def _read_pair(
    spec: SourceSpec,
    stem: str,
    image_path: Path,
    mask_path: Path,
    gsd_m: float,
    band_count: int,
    normalization: dict[str, Any] | None,
) -> LabelledImage:
    with rasterio.open(image_path) as src:
        if src.count < band_count:
            raise InvalidInputError(
                f"{image_path}: {src.count} bands, the model needs {band_count}"
            )
        pixels = src.read(list(range(1, band_count + 1)))
    with rasterio.open(mask_path) as src:
        mask = src.read(1) > 0
    if mask.shape != pixels.shape[1:]:
        raise InvalidInputError(
            f"{mask_path}: mask is {mask.shape[::-1]} pixels but {image_path.name} is "
            f"{pixels.shape[:0:-1]}"
        )
    valid = np.ones(mask.shape, dtype=bool)
    if spec.nodata is not None:
        valid = ~np.all(pixels == spec.nodata, axis=0)
    assert spec.gsd_m is not None
    scale = spec.gsd_m / gsd_m
    shape = (max(1, round(mask.shape[0] * scale)), max(1, round(mask.shape[1] * scale)))
    dtype = pixels.dtype
    if shape != mask.shape:
        pixels = np.round(_resize(pixels, shape)).astype(dtype)
        mask = _resize(mask[None].astype(np.float32), shape)[0] >= 0.5
        valid = _resize(valid[None].astype(np.float32), shape)[0] >= 0.999
    stats = compute_band_stats(pixels, valid, normalization)
    return LabelledImage(spec.name, stem, pixels, stats, mask.astype(np.uint8), valid)


def _load_scene(
    spec: SourceSpec,
    stem: str,
    scene_path: Path,
    vector_path: Path,
    gsd_m: float,
    band_count: int,
    normalization: dict[str, Any] | None,
) -> LabelledImage:
    bands = list(spec.bands or range(1, band_count + 1))
    if len(bands) != band_count:
        raise InvalidInputError(
            f"source {spec.name}: bands={bands} but the model needs {band_count} bands"
        )
    with rasterio.open(scene_path) as src:
        if src.crs is None:
            raise InvalidInputError(f"{scene_path}: scene has no CRS; cannot place its roads")
        if max(bands) > src.count:
            raise InvalidInputError(f"{scene_path}: has {src.count} bands, asked for {bands}")
        lonlat = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        dst_crs = local_metric_crs(src.crs, lonlat)
        transform, width, height = calculate_default_transform(
            src.crs, dst_crs, src.width, src.height, *src.bounds, resolution=gsd_m
        )
        native_m = ground_sample_distance(src.crs, src.transform, src.width, src.height) or gsd_m
        resampling = Resampling.average if native_m < gsd_m else Resampling.bilinear
        dtype = src.dtypes[bands[0] - 1]
        pixels = np.zeros((len(bands), height, width), dtype=dtype)
        for i, band in enumerate(bands):
            reproject(
                rasterio.band(src, band),
                pixels[i],
                dst_transform=transform,
                dst_crs=dst_crs,
                resampling=resampling,
            )
        src_valid = src.dataset_mask()
        valid8 = np.zeros((height, width), dtype=np.uint8)
        reproject(
            src_valid,
            valid8,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=transform,
            dst_crs=dst_crs,
            resampling=Resampling.min if native_m < gsd_m else Resampling.nearest,
            src_nodata=None,
            dst_nodata=0,
        )
    valid = valid8 > 0
    label = rasterize_roads(
        read_roads(vector_path, spec.layer), dst_crs, transform, (height, width), spec.buffer_m
    )
    stats = compute_band_stats(pixels, valid, normalization)
    log.debug("%s: %dx%d px at %g m in %s", scene_path.name, width, height, gsd_m, dst_crs)
    return LabelledImage(spec.name, stem, pixels, stats, label, valid)


def valid_fraction(image: LabelledImage) -> float:
    """Share of the image's pixels that are valid."""
    return float(image.valid.mean()) if image.valid.size else 0.0


def approx_megapixels(images: list[LabelledImage]) -> float:
    """Total size of a set of images, in megapixels."""
    return sum(math.prod(i.shape) for i in images) / 1e6
