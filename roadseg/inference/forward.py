"""One forward pass at a time in a process.

Eager PyTorch and ONNX Runtime each use every core for one pass; two passes at once
(two Dask threads in one worker) only fight over the cores and double the memory.
"""

from __future__ import annotations

import threading

#: Held around every forward pass in a process, by either engine (re-entrant, so a
#: caller may hold it to time the pass alone).
FORWARD_LOCK = threading.RLock()
