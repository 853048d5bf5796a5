"""Writing probabilities block by block, then turning them into a Cloud-Optimised GeoTIFF.

Blocks arrive in any order. A block's extent is cut into cells (see
:mod:`roadseg.inference.layout`); a cell owned by one block is written at once, a cell
shared with neighbours waits in memory (a thin strip) until every block that covers it
has reported. Cells go to an uncompressed tiled GeoTIFF (cheap random-access writes);
:func:`write_cog` then copies it into a deflate-compressed COG with overviews.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.shutil import copy as rio_copy
from rasterio.windows import Window

from roadseg.inference.block_steps import BlockResult
from roadseg.inference.layout import Layout, Segment
from roadseg.io.quiet import quiet_raster_warnings
from roadseg.raster.grid import WorkingGrid
from roadseg.raster.probability import PROB_NODATA, PROB_SCALE, encode_probability
from roadseg.raster.windows import array_slices

#: Internal tile size of the output.
OUTPUT_BLOCKSIZE = 512


@dataclass
class _Pending:
    weighted: np.ndarray
    weight: np.ndarray
    valid: np.ndarray
    seen: int = 0


@dataclass
class ProbabilityWriter:
    """Accumulates :class:`~roadseg.inference.block_steps.BlockResult` cells into a GeoTIFF."""

    path: Path
    grid: WorkingGrid
    layout: Layout
    tags: dict[str, str]
    _pending: dict[tuple[int, int], _Pending] = field(default_factory=dict)
    _dst: rasterio.io.DatasetWriter | None = None

    def __enter__(self) -> ProbabilityWriter:
        with quiet_raster_warnings():  # a plain image's output has no CRS, on purpose
            self._dst = self._open()
        self._dst.update_tags(**self.tags)
        self._dst.scales = (PROB_SCALE,)
        self._dst.offsets = (0.0,)
        return self

    def _open(self) -> rasterio.io.DatasetWriter:
        return rasterio.open(
            self.path,
            "w",
            driver="GTiff",
            width=self.grid.width,
            height=self.grid.height,
            count=1,
            dtype="uint8",
            crs=self.grid.crs,
            transform=self.grid.transform,
            nodata=PROB_NODATA,
            tiled=True,
            blockxsize=OUTPUT_BLOCKSIZE,
            blockysize=OUTPUT_BLOCKSIZE,
            BIGTIFF="IF_SAFER",
        )

    def __exit__(self, *exc: object) -> None:
        if self._dst is not None:
            self._dst.close()
            self._dst = None

    def add(self, result: BlockResult) -> None:
        """Add one block's result; write every cell it completes."""
        bi, bj = result.index
        for i, rseg in enumerate(self.layout.rows.segments):
            if bi not in rseg.blocks:
                continue
            for j, cseg in enumerate(self.layout.cols.segments):
                if bj not in cseg.blocks:
                    continue
                window = Window.from_slices((rseg.start, rseg.stop), (cseg.start, cseg.stop))
                self._add_cell((i, j), rseg, cseg, result, window)

    def _add_cell(
        self,
        key: tuple[int, int],
        rseg: Segment,
        cseg: Segment,
        result: BlockResult,
        window: Window,
    ) -> None:
        rs, cs = array_slices(window, result.placement.window)
        weighted = result.weighted[rs, cs]
        weight = result.weight[rs, cs]
        expected = len(rseg.blocks) * len(cseg.blocks)
        if expected > 1:
            cell = self._pending.get(key)
            if cell is None:
                cell = _Pending(weighted.copy(), weight.copy(), result.valid[rs, cs].copy())
                self._pending[key] = cell
            else:
                cell.weighted += weighted
                cell.weight += weight
            cell.seen += 1
            if cell.seen < expected:
                return
            del self._pending[key]
            weighted, weight, valid = cell.weighted, cell.weight, cell.valid
        else:
            valid = result.valid[rs, cs]
        with np.errstate(invalid="ignore", divide="ignore"):
            prob = weighted / weight
        stored = encode_probability(prob, valid & (weight > 0))
        assert self._dst is not None, "use the writer as a context manager"
        self._dst.write(stored, 1, window=window)


def write_cog(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Copy a GeoTIFF into a deflate-compressed Cloud-Optimised GeoTIFF with overviews."""
    rio_copy(
        str(source),
        str(target),
        driver="COG",
        COMPRESS="DEFLATE",
        PREDICTOR="2",
        BLOCKSIZE=str(OUTPUT_BLOCKSIZE),
        OVERVIEWS="AUTO",
        OVERVIEW_RESAMPLING="AVERAGE",
        BIGTIFF="IF_SAFER",
        # One thread: two give the same bytes in half the time (0.31 against 0.59 s for
        # Swellendam's 21 Mpx) but raised the run's peak by 50 MB (bench_scenes.py).
        NUM_THREADS="1",
    )
