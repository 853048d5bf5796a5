"""The one place that decides which raster-library warnings roadseg silences.

rasterio warns ``NotGeoreferencedWarning`` whenever a plain image (a PNG or JPEG of a
labelled data set, or a scene without a CRS) is opened or written; roadseg knows, and
says so once itself (``raster/scene.py``). rio-tiler warns ``NoOverviewWarning`` for a
preview of a raster without overviews, which roadseg's quick-look reads on purpose.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_raster_warnings() -> Iterator[None]:
    """Silence the warnings above inside the block (and nothing else)."""
    from rasterio.errors import NotGeoreferencedWarning
    from rio_tiler.errors import NoOverviewWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        warnings.simplefilter("ignore", NoOverviewWarning)
        yield
