"""Where the real data lives: beside the checkout (see ../shared/README.md), or wherever
``$ROADSEG_SHARED_DATA`` points. A fresh clone of the project does not have it, so the
tests that need it skip, naming the path."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA = Path(
    os.environ.get("ROADSEG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
