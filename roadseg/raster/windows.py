"""Where arrays lie on the working grid, and array slices of windows read inside
larger windows.

``rasterio.windows`` places windows on a raster (intersections, unions, transforms,
subdivisions); what it has no operation for is the one step between two windows that
numpy needs: where a window lies in an array read over another window. That step is
here, once, so the rest of roadseg slices arrays only with slices derived from
:meth:`rasterio.windows.Window.toslices`.

An array read from the working grid carries a :class:`Placement` (its window, the
window's transform and the grid's CRS: the georeferencing rio-tiler's ``ImageData``
carries), one value rather than three fields on each kind of array.
"""

from __future__ import annotations

from dataclasses import dataclass

from affine import Affine
from rasterio import windows as rio_windows
from rasterio.crs import CRS
from rasterio.windows import Window


@dataclass(frozen=True)
class Placement:
    """Where an array lies on the working grid.

    Attributes:
        window: the array's window of the working grid (it may run past the grid).
        transform: the pixel-to-CRS transform of ``window``, or ``None`` when unknown.
        crs: the working grid's CRS, or ``None`` (a plain image).
    """

    window: Window
    transform: Affine | None = None
    crs: CRS | None = None

    def crop(self, window: Window) -> Placement:
        """The placement of ``window``, a window of the same grid (typically inside this
        one), its transform derived from this one's."""
        transform = None
        if self.transform is not None:
            transform = rio_windows.transform(relative(window, self.window), self.transform)
        return Placement(window, transform, self.crs)


def relative(window: Window, parent: Window) -> Window:
    """``window`` in the pixel coordinates of an array covering ``parent``.

    Offsets are shifted by ``parent``'s; lengths are unchanged. The result may have
    negative offsets (``window`` starts before ``parent``).
    """
    return Window(
        window.col_off - parent.col_off,
        window.row_off - parent.row_off,
        window.width,
        window.height,
    )


def grown(window: Window, pixels: int) -> Window:
    """``window`` with ``pixels`` more on every side (a halo); clip it to the raster
    with :meth:`Window.intersection`."""
    return Window(
        window.col_off - pixels,
        window.row_off - pixels,
        window.width + 2 * pixels,
        window.height + 2 * pixels,
    )


def array_slices(window: Window, parent: Window) -> tuple[slice, slice]:
    """``(rows, cols)`` slices of an array covering ``parent`` that hold ``window``.

    They are ``relative(window, parent).toslices()`` for an integer window inside
    ``parent``, computed from the offsets directly: this runs for every tile of a block,
    and building the intermediate ``Window`` would cost more than the slicing it
    serves.

    Raises:
        ValueError: ``window`` does not lie inside ``parent`` (``Window.toslices``
            would silently clip it).
    """
    r0, c0 = window.row_off - parent.row_off, window.col_off - parent.col_off
    r1, c1 = r0 + window.height, c0 + window.width
    if r0 < 0 or c0 < 0 or r1 > parent.height or c1 > parent.width:
        raise ValueError(f"{window} does not lie inside {parent}")
    return slice(r0, r1), slice(c0, c1)
