"""Array slices of windows read inside larger windows.

``rasterio.windows`` places windows on a raster (intersections, unions, transforms,
subdivisions); what it has no operation for is the one step between two windows that
numpy needs: where a window lies in an array read over another window. That step is
here, once, so the rest of roadseg slices arrays only with slices derived from
:meth:`rasterio.windows.Window.toslices`.
"""

from __future__ import annotations

from rasterio.windows import Window


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
