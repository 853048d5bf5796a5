"""The block and tile layout, pinned: windows of blocks, their extents and their tiles.

The values were recorded from the layout arithmetic as it stood; any change to where
blocks read, where their tiles go or how extents are clipped to the grid changes the
probabilities ``roadseg run`` writes, so it must show up here first.
"""

from __future__ import annotations

from typing import Any

import pytest
from rasterio.windows import Window

from roadseg.inference.block_steps import BlockJob
from roadseg.inference.layout import Layout

Box = tuple[int, int, int, int]  # col_off, row_off, width, height

#: (Layout.create arguments, tile shape, blocks, row segments, column segments); each
#: block is (index, read window, extent window, tile row origins, tile column origins),
#: all in working-grid pixels.
CASES: list[tuple[dict[str, int], tuple[int, int], list[Any], list[Any], list[Any]]] = [
    (
        dict(width=100, height=80, tile_size=64, overlap=16, block_size=60, align=1),
        (60, 52),
        [
            ((0, 0), (-12, -12, 88, 60), (0, 0, 72, 44), (-12,), (-12, 24)),
            ((0, 1), (60, -12, 52, 60), (64, 0, 36, 44), (-12,), (60,)),
            ((1, 0), (-12, 32, 88, 60), (0, 36, 72, 44), (32,), (-12, 24)),
            ((1, 1), (60, 32, 52, 60), (64, 36, 36, 44), (32,), (60,)),
        ],
        [(0, 36, (0,)), (36, 44, (0, 1)), (44, 80, (1,))],
        [(0, 64, (0,)), (64, 72, (0, 1)), (72, 100, (1,))],
    ),
    (
        dict(width=300, height=257, tile_size=128, overlap=32, block_size=160, align=16),
        (128, 112),
        [
            ((0, 0), (-24, -24, 192, 224), (0, 0, 160, 192), (-24, 72), (-24, 56)),
            ((0, 1), (136, -24, 192, 224), (144, 0, 156, 192), (-24, 72), (136, 216)),
            ((1, 0), (-24, 168, 192, 128), (0, 176, 160, 81), (168,), (-24, 56)),
            ((1, 1), (136, 168, 192, 128), (144, 176, 156, 81), (168,), (136, 216)),
        ],
        [(0, 176, (0,)), (176, 192, (0, 1)), (192, 257, (1,))],
        [(0, 144, (0,)), (144, 160, (0, 1)), (160, 300, (1,))],
    ),
    (
        dict(width=1000, height=37, tile_size=512, overlap=32, block_size=700, align=32),
        (96, 384),
        [
            ((0, 0), (-24, -24, 736, 96), (0, 0, 704, 37), (-24,), (-24, 328)),
            ((0, 1), (680, -24, 384, 96), (688, 0, 312, 37), (-24,), (680,)),
        ],
        [(0, 37, (0,))],
        [(0, 688, (0,)), (688, 704, (0, 1)), (704, 1000, (1,))],
    ),
    (
        dict(width=1, height=17, tile_size=16, overlap=4, block_size=1, align=1),
        (16, 16),
        [
            ((0, 0), (-3, -3, 16, 16), (0, 0, 1, 12), (-3,), (-3,)),
            ((1, 0), (-3, 9, 16, 16), (0, 10, 1, 7), (9,), (-3,)),
        ],
        [(0, 10, (0,)), (10, 12, (0, 1)), (12, 17, (1,))],
        [(0, 1, (0,))],
    ),
]


def _box(window: Window) -> Box:
    box = (window.col_off, window.row_off, window.width, window.height)
    assert all(isinstance(v, int) for v in box), window  # integer windows, not floats
    return box


def _described(job: BlockJob) -> tuple[Any, Box, Box, tuple[int, ...], tuple[int, ...]]:
    """A block job as plain integers in working-grid pixels."""
    tiles = [_box(t) for t in job.tiles]
    assert {t[2:] for t in tiles} == {job.tile_shape[::-1]}
    rows = tuple(dict.fromkeys(t[1] for t in tiles))
    cols = tuple(dict.fromkeys(t[0] for t in tiles))
    assert tiles == [(c, r, *t[2:]) for r in rows for c in cols for t in tiles[:1]]
    return job.index, _box(job.read), _box(job.extent), rows, cols


@pytest.mark.parametrize(("kwargs", "tile_shape", "blocks", "rows", "cols"), CASES)
def test_block_and_tile_windows_are_pinned(
    kwargs: dict[str, int],
    tile_shape: tuple[int, int],
    blocks: list[Any],
    rows: list[Any],
    cols: list[Any],
) -> None:
    kw = dict(kwargs)
    layout = Layout.create(kw.pop("width"), kw.pop("height"), **kw)
    assert layout.tile_shape == tile_shape
    got = [_described(BlockJob.from_layout(layout, index)) for index in layout.blocks()]
    assert got == blocks
    assert [(s.start, s.stop, s.blocks) for s in layout.rows.segments] == rows
    assert [(s.start, s.stop, s.blocks) for s in layout.cols.segments] == cols
    # The 2-D extents are the 1-D ones of each axis, and the union of the block's cells.
    for index in layout.blocks():
        extent = layout.block_extent(index)
        ((r0, r1), (c0, c1)) = extent.toranges()
        assert (r0, r1) == layout.rows.block_extent(index[0])
        assert (c0, c1) == layout.cols.block_extent(index[1])
