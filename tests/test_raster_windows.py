"""Array slices of a window inside another: the one step rasterio.windows lacks."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio import windows
from rasterio.windows import Window

from roadseg.raster.windows import array_slices, relative


@pytest.mark.parametrize(
    ("window", "parent"),
    [
        (Window(0, 0, 5, 7), Window(0, 0, 5, 7)),
        (Window(3, 2, 4, 1), Window(-10, -6, 30, 20)),
        (Window(-4, -3, 8, 6), Window(-12, -12, 88, 60)),
        (Window(60, 32, 40, 12), Window(60, 32, 52, 60)),
    ],
)
def test_array_slices_are_the_relative_windows_slices(window: Window, parent: Window) -> None:
    assert array_slices(window, parent) == relative(window, parent).toslices()
    block = np.arange(parent.height * parent.width).reshape(parent.height, parent.width)
    rows, cols = array_slices(window, parent)
    assert block[rows, cols].shape == windows.shape(window)


@pytest.mark.parametrize(
    "window", [Window(-1, 0, 3, 3), Window(0, -1, 3, 3), Window(8, 0, 3, 3), Window(0, 0, 3, 11)]
)
def test_array_slices_refuse_a_window_outside_the_parent(window: Window) -> None:
    with pytest.raises(ValueError, match="does not lie inside"):
        array_slices(window, Window(0, 0, 10, 10))
