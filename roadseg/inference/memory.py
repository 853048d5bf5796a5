"""Keeping the process's resident memory close to what the blocks actually hold (glibc).

Blocks allocate and free arrays of tens of megabytes from several threads. By default
glibc serves such arrays from its heaps once a first one has been freed (its mmap
threshold rises with the largest freed chunk), and freed heap memory stays resident,
fragmented across per-thread arenas: the peak then creeps up block after block, the
more so the more blocks a scene has. With a fixed threshold every large array is
mapped on its own and unmapped when freed. Both calls do nothing off glibc.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

#: ``mallopt`` parameter number of ``M_MMAP_THRESHOLD`` (glibc ``malloc.h``).
_M_MMAP_THRESHOLD = -3
#: glibc's initial threshold; fixing it also turns off its dynamic adjustment.
MMAP_THRESHOLD = 128 * 1024


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _load_libc()
_limited = False


def limit_heap_retention() -> bool:
    """Map every allocation of at least :data:`MMAP_THRESHOLD` bytes on its own.

    Applies to the whole process, once; later calls do nothing.

    Returns:
        whether the setting is in force (``False`` off glibc).
    """
    global _limited
    if _LIBC is None:
        return False
    if not _limited:
        _limited = bool(_LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    return _limited


def release_free_memory() -> None:
    """Hand freed heap memory back to the system (glibc only)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
