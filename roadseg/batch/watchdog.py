"""Notice scenes the cluster has lost: held by the scheduler, yet never to be run.

dask-distributed can lose a task after workers died around it (dask/distributed#3196,
#6198): the scheduler keeps the task, no worker will ever run it, and a driver waiting
for its result waits forever. While the batch driver waits, it asks the scheduler about
each pending scene's task (:func:`scheduler_view`) and asks workers whether they know
the tasks the scheduler says they are running (:func:`unknown_keys`). A task is *lost*
when

* the scheduler has forgotten it;
* it is processing on a worker that is gone, or on a worker that does not know it;
* it waits (``released``, ``waiting``, ``queued``, ``no-worker``) while a running worker
  able to take it (with its resources) sits idle.

A scene lost at every look for ``stall_s`` seconds is cancelled and submitted again
under a new key, as another attempt. Waiting is not being lost: scenes queued behind
busy workers, on a cluster whose workers are all paused (memory) or have not joined
yet, or that need a GPU no running worker has, are left to wait.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from roadseg.errors import InvalidParameterError, SceneStalledError
from roadseg.log import get_logger

log = get_logger(__name__)

# The views below run on the scheduler and the workers: sent by value, so that a
# scheduler without roadseg installed can run them.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

WAITING_STATES = ("released", "waiting", "queued", "no-worker")


def scheduler_view(
    dask_scheduler: Any, keys: list[str], resources: dict[str, float]
) -> tuple[dict[str, str], dict[str, str]]:
    """Run on the scheduler: the pending ``keys`` that are lost, and those to ask about.

    Returns:
        ``({key: why it is lost}, {key: the address of the worker said to run it})``.
    """
    from distributed.core import Status

    def able(ws: Any) -> bool:
        return all(ws.resources.get(name, 0) >= need for name, need in resources.items())

    workers = dask_scheduler.workers
    idle_able = any(
        ws.status == Status.running and able(ws) and not ws.processing for ws in workers.values()
    )
    lost: dict[str, str] = {}
    ask: dict[str, str] = {}
    for key in keys:
        ts = dask_scheduler.tasks.get(key)
        if ts is None:
            lost[key] = "the scheduler has forgotten it"
        elif ts.state == "processing":
            ws = ts.processing_on
            if ws is None or workers.get(ws.address) is not ws:
                lost[key] = "it is processing on a worker that is gone"
            else:
                ask[key] = ws.address
        elif ts.state in WAITING_STATES and idle_able:
            lost[key] = f"it is {ts.state} while a worker able to run it sits idle"
    return lost, ask


def unknown_keys(dask_worker: Any, keys: list[str]) -> list[str]:
    """Run on a worker: those of ``keys`` it does not know."""
    return [key for key in keys if key not in dask_worker.state.tasks]


def lost_tasks(client: Any, keys: list[str], resources: dict[str, float]) -> dict[str, str]:
    """The pending ``keys`` that the cluster has lost, with why (see the module)."""
    lost, ask = client.run_on_scheduler(scheduler_view, keys=keys, resources=resources)
    by_worker: dict[str, list[str]] = {}
    for key, address in ask.items():
        by_worker.setdefault(address, []).append(key)
    for address, held in by_worker.items():
        answers = client.run(unknown_keys, keys=held, workers=[address], on_error="return")
        unknown = answers.get(address)
        if isinstance(unknown, list):  # a worker that does not answer is asked again later
            for key in unknown:
                lost[key] = f"it is processing on {address}, which does not know it"
    return lost


@dataclass
class StallWatch:
    """Which pending scenes have been lost for ``stall_s`` seconds, look after look.

    Args:
        stall_s: seconds a scene must be seen lost, at every look, before it is
            resubmitted.
        clock: monotonic seconds (a test's fake clock).
    """

    stall_s: float
    clock: Callable[[], float] = time.monotonic
    _lost_since: dict[str, float] = field(default_factory=dict, init=False)
    _last_look: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if not self.stall_s > 0:
            raise InvalidParameterError(
                f"stall_timeout={self.stall_s!r}: must be a positive number of seconds"
            )

    @property
    def look_every_s(self) -> float:
        """How often to ask the cluster: a few looks per ``stall_s``, at most every 5 s."""
        return min(5.0, self.stall_s / 4)

    def due(self) -> bool:
        """Whether it is time to look again."""
        now = self.clock()
        return self._last_look is None or now - self._last_look >= self.look_every_s

    def look(self, lost: Mapping[str, str], pending: Iterable[str]) -> dict[str, str]:
        """Record one look; return the scenes lost for ``stall_s`` seconds, with why.

        ``lost`` is :func:`lost_tasks`'s answer; ``pending``, the keys still awaited.
        A scene not lost at a look starts again from zero.
        """
        now = self.clock()
        self._last_look = now
        pending = set(pending)
        self._lost_since = {key: self._lost_since.get(key, now) for key in lost if key in pending}
        due = {k: lost[k] for k, since in self._lost_since.items() if now - since >= self.stall_s}
        for key in due:
            del self._lost_since[key]
        return due

    def error(self, why: str) -> SceneStalledError:
        """The error recorded for a lost scene's attempt."""
        return SceneStalledError(
            f"no worker will run the scene: {why}, for {self.stall_s:g} s (a task lost "
            "by the cluster, as in dask/distributed#3196)"
        )
