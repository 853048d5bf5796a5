"""Run many scenes as tasks on a dask-distributed cluster, resumably.

:func:`run_batch` is the library entry point of ``roadseg batch``:

1. lock the output folder (:mod:`roadseg.batch.lock`) and clear temporary files a
   killed run left behind;
2. decide per scene, from the run record, whether it is already done with the same
   input checksum, model and settings *and* its outputs are intact (then it is
   skipped), or must be (re)done;
3. submit one task per scene to the cluster (``client.submit(..., pure=False)``), on a
   worker with a ``GPU`` resource when the model runs on CUDA, and collect results with
   ``as_completed`` in the driver, which alone writes the record;
4. retry a scene whose attempt failed with a transient error (a crash, a lost worker,
   an I/O error) up to ``retries`` times; errors that retrying cannot fix (a corrupt
   input, a bad option) fail the scene at once; either way the rest goes on;
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

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from roadseg import __version__
from roadseg.batch.cluster import batch_client, plan_local_cluster, task_resources
from roadseg.batch.fingerprint import (
    file_sha256,
    file_stat_key,
    matches_facts,
    settings_fingerprint,
)
from roadseg.batch.inputs import SceneInput
from roadseg.batch.lock import BatchLock
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
    describe_error,
    execute_attempt,
    process_with_run_scene,
    utc_now,
)
from roadseg.errors import DeviceError, InvalidParameterError
from roadseg.io.atomic import parse_temporary
from roadseg.log import get_logger, plural

log = get_logger(__name__)

#: ``run_scene`` options that change speed or memory but not the outputs; they are left
#: out of the settings fingerprint, so changing them does not redo finished scenes.
NEUTRAL_OPTIONS = frozenset({"batch_size", "block_size"})

VECTOR_SUFFIX = ".gpkg"
PROB_SUFFIX = ".prob.tif"


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


@dataclass
class _Context:
    out_dir: Path
    record: RunRecord
    batch_id: str
    model: str
    model_path: str
    model_sha256: str
    settings: str
    base: dict[str, Any] = field(default_factory=dict)  # per-scene input facts

    def entry(self, task: SceneTask, status: str, **values: Any) -> RecordEntry:
        fields: dict[str, Any] = {
            "scene": task.name,
            "status": status,
            "input": str(task.scene),
            "batch_id": self.batch_id,
            "attempt": task.attempt,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "roadseg_version": __version__,
            "settings": self.settings,
            **self.base.get(task.name, {}),
        }
        fields.update(values)
        return RecordEntry(**fields)


def batch_settings(device: str, run_options: Mapping[str, Any], prob_cog: bool) -> dict[str, Any]:
    """The settings that decide a scene's outputs (hashed into the fingerprint)."""
    settings: dict[str, Any] = {"device": device, "prob_cog": prob_cog}
    for key, value in run_options.items():
        if key not in NEUTRAL_OPTIONS and value is not None:
            settings[key] = list(value) if isinstance(value, tuple) else value
    return settings


def scene_outputs(out_dir: Path, name: str, prob_cog: bool) -> tuple[Path, Path | None]:
    """The GeoPackage and (optional) probability COG of a scene."""
    return out_dir / f"{name}{VECTOR_SUFFIX}", (
        out_dir / f"{name}{PROB_SUFFIX}" if prob_cog else None
    )


def _resolve_model(model: str | None, device: str) -> tuple[str, str, str]:
    """``(label, what workers load, SHA-256 of the checkpoint file)``.

    A checkpoint file is passed to workers as an absolute path; shipped weights by name,
    so that each worker loads them from its own installation.
    """
    import torch

    from roadseg.device import resolve_device
    from roadseg.models import default_weights_name, resolve_checkpoint

    if model is None:
        kind = "cuda" if device.startswith("cuda") else device
        model = default_weights_name(
            resolve_device("auto") if kind == "auto" else torch.device(kind)
        )
    path = resolve_checkpoint(model).absolute()
    for_workers = str(path) if Path(model).is_file() else str(model)
    return str(model), for_workers, file_sha256(path)


def _outputs_intact(out_dir: Path, outputs: Mapping[str, Any], verify: bool) -> bool:
    if not outputs:
        return False
    return all(
        isinstance(facts, Mapping) and matches_facts(out_dir / name, facts, verify)
        for name, facts in outputs.items()
    )


def _clear_partials(out_dir: Path) -> None:
    """Remove every temporary file in the folder: the batch holds its lock, so they are
    all left by runs that were killed (reported by their outputs' names)."""
    removed: set[str] = set()
    for leftover in out_dir.iterdir():
        parsed = parse_temporary(leftover)
        if parsed is None:
            continue
        leftover.unlink(missing_ok=True)
        removed.add(parsed.final_name)
    for name in sorted(removed):
        log.warning("removed what an interrupted run left of %s", name)


def _remove_stale_probability(ctx: _Context, name: str, entries: Sequence[RecordEntry]) -> None:
    """A scene redone without --prob-cog: remove the probability COG an earlier batch
    wrote for it, which would no longer match the new GeoPackage. A file no batch wrote
    is left alone."""
    stale = ctx.out_dir / f"{name}{PROB_SUFFIX}"
    if stale.is_file() and any(e.scene == name and stale.name in e.outputs for e in entries):
        stale.unlink()
        log.info("%s: removed %s of an earlier batch run with --prob-cog", name, stale.name)


def _input_facts(scene: SceneInput, known: Mapping[str, RecordEntry]) -> dict[str, Any]:
    size, mtime_ns = file_stat_key(scene.path)
    previous = known.get(str(scene.path))
    if (
        previous is not None
        and previous.input_sha256
        and (previous.input_size, previous.input_mtime_ns) == (size, mtime_ns)
    ):
        digest = previous.input_sha256
    else:
        digest = file_sha256(scene.path)
    return {"input_sha256": digest, "input_size": size, "input_mtime_ns": mtime_ns}


def run_batch(
    scenes: Sequence[SceneInput],
    out_dir: str | os.PathLike[str],
    *,
    model: str | None = None,
    device: str = "auto",
    run_options: Mapping[str, Any] | None = None,
    prob_cog: bool = False,
    scheduler: object | None = None,
    workers: int | None = None,
    memory_limit: str | int = "auto",
    retries: int = 2,
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
        model: shipped weights name or checkpoint path; default by device. Resolved
            once, so every scene of the batch uses the same checkpoint.
        device: ``auto``, ``cpu`` or ``cuda``; with ``cuda`` tasks need a worker with
            the resource ``GPU``.
        run_options: more ``run_scene`` keyword arguments (``bands``, ``gsd``,
            ``tile_size``, ``overlap``, ``batch_size``, ``block_size``, ``tta``,
            ``threshold``, ``vector_options``).
        prob_cog: also write each scene's probability raster.
        scheduler: ``None`` for a local cluster sized to the machine, a
            ``tcp://HOST:PORT`` address, or a :class:`distributed.Client`.
        workers: number of local workers (default: sized to the machine).
        memory_limit: memory limit of each local worker (dask syntax, e.g. ``"4GB"``).
        retries: further attempts after a transient failure.
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
        InvalidParameterError: a bad option (e.g. negative ``retries``).
    """
    if retries < 0:
        raise InvalidParameterError(f"--retries {retries}: must be 0 or more")
    if not scenes:
        raise InvalidParameterError("no scenes to process")
    out = Path(out_dir).absolute()
    if out.exists() and not out.is_dir():
        raise InvalidParameterError(f"{out}: --out-dir is a file; give a folder")
    process = process or process_with_run_scene
    options = dict(run_options or {})
    t0 = time.perf_counter()
    model_label, model_path, model_sha = _resolve_model(model, device)
    out.mkdir(parents=True, exist_ok=True)
    with BatchLock(out):
        _clear_partials(out)
        record = RunRecord(out)
        ctx = _Context(
            out_dir=out,
            record=record,
            batch_id=uuid.uuid4().hex[:12],
            model=model_label,
            model_path=model_path,
            model_sha256=model_sha,
            settings=settings_fingerprint(batch_settings(device, options, prob_cog)),
        )
        final: dict[str, RecordEntry] = {}
        todo = _plan(scenes, ctx, options, device, prob_cog, overwrite, verify, final)
        n_workers = None
        if todo:
            plan = None
            if scheduler is None:
                plan = plan_local_cluster(
                    len(todo), workers=workers, device=device, memory_limit=memory_limit
                )
                n_workers = plan.n_workers
            elif workers is not None:
                log.warning("--workers is ignored with --scheduler: the cluster is as it is")
            with batch_client(scheduler, plan) as client:
                todo = [
                    replace(t, torch_threads=plan.torch_threads if plan else None) for t in todo
                ]
                _run_tasks(
                    client, todo, ctx, process, retries, device, spread_blocks, progress, final
                )
            # A worker killed in the middle of a scene leaves its temporary file.
            _clear_partials(out)
        entries = tuple(final[s.name] for s in scenes)
    return BatchSummary(
        out_dir=out,
        record_path=record.path,
        batch_id=ctx.batch_id,
        entries=entries,
        seconds=round(time.perf_counter() - t0, 3),
        n_workers=n_workers,
    )


def _plan(
    scenes: Sequence[SceneInput],
    ctx: _Context,
    options: Mapping[str, Any],
    device: str,
    prob_cog: bool,
    overwrite: bool,
    verify: bool,
    final: dict[str, RecordEntry],
) -> list[SceneTask]:
    entries = ctx.record.entries()
    last_done = {e.scene: e for e in entries if e.status == DONE}
    by_input = {e.input: e for e in entries if e.input_sha256}
    known = {e.scene for e in entries}
    todo = []
    for scene in scenes:
        out, prob_out = scene_outputs(ctx.out_dir, scene.name, prob_cog)
        task = SceneTask(
            name=scene.name,
            scene=scene.path,
            out=out,
            prob_out=prob_out,
            model=ctx.model_path,
            device=device,
            run_options=dict(options),
        )
        try:
            ctx.base[scene.name] = _input_facts(scene, by_input)
        except OSError as exc:
            entry = ctx.entry(
                task,
                FAILED,
                attempt=0,
                error=f"InputNotFoundError: {scene.path}: cannot read the scene "
                f"({exc.strerror or exc})",
            )
            ctx.record.append(entry)
            final[scene.name] = entry
            continue
        previous = last_done.get(scene.name)
        if (
            not overwrite
            and previous is not None
            and previous.input_sha256 == ctx.base[scene.name]["input_sha256"]
            and previous.model_sha256 == ctx.model_sha256
            and previous.settings == ctx.settings
            and _outputs_intact(ctx.out_dir, previous.outputs, verify)
        ):
            entry = ctx.entry(
                task,
                SKIPPED,
                attempt=0,
                n_roads=previous.n_roads,
                total_length_m=previous.total_length_m,
                pixels=previous.pixels,
                outputs=previous.outputs,
            )
            ctx.record.append(entry)
            final[scene.name] = entry
            continue
        clash = [p for p in (out, prob_out) if p is not None and p.exists()]
        if clash and not overwrite and scene.name not in known:
            entry = ctx.entry(
                task,
                FAILED,
                attempt=0,
                error=f"OutputExistsError: {clash[0]} exists and no batch in this folder "
                "wrote it; pass --overwrite to replace it",
            )
            ctx.record.append(entry)
            final[scene.name] = entry
            continue
        if not prob_cog:
            _remove_stale_probability(ctx, scene.name, entries)
        todo.append(task)
    n_skipped = sum(1 for e in final.values() if e.status == SKIPPED)
    if n_skipped:
        log.info(
            "%s already done with the same input, model and settings: skipped",
            plural(n_skipped, "scene"),
        )
    return todo


def _run_tasks(
    client: Any,
    todo: list[SceneTask],
    ctx: _Context,
    process: SceneProcessor,
    retries: int,
    device: str,
    spread_blocks: bool,
    progress: bool,
    final: dict[str, RecordEntry],
) -> None:
    from distributed import as_completed

    bar = tqdm(total=len(todo), unit="scene", disable=not progress, desc="batch")

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
        queue = as_completed()

        def submit(task: SceneTask) -> None:
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
            queue.add(future)

        for task in todo:
            submit(task)
        for future in queue:
            task = pending.pop(future.key)
            try:
                attempt = future.result()
            except Exception as exc:  # lost workers, cancelled tasks, unpicklable results
                now = utc_now()
                # KilledWorker: workers died while this scene was on them, and dask has
                # rerun it each time. The scene may be the cause, or only queued beside
                # the scene that was: one more attempt of our own tells them apart, more
                # would only kill more workers.
                killer = type(exc).__name__ == "KilledWorker" and task.attempt > 1
                attempt = AttemptResult(
                    name=task.name,
                    attempt=task.attempt,
                    started=now,
                    finished=now,
                    duration_s=0.0,
                    error=describe_error(exc)
                    + (
                        " (the worker process died each time it ran this scene: out of memory?)"
                        if killer
                        else ""
                    ),
                    retryable=not killer,
                )
            future.release()
            retry = conclude(task, attempt)
            if retry is not None:
                submit(retry)
    finally:
        bar.close()


def _require_gpu_workers(client: Any) -> None:
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    if not any(w.get("resources", {}).get("GPU") for w in workers.values()):
        raise DeviceError(
            f"--device cuda: none of the {len(workers)} workers of the cluster declares a GPU "
            "resource, so the scenes would wait forever; start GPU workers with "
            "'dask worker SCHEDULER --resources GPU=1' (see pipelines/README.md) or use "
            "--device cpu"
        )


def _attempt_entry(ctx: _Context, task: SceneTask, attempt: AttemptResult) -> RecordEntry:
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
