"""Labelled images read exactly as ``roadseg run`` reads a scene.

Every image goes through :func:`roadseg.raster.scene.describe_scene` (bands, GSD),
:func:`roadseg.raster.grid.working_grid` (the footprint at the model's GSD),
:func:`roadseg.raster.normalize.scene_band_stats` (per-scene statistics) and
:func:`roadseg.raster.reader.read_raw` (the resampled read), the functions the
inference pipeline runs. A crop's model input is then
:func:`roadseg.raster.reader.model_input` of the cached raw values, which is what
``roadseg run`` computes for the same working-grid pixels.

Labels are put on the same grid: road vectors are rasterised onto the grid's transform
and CRS; a mask raster is read through the grid's resampling (share of road >= 0.5).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.enums import Resampling
from rasterio.windows import Window

from roadseg.data.cache import ArrayCache
from roadseg.data.discover import find_pairs, find_scenes
from roadseg.data.spec import SourceSpec
from roadseg.errors import InputNotFoundError, InvalidInputError
from roadseg.io.quiet import quiet_raster_warnings
from roadseg.log import get_logger
from roadseg.models.metadata import ModelMetadata
from roadseg.raster.grid import WorkingGrid, resolutions_text
from roadseg.raster.normalize import BandStats
from roadseg.raster.prepare import SceneSpec, prepare_scene
from roadseg.raster.rasterize import lane_half_widths, rasterize_roads, read_roads
from roadseg.raster.reader import RawWindow, model_input, read_raw
from roadseg.raster.scene import open_dataset

log = get_logger(__name__)


@dataclass(frozen=True)
class LabelledImage:
    """An image on its working grid with its road label, as inference would read it.

    Attributes:
        dataset: name of the source it came from.
        stem: identifier of the image inside its source.
        truth: the mask raster or road vector file.
        scene_spec: what the inference pipeline reads (path, grid, bands, statistics).
        raw: ``(bands, height, width)`` resampled values in the file's dtype.
        valid: ``(height, width)`` bool, False on no-data.
        label: ``(height, width)`` uint8, 1 on roads.
    """

    dataset: str
    stem: str
    truth: Path
    scene_spec: SceneSpec
    raw: np.ndarray
    valid: np.ndarray
    label: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.label.shape  # type: ignore[return-value]

    @property
    def path(self) -> Path:
        return Path(self.scene_spec.path)

    @property
    def grid(self) -> WorkingGrid:
        return self.scene_spec.grid

    @property
    def stats(self) -> BandStats:
        return self.scene_spec.stats

    def model_input(self, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """Model input of a window of the grid: ``(bands, h, w)`` float32."""
        return model_input(RawWindow(self.raw[:, rows, cols], self.valid[rows, cols]), self.stats)


def load_source(
    spec: SourceSpec,
    gsd_m: float,
    in_channels: int,
    normalization: dict[str, Any] | None = None,
    validation_only: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    max_gsd_m: float | None = None,
) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """Read a source into ``(training images, validation images)``.

    Args:
        spec: the source.
        gsd_m: the model's ground sample distance (the finest of its range).
        in_channels: bands the model takes.
        normalization: the model's normalisation.
        validation_only: skip the training images (the first list is empty).
        cache_dir: folder for decoded, resampled arrays; ``None`` reads every time.
        max_gsd_m: the coarsest of the model's range; ``None``: one resolution.

    Raises:
        InputNotFoundError: missing folders/files, or a ``val`` stem that does not exist.
        InvalidInputError: an image that cannot be read, or has too few bands.
    """
    if spec.kind == "pairs":
        entries = [(stem, image, mask) for stem, image, mask in find_pairs(spec.path)]
    else:
        assert spec.vectors is not None
        entries = list(find_scenes(spec.path, spec.vectors))
    entries = [e for e in entries if e[0] not in spec.exclude]
    missing = {s for s in spec.val if s != "*"} - {stem for stem, _, _ in entries}
    if missing:
        raise InputNotFoundError(
            f"source {spec.name}: validation stems {sorted(missing)} are not in {spec.path}"
        )
    cache = ArrayCache(cache_dir) if cache_dir is not None else None
    train, val = [], []
    for stem, image_path, truth_path in entries:
        held_out = spec.holds_out(stem)
        if validation_only and not held_out:
            continue
        image = load_image(
            spec,
            stem,
            image_path,
            truth_path,
            gsd_m,
            in_channels,
            normalization,
            cache,
            max_gsd_m=max_gsd_m,
        )
        (val if held_out else train).append(image)
    # A model with a range of resolutions works a source's images at several.
    span = sorted({round(i.grid.gsd_m, 3) for i in train + val}) or [gsd_m]
    log.info(
        "source %s: %d training and %d validation images at %s m",
        spec.name,
        len(train),
        len(val),
        resolutions_text(span[0], span[-1] if len(span) > 1 else None),
    )
    return train, val


def load_source_for_model(
    spec: SourceSpec,
    meta: ModelMetadata,
    validation_only: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """:func:`load_source` as the model ``meta`` describes reads it: its resolutions,
    bands and normalisation."""
    return load_source(
        spec,
        meta.gsd_m,
        meta.in_channels,
        meta.normalization,
        validation_only=validation_only,
        cache_dir=cache_dir,
        max_gsd_m=meta.max_gsd_m,
    )


def load_image(
    spec: SourceSpec,
    stem: str,
    image_path: Path,
    truth_path: Path,
    gsd_m: float,
    in_channels: int,
    normalization: dict[str, Any] | None = None,
    cache: ArrayCache | None = None,
    max_gsd_m: float | None = None,
) -> LabelledImage:
    """Read one labelled image onto its working grid (see the module documentation)."""
    _, scene_spec = prepare_scene(
        image_path,
        in_channels=in_channels,
        model_gsd_m=gsd_m,
        max_gsd_m=max_gsd_m,
        normalization=normalization,
        bands=spec.bands,
        gsd=spec.gsd_m if spec.kind == "pairs" else None,
        nodata=spec.nodata,
        quiet=True,
    )
    grid = scene_spec.grid
    with quiet_raster_warnings():
        key = {
            "image": _file_key(image_path),
            "truth": _file_key(truth_path),
            "grid": [grid.width, grid.height, list(grid.transform)[:6]],
            "bands": list(scene_spec.bands),
            "nodata": spec.nodata,
            "buffer_m": spec.buffer_m if spec.kind == "scenes" else None,
            # Only when set, so that caches written before lane widths stay valid.
            **(
                {"lane_width_m": spec.lane_width_m, "lanes": spec.lanes_field}
                if spec.kind == "scenes" and spec.lane_width_m is not None
                else {}
            ),
            "layer": spec.layer,
            "stats": scene_spec.stats.to_dict(),
        }
        arrays = cache.get(key) if cache is not None else None
        if arrays is None:
            arrays = _read_arrays(spec, scene_spec, truth_path)
            if cache is not None:
                cache.put(key, arrays)
    log.debug("%s: %dx%d px at %.3g m", image_path.name, grid.width, grid.height, grid.gsd_m)
    return LabelledImage(
        dataset=spec.name,
        stem=stem,
        truth=truth_path,
        scene_spec=scene_spec,
        raw=arrays["raw"],
        valid=arrays["valid"],
        label=arrays["label"],
    )


def _file_key(path: Path) -> list[Any]:
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def _read_arrays(
    spec: SourceSpec, scene_spec: SceneSpec, truth_path: Path
) -> dict[str, np.ndarray]:
    grid = scene_spec.grid
    with open_dataset(scene_spec.path) as src:
        raw = read_raw(
            src, grid, scene_spec.bands, Window(0, 0, grid.width, grid.height), scene_spec.nodata
        )
        size = (src.width, src.height)
    if spec.kind == "pairs":
        label = _read_mask(truth_path, grid, size, Path(scene_spec.path))
    else:
        if grid.crs is None:
            raise InvalidInputError(f"{scene_spec.path}: scene has no CRS; cannot place its roads")
        roads = read_roads(truth_path, spec.layer)
        half_widths = (
            spec.buffer_m
            if spec.lane_width_m is None
            else lane_half_widths(roads, spec.lanes_field, spec.lane_width_m, spec.buffer_m)
        )
        label = rasterize_roads(
            roads, grid.crs, grid.transform, (grid.height, grid.width), half_widths
        )
    return {"raw": raw.data, "valid": raw.valid, "label": label}


def _read_mask(
    mask_path: Path, grid: WorkingGrid, image_size: tuple[int, int], image_path: Path
) -> np.ndarray:
    """A road mask (non-zero = road) read onto the image's working grid."""
    try:
        src = open_dataset(mask_path)
    except InputNotFoundError:
        raise InputNotFoundError(f"{mask_path}: road mask not found") from None
    with src:
        if (src.width, src.height) != image_size:
            raise InvalidInputError(
                f"{mask_path}: mask is {src.width}x{src.height} pixels but {image_path.name} "
                f"is {image_size[0]}x{image_size[1]}"
            )
        native = src.read(1)
        if not grid.resampled:
            return (native > 0).astype(np.uint8)
        road_value = float(native.max()) or 1.0
        share = src.read(
            1,
            window=grid.scene_window(Window(0, 0, grid.width, grid.height)),
            out_shape=(grid.height, grid.width),
            resampling=Resampling.average,
            out_dtype="float32",
        )
    return (share >= 0.5 * road_value).astype(np.uint8)
