"""Batch processing of many scenes on a dask-distributed cluster, resumable.

See :func:`roadseg.batch.driver.run_batch` and ``docs/batch.md``.
"""

from roadseg.batch.driver import BatchSummary, run_batch
from roadseg.batch.inputs import SceneInput, collect_scenes, read_manifest, read_stac
from roadseg.batch.lock import BatchLock, BatchLockedError
from roadseg.batch.record import RecordEntry, RunRecord
from roadseg.batch.summary import format_summary
from roadseg.batch.task import SceneOutcome, SceneProcessor, SceneTask, process_with_run_scene

__all__ = [
    "BatchLock",
    "BatchLockedError",
    "BatchSummary",
    "RecordEntry",
    "RunRecord",
    "SceneInput",
    "SceneOutcome",
    "SceneProcessor",
    "SceneTask",
    "collect_scenes",
    "format_summary",
    "process_with_run_scene",
    "read_manifest",
    "read_stac",
    "run_batch",
]
