"""The three steps of a block — read, infer, blend — as plain picklable functions.

They run as Dask tasks, possibly in other processes or on other machines, so they take
small frozen descriptions (paths, windows, statistics) and return numpy arrays.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from roadseg.inference.buffers import Workspace, thread_workspace
from roadseg.inference.engine import FORWARD_LOCK
from roadseg.inference.grid import WorkingGrid, working_grid
from roadseg.inference.layout import Layout, weight_window
from roadseg.inference.predictor import ModelSpec, get_predictor
from roadseg.inference.reader import (
    RawWindow,
    WindowData,
    model_input_into,
    read_window,
    read_window_raw,
)
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
        seconds: time spent on each stage of the block, when measured.
    """

    index: tuple[int, int]
    rows: tuple[int, int]
    cols: tuple[int, int]
    weighted: np.ndarray
    weight: np.ndarray
    valid: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict, compare=False)


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


@contextlib.contextmanager
def _reading() -> Iterator[None]:
    """Quiet about plain images, with the bounded GDAL cache."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2**20):
            yield


def read_block(scene: SceneSpec, job: BlockJob) -> WindowData:
    """Read the block's window (with its halo) as model input."""
    with _reading(), open_dataset(scene.path) as src:
        return read_window(
            src,
            scene.grid,
            scene.bands,
            scene.stats,
            job.read_rows,
            job.read_cols,
            scene.nodata,
        )


def read_block_raw(scene: SceneSpec, job: BlockJob, workspace: Workspace) -> RawWindow:
    """The block's raw values (the scene's dtype) in ``workspace``'s buffers."""
    with _reading(), open_dataset(scene.path) as src:
        return read_window_raw(
            src,
            scene.grid,
            scene.bands,
            job.read_rows,
            job.read_cols,
            scene.nodata,
            workspace=workspace,
        )


def infer_block(model: ModelSpec, job: BlockJob, data: WindowData) -> np.ndarray:
    """Probabilities of every tile of the block, ``(tiles, size, size)`` float32."""
    predict = get_predictor(model)
    out = np.empty((len(job.origins), *job.tile_shape), dtype=np.float32)
    for start, stop, tiles in _batches(job, data, model.batch_size, thread_workspace()):
        predict(tiles, out[start:stop])
    return out


def infer_block_with(
    predict: Callable[[np.ndarray], np.ndarray], batch_size: int, job: BlockJob, data: WindowData
) -> np.ndarray:
    """:func:`infer_block` with any ``(N, C, H, W) -> (N, H, W)`` tile predictor (the model
    being trained, during validation)."""
    out = np.empty((len(job.origins), *job.tile_shape), dtype=np.float32)
    for start, stop, tiles in _batches(job, data, batch_size, thread_workspace()):
        out[start:stop] = predict(tiles)
    return out


def _batches(
    job: BlockJob, data: WindowData, batch_size: int, workspace: Workspace
) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, stop, tiles)`` for each batch of the block's tiles, gathered into one
    reused ``(batch, C, H, W)`` array (valid until the next batch)."""
    th, tw = job.tile_shape
    origins = job.origins
    bands = data.image.shape[0]
    for start in range(0, len(origins), batch_size):
        batch = origins[start : start + batch_size]
        tiles = workspace.array("tiles", (len(batch), bands, th, tw), np.float32)
        for tile, (r, c) in zip(tiles, batch, strict=True):
            np.copyto(tile, data.image[:, r : r + th, c : c + tw])
        yield start, start + len(batch), tiles


class _Blender:
    """Adds tiles into a block's weighted sums in place (no per-tile allocation)."""

    def __init__(self, job: BlockJob, out: Workspace | None) -> None:
        th, tw = job.tile_shape
        self.job = job
        self.weights = weight_window(th, tw, job.margin, job.ramp)
        (r0, r1), (c0, c1) = job.extent_rows, job.extent_cols
        shape = (r1 - r0, c1 - c0)
        if out is None:
            self.weighted = np.zeros(shape, dtype=np.float32)
            self.weight = np.zeros(shape, dtype=np.float32)
        else:
            self.weighted = out.zeros("weighted", shape, np.float32)
            self.weight = out.zeros("weight", shape, np.float32)
        self.out = out
        # Offsets of the extent inside the read window.
        self.er, self.ec = r0 - job.read_rows[0], c0 - job.read_cols[0]
        self.scratch = thread_workspace().array("blend", (th, tw), np.float32)

    def add(self, prob: np.ndarray, origin: tuple[int, int]) -> None:
        th, tw = self.job.tile_shape
        tr, tc = origin
        er, ec = self.er, self.ec
        # Intersection of the tile with the extent, in read-window coordinates.
        ar, br = max(tr, er), min(tr + th, er + self.weighted.shape[0])
        ac, bc = max(tc, ec), min(tc + tw, ec + self.weighted.shape[1])
        if br <= ar or bc <= ac:
            return
        w = self.weights[ar - tr : br - tr, ac - tc : bc - tc]
        product = self.scratch[: br - ar, : bc - ac]
        np.multiply(w, prob[ar - tr : br - tr, ac - tc : bc - tc], out=product)
        self.weighted[ar - er : br - er, ac - ec : bc - ec] += product
        self.weight[ar - er : br - er, ac - ec : bc - ec] += w

    def result(
        self, valid_read: np.ndarray, seconds: dict[str, float] | None = None
    ) -> BlockResult:
        """The sums, and ``valid_read`` (validity over the read window) on the extent."""
        h, w = self.weighted.shape
        window = valid_read[self.er : self.er + h, self.ec : self.ec + w]
        valid = (
            np.empty((h, w), dtype=bool)
            if self.out is None
            else self.out.array("valid", (h, w), bool)
        )
        np.copyto(valid, window)
        job = self.job
        return BlockResult(
            job.index,
            job.extent_rows,
            job.extent_cols,
            self.weighted,
            self.weight,
            valid,
            seconds or {},
        )


def blend_block(job: BlockJob, data: WindowData, probs: np.ndarray) -> BlockResult:
    """Add the block's tiles up with the weight window over the block's extent."""
    blender = _Blender(job, None)
    for prob, origin in zip(probs, job.origins, strict=True):
        blender.add(prob, origin)
    return blender.result(data.valid)


def process_block(
    scene: SceneSpec, model: ModelSpec, job: BlockJob, out: Workspace | None = None
) -> BlockResult:
    """Read, infer and blend one block in the calling thread, batch by batch.

    The block's raw values, tile batches and probabilities live in the thread's
    workspace; each tile is normalised straight from the raw values into the batch
    (identical to :func:`read_block`'s model input) and each batch is blended as soon
    as it is predicted, so nothing is allocated per tile and neither a float copy of
    the block nor a ``(tiles, H, W)`` array exists. The result's arrays live in ``out``
    (fresh when ``None``); the caller owns ``out`` until it is done with the result.
    ``BlockResult.seconds`` has the block's ``read``, ``infer`` (the model's own time,
    excluding waits for another block's forward pass) and ``blend`` (normalising and
    gathering tiles included, waits excluded) seconds.
    """
    workspace = thread_workspace()
    started = time.perf_counter()
    raw = read_block_raw(scene, job, workspace)
    read_s = time.perf_counter() - started
    predict = get_predictor(model)
    blender = _Blender(job, out)
    th, tw = job.tile_shape
    invalid = workspace.array("invalid", (th, tw), bool)
    origins = job.origins
    infer_s = wait_s = 0.0
    for start in range(0, len(origins), model.batch_size):
        batch = origins[start : start + model.batch_size]
        tiles = workspace.array("tiles", (len(batch), raw.data.shape[0], th, tw), np.float32)
        for tile, (r, c) in zip(tiles, batch, strict=True):
            window = RawWindow(
                raw.data[:, r : r + th, c : c + tw], raw.valid[r : r + th, c : c + tw]
            )
            model_input_into(window, scene.stats, tile, invalid)
        probs = workspace.array("probs", (len(batch), th, tw), np.float32)
        asked = time.perf_counter()
        with FORWARD_LOCK:
            tick = time.perf_counter()
            predict(tiles, probs)
            infer_s += time.perf_counter() - tick
        wait_s += tick - asked
        for prob, origin in zip(probs, batch, strict=True):
            blender.add(prob, origin)
    total = time.perf_counter() - started
    blend_s = total - read_s - infer_s - wait_s
    seconds = {"read": read_s, "infer": infer_s, "blend": blend_s}
    return blender.result(raw.valid, seconds)
