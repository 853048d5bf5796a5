"""Running the per-block Dask graphs with a bounded number of blocks in flight.

Blocks are submitted a few at a time and their results handed to a callback as they
complete, so memory depends on the block size, not on the scene size. Locally each
block runs as one call (:func:`~roadseg.inference.block_steps.process_block`) on a small
thread pool: every thread reads, infers and blends in its own reused buffers, and the
result buffers go back to a pool once the callback is done with them, so a run
allocates a fixed set of large arrays whatever the number of blocks. With a
``distributed`` scheduler each block is a small graph ``read -> infer -> blend`` run on
the workers (whose threads reuse their scratch buffers the same way; arrays passed
between tasks are the tasks' own), and the inference task asks for the ``GPU`` worker
resource when the model runs on CUDA.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import dask
from dask.delayed import Delayed

from roadseg.cluster import computed_as_completed, connected
from roadseg.inference.block_steps import (
    BlockJob,
    BlockResult,
    SceneSpec,
    blend_block,
    infer_block,
    process_block,
    read_block,
)
from roadseg.inference.predictor import ModelSpec
from roadseg.log import get_logger
from roadseg.raster.buffers import Workspace, WorkspacePool

log = get_logger(__name__)

#: Protocols of dask-distributed scheduler addresses.
#: Blocks in flight on the local scheduler (one reads/blends while one infers).
LOCAL_IN_FLIGHT = 2


def block_graph(spec: SceneSpec, model: ModelSpec, job: BlockJob, gpu: bool) -> Delayed:
    """The ``read -> infer -> blend`` graph of one block."""
    name = f"{job.index[0]}-{job.index[1]}-{dask.base.tokenize(spec, model, job)}"
    data = dask.delayed(read_block, pure=True)(spec, job, dask_key_name=f"roadseg-read-{name}")
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


def run_local(
    spec: SceneSpec,
    model: ModelSpec,
    jobs: Iterable[BlockJob],
    in_flight: int = LOCAL_IN_FLIGHT,
    pool: WorkspacePool | None = None,
) -> Iterator[tuple[BlockResult, Workspace]]:
    """Process blocks on a local thread pool, yielding ``(result, buffers)`` as they
    complete. The result's arrays live in ``buffers``, which the caller owns until it
    asks for the next result; they are then reused for a later block."""
    pool = WorkspacePool()
    todo = iter(jobs)
    with concurrent.futures.ThreadPoolExecutor(in_flight, thread_name_prefix="roadseg") as threads:
        running: dict[concurrent.futures.Future[BlockResult], Workspace] = {}

        def submit(job: BlockJob) -> None:
            out = pool.acquire()
            running[threads.submit(process_block, spec, model, job, out)] = out

        try:
            for job in todo:
                submit(job)
                if len(running) >= in_flight:
                    break
            while running:
                done, _ = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    out = running.pop(future)
                    result = future.result()
                    nxt = next(todo, None)
                    if nxt is not None:
                        submit(nxt)
                    yield result, out
                    pool.release(out)  # the caller is done with the result
        finally:
            for future in running:
                future.cancel()


def run_distributed(
    client: Any, graphs: Iterable[Delayed], in_flight: int | None = None
) -> Iterator[BlockResult]:
    """Compute block graphs on a ``distributed`` cluster, yielding results as they complete."""
    for _, result in computed_as_completed(client, graphs, in_flight):
        yield result


def run_blocks(
    spec: SceneSpec,
    model: ModelSpec,
    jobs: Iterable[BlockJob],
    scheduler: Any,
    on_result: Callable[[BlockResult], None],
    gpu: bool = False,
) -> int:
    """Run the blocks ``jobs`` on ``scheduler`` (``None``: local) and hand each result on.

    ``on_result`` must not keep the result's arrays: locally they are reused for a
    later block once it returns.

    Returns:
        the number of blocks computed.
    """
    count = 0
    if scheduler is None:
        for result, _ in run_local(spec, model, jobs):
            on_result(result)
            count += 1
        return count
    with connected(scheduler) as client:
        graphs = (block_graph(spec, model, job, gpu) for job in jobs)
        for result in run_distributed(client, graphs):
            on_result(result)
            count += 1
    return count
