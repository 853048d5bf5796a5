"""How a call runs, as opposed to what it computes.

``scheduler``, ``overwrite`` and ``progress`` go together through every stage of a run
(inference, the vector stage, their outputs). The public functions keep them as
keyword arguments; each builds one :class:`RunContext` at its edge and hands that down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunContext:
    """Where a call's work runs, whether it may replace outputs, whether it shows progress.

    Attributes:
        scheduler: ``None`` (local threads), a dask-distributed address (``tcp://...``)
            or a ``distributed.Client`` (see :mod:`roadseg.cluster`).
        overwrite: replace existing outputs.
        progress: show progress bars.
    """

    scheduler: Any = None
    overwrite: bool = False
    progress: bool = False
