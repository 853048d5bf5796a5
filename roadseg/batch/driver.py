"""Run many scenes as tasks on a dask-distributed cluster, resumably.

:func:`run_batch` is the library entry point of ``roadseg batch``:

1. lock the output folder (:mod:`roadseg.batch.lock`) and clear temporary files a
   killed run left behind;
2. decide per scene, from the run record, whether it is already done with the same
   input checksum, model and settings *and* its outputs are intact (then it is
   skipped), or must be (re)done;
3. submit one task per scene to the cluster (``client.submit(..., pure=False)``), on a
   worker with a ``GPU`` resource when the model runs on CUDA, and collect results in
   the driver, which alone writes the record, and which resubmits scenes the cluster
   has lost (held, yet never to be run: :mod:`roadseg.batch.watchdog`);
4. retry a scene whose attempt failed with a transient error (a crash, a lost worker,
   an I/O error) up to ``retries`` times; errors that retrying cannot fix (a corrupt
   input, a bad option) fail the scene at once; either way the rest goes on. A scene
   whose workers died under it is retried alone on the cluster, once the rest is done:
   killed again alone, it is the cause and fails; scenes that were only beside it
   complete;
5. record ``done`` only after the processor returned, i.e. after its outputs were
   renamed into place, and after checking that they exist (their SHA-256 goes into the
   record, so a later run can tell an intact output from a damaged one).

Scenes are the unit of work: each task runs one whole scene with the scene's own block
graph inside the worker, streaming, so a worker's memory is bounded by a few blocks
whatever the scene size. With ``spread_blocks=True`` scenes are run one after another
and each scene's block graph is spread over the whole cluster instead (for a few very
large scenes on many workers).
"""

from __future__ import annotations

import collections
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from roadseg.batch.fingerprint import (
    matches_facts,
    settings_fingerprint,
)
from roadseg.batch.inputs import SceneInput
from roadseg.batch.local_cluster import batch_client, plan_local_cluster, task_resources
from roadseg.batch.lock import BatchLock
from roadseg.batch.plan import (
    BatchContext,
    batch_settings,
    clear_partials,
    plan_scenes,
    resolve_batch_model,
)
from roadseg.batch.record import (
    DONE,
    FAILED,
    RETRYING,
    SKIPPED,
    SUBMITTED,
    RecordEntry,
    RunRecord,
)
from roadseg.batch.task import (
    AttemptResult,
    SceneProcessor,
    SceneTask,
    execute_attempt,
    lost_attempt,
    process_with_run_scene,
)
from roadseg.batch.watchdog import StallWatch, lost_tasks
from roadseg.errors import DeviceError, InvalidParameterError
from roadseg.inference.options import InferenceOptions
from roadseg.io.remote import network_settings
from roadseg.log import get_logger, progress_bar
from roadseg.vector.conflate import ConflateOptions
from roadseg.vector.line_options import VectorOptions, check_threshold
from roadseg.vector.reference import ReferenceSpec

log = get_logger(__name__)

# How often the driver, waiting, looks for finished scenes (and, less often, lost ones).
POLL_S = 0.1


@dataclass(frozen=True)
class BatchSummary:
    """The result of a batch: the final record entry of every scene, in input order."""

    out_dir: Path
    record_path: Path
    batch_id: str
    entries: tuple[RecordEntry, ...]
    seconds: float
    n_workers: int | None = None

    def count(self, status: str) -> int:
        return sum(1 for e in self.entries if e.status == status)

    @property
    def n_done(self) -> int:
        return self.count(DONE)

    @property
    def n_skipped(self) -> int:
        return self.count(SKIPPED)

    @property
    def n_failed(self) -> int:
        return self.count(FAILED)

    @property
    def ok(self) -> bool:
        """True when no scene failed."""
        return self.n_failed == 0


def run_batch(
    scenes: Sequence[SceneInput],
    out_dir: str | os.PathLike[str],
    *,
    inference: InferenceOptions | None = None,
    vector: VectorOptions | None = None,
    threshold: float | None = None,
    prob_cog: bool = False,
    reference: ReferenceSpec | None = None,
    conflate: ConflateOptions | None = None,
    scheduler: object | None = None,
    workers: int | None = None,
    memory_limit: str | int = "auto",
    retries: int = 2,
    stall_timeout: float = 120.0,
    overwrite: bool = False,
    verify: bool = False,
    spread_blocks: bool = False,
    process: SceneProcessor | None = None,
    progress: bool = False,
) -> BatchSummary:
    """Process many scenes into ``out_dir``, skipping those already done.

    Args:
        scenes: the scenes (see :func:`roadseg.batch.inputs.collect_scenes`).
        out_dir: output folder (created if needed): ``<scene>.gpkg``, with ``prob_cog``
            also ``<scene>.prob.tif``, and the run record ``batch-record.jsonl``.
        inference: how each scene's probabilities are computed (see
            :class:`roadseg.inference.InferenceOptions`). Its ``model`` (default: the
            shipped weights for its ``device``) is resolved once, so every scene of the
            batch uses the same checkpoint; with ``device`` ``cuda`` tasks need a
            worker with the resource ``GPU``.
        vector: the tuning of the road lines (see :class:`roadseg.vector.VectorOptions`).
        reference: a reference road network; each scene's GeoPackage gets a
            ``missing_roads`` layer (see :mod:`roadseg.vector.conflate`), and the run
            record names the reference.
        conflate: how roads are matched to the reference.
        threshold: the road lines' threshold; default: the model's.
        prob_cog: also write each scene's probability raster.
        scheduler: ``None`` for a local cluster sized to the machine, a
            ``tcp://HOST:PORT`` address, or a :class:`distributed.Client`.
        workers: number of local workers (default: sized to the machine).
        memory_limit: memory limit of each local worker (dask syntax, e.g. ``"4GB"``).
        retries: further attempts after a transient failure.
        stall_timeout: seconds a scene must be seen lost by the cluster (held, yet no
            worker will run it) before it is resubmitted as another attempt (see
            :mod:`roadseg.batch.watchdog`).
        overwrite: redo every scene, even those already done.
        verify: before skipping a done scene, re-read its outputs and compare their
            SHA-256 with the record (default: compare size and modification time).
        spread_blocks: run scenes one at a time, each scene's block graph spread over
            the cluster, instead of one scene per worker.
        process: the per-scene function run on workers; default
            :func:`roadseg.batch.task.process_with_run_scene`.
        progress: show a progress bar over scenes.

    Returns:
        The summary; failed scenes are in it (and in the record), not raised.

    Raises:
        BatchLockedError: another batch is writing ``out_dir``.
        InputNotFoundError: the model or a scene does not exist.
        InvalidParameterError: a bad option (e.g. negative ``retries``), before any
            scene is run.
    """
    if retries < 0:
        raise InvalidParameterError(f"retries={retries!r}: must be 0 or more")
    StallWatch(stall_timeout)  # a bad value is refused before any work
    if not scenes:
        raise InvalidParameterError("no scenes to process")
    inference = (inference or InferenceOptions()).validate()
    vector = (vector or VectorOptions()).validate()
    conflate = (conflate or ConflateOptions()).validate()
    if reference is not None:  # a bad reference stops the batch before any scene
        reference.validate().check()
    if threshold is not None:
        check_threshold(threshold)
    device = inference.device
    out = Path(out_dir).absolute()
    if out.exists() and not out.is_dir():
        raise InvalidParameterError(f"out_dir={out}: is a file; give a folder")
    process = process or process_with_run_scene
    t0 = time.perf_counter()
    model_label, model_path, model_sha = resolve_batch_model(inference.model, device)
    template = SceneTask(
        name="",
        scene=Path(),
        out=Path(),
        prob_out=None,
        inference=replace(inference, model=model_path),
        vector=vector,
        threshold=threshold,
        reference=reference,
        conflate=conflate,
        network=network_settings(),  # workers elsewhere do not share this environment
    )
    out.mkdir(parents=True, exist_ok=True)
    with BatchLock(out):
        clear_partials(out)
        record = RunRecord(out)
        ctx = BatchContext(
            out_dir=out,
            record=record,
            batch_id=uuid.uuid4().hex[:12],
            model=model_label,
            model_path=model_path,
            model_sha256=model_sha,
            settings=settings_fingerprint(
                batch_settings(inference, vector, threshold, prob_cog, reference, conflate)
            ),
            reference=None if reference is None else reference.label,
        )
        final: dict[str, RecordEntry] = {}
        todo = plan_scenes(scenes, ctx, template, prob_cog, overwrite, verify, final)
        n_workers = None
        if todo:
            plan = None
            if scheduler is None:
                plan = plan_local_cluster(
                    len(todo), workers=workers, device=device, memory_limit=memory_limit
                )
                n_workers = plan.n_workers
            elif workers is not None:
                log.warning(
                    "workers=%d is ignored with a scheduler: the cluster is as it is", workers
                )
            with batch_client(scheduler, plan) as client:
                todo = [
                    replace(t, torch_threads=plan.torch_threads if plan else None) for t in todo
                ]
                _run_tasks(
                    client,
                    todo,
                    ctx,
                    process,
                    retries,
                    stall_timeout,
                    device,
                    spread_blocks,
                    progress,
                    final,
                )
            # A worker killed in the middle of a scene leaves its temporary file.
            clear_partials(out)
        entries = tuple(final[s.name] for s in scenes)
    return BatchSummary(
        out_dir=out,
        record_path=record.path,
        batch_id=ctx.batch_id,
        entries=entries,
        seconds=round(time.perf_counter() - t0, 3),
        n_workers=n_workers,
    )


def _run_tasks(
    client: Any,
    todo: list[SceneTask],
    ctx: BatchContext,
    process: SceneProcessor,
    retries: int,
    stall_s: float,
    device: str,
    spread_blocks: bool,
    progress: bool,
    final: dict[str, RecordEntry],
) -> None:
    from distributed import as_completed

    bar = progress_bar(len(todo), "batch", "scene", enabled=progress)

    def conclude(task: SceneTask, attempt: AttemptResult) -> SceneTask | None:
        """Record an attempt; return the next attempt's task when it is to be retried."""
        entry = _attempt_entry(ctx, task, attempt)
        if entry.status == RETRYING and task.attempt <= retries:
            ctx.record.append(entry)
            log.warning(
                "%s: attempt %d failed (%s); retrying", task.name, task.attempt, entry.error
            )
            return replace(task, attempt=task.attempt + 1)
        if entry.status == RETRYING:
            entry = replace(entry, status=FAILED)
        ctx.record.append(entry)
        final[task.name] = entry
        if entry.status == FAILED:
            log.error("%s: failed after %d attempt(s): %s", task.name, task.attempt, entry.error)
        bar.update(1)
        return None

    try:
        if spread_blocks:
            address = client.scheduler.address
            for task in todo:
                current: SceneTask | None = replace(task, scheduler=address)
                while current is not None:
                    ctx.record.append(ctx.entry(current, SUBMITTED))
                    current = conclude(current, execute_attempt(process, current))
            return
        resources = task_resources(device)
        if resources:
            _require_gpu_workers(client)
        pending: dict[str, SceneTask] = {}
        futures: dict[str, Any] = {}
        # Scenes whose workers died under them wait here, to be run one at a time with
        # nothing else on the cluster: only alone does a death say which scene caused it.
        suspects: collections.deque[SceneTask] = collections.deque()
        isolated: set[str] = set()
        queue = as_completed(loop=client.loop)
        watch = StallWatch(stall_s)

        def submit(task: SceneTask, alone: bool = False) -> None:
            ctx.record.append(ctx.entry(task, SUBMITTED))
            future = client.submit(
                execute_attempt,
                process,
                task,
                key=f"roadseg-batch-{task.name}-{task.attempt}-{uuid.uuid4().hex[:8]}",
                pure=False,
                retries=0,
                resources=resources,
            )
            pending[future.key] = task
            futures[future.key] = future
            if alone:
                isolated.add(future.key)
            queue.add(future)

        def settle(key: str, attempt: AttemptResult | None, error: BaseException | None) -> None:
            """Conclude the attempt behind ``key`` and submit what comes next."""
            task = pending.pop(key)
            futures.pop(key).release()
            alone = key in isolated
            isolated.discard(key)
            killed = type(error).__name__ == "KilledWorker"
            if attempt is None:
                assert error is not None
                attempt = lost_attempt(task, error, killer=killed and alone)
            retry = conclude(task, attempt)
            if retry is not None:
                if killed:
                    suspects.append(retry)
                else:
                    submit(retry, alone=alone)
            if suspects and not pending:
                submit(suspects.popleft(), alone=True)

        for task in todo:
            submit(task)
        while pending:
            finished = queue.next_batch(block=False) if queue.has_ready() else []
            # A future cancelled as lost still comes out of the queue: already settled.
            for future in (f for f in finished if f.key in futures):
                try:
                    attempt, error = future.result(), None
                except Exception as exc:  # lost workers, cancelled tasks, unpicklable results
                    attempt, error = None, exc
                settle(future.key, attempt, error)
            if finished:
                continue
            if watch.due():
                for key, why in _look_for_lost(client, watch, list(pending), resources).items():
                    if futures[key].done():
                        continue  # it finished after all: the queue brings it
                    log.warning("%s: %s; resubmitting it", pending[key].name, why)
                    futures[key].cancel()
                    settle(key, None, watch.error(why))
            time.sleep(POLL_S)
    finally:
        bar.close()


def _look_for_lost(
    client: Any, watch: StallWatch, keys: list[str], resources: dict[str, float] | None
) -> dict[str, str]:
    """The pending scenes lost for the watch's ``stall_s``, with why; ``{}`` when the
    cluster cannot be asked now (it is asked again at the next look)."""
    try:
        lost = lost_tasks(client, keys, resources or {})
    except Exception as exc:  # a scheduler reconnecting, a comm closed: look again later
        log.debug("could not ask the cluster about pending scenes: %s", exc)
        return {}
    return watch.look(lost, keys)


def _require_gpu_workers(client: Any) -> None:
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    if not any(w.get("resources", {}).get("GPU") for w in workers.values()):
        raise DeviceError(
            f"device='cuda': none of the {len(workers)} workers of the cluster declares a GPU "
            "resource, so the scenes would wait forever; start GPU workers with "
            "'dask worker SCHEDULER --resources GPU=1' (see pipelines/README.md) or use "
            "device='cpu'"
        )


def _attempt_entry(ctx: BatchContext, task: SceneTask, attempt: AttemptResult) -> RecordEntry:
    timing = {
        "started": attempt.started,
        "finished": attempt.finished,
        "duration_s": attempt.duration_s,
        "worker": attempt.worker,
        "worker_peak_rss_mb": attempt.worker_peak_rss_mb,
    }
    if attempt.outcome is None:
        status = RETRYING if attempt.retryable else FAILED
        return ctx.entry(task, status, error=attempt.error, **timing)
    outcome = attempt.outcome
    outputs: dict[str, Any] = {}
    problem = None if outcome.outputs else "no output was written"
    for path in outcome.outputs:
        facts = attempt.output_files.get(str(path))
        if facts is None:
            problem = f"{path} is missing"
            break
        if not matches_facts(Path(path), facts):
            problem = (
                f"{path} is not visible here as the worker wrote it (the workers and "
                "this machine must share the output folder)"
            )
            break
        outputs[os.path.relpath(Path(path).absolute(), ctx.out_dir)] = dict(facts)
    if problem is not None:
        return ctx.entry(
            task, FAILED, error=f"the scene finished but {problem}; not recorded as done", **timing
        )
    return ctx.entry(
        task,
        DONE,
        n_roads=outcome.n_roads,
        total_length_m=outcome.total_length_m,
        pixels=outcome.pixels,
        outputs=outputs,
        **timing,
    )
