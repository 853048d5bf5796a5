"""The dask-distributed cluster a batch runs on: an existing one, or a local one.

The local default is a :class:`distributed.LocalCluster` of worker *processes* sized
to the machine: one worker per two CPU cores (torch gets the two cores as intra-op
threads, so workers do not fight over cores), never more workers than scenes, and the
machine's memory split between them as each worker's limit (dask pauses and restarts a
worker that goes over it). With ``device="cuda"`` each local worker is given the
resource ``GPU=1`` and there is one worker (a local cluster cannot pin workers to
different GPUs); for several GPUs, start one worker per GPU with
``dask worker ... --resources GPU=1`` (see ``pipelines/README.md``) and use ``--scheduler``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import dask

from roadseg.errors import DeviceError, InvalidParameterError
from roadseg.log import get_logger, plural

log = get_logger(__name__)
#: The environment variable of dask's "temporary-directory" setting.
DASK_TEMPORARY_DIRECTORY = "DASK_TEMPORARY_DIRECTORY"


@dataclass(frozen=True)
class ClusterPlan:
    """How many local workers, and how each runs."""

    n_workers: int
    torch_threads: int
    memory_limit: str | int
    resources: dict[str, float] | None


def plan_local_cluster(
    n_scenes: int,
    *,
    workers: int | None = None,
    device: str = "auto",
    memory_limit: str | int = "auto",
) -> ClusterPlan:
    """Size a local cluster for ``n_scenes`` scenes on this machine."""
    cpus = os.cpu_count() or 1
    use_gpu = device.startswith("cuda") or (device == "auto" and _cuda_count() > 0)
    if workers is not None and workers < 1:
        raise InvalidParameterError(f"workers={workers!r}: need at least 1 worker")
    if use_gpu:
        gpus = _cuda_count()
        if gpus == 0:
            raise DeviceError(
                f"device={device!r}: needs CUDA, which is not available here; use device='cpu'"
            )
        # A LocalCluster cannot pin each worker to its own GPU: one GPU worker by
        # default; on a multi-GPU machine start one worker per GPU with
        # pipelines/deploy/start-gpu-workers.sh (or dask-cuda) and pass --scheduler.
        if gpus > 1 and workers is None:
            log.info(
                "%d GPUs found; the local cluster uses one. For all of them start one "
                "worker per GPU (pipelines/deploy/start-gpu-workers.sh) and pass scheduler=...",
                gpus,
            )
        n = workers or 1
    else:
        n = workers or max(1, cpus // 2)
    n = max(1, min(n, max(n_scenes, 1)))
    return ClusterPlan(
        n_workers=n,
        torch_threads=max(1, cpus // n),
        memory_limit=memory_limit,
        resources={"GPU": 1} if use_gpu else None,
    )


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def task_resources(device: str) -> dict[str, float] | None:
    """Resources a scene task asks for: a GPU when the model runs on CUDA."""
    return {"GPU": 1} if device.startswith("cuda") else None


@contextlib.contextmanager
def batch_client(
    scheduler: object | None, plan: ClusterPlan | None
) -> Iterator[object]:  # yields distributed.Client
    """A client on the given scheduler, or on a new local cluster closed at the end.

    Args:
        scheduler: ``None`` (start a local cluster from ``plan``), a ``tcp://`` address,
            or an existing :class:`distributed.Client` (used as it is, not closed).
        plan: the local cluster's size, when ``scheduler`` is ``None``.
    """
    from distributed import Client, LocalCluster

    from roadseg.cluster import connected

    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler
        return
    if isinstance(scheduler, str):
        with connected(scheduler) as client:
            n = len(client.scheduler_info().get("workers", {}))
            log.info("connected to %s (%s)", scheduler, plural(n, "worker"))
            yield client
        return
    assert plan is not None
    log.info(
        "starting a local cluster: %d worker process(es), %d torch thread(s) each, "
        "memory limit %s each%s",
        plan.n_workers,
        plan.torch_threads,
        plan.memory_limit,
        ", GPU=1 each" if plan.resources else "",
    )
    # Workers' scratch space (spill files, dask-scratch-space/global.lock) goes in a
    # private temporary folder, never in the current folder or the output folder.
    # Dask's own default for it (the temporary folder) is set to the same folder too,
    # for this process and, through the environment, for the worker processes: their
    # nannies would otherwise leave a dask-scratch-space there when a batch fails.
    scratch = tempfile.mkdtemp(prefix="roadseg-dask-")
    previous = os.environ.get(DASK_TEMPORARY_DIRECTORY)
    os.environ[DASK_TEMPORARY_DIRECTORY] = scratch
    try:
        with dask.config.set({"temporary-directory": scratch}):
            cluster = LocalCluster(
                local_directory=scratch,
                n_workers=plan.n_workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=plan.memory_limit,
                resources=plan.resources,
                dashboard_address=":0",
            )
            client = Client(cluster)
            log.info("dask dashboard: %s", client.dashboard_link)
            try:
                yield client
            finally:
                client.close()
                cluster.close()
    finally:
        if previous is None:
            os.environ.pop(DASK_TEMPORARY_DIRECTORY, None)
        else:
            os.environ[DASK_TEMPORARY_DIRECTORY] = previous
        shutil.rmtree(scratch, ignore_errors=True)
