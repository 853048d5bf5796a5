"""Reading windows of the working grid from a scene: resampled, normalised, masked.

Reading is split in two steps that training shares: :func:`read_raw` resamples a
window of the scene onto the working grid (values in the scene's own dtype, and where
it has data), and :func:`model_input` turns such raw values into what the model sees.
Both are elementwise after the read, so a crop of a whole-grid raw read gives exactly
the model input that ``roadseg run`` computes for the same pixels.

A window may run past the scene's edges; those pixels are mirror images of the scene
(reflection without repeating the edge pixel), so the model sees plausible imagery
rather than a black border. The reflection is computed on global pixel indexes, so a
window reads exactly the same values whichever block asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import rasterio
from rasterio import windows
from rasterio.enums import Resampling
from rasterio.windows import Window

from roadseg.raster.buffers import Workspace
from roadseg.raster.grid import WorkingGrid
from roadseg.raster.normalize import BandStats, normalize
from roadseg.raster.windows import Placement

#: Model input given to pixels without data (mid-range of the stretched values).
NODATA_FILL = 0.5


def reflect_indices(start: int, stop: int, size: int) -> np.ndarray:
    """Indexes in ``[0, size)`` of the pixels ``start..stop-1`` of an axis mirrored at
    both ends (``... 2 1 | 0 1 2 ... n-1 | n-2 ...``)."""
    idx = np.arange(start, stop)
    if size == 1:
        return np.zeros_like(idx)
    period = 2 * (size - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= size, period - idx, idx)


@dataclass(frozen=True)
class RawWindow:
    """Scene values resampled onto a window of the working grid.

    A read carries where it lies (its :class:`~roadseg.raster.windows.Placement`: its
    window of the working grid, which may run past the grid, where the values are
    mirrored; the window's transform; the grid's CRS). A view of part of a read (a
    tile, a crop) may have none. The arrays are never copied into the object: they may
    be views of reused buffers.

    Attributes:
        data: ``(bands, height, width)`` in the scene's dtype.
        valid: ``(height, width)`` boolean, False where the scene has no data.
        placement: where it lies on the working grid, or ``None``.
    """

    data: np.ndarray
    valid: np.ndarray
    placement: Placement | None = None


@dataclass(frozen=True)
class WindowData:
    """Model input for a working-grid window and where the scene has data.

    Attributes:
        image: ``(bands, height, width)`` float32 in [0, 1].
        valid: ``(height, width)`` boolean, False where the scene has no data.
        placement: where it lies, as for :class:`RawWindow`.
    """

    image: np.ndarray
    valid: np.ndarray
    placement: Placement | None = None


def read_raw(
    src: rasterio.io.DatasetReader,
    grid: WorkingGrid,
    bands: tuple[int, ...],
    window: Window,
    nodata: float | None = None,
) -> RawWindow:
    """Read a working-grid ``window`` (inside the grid) at the grid's resolution.

    Args:
        src: the open scene.
        grid: the working grid of the scene.
        bands: 1-based bands in model order.
        window: integer window of the working grid.
        nodata: a value that marks no-data where every band has it, on top of the
            file's own mask (for files that do not declare it, such as JPEG tiles with
            white borders).
    """
    return _read_raw(src, grid, bands, window, nodata, None)


def _read_raw(
    src: rasterio.io.DatasetReader,
    grid: WorkingGrid,
    bands: tuple[int, ...],
    window: Window,
    nodata: float | None,
    workspace: Workspace | None,
) -> RawWindow:
    """:func:`read_raw`, reading the values into ``workspace``'s ``raw`` array if given."""
    height, width = windows.shape(window)
    shape = (int(height), int(width))
    out = None
    if workspace is not None:
        out = workspace.array("raw", (len(bands), *shape), src.dtypes[bands[0] - 1])
    if grid.resampled:
        scene_window = grid.scene_window(window)
        # ``out`` fixes the output shape (rasterio refuses it with ``out_shape``).
        sized = {"out": out} if out is not None else {"out_shape": (len(bands), *shape)}
        data = src.read(list(bands), window=scene_window, resampling=Resampling.bilinear, **sized)
        mask = src.dataset_mask(window=scene_window, out_shape=shape, resampling=Resampling.nearest)
    else:
        data = src.read(list(bands), window=window, out=out)
        mask = src.dataset_mask(window=window)
    valid = mask > 0
    if data.dtype.kind == "f":
        valid &= np.isfinite(data).all(axis=0)
    if nodata is not None:
        valid &= ~np.all(data == nodata, axis=0)
    return RawWindow(data, valid, grid.placement(window))


def model_input(raw: RawWindow, stats: BandStats) -> np.ndarray:
    """The model's ``(bands, h, w)`` float32 input for raw values: stretched, no-data filled."""
    image = normalize(raw.data, stats)
    if not raw.valid.all():
        np.copyto(image, np.float32(NODATA_FILL), where=~raw.valid[None])
    return image


def model_input_into(
    raw: RawWindow, stats: BandStats, out: np.ndarray, invalid: np.ndarray | None = None
) -> np.ndarray:
    """:func:`model_input` computed in ``out`` (float32, the shape of ``raw.data``), with
    the same operations in the same order, so the values are identical bit for bit.

    ``raw`` may be a view (a tile of a larger window); ``invalid``, a boolean array of
    ``raw.valid``'s shape, is scratch space for the no-data fill (so nothing is
    allocated), used only when some pixel has no data.
    """
    if raw.data.shape[0] != stats.count:
        normalize(raw.data[:, :0, :0], stats)  # raises the usual error
    shape = (-1,) + (1,) * (raw.data.ndim - 1)
    low = np.asarray(stats.low, dtype=np.float32).reshape(shape)
    high = np.asarray(stats.high, dtype=np.float32).reshape(shape)
    np.copyto(out, raw.data, casting="unsafe")  # what astype(float32) computes
    out -= low
    out /= high - low
    np.clip(out, 0.0, 1.0, out=out)
    if not raw.valid.all():
        invalid = np.logical_not(raw.valid, out=invalid)
        np.copyto(out, np.float32(NODATA_FILL), where=invalid[None])
    return out


def read_window_raw(
    src: rasterio.io.DatasetReader,
    grid: WorkingGrid,
    bands: tuple[int, ...],
    window: Window,
    nodata: float | None = None,
    *,
    workspace: Workspace | None = None,
) -> RawWindow:
    """Raw values of an integer working-grid ``window`` (it may run past the grid:
    mirrored there). With ``workspace`` the arrays live in its buffers, valid until its
    next read; without, the result owns fresh arrays."""
    (r0, r1), (c0, c1) = window.toranges()
    ridx = reflect_indices(r0, r1, grid.height)
    cidx = reflect_indices(c0, c1, grid.width)
    # The part of the grid the mirrored pixels come from.
    source = Window.from_slices(
        (int(ridx.min()), int(ridx.max()) + 1), (int(cidx.min()), int(cidx.max()) + 1)
    )
    raw = _read_raw(src, grid, bands, source, nodata, workspace)
    if source == window:
        return raw  # inside the grid: nothing to mirror
    # Mirroring commutes with the elementwise model input, so mirror the raw values
    # (the scene's dtype, often a quarter of the float32 input).
    height, width = windows.shape(window)
    if workspace is None:
        data = np.empty((raw.data.shape[0], height, width), dtype=raw.data.dtype)
        valid = np.empty((height, width), dtype=bool)
    else:
        data = workspace.array("mirrored", (raw.data.shape[0], height, width), raw.data.dtype)
        valid = workspace.array("mirrored-valid", (height, width), bool)
    sel_r, sel_c = (ridx - source.row_off)[:, None], (cidx - source.col_off)[None, :]
    for band in range(data.shape[0]):
        data[band] = raw.data[band][sel_r, sel_c]
    valid[...] = raw.valid[sel_r, sel_c]
    return RawWindow(data, valid, grid.placement(window))


def read_window(
    src: rasterio.io.DatasetReader,
    grid: WorkingGrid,
    bands: tuple[int, ...],
    stats: BandStats,
    window: Window,
    nodata: float | None = None,
    *,
    workspace: Workspace | None = None,
) -> WindowData:
    """Model input of an integer working-grid ``window`` (it may run past the grid:
    mirrored there), in ``workspace``'s buffers if given (see :func:`read_window_raw`)."""
    raw = read_window_raw(src, grid, bands, window, nodata, workspace=workspace)
    shape = raw.data.shape
    if workspace is None:
        image = np.empty(shape, dtype=np.float32)
    else:
        image = workspace.array("image", shape, np.float32)
    image = model_input_into(raw, stats, image)
    return WindowData(image, raw.valid, raw.placement)
