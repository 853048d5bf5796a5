"""Reaching a dask-distributed cluster: one place for addresses, the timeout and errors.

Every stage that can run on a cluster (the blocks of ``roadseg run``, the vector
stage, ``roadseg batch``) takes ``scheduler``: ``None`` for local work, a scheduler
address (``tcp://HOST:8786``) or an existing :class:`distributed.Client`. The connect
timeout is dask's own setting, ``distributed.comm.timeouts.connect`` (30 s unless the
user's dask configuration says otherwise), for all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
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
