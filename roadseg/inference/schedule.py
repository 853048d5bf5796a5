"""Running the per-block Dask graphs with a bounded number of blocks in flight.

Each block is a small graph ``read -> infer -> blend``. Blocks are submitted a few at a
time and their results handed to a callback as they complete, so memory depends on the
block size, not on the scene size. Locally the graphs run on a small thread pool (no
set-up); with a ``distributed`` scheduler they run on its workers, and the inference
task asks for the ``GPU`` worker resource when the model runs on CUDA.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import dask
from dask.delayed import Delayed

from roadseg.errors import InvalidParameterError
from roadseg.inference.blocks import (
    BlockJob,
    BlockResult,
    SceneSpec,
    blend_block,
    infer_block,
    read_block,
)
from roadseg.inference.memory import limit_heap_retention, release_free_memory
from roadseg.inference.predictor import ModelSpec
from roadseg.log import get_logger

log = get_logger(__name__)

#: Protocols of dask-distributed scheduler addresses.
SCHEDULER_PROTOCOLS = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")
#: Blocks in flight on the local scheduler (one reads/blends while one infers).
LOCAL_IN_FLIGHT = 2


def block_graph(scene: SceneSpec, model: ModelSpec, job: BlockJob, gpu: bool) -> Delayed:
    """The ``read -> infer -> blend`` graph of one block."""
    name = f"{job.index[0]}-{job.index[1]}-{dask.base.tokenize(scene, model, job)}"
    data = dask.delayed(read_block, pure=True)(scene, job, dask_key_name=f"roadseg-read-{name}")
    if gpu:
        with dask.annotate(resources={"GPU": 1}):
            probs = dask.delayed(infer_block, pure=True)(
                model, job, data, dask_key_name=f"roadseg-infer-{name}"
            )
    else:
        probs = dask.delayed(infer_block, pure=True)(
            model, job, data, dask_key_name=f"roadseg-infer-{name}"
        )
    return dask.delayed(blend_block, pure=True)(
        job, data, probs, dask_key_name=f"roadseg-blend-{name}"
    )


def _compute_sync(graph: Delayed) -> BlockResult:
    return dask.compute(graph, scheduler="sync")[0]


def run_local(graphs: Iterable[Delayed], in_flight: int = LOCAL_IN_FLIGHT) -> Iterator[BlockResult]:
    """Compute block graphs on a local thread pool, yielding results as they complete."""
    todo = iter(graphs)
    with concurrent.futures.ThreadPoolExecutor(in_flight, thread_name_prefix="roadseg") as pool:
        running: set[concurrent.futures.Future[BlockResult]] = set()
        try:
            for graph in todo:
                running.add(pool.submit(_compute_sync, graph))
                if len(running) >= in_flight:
                    break
            while running:
                done, running = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    result = future.result()
                    nxt = next(todo, None)
                    if nxt is not None:
                        running.add(pool.submit(_compute_sync, nxt))
                    yield result
        finally:
            for future in running:
                future.cancel()


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
                f"--scheduler {scheduler!r} is not a dask-distributed address; give e.g. "
                "tcp://HOST:8786"
            )
        return
    from distributed import Client

    if not isinstance(scheduler, Client):
        raise InvalidParameterError(
            "scheduler must be None, a tcp:// address or a distributed.Client, not "
            f"{type(scheduler).__name__}"
        )


def connect(scheduler: Any) -> tuple[Any, bool]:
    """A ``distributed.Client`` for an address or client; and whether we own it."""
    from distributed import Client

    check_scheduler(scheduler)
    if isinstance(scheduler, Client):
        return scheduler, False
    address = str(scheduler)
    try:
        return Client(address, timeout="15s", set_as_default=False), True
    except (OSError, TimeoutError) as exc:
        raise InvalidParameterError(
            f"cannot reach the dask scheduler at {address} ({exc}); start it with "
            "'dask scheduler' and workers with 'dask worker ADDRESS'"
        ) from None


def run_distributed(
    client: Any, graphs: Iterable[Delayed], in_flight: int | None = None
) -> Iterator[BlockResult]:
    """Compute block graphs on a ``distributed`` cluster, yielding results as they complete."""
    from distributed import as_completed

    if in_flight is None:
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        in_flight = max(2, 2 * threads)
    todo = iter(graphs)
    running = {
        client.compute(g, optimize_graph=False)
        for _, g in zip(range(in_flight), todo, strict=False)
    }
    queue = as_completed(list(running))
    try:
        for future in queue:
            result = future.result()
            running.discard(future)
            future.release()
            nxt = next(todo, None)
            if nxt is not None:
                new = client.compute(nxt, optimize_graph=False)
                running.add(new)
                queue.add(new)
            yield result
    finally:
        for future in running:
            future.cancel()


def run_blocks(
    graphs: Iterable[Delayed],
    scheduler: Any,
    on_result: Callable[[BlockResult], None],
) -> int:
    """Run block graphs on ``scheduler`` (``None``: local) and hand each result on.

    Returns:
        the number of blocks computed.
    """
    count = 0
    if scheduler is None:
        limit_heap_retention()
        results = run_local(graphs)
        for result in results:
            on_result(result)
            del result
            release_free_memory()
            count += 1
        return count
    client, owned = connect(scheduler)
    try:
        for result in run_distributed(client, graphs):
            on_result(result)
            del result
            release_free_memory()
            count += 1
    finally:
        if owned:
            client.close()
    return count
