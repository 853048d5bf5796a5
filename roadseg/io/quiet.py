"""The one place that decides which raster-library warnings roadseg silences.

rasterio warns ``NotGeoreferencedWarning`` whenever a plain image (a PNG or JPEG of a
labelled data set, or a scene without a CRS) is opened or written; roadseg knows, and
says so once itself (``raster/scene.py``). rio-tiler warns ``NoOverviewWarning`` for a
preview of a raster without overviews, which roadseg's quick-look reads on purpose.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_raster_warnings() -> Iterator[None]:
    """Silence the warnings above inside the block (and nothing else)."""
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        # Only rio-tiler's own code raises its warning, so it matters only once rio-tiler
        # is loaded; importing it here would cost every run (and every Dask worker) half a
        # second of pydantic and morecantile imports before the first block.
        rio_tiler_errors = sys.modules.get("rio_tiler.errors")
        if rio_tiler_errors is not None:
            warnings.simplefilter("ignore", rio_tiler_errors.NoOverviewWarning)
        yield
