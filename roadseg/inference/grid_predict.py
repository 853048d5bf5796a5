"""Whole-grid probabilities in memory, through the same tiles and blend as ``roadseg run``.

For validation and evaluation of small labelled images (a few megapixels): the blocks
of :class:`~roadseg.inference.layout.Layout` are read, inferred and blended by the very
functions of :mod:`roadseg.inference.block_steps` that the streaming pipeline runs, and
their weighted sums are added up on one in-memory grid instead of a GeoTIFF. The model
may be any tile predictor, such as the network being trained.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from roadseg.inference.block_steps import BlockJob, blend_block, infer_block_with, read_block
from roadseg.inference.defaults import DEFAULT_BLOCK_SIZE, DEFAULT_OVERLAP, DEFAULT_TILE_SIZE
from roadseg.inference.layout import Layout
from roadseg.raster.prepare import SceneSpec

TilePredictor = Callable[[np.ndarray], np.ndarray]


def predict_grid(
    spec: SceneSpec,
    predict: TilePredictor,
    *,
    align: int = 1,
    tile_size: int = DEFAULT_TILE_SIZE,
    overlap: int = DEFAULT_OVERLAP,
    block_size: int = DEFAULT_BLOCK_SIZE,
    batch_size: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and validity of the whole working grid of ``spec``.

    Args:
        spec: the scene, its grid, bands and statistics.
        predict: ``(N, C, H, W)`` float32 tiles to ``(N, H, W)`` probabilities.
        align: the model's output stride (tile sides are multiples of it).
        tile_size, overlap, block_size: as for ``roadseg run``.
        batch_size: tiles per call of ``predict``.

    Returns:
        ``(probability, valid)``: ``(H, W)`` float32 (0 where not valid) and bool.
    """
    grid = spec.grid
    layout = Layout.create(
        grid.width,
        grid.height,
        tile_size=tile_size,
        overlap=overlap,
        block_size=block_size,
        align=align,
    )
    weighted = np.zeros((grid.height, grid.width), dtype=np.float32)
    weight = np.zeros_like(weighted)
    valid = np.zeros(weighted.shape, dtype=bool)
    for index in layout.blocks():
        job = BlockJob.from_layout(layout, index)
        data = read_block(spec, job)
        result = blend_block(job, data, infer_block_with(predict, batch_size, job, data))
        rows, cols = result.placement.window.toslices()  # the extent lies inside the grid
        weighted[rows, cols] += result.weighted
        weight[rows, cols] += result.weight
        valid[rows, cols] = result.valid
    valid &= weight > 0
    prob = np.divide(weighted, weight, out=np.zeros_like(weighted), where=valid)
    return prob, valid
