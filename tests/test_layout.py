"""Tile and block layout: weights form a partition of unity, cells cover the grid."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from roadseg.errors import InvalidParameterError
from roadseg.inference.layout import AxisLayout, Layout, fit_tile, split_overlap


@pytest.mark.parametrize("size", [1, 7, 64, 100, 433, 1000, 2049])
@pytest.mark.parametrize(("tile", "overlap", "per_block"), [(64, 16, 2), (512, 32, 4), (32, 0, 3)])
def test_tile_weights_sum_to_one_and_segments_tile_the_axis(
    size: int, tile: int, overlap: int, per_block: int
) -> None:
    margin, ramp = split_overlap(overlap)
    axis = AxisLayout(size, tile, margin, ramp, per_block)
    total = np.zeros(size)
    for k in range(axis.n_tiles):
        o = axis.origin(k)
        lo, hi = max(o, 0), min(o + tile, size)
        if hi > lo:
            total[lo:hi] += axis.weights[lo - o : hi - o]
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    # One fewer tile would leave the end of the axis uncovered.
    last = axis.origin(axis.n_tiles - 1)
    assert axis.n_tiles == 1 or last - 1 + margin + ramp < size
    # Segments are contiguous and cover the axis; each block's extent is the union of
    # the segments it takes part in.
    segs = axis.segments
    assert segs[0].start == 0 and segs[-1].stop == size
    assert all(a.stop == b.start for a, b in itertools.pairwise(segs))
    for b in range(axis.n_blocks):
        mine = [s for s in segs if b in s.blocks]
        assert (mine[0].start, mine[-1].stop) == axis.block_extent(b)
    assert all(len(s.blocks) == 1 or s.stop - s.start <= ramp for s in segs)


def test_overlap_is_split_into_discarded_margin_and_ramp() -> None:
    assert split_overlap(32) == (8, 16)
    assert split_overlap(0) == (0, 0)
    layout = Layout.create(1000, 800, tile_size=512, overlap=32, block_size=2048, align=8)
    # 800 rows need 2 tiles of 512 (reaching 2 * 512 - 32 - 48 = 944); tiles of 440 do.
    assert layout.tile_shape == (440, 376)
    assert layout.rows.stride == 408 and layout.rows.n_tiles == 2
    assert layout.rows.tiles_per_block == 5


@pytest.mark.parametrize("size", [1, 50, 433, 2048, 8192, 16384])
@pytest.mark.parametrize("align", [1, 8, 32])
def test_fitted_tiles_are_as_few_and_as_small_as_possible(size: int, align: int) -> None:
    margin, ramp = split_overlap(32)
    tile = fit_tile(size, 512, 32, align)
    assert tile <= 512 and (tile % align == 0 or tile == 512)
    n = AxisLayout(size, 512, margin, ramp, 1).n_tiles
    assert AxisLayout(size, tile, margin, ramp, 1).n_tiles == n
    smaller = tile - align
    if smaller > 2 * 32:
        assert AxisLayout(size, smaller, margin, ramp, 1).n_tiles > n
    # The model runs on little more than the scene: overlap plus alignment slack.
    assert (n * tile) / (size + 2 * (margin + ramp) + (n - 1) * 32) <= 1 + align / max(
        tile, 1
    ) + 1 / n


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(tile_size=64, overlap=32, block_size=100),
        dict(tile_size=8, overlap=0, block_size=100),
        dict(tile_size=64, overlap=-1, block_size=100),
        dict(tile_size=64, overlap=8, block_size=0),
    ],
)
def test_bad_layouts_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(InvalidParameterError):
        Layout.create(100, 100, **kwargs)
