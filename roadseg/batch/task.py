"""What a worker does for one scene, and what it sends back.

A :class:`SceneTask` is a small picklable description of one scene's job: its files
and the frozen options objects of ``run_scene``. The
function that does the work (a :data:`SceneProcessor`) is a parameter of the batch:
by default :func:`process_with_run_scene`, which calls
:func:`roadseg.pipeline.run_scene`. :func:`execute_attempt` wraps it on the worker so
that every failure comes back as data the driver can record, with a verdict on whether
retrying can help.
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from roadseg.batch.fingerprint import file_facts
from roadseg.errors import (
    DeviceError,
    RemoteUnavailableError,
    RoadsegError,
    SceneChangedError,
    SceneStalledError,
)
from roadseg.inference.options import InferenceOptions
from roadseg.vector.conflate import ConflateOptions
from roadseg.vector.line_options import VectorOptions
from roadseg.vector.reference import ReferenceSpec


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying cannot help: roadseg's own errors are about the input, the
    options or the model, and come out the same every time (except a missing device,
    which another worker may have, a remote scene that could not be reached or changed
    during the run, which may be fine next time, and a scene the cluster lost)."""
    transient = (DeviceError, RemoteUnavailableError, SceneChangedError, SceneStalledError)
    return isinstance(exc, RoadsegError) and not isinstance(exc, transient)


@dataclass(frozen=True)
class SceneTask:
    """One scene's job.

    Attributes:
        name: the scene's name in the batch.
        scene: the input raster: a path, or the URL of a remote scene.
        out: the GeoPackage to write.
        prob_out: the probability COG to write, or ``None``.
        inference: how the probabilities are computed; its ``model`` is a
            checkpoint's absolute path or the name of shipped weights (the batch pins
            one model for all scenes).
        vector: the tuning of the road lines.
        threshold: the road lines' threshold, or ``None`` for the model's.
        reference: a reference road network the roads are compared with, or ``None``.
        conflate: how roads are matched to it.
        torch_threads: intra-op threads for torch on the worker, or ``None``.
        scheduler: passed to ``run_scene``: ``None`` runs the scene's block graph inside
            the worker; a scheduler address spreads it over the cluster.
        network: GDAL's network settings of the client (see
            :func:`roadseg.io.remote.network_settings`), applied around a remote
            scene's run: a worker on another machine does not share its environment.
        attempt: 1 for the first try.
    """

    name: str
    scene: Path | str
    out: Path
    prob_out: Path | None
    inference: InferenceOptions = field(default_factory=InferenceOptions)
    vector: VectorOptions = field(default_factory=VectorOptions)
    threshold: float | None = None
    reference: ReferenceSpec | None = None
    conflate: ConflateOptions = field(default_factory=ConflateOptions)
    torch_threads: int | None = None
    scheduler: str | None = None
    network: tuple[tuple[str, str], ...] = ()
    attempt: int = 1


@dataclass(frozen=True)
class SceneOutcome:
    """What a processor reports for a finished scene.

    Attributes:
        outputs: files written (all already renamed into place).
        n_roads, total_length_m: from the vector stage, ``None`` without it.
        pixels: width x height of the scene.
        model_name: the model's name as the pipeline reports it.
    """

    outputs: tuple[Path, ...]
    n_roads: int | None = None
    total_length_m: float | None = None
    pixels: int | None = None
    model_name: str | None = None


#: The function a worker runs for each scene.
SceneProcessor = Callable[[SceneTask], SceneOutcome]


@dataclass(frozen=True)
class AttemptResult:
    """One attempt as seen from the worker: the outcome or the error, and timings."""

    name: str
    attempt: int
    started: str
    finished: str
    duration_s: float
    outcome: SceneOutcome | None = None
    error: str | None = None
    retryable: bool = False
    output_files: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    worker: str | None = None
    worker_peak_rss_mb: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is not None


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1e6 if sys.platform == "darwin" else 1e3), 1)


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return None


def describe_error(exc: BaseException) -> str:
    """A one-line message naming the error type (and the frame it came from)."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    where = traceback.extract_tb(exc.__traceback__)
    origin = f" [at {Path(where[-1].filename).name}:{where[-1].lineno}]" if where else ""
    if is_permanent(exc):
        origin = ""
    return f"{type(exc).__name__}: {message}{origin}"


def execute_attempt(process: SceneProcessor, task: SceneTask) -> AttemptResult:
    """Run ``process(task)`` on a worker and turn any exception into a result."""
    if task.torch_threads:
        import torch

        torch.set_num_threads(task.torch_threads)
    started = utc_now()
    t0 = time.perf_counter()
    outcome: SceneOutcome | None = None
    error: str | None = None
    retryable = False
    output_files: dict[str, dict[str, Any]] = {}
    try:
        outcome = process(task)
        # Checksums are taken here, on the worker, in parallel across the cluster.
        output_files = {str(p): file_facts(p) for p in outcome.outputs if Path(p).is_file()}
    except Exception as exc:
        error = describe_error(exc)
        retryable = not is_permanent(exc)
    return AttemptResult(
        name=task.name,
        attempt=task.attempt,
        started=started,
        finished=utc_now(),
        duration_s=round(time.perf_counter() - t0, 3),
        outcome=outcome,
        error=error,
        retryable=retryable,
        output_files=output_files,
        worker=_worker_address(),
        worker_peak_rss_mb=peak_rss_mb(),
    )


def process_with_run_scene(task: SceneTask) -> SceneOutcome:
    """The default processor: :func:`roadseg.pipeline.run_scene` on one scene.

    Outputs are replaced (``overwrite=True``): the batch has already decided that this
    scene must be (re)done, and ``run_scene`` renames each output into place only once
    it is complete. A remote scene is read under the client's network settings.
    """
    from roadseg.io.remote import is_remote, network_env
    from roadseg.pipeline import run_scene

    remote = is_remote(task.scene)
    with network_env(task.network or None) if remote else contextlib.nullcontext():
        result = run_scene(
            task.scene,
            task.out,
            prob_out=task.prob_out,
            inference=task.inference,
            vector=task.vector,
            threshold=task.threshold,
            reference=task.reference,
            conflate_options=task.conflate,
            scheduler=task.scheduler,
            overwrite=True,
            progress=False,
        )
    prediction = result.prediction
    vectors = result.vectors
    outputs = [Path(task.prob_out)] if task.prob_out is not None else []
    if vectors is not None:
        outputs.append(Path(vectors.path))
    return SceneOutcome(
        outputs=tuple(outputs),
        n_roads=None if vectors is None else int(vectors.n_roads),
        total_length_m=None if vectors is None else float(vectors.total_length_m),
        pixels=int(prediction.width) * int(prediction.height),
        model_name=prediction.model_name,
    )


def lost_attempt(task: SceneTask, exc: BaseException, killer: bool) -> AttemptResult:
    """The attempt of a scene whose result never came back.

    ``killer``: workers died each time dask ran this scene while it ran alone on the
    cluster, so the scene is their cause (out of memory, most likely) and is not retried:
    another attempt would only kill more workers. A scene killed beside others is
    retried alone (see ``roadseg.batch.driver``).
    """
    now = utc_now()
    note = " (the worker process died each time it ran this scene: out of memory?)"
    return AttemptResult(
        name=task.name,
        attempt=task.attempt,
        started=now,
        finished=now,
        duration_s=0.0,
        error=describe_error(exc) + (note if killer else ""),
        retryable=not killer,
    )
