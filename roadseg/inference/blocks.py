"""The three steps of a block — read, infer, blend — as plain picklable functions.

They run as Dask tasks, possibly in other processes or on other machines, so they take
small frozen descriptions (paths, windows, statistics) and return numpy arrays.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from roadseg.inference.grid import WorkingGrid, working_grid
from roadseg.inference.layout import Layout, weight_window
from roadseg.inference.predictor import ModelSpec, predict_tiles
from roadseg.inference.reader import WindowData, read_window
from roadseg.raster.normalize import BandStats, scene_band_stats
from roadseg.raster.scene import SceneInfo, describe_scene, open_dataset

#: Megabytes of GDAL block cache in each process (GDAL's default grows with RAM).
GDAL_CACHE_MB = 64


@dataclass(frozen=True)
class SceneSpec:
    """What a task needs to read the scene: its path, grid, bands and statistics.

    ``nodata`` is an extra no-data value (all bands equal to it), for files that do not
    declare theirs.
    """

    path: str
    grid: WorkingGrid
    bands: tuple[int, ...]
    stats: BandStats
    nodata: float | None = None


@dataclass(frozen=True)
class BlockJob:
    """One block: the window its tiles read and the extent where they have weight.

    Windows are ``(start, stop)`` pairs of working-grid pixels; ``read_*`` may run past
    the grid (reflected), ``extent_*`` lies inside it. ``tile_rows`` and ``tile_cols``
    are tile origins relative to the read window.
    """

    index: tuple[int, int]
    read_rows: tuple[int, int]
    read_cols: tuple[int, int]
    extent_rows: tuple[int, int]
    extent_cols: tuple[int, int]
    tile_rows: tuple[int, ...]
    tile_cols: tuple[int, ...]
    tile_shape: tuple[int, int]
    margin: int
    ramp: int

    @classmethod
    def from_layout(cls, layout: Layout, index: tuple[int, int]) -> BlockJob:
        bi, bj = index
        read_rows = layout.rows.block_read(bi)
        read_cols = layout.cols.block_read(bj)
        return cls(
            index=index,
            read_rows=read_rows,
            read_cols=read_cols,
            extent_rows=layout.rows.block_extent(bi),
            extent_cols=layout.cols.block_extent(bj),
            tile_rows=tuple(
                layout.rows.origin(k) - read_rows[0] for k in layout.rows.block_tiles(bi)
            ),
            tile_cols=tuple(
                layout.cols.origin(k) - read_cols[0] for k in layout.cols.block_tiles(bj)
            ),
            tile_shape=layout.tile_shape,
            margin=layout.rows.margin,
            ramp=layout.rows.ramp,
        )

    @property
    def origins(self) -> list[tuple[int, int]]:
        return [(r, c) for r in self.tile_rows for c in self.tile_cols]


@dataclass(frozen=True)
class BlockResult:
    """Weighted probability sums of a block over its extent.

    Attributes:
        index: the block.
        rows, cols: the extent, working-grid pixels ``(start, stop)``.
        weighted: sum over tiles of weight x probability, float32.
        weight: sum of the weights, float32.
        valid: where the scene has data.
    """

    index: tuple[int, int]
    rows: tuple[int, int]
    cols: tuple[int, int]
    weighted: np.ndarray
    weight: np.ndarray
    valid: np.ndarray


def prepare_scene(
    path: str | os.PathLike[str],
    *,
    in_channels: int,
    model_gsd_m: float,
    normalization: dict[str, Any] | None,
    bands: Sequence[int] | None = None,
    gsd: float | None = None,
    nodata: float | None = None,
    quiet: bool = False,
) -> tuple[SceneInfo, SceneSpec]:
    """Check a scene and work out how the model reads it: bands, working grid, statistics.

    ``roadseg run`` and training both call this, so they read a scene identically.

    Args:
        path: the raster.
        in_channels: bands the model takes.
        model_gsd_m: the model's ground sample distance.
        normalization: the model's normalisation.
        bands: 1-based bands; ``None`` picks them.
        gsd: declared ground sample distance of the scene.
        nodata: extra no-data value (all bands equal to it).
        quiet: do not warn about a plain image.
    """
    info = describe_scene(
        path, in_channels=in_channels, bands=bands, gsd=gsd, default_gsd=model_gsd_m, quiet=quiet
    )
    grid = working_grid(info, model_gsd_m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with open_dataset(path) as src:
            stats = scene_band_stats(src, info.bands, normalization, nodata=nodata)
    return info, SceneSpec(str(Path(path).resolve()), grid, info.bands, stats, nodata)


def read_block(scene: SceneSpec, job: BlockJob) -> WindowData:
    """Read the block's window (with its halo) as model input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2**20), open_dataset(scene.path) as src:
            return read_window(
                src,
                scene.grid,
                scene.bands,
                scene.stats,
                job.read_rows,
                job.read_cols,
                scene.nodata,
            )


def infer_block(model: ModelSpec, job: BlockJob, data: WindowData) -> np.ndarray:
    """Probabilities of every tile of the block, ``(tiles, size, size)`` float32."""
    return infer_block_with(partial(predict_tiles, model), model.batch_size, job, data)


def infer_block_with(
    predict: Callable[[np.ndarray], np.ndarray], batch_size: int, job: BlockJob, data: WindowData
) -> np.ndarray:
    """:func:`infer_block` with any ``(N, C, H, W) -> (N, H, W)`` tile predictor (the model
    being trained, during validation)."""
    th, tw = job.tile_shape
    origins = job.origins
    out = np.empty((len(origins), th, tw), dtype=np.float32)
    for start in range(0, len(origins), batch_size):
        batch = origins[start : start + batch_size]
        tiles = np.stack([data.image[:, r : r + th, c : c + tw] for r, c in batch])
        out[start : start + len(batch)] = predict(tiles)
    return out


def blend_block(job: BlockJob, data: WindowData, probs: np.ndarray) -> BlockResult:
    """Add the block's tiles up with the weight window over the block's extent."""
    th, tw = job.tile_shape
    weights = weight_window(th, tw, job.margin, job.ramp)
    (r0, r1), (c0, c1) = job.extent_rows, job.extent_cols
    weighted = np.zeros((r1 - r0, c1 - c0), dtype=np.float32)
    weight = np.zeros_like(weighted)
    # Offsets of the extent inside the read window.
    er, ec = r0 - job.read_rows[0], c0 - job.read_cols[0]
    for prob, (tr, tc) in zip(probs, job.origins, strict=True):
        # Intersection of the tile with the extent, in read-window coordinates.
        ar, br = max(tr, er), min(tr + th, er + weighted.shape[0])
        ac, bc = max(tc, ec), min(tc + tw, ec + weighted.shape[1])
        if br <= ar or bc <= ac:
            continue
        w = weights[ar - tr : br - tr, ac - tc : bc - tc]
        weighted[ar - er : br - er, ac - ec : bc - ec] += (
            w * prob[ar - tr : br - tr, ac - tc : bc - tc]
        )
        weight[ar - er : br - er, ac - ec : bc - ec] += w
    valid = data.valid[er : er + weighted.shape[0], ec : ec + weighted.shape[1]]
    return BlockResult(job.index, job.extent_rows, job.extent_cols, weighted, weight, valid.copy())
