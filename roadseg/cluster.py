"""Reaching a dask-distributed cluster: one place for addresses, the timeout and errors.

Every stage that can run on a cluster (the blocks of ``roadseg run``, the vector
stage, ``roadseg batch``) takes ``scheduler``: ``None`` for local work, a scheduler
address (``tcp://HOST:8786``) or an existing :class:`distributed.Client`. The connect
timeout is dask's own setting, ``distributed.comm.timeouts.connect`` (30 s unless the
user's dask configuration says otherwise), for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from roadseg.errors import InvalidParameterError

#: Address schemes of dask-distributed schedulers.
SCHEDULER_PROTOCOLS = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")


def check_scheduler(scheduler: Any) -> None:
    """Refuse a scheduler that is neither ``None``, an address nor a ``Client``.

    Raises:
        InvalidParameterError: it is not usable.
    """
    if scheduler is None:
        return
    if isinstance(scheduler, str):
        if not scheduler.startswith(SCHEDULER_PROTOCOLS):
            raise InvalidParameterError(
                f"scheduler {scheduler!r} is not a dask-distributed address; give e.g. "
                "tcp://HOST:8786"
            )
        return
    from distributed import Client

    if not isinstance(scheduler, Client):
        raise InvalidParameterError(
            "scheduler must be None, a tcp:// address or a distributed.Client, not "
            f"{type(scheduler).__name__}"
        )


@contextmanager
def connected(scheduler: Any) -> Iterator[Any]:
    """A ``distributed.Client`` for an address (closed at the end) or a client (kept).

    Raises:
        InvalidParameterError: not a scheduler, or none answers at the address.
    """
    check_scheduler(scheduler)
    if scheduler is None:
        raise InvalidParameterError("no scheduler given: local work needs no cluster")
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    try:
        client = Client(scheduler)
    except (OSError, TimeoutError) as exc:
        raise InvalidParameterError(
            f"scheduler {scheduler}: cannot connect ({exc}); start one with 'dask scheduler' "
            "and workers with 'dask worker ADDRESS', or leave the scheduler out to run locally"
        ) from None
    try:
        yield client
    finally:
        client.close()


def computed_as_completed(
    client: Any, tasks: Iterable[Any], in_flight: int | None = None
) -> Iterator[tuple[int, Any]]:
    """Compute dask collections on ``client``, a bounded number at a time, and yield
    ``(position, result)`` as each completes.

    At most ``in_flight`` tasks are submitted at once (default: twice the cluster's
    threads, at least 2), so a long stream of tasks never sits in the scheduler's
    memory whole, and each result is released once yielded. Tasks still running when
    the caller stops (an error, Ctrl-C) are cancelled.
    """
    from distributed import as_completed

    if in_flight is None:
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        in_flight = max(2, 2 * threads)
    todo = enumerate(tasks)
    position: dict[Any, int] = {}

    def submit() -> Any | None:
        item = next(todo, None)
        if item is None:
            return None
        future = client.compute(item[1], optimize_graph=False)
        position[future] = item[0]
        return future

    running = [f for f in (submit() for _ in range(in_flight)) if f is not None]
    queue = as_completed(running)
    try:
        for future in queue:
            result = future.result()
            index = position.pop(future)
            future.release()
            new = submit()
            if new is not None:
                queue.add(new)
            yield index, result
    finally:
        for future in position:
            future.cancel()
