"""Notice scenes the cluster has lost: submitted, yet run by no worker while all sit idle.

dask-distributed can lose a task after workers died around it (dask/distributed#3196):
the scheduler keeps the task, no worker ever runs it, and a driver waiting for its
result waits forever. The batch driver asks the scheduler, while it waits, what each
worker is processing. Scenes pending while the cluster has workers and none of them is
processing anything, for ``stall_s`` seconds in a row, are lost: the driver cancels
them and submits them again under new keys, as another attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from roadseg.errors import InvalidParameterError, SceneStalledError


@dataclass
class StallWatch:
    """Tells when a batch's pending scenes have sat unrun on an idle cluster too long.

    Args:
        stall_s: seconds an idle cluster may hold pending scenes before they count as
            lost. Queued scenes wait while workers are busy, so only a cluster with
            workers that run nothing at all can stall.
        clock: monotonic seconds (a test's fake clock).
    """

    stall_s: float
    clock: Callable[[], float] = time.monotonic
    _idle_since: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if not self.stall_s > 0:
            raise InvalidParameterError(
                f"stall_timeout={self.stall_s!r}: must be a positive number of seconds"
            )

    def stalled(self, processing: dict[Any, Collection[Any]], n_pending: int) -> bool:
        """Whether the pending scenes are lost, given ``Client.processing()``'s answer.

        A cluster with no workers is waiting for them, not stalled.
        """
        if n_pending == 0 or not processing or any(processing.values()):
            self._idle_since = None
            return False
        now = self.clock()
        if self._idle_since is None:
            self._idle_since = now
            return False
        if now - self._idle_since < self.stall_s:
            return False
        self._idle_since = None
        return True

    def error(self) -> Exception:
        """The error recorded for each lost scene's attempt."""
        return SceneStalledError(
            f"no worker ran the scene: the cluster held it for {self.stall_s:g} s with "
            "every worker idle (a task lost by the scheduler, as in dask/distributed#3196)"
        )
