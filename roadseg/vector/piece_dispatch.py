"""Running the block stage as Dask tasks: locally, or on a distributed scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dask
from dask.callbacks import Callback
from rasterio.windows import Window, subdivide

from roadseg.cluster import computed_as_completed, connected
from roadseg.context import RunContext
from roadseg.log import progress_bar
from roadseg.vector.skeleton import Piece


def block_windows(width: int, height: int, block_size: int) -> Iterator[Window]:
    """Core windows tiling the raster, row by row (``rasterio.windows.subdivide``)."""
    yield from subdivide(Window(0, 0, width, height), block_size, block_size)


class _TqdmCallback(Callback):
    """Advance a tqdm bar each time a block task of the local scheduler finishes."""

    def __init__(self, bar: Any, prefix: str) -> None:
        super().__init__()
        self._bar, self._prefix = bar, prefix

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, id: Any) -> None:
        name = key[0] if isinstance(key, tuple) else key
        if isinstance(name, str) and name.startswith(self._prefix):
            self._bar.update(1)


def run_blocks(tasks: list[Any], run: RunContext) -> list[list[Piece]]:
    """Each block task's pieces, in the order of ``tasks``, computed where ``run`` says."""
    bar = progress_bar(len(tasks), "vectorize", "block", enabled=run.progress)
    try:
        if run.scheduler is None:
            with _TqdmCallback(bar, "block_pieces"):
                return list(dask.compute(*tasks, scheduler="threads"))
        out: list[Any] = [None] * len(tasks)
        with connected(run.scheduler) as client:
            for index, pieces in computed_as_completed(client, tasks):
                out[index] = pieces
                bar.update(1)
        return out
    finally:
        bar.close()
