"""Reads and block results carry their window, transform and CRS, without copying arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from inference_helpers import textured, write_scene
from rasterio import windows
from rasterio.windows import Window

from roadseg.inference.block_steps import (
    BlockJob,
    blend_block,
    infer_block_with,
    read_block,
)
from roadseg.inference.layout import Layout
from roadseg.raster.buffers import Workspace
from roadseg.raster.prepare import SceneSpec, prepare_scene
from roadseg.raster.reader import read_window_raw


def _spec(tmp_path: Path, georeferenced: bool) -> SceneSpec:
    crs = "EPSG:32633" if georeferenced else None
    scene = write_scene(tmp_path / "s.tif", textured(70, 90), crs=crs)
    _, spec = prepare_scene(
        scene, in_channels=3, model_gsd_m=1.0, normalization=None, gsd=1.0, quiet=True
    )
    return spec


@pytest.mark.parametrize("georeferenced", [True, False])
@pytest.mark.parametrize(
    "window", [Window(10, 5, 40, 30), Window(-12, -12, 50, 40), Window(70, 50, 31, 36)]
)
def test_a_read_carries_its_window_transform_and_crs(
    tmp_path: Path, georeferenced: bool, window: Window
) -> None:
    spec = _spec(tmp_path, georeferenced)
    ws = Workspace()
    with rasterio.open(spec.path) as src:
        raw = read_window_raw(src, spec.grid, spec.bands, window, workspace=ws)
    assert raw.placement.window == window
    assert raw.data.shape[1:] == raw.valid.shape == windows.shape(window)
    placement = raw.placement
    assert placement.transform == windows.transform(window, spec.grid.transform)
    assert placement.crs == spec.grid.crs and (placement.crs is None) == (not georeferenced)
    # The values are read into (or mirrored into) the workspace's buffers: not copies.
    assert raw.data.base is not None
    if georeferenced:
        # The transform places the window's first pixel on the scene's map.
        x, y = placement.transform * (0, 0)
        assert (x, y) == pytest.approx(spec.grid.transform * (window.col_off, window.row_off))


@pytest.mark.parametrize("georeferenced", [True, False])
def test_block_results_carry_their_extent_transform_and_crs(
    tmp_path: Path, georeferenced: bool
) -> None:
    spec = _spec(tmp_path, georeferenced)
    grid = spec.grid
    layout = Layout.create(grid.width, grid.height, tile_size=32, overlap=8, block_size=24)
    assert layout.n_blocks > 4
    covered = np.zeros((grid.height, grid.width), dtype=int)
    for index in layout.blocks():
        job = BlockJob.from_layout(layout, index)
        data = read_block(spec, job)
        assert data.placement.window == job.read and data.placement.crs == grid.crs
        probs = infer_block_with(lambda t: t[:, 0].copy(), 4, job, data)
        result = blend_block(job, data, probs)
        placement = result.placement
        assert placement.window == job.extent
        assert result.weighted.shape == windows.shape(job.extent)
        assert placement.crs == grid.crs
        assert isinstance(placement.transform, Affine)
        assert placement.transform.almost_equals(grid.window_transform(job.extent))
        covered[placement.window.toslices()] += 1
    assert covered.min() >= 1  # the extents cover the grid
