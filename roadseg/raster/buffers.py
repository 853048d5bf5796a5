"""Reusable arrays for the hot path: a block allocates nothing per tile.

A :class:`Workspace` hands out named arrays backed by buffers it keeps: asking again
for the same name gives the same memory, grown only when a larger array is asked for
(the first block of a scene is the largest, so after it nothing grows). Each thread
that runs blocks has its own (:func:`thread_workspace`), so two blocks in flight never
share scratch memory, and the allocator sees the same few large buffers for the whole
run instead of hundreds of fresh ones per block (which either map and unmap pages
every time or fragment the heap, and made memory grow with the scene).

Arrays from a workspace are valid until the same name is asked for again: they never
leave the function that asked for them, except through a :class:`Workspace` whose
ownership is handed over explicitly (the local scheduler's result buffers).
"""

from __future__ import annotations

import math
import threading

import numpy as np


class Workspace:
    """Named, reusable, C-contiguous arrays."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
        """A C-contiguous array of ``shape`` and ``dtype`` (contents undefined) that reuses
        the memory of earlier arrays of this ``name``."""
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        buffer = self._buffers.get(name)
        if buffer is None or buffer.nbytes < nbytes:
            buffer = np.empty(max(nbytes, 1), dtype=np.uint8)
            self._buffers[name] = buffer
        return buffer[:nbytes].view(dtype).reshape(shape)

    def zeros(self, name: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
        """:meth:`array`, filled with zeros."""
        out = self.array(name, shape, dtype)
        out.fill(0)
        return out

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return sum(b.nbytes for b in self._buffers.values())


_LOCAL = threading.local()


def thread_workspace() -> Workspace:
    """The calling thread's workspace (each Dask worker thread has its own)."""
    workspace = getattr(_LOCAL, "workspace", None)
    if workspace is None:
        workspace = _LOCAL.workspace = Workspace()
    return workspace


class WorkspacePool:
    """Workspaces handed out and given back, so a block's result buffers are reused once
    the writer is done with them. Thread-safe; grows only while all are in use."""

    def __init__(self) -> None:
        self._free: list[Workspace] = []
        self._lock = threading.Lock()
        self.created = 0

    def acquire(self) -> Workspace:
        with self._lock:
            if self._free:
                return self._free.pop()
            self.created += 1
        return Workspace()

    def release(self, workspace: Workspace) -> None:
        with self._lock:
            self._free.append(workspace)
