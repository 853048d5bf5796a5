"""The one switch for raster-library warnings: what it silences, and what it costs."""

from __future__ import annotations

import subprocess
import sys
import warnings

from rasterio.errors import NotGeoreferencedWarning

from roadseg.io.quiet import quiet_raster_warnings


def test_silences_only_the_raster_warnings() -> None:
    from rio_tiler.errors import NoOverviewWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_raster_warnings():
            warnings.warn("plain image", NotGeoreferencedWarning, stacklevel=1)
            warnings.warn("no overviews", NoOverviewWarning, stacklevel=1)
            warnings.warn("something else", UserWarning, stacklevel=1)
        warnings.warn("plain image, outside", NotGeoreferencedWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else", "plain image, outside"]


def test_reading_a_scene_does_not_load_rio_tiler() -> None:
    # rio-tiler's import (pydantic, morecantile) costs every run and every Dask worker
    # half a second; only the quick-look needs it.
    code = (
        "import sys\n"
        "from roadseg.io.quiet import quiet_raster_warnings\n"
        "with quiet_raster_warnings():\n"
        "    pass\n"
        "print('rio_tiler' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
