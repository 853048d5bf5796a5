"""A disk cache of decoded, resampled training arrays.

Decoding hundreds of JPEG tiles and resampling them to the model's GSD takes longer
than a short probe run's first steps; the cache keeps each image's arrays in an
uncompressed ``.npz`` named by a digest of everything that determines them (the files'
paths, sizes and modification times, the grid, bands, no-data, label buffer and
normalisation), so a changed input or setting never reads stale data.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from roadseg.log import get_logger

log = get_logger(__name__)

#: Bumped whenever the arrays' meaning changes (reader, labels, statistics).
CACHE_VERSION = 1


class ArrayCache:
    """Named groups of arrays on disk, keyed by a JSON-able description."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def _path(self, key: dict[str, Any]) -> Path:
        text = json.dumps({"version": CACHE_VERSION, **key}, sort_keys=True, default=str)
        return self.folder / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.npz"

    def get(self, key: dict[str, Any]) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``key``, or ``None`` (absent or unreadable)."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError, zipfile.BadZipFile):
            log.warning("ignoring a damaged cache file %s", path.name)
            return None

    def put(self, key: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Store ``arrays`` under ``key`` (written whole, then renamed into place)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        handle, tmp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".npz.tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
