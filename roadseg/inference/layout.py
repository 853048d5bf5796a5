"""Where tiles and blocks go on the working grid, and how tiles are weighted.

Along each axis of the working grid (length ``size``) tiles of ``tile`` pixels start
every ``stride`` pixels. Each tile's outer ``margin`` pixels get weight 0 (the model
sees too little context there); then the weight rises over ``ramp`` pixels as
``sin²``, stays 1, and falls as ``cos²`` over the last ``ramp`` pixels before the far
margin. Neighbouring tiles overlap by ``overlap = 2 * margin + ramp`` pixels, so one
tile's falling ramp lies exactly on the next one's rising ramp and ``sin² + cos² = 1``:
the weights of all tiles sum to one everywhere (a partition of unity), and the blend
has no seam. The first tile starts ``margin + ramp`` pixels before the scene, so its
flat part begins at pixel 0; pixels outside the scene are reflections of it.

Blocks are groups of whole tiles. Every tile belongs to exactly one block, so no tile
is computed twice; the only pixels that need two blocks (four at a corner) are the
ramp strips where the last tile of one block meets the first tile of the next. Each
axis is therefore cut into *segments*: owned by one block, or shared by two. A 2-D
*cell* is a pair of segments, and is final once all of its blocks have reported.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from rasterio import windows
from rasterio.windows import Window

from roadseg.errors import InvalidParameterError


@dataclass(frozen=True)
class Segment:
    """A stretch ``[start, stop)`` of an axis and the blocks whose tiles cover it."""

    start: int
    stop: int
    blocks: tuple[int, ...]


@dataclass(frozen=True)
class AxisLayout:
    """Tiles and blocks along one axis of the working grid.

    Args:
        size: length of the axis in working-grid pixels.
        tile: tile length.
        margin: pixels at each tile end with weight 0.
        ramp: pixels over which the weight rises from 0 to 1.
        tiles_per_block: tiles grouped into one block.
    """

    size: int
    tile: int
    margin: int
    ramp: int
    tiles_per_block: int

    def __post_init__(self) -> None:
        if self.size < 1:
            raise InvalidParameterError(f"axis size must be positive, got {self.size}")
        if self.margin < 0 or self.ramp < 0:
            raise InvalidParameterError("margin and ramp must not be negative")
        if self.stride < max(self.ramp, 1):
            raise InvalidParameterError(
                f"tile size {self.tile} is too small for an overlap of "
                f"{self.tile - self.stride}; use a tile at least twice the overlap"
            )
        if self.tiles_per_block < 1:
            raise InvalidParameterError("a block needs at least one tile")

    @property
    def stride(self) -> int:
        return self.tile - 2 * self.margin - self.ramp

    @property
    def first_origin(self) -> int:
        return -(self.margin + self.ramp)

    @cached_property
    def n_tiles(self) -> int:
        # Smallest n whose last tile's flat part reaches the end of the axis.
        reach = self.first_origin + self.tile - self.margin - self.ramp  # flat end of tile 0
        return 1 + max(0, math.ceil((self.size - reach) / self.stride))

    def origin(self, k: int) -> int:
        """Start of tile ``k`` (may be negative or run past the axis: reflected there)."""
        return self.first_origin + k * self.stride

    @cached_property
    def n_blocks(self) -> int:
        return math.ceil(self.n_tiles / self.tiles_per_block)

    def block_tiles(self, b: int) -> range:
        """Indices of the tiles of block ``b``."""
        first = b * self.tiles_per_block
        return range(first, min(first + self.tiles_per_block, self.n_tiles))

    def block_extent(self, b: int) -> tuple[int, int]:
        """Pixels ``[start, stop)`` of the axis where block ``b``'s tiles have weight."""
        tiles = self.block_tiles(b)
        start = self.origin(tiles[0]) + self.margin
        stop = self.origin(tiles[-1]) + self.tile - self.margin
        return max(start, 0), min(stop, self.size)

    @cached_property
    def segments(self) -> tuple[Segment, ...]:
        """The axis cut into stretches owned by one block or shared by two."""
        out: list[Segment] = []
        cursor = 0
        for b in range(self.n_blocks - 1):
            shared_start = self.origin(self.block_tiles(b + 1)[0]) + self.margin
            shared_stop = shared_start + self.ramp
            out.append(Segment(cursor, min(shared_start, self.size), (b,)))
            out.append(Segment(shared_start, min(shared_stop, self.size), (b, b + 1)))
            cursor = min(shared_stop, self.size)
        out.append(Segment(cursor, self.size, (self.n_blocks - 1,)))
        return tuple(s for s in out if s.stop > s.start)

    @property
    def weights(self) -> np.ndarray:
        """The 1-D weight of a tile, float64 of length ``tile``."""
        return weight_profile(self.tile, self.margin, self.ramp)


@functools.lru_cache(maxsize=8)
def weight_profile(tile: int, margin: int, ramp: int) -> np.ndarray:
    """1-D tile weight: 0 over ``margin``, ``sin²`` rise over ``ramp``, 1, then mirrored."""
    w = np.zeros(tile, dtype=np.float64)
    w[margin : tile - margin] = 1.0
    if ramp:
        rise = np.sin(0.5 * np.pi * (np.arange(ramp) + 0.5) / ramp) ** 2
        w[margin : margin + ramp] = rise
        w[tile - margin - ramp : tile - margin] = rise[::-1]
    w.flags.writeable = False
    return w


@functools.lru_cache(maxsize=8)
def weight_window(height: int, width: int, margin: int, ramp: int) -> np.ndarray:
    """2-D tile weight (outer product of :func:`weight_profile`), float32, read-only."""
    w = np.outer(weight_profile(height, margin, ramp), weight_profile(width, margin, ramp)).astype(
        np.float32
    )
    w.flags.writeable = False
    return w


def fit_tile(size: int, tile_size: int, overlap: int, align: int = 1) -> int:
    """The smallest tile (a multiple of ``align``, at most ``tile_size``) that covers an
    axis of ``size`` pixels with as few tiles as ``tile_size`` would."""
    margin, ramp = split_overlap(overlap)
    n = AxisLayout(size, tile_size, margin, ramp, 1).n_tiles
    # n tiles of side t reach the end when n * t - (n - 1) * overlap >= size + 2 * (margin + ramp)
    need = math.ceil((size + 2 * (margin + ramp) + (n - 1) * overlap) / n)
    align = max(1, align)
    tile = max(need, 2 * overlap + 1, 16)
    tile = math.ceil(tile / align) * align
    return min(tile, tile_size)


def split_overlap(overlap: int) -> tuple[int, int]:
    """Split a total tile overlap into (margin discarded at each end, blending ramp)."""
    if overlap < 0:
        raise InvalidParameterError(f"overlap must not be negative, got {overlap}")
    margin = overlap // 4
    return margin, overlap - 2 * margin


@dataclass(frozen=True)
class Layout:
    """Tiles, blocks and cells of a working grid of ``width`` x ``height`` pixels."""

    rows: AxisLayout
    cols: AxisLayout

    @classmethod
    def create(
        cls,
        width: int,
        height: int,
        *,
        tile_size: int,
        overlap: int,
        block_size: int,
        align: int = 1,
    ) -> Layout:
        """Lay tiles of at most ``tile_size`` with ``overlap`` out, grouped into blocks
        of about ``block_size`` pixels.

        Along each axis the number of tiles is the fewest of ``tile_size`` that cover
        it; the tiles are then shrunk to the smallest multiple of ``align`` with which
        that many still cover it, so little model time is spent beyond the scene.
        """
        if tile_size < 16:
            raise InvalidParameterError(f"tile size must be at least 16 pixels, got {tile_size}")
        margin, ramp = split_overlap(overlap)
        if overlap >= tile_size // 2:
            raise InvalidParameterError(
                f"overlap {overlap} must be less than half the tile size {tile_size}"
            )
        if block_size < 1:
            raise InvalidParameterError(f"block size must be positive, got {block_size}")
        axes = []
        for size in (height, width):
            tile = fit_tile(size, tile_size, overlap, align)
            per_block = max(1, round(block_size / (tile - overlap)))
            axes.append(AxisLayout(size, tile, margin, ramp, per_block))
        return cls(rows=axes[0], cols=axes[1])

    @property
    def n_blocks(self) -> int:
        return self.rows.n_blocks * self.cols.n_blocks

    @property
    def n_tiles(self) -> int:
        return self.rows.n_tiles * self.cols.n_tiles

    @property
    def tile_shape(self) -> tuple[int, int]:
        """Tile height and width (equal unless fitted differently per axis)."""
        return self.rows.tile, self.cols.tile

    def blocks(self) -> list[tuple[int, int]]:
        """Block indices ``(row, col)`` in row-major order."""
        return [(i, j) for i in range(self.rows.n_blocks) for j in range(self.cols.n_blocks)]

    @property
    def window(self) -> Window:
        """The whole working grid."""
        return Window(0, 0, self.cols.size, self.rows.size)

    def tile_windows(self, index: tuple[int, int]) -> tuple[Window, ...]:
        """Windows of block ``index``'s tiles, row-major, in working-grid pixels (they may
        run past the grid: the reader reflects the scene there)."""
        bi, bj = index
        th, tw = self.tile_shape
        return tuple(
            Window(self.cols.origin(k), self.rows.origin(i), tw, th)
            for i in self.rows.block_tiles(bi)
            for k in self.cols.block_tiles(bj)
        )

    def block_read(self, index: tuple[int, int]) -> Window:
        """The window block ``index``'s tiles read: the union of its tiles."""
        return self._block_read(self.tile_windows(index))

    def block_extent(self, index: tuple[int, int]) -> Window:
        """Where block ``index``'s tiles have weight: the union of its tiles less their
        margins, clipped to the grid. Along each axis it is
        :meth:`AxisLayout.block_extent`, and the union of that block's segments."""
        return self._block_extent(self.tile_windows(index))

    @staticmethod
    def _block_read(tiles: tuple[Window, ...]) -> Window:
        # The tiles are a row-major grid: the first and the last span all of them.
        return windows.union(tiles[0], tiles[-1])

    def _block_extent(self, tiles: tuple[Window, ...]) -> Window:
        m = self.rows.margin
        weighted = [
            Window(t.col_off + m, t.row_off + m, t.width - 2 * m, t.height - 2 * m)
            for t in (tiles[0], tiles[-1])
        ]
        return windows.union(weighted).intersection(self.window)

    def block_windows(self, index: tuple[int, int]) -> tuple[Window, Window, tuple[Window, ...]]:
        """``(read, extent, tiles)`` of block ``index`` (:meth:`block_read`,
        :meth:`block_extent`, :meth:`tile_windows`), laying its tiles out once."""
        tiles = self.tile_windows(index)
        return self._block_read(tiles), self._block_extent(tiles), tiles

    def tile_weights(self) -> np.ndarray:
        """The 2-D weight window of a tile, float32."""
        return weight_window(self.rows.tile, self.cols.tile, self.rows.margin, self.rows.ramp)
