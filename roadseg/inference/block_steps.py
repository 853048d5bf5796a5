"""The three steps of a block — read, infer, blend — as plain picklable functions.

They run as Dask tasks, possibly in other processes or on other machines, so they take
small frozen descriptions (paths, windows, statistics) and return numpy arrays.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import rasterio
from rasterio import windows
from rasterio.errors import WindowError
from rasterio.windows import Window

from roadseg.inference.forward import FORWARD_LOCK
from roadseg.inference.layout import Layout, weight_window
from roadseg.inference.predictor import ModelSpec, get_predictor
from roadseg.io.quiet import quiet_raster_warnings
from roadseg.raster.buffers import Workspace, thread_workspace
from roadseg.raster.prepare import SceneSpec, read_scene
from roadseg.raster.reader import (
    RawWindow,
    WindowData,
    model_input_into,
    read_window,
    read_window_raw,
)
from roadseg.raster.windows import Placement, array_slices

#: Megabytes of GDAL block cache in each process (GDAL's default grows with RAM).
GDAL_CACHE_MB = 64


@dataclass(frozen=True)
class BlockJob:
    """One block: the window its tiles read, the extent where they have weight, its tiles.

    All windows are in working-grid pixels: ``read`` and ``tiles`` may run past the
    grid (the reader reflects the scene there), ``extent`` lies inside it.

    Attributes:
        index: the block, ``(row, col)``.
        read: the union of the tiles.
        extent: where the tiles have weight (the block's result covers it).
        tiles: the tiles' windows, row-major; all of one shape.
        margin, ramp: of the tile weights (see :mod:`roadseg.inference.layout`).
    """

    index: tuple[int, int]
    read: Window
    extent: Window
    tiles: tuple[Window, ...]
    margin: int
    ramp: int

    @classmethod
    def from_layout(cls, layout: Layout, index: tuple[int, int]) -> BlockJob:
        read, extent, tiles = layout.block_windows(index)
        return cls(
            index=index,
            read=read,
            extent=extent,
            tiles=tiles,
            margin=layout.rows.margin,
            ramp=layout.rows.ramp,
        )

    @property
    def tile_shape(self) -> tuple[int, int]:
        """Tile height and width."""
        return windows.shape(self.tiles[0])

    def tile_slices(self) -> list[tuple[slice, slice]]:
        """Each tile's ``(rows, cols)`` slices of an array read over :attr:`read`."""
        return [array_slices(tile, self.read) for tile in self.tiles]


@dataclass(frozen=True)
class BlockResult:
    """Weighted probability sums of a block over its extent.

    The arrays are the result's own or views of buffers handed over with it (see
    :func:`process_block`); the result never copies them.

    Attributes:
        index: the block.
        placement: where the arrays lie: the extent, in working-grid pixels, its
            transform (derived from the transform of the block's read window, when
            known) and the grid's CRS.
        weighted: sum over tiles of weight x probability, float32.
        weight: sum of the weights, float32.
        valid: where the scene has data.
        seconds: time spent on each stage of the block, when measured.
    """

    index: tuple[int, int]
    placement: Placement
    weighted: np.ndarray
    weight: np.ndarray
    valid: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict, compare=False)


@contextlib.contextmanager
def _reading() -> Iterator[None]:
    """Quiet about plain images, with the bounded GDAL cache."""
    with quiet_raster_warnings(), rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2**20):
        yield


def read_block(spec: SceneSpec, job: BlockJob) -> WindowData:
    """Read the block's window (all of its tiles) as model input."""
    with _reading():
        return read_scene(
            spec,
            lambda src: read_window(src, spec.grid, spec.bands, spec.stats, job.read, spec.nodata),
        )


def read_block_raw(spec: SceneSpec, job: BlockJob, workspace: Workspace) -> RawWindow:
    """The block's raw values (the scene's dtype) in ``workspace``'s buffers; a remote
    scene is read under its network settings, with retries (see
    :func:`roadseg.raster.prepare.read_scene`)."""
    with _reading():
        return read_scene(
            spec,
            lambda src: read_window_raw(
                src, spec.grid, spec.bands, job.read, spec.nodata, workspace=workspace
            ),
        )


def infer_block(model: ModelSpec, job: BlockJob, data: WindowData) -> np.ndarray:
    """Probabilities of every tile of the block, ``(tiles, size, size)`` float32."""
    predict = get_predictor(model)
    out = np.empty((len(job.tiles), *job.tile_shape), dtype=np.float32)
    for start, stop, tiles in _batches(job, data, model.batch_size, thread_workspace()):
        predict(tiles, out[start:stop])
    return out


def infer_block_with(
    predict: Callable[[np.ndarray], np.ndarray], batch_size: int, job: BlockJob, data: WindowData
) -> np.ndarray:
    """:func:`infer_block` with any ``(N, C, H, W) -> (N, H, W)`` tile predictor (the model
    being trained, during validation)."""
    out = np.empty((len(job.tiles), *job.tile_shape), dtype=np.float32)
    for start, stop, tiles in _batches(job, data, batch_size, thread_workspace()):
        out[start:stop] = predict(tiles)
    return out


def _batches(
    job: BlockJob, data: WindowData, batch_size: int, workspace: Workspace
) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, stop, tiles)`` for each batch of the block's tiles, gathered into one
    reused ``(batch, C, H, W)`` array (valid until the next batch)."""
    th, tw = job.tile_shape
    slices = job.tile_slices()
    bands = data.image.shape[0]
    for start in range(0, len(slices), batch_size):
        batch = slices[start : start + batch_size]
        tiles = workspace.array("tiles", (len(batch), bands, th, tw), np.float32)
        for tile, (rows, cols) in zip(tiles, batch, strict=True):
            np.copyto(tile, data.image[:, rows, cols])
        yield start, start + len(batch), tiles


class _Blender:
    """Adds tiles into a block's weighted sums in place (no per-tile allocation).

    The windows are worked out once per block: for each tile, the part of it inside
    the block's extent, as slices of the tile and of the sums.
    """

    def __init__(self, job: BlockJob, out: Workspace | None) -> None:
        th, tw = job.tile_shape
        self.job = job
        self.weights = weight_window(th, tw, job.margin, job.ramp)
        shape = windows.shape(job.extent)
        if out is None:
            self.weighted = np.zeros(shape, dtype=np.float32)
            self.weight = np.zeros(shape, dtype=np.float32)
        else:
            self.weighted = out.zeros("weighted", shape, np.float32)
            self.weight = out.zeros("weight", shape, np.float32)
        self.out = out
        self.spans: list[tuple[tuple[slice, slice], tuple[slice, slice]] | None] = []
        for tile in job.tiles:
            try:
                part = tile.intersection(job.extent)
            except WindowError:  # no weight inside the extent
                self.spans.append(None)
                continue
            self.spans.append((array_slices(part, tile), array_slices(part, job.extent)))
        self.scratch = thread_workspace().array("blend", (th, tw), np.float32)

    def add(self, prob: np.ndarray, k: int) -> None:
        """Add tile ``k``'s probabilities."""
        span = self.spans[k]
        if span is None:
            return
        in_tile, in_extent = span
        w = self.weights[in_tile]
        product = self.scratch[: w.shape[0], : w.shape[1]]
        np.multiply(w, prob[in_tile], out=product)
        self.weighted[in_extent] += product
        self.weight[in_extent] += w

    def result(
        self, read: RawWindow | WindowData, seconds: dict[str, float] | None = None
    ) -> BlockResult:
        """The sums, and ``read``'s validity (over the read window) on the extent."""
        job = self.job
        valid = (
            np.empty(self.weighted.shape, dtype=bool)
            if self.out is None
            else self.out.array("valid", self.weighted.shape, bool)
        )
        np.copyto(valid, read.valid[array_slices(job.extent, job.read)])
        placement = (
            Placement(job.extent) if read.placement is None else read.placement.crop(job.extent)
        )
        return BlockResult(job.index, placement, self.weighted, self.weight, valid, seconds or {})


def blend_block(job: BlockJob, data: WindowData, probs: np.ndarray) -> BlockResult:
    """Add the block's tiles up with the weight window over the block's extent."""
    blender = _Blender(job, None)
    for k, prob in enumerate(probs):
        blender.add(prob, k)
    return blender.result(data)


def process_block(
    spec: SceneSpec, model: ModelSpec, job: BlockJob, out: Workspace | None = None
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
    raw = read_block_raw(spec, job, workspace)
    read_s = time.perf_counter() - started
    predict = get_predictor(model)
    blender = _Blender(job, out)
    th, tw = job.tile_shape
    invalid = workspace.array("invalid", (th, tw), bool)
    slices = job.tile_slices()
    infer_s = wait_s = 0.0
    for start in range(0, len(slices), model.batch_size):
        batch = slices[start : start + model.batch_size]
        tiles = workspace.array("tiles", (len(batch), raw.data.shape[0], th, tw), np.float32)
        for tile, (rows, cols) in zip(tiles, batch, strict=True):
            # A view of the block's raw values: no copy, no placement needed.
            view = RawWindow(raw.data[:, rows, cols], raw.valid[rows, cols])
            model_input_into(view, spec.stats, tile, invalid)
        probs = workspace.array("probs", (len(batch), th, tw), np.float32)
        asked = time.perf_counter()
        with FORWARD_LOCK:
            tick = time.perf_counter()
            predict(tiles, probs)
            infer_s += time.perf_counter() - tick
        wait_s += tick - asked
        for k, prob in enumerate(probs, start):
            blender.add(prob, k)
    total = time.perf_counter() - started
    blend_s = total - read_s - infer_s - wait_s
    seconds = {"read": read_s, "infer": infer_s, "blend": blend_s}
    return blender.result(raw, seconds)
