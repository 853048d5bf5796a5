"""Checksums that decide whether a scene was already done with the same inputs."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (bounded memory)."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def settings_fingerprint(settings: Mapping[str, Any]) -> str:
    """A short stable digest of the settings that change a scene's outputs.

    Keys are sorted and ``None`` values dropped, so the digest does not depend on the
    order options were given in, nor on options left at their default.
    """
    canonical = json.dumps(
        {k: v for k, v in settings.items() if v is not None},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def file_stat_key(path: Path) -> tuple[int, int]:
    """``(size, mtime_ns)``: a cheap key that says a file has not changed since."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def file_facts(path: str | os.PathLike[str]) -> dict[str, Any]:
    """SHA-256, size and modification time of a written output.

    Size and time let a later run check cheaply that an output is still the one that
    was recorded; the digest lets anyone audit it.
    """
    stat = Path(path).stat()
    return {"sha256": file_sha256(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def matches_facts(path: Path, facts: Mapping[str, Any], verify: bool = False) -> bool:
    """Whether ``path`` is still the file described by :func:`file_facts`.

    Compares size and modification time; with ``verify`` also re-reads the file and
    compares its SHA-256.
    """
    try:
        stat = path.stat()
    except OSError:
        return False
    if (stat.st_size, stat.st_mtime_ns) != (facts.get("size"), facts.get("mtime_ns")):
        return False
    return not verify or file_sha256(path) == facts.get("sha256")
