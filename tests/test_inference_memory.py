"""The allocator setting that keeps ``roadseg run``'s peak memory from creeping."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from roadseg.inference import memory


def test_limit_heap_retention_is_idempotent() -> None:
    first = memory.limit_heap_retention()
    assert memory.limit_heap_retention() is first
    memory.release_free_memory()  # never fails, glibc or not


@pytest.mark.skipif(memory._LIBC is None, reason="glibc only")
def test_large_arrays_are_unmapped_when_freed() -> None:
    assert memory.limit_heap_retention() is True
    # Freeing a 16 MB chunk would raise glibc's dynamic threshold to 16 MB; fixed, it
    # stays put, so a later 4 MB array is still mapped on its own: its address lies
    # above the main heap, which ends at sbrk(0).
    big = np.ones(16 * 2**20, dtype=np.uint8)
    del big
    libc = ctypes.CDLL("libc.so.6")
    libc.sbrk.restype = ctypes.c_void_p
    mid = np.ones(4 * 2**20, dtype=np.uint8)
    assert mid.ctypes.data > libc.sbrk(0)
