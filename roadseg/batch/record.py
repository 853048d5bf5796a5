"""The run record: one JSON line per attempt and result, in the output folder.

The record is the batch's memory. It is appended to, never rewritten, by the driver
process alone (workers return results; they never write it), one ``write`` per line,
flushed and synced, so a killed batch loses at most the line being written. A line cut
short by a crash is ignored on reading.

Statuses:
    ``submitted``: the scene was sent to the cluster (attempt n).
    ``retrying``: an attempt failed with a transient error and will be retried.
    ``done``: outputs were written (renamed into place) and checked.
    ``skipped``: already done with the same input, model and settings.
    ``failed``: every attempt failed, or the error cannot be fixed by retrying.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from roadseg.log import get_logger

log = get_logger(__name__)

RECORD_NAME = "batch-record.jsonl"

SUBMITTED = "submitted"
RETRYING = "retrying"
DONE = "done"
SKIPPED = "skipped"
FAILED = "failed"
#: Statuses that end a scene's part in a batch run (shown in the summary).
FINAL_STATUSES = (DONE, SKIPPED, FAILED)


@dataclass(frozen=True)
class RecordEntry:
    """One line of the run record.

    Attributes:
        scene: the scene's name in the batch (stem of its outputs).
        status: see the module docstring.
        input: path of the scene.
        batch_id: identifies the invocation of ``roadseg batch`` that wrote the line.
        attempt: 1 for the first try, 2 for the first retry, ...
        started, finished: ISO 8601 UTC times of the attempt on its worker.
        duration_s: seconds the attempt took on its worker.
        n_roads, total_length_m: what the vector stage found (``None`` without it).
        pixels: width x height of the scene.
        error: the error message of a failed attempt.
        model: the checkpoint used; model_sha256 its file's digest.
        roadseg_version: the version that processed the scene.
        input_sha256: digest of the scene file; input_size and input_mtime_ns let a
            rerun reuse it without reading the file again when it has not changed.
        settings: fingerprint of the settings that change outputs.
        reference: the reference network's file name, when roads were compared with one.
        outputs: output file name (relative to the output folder) -> its ``sha256``,
            ``size`` and ``mtime_ns``.
        worker: the dask worker's address; worker_peak_rss_mb its peak resident memory.
    """

    scene: str
    status: str
    input: str = ""
    batch_id: str = ""
    attempt: int = 0
    started: str | None = None
    finished: str | None = None
    duration_s: float | None = None
    n_roads: int | None = None
    total_length_m: float | None = None
    pixels: int | None = None
    error: str | None = None
    model: str | None = None
    model_sha256: str | None = None
    roadseg_version: str | None = None
    input_sha256: str | None = None
    input_size: int | None = None
    input_mtime_ns: int | None = None
    settings: str | None = None
    reference: str | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    worker: str | None = None
    worker_peak_rss_mb: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RecordEntry:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


class RunRecord:
    """Append-only JSON-lines record of a batch output folder."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.path = Path(out_dir) / RECORD_NAME

    def append(self, entry: RecordEntry) -> None:
        """Append one line and sync it to disk before returning."""
        line = (entry.to_json() + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            self._terminate_cut_line(fd)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _terminate_cut_line(self, fd: int) -> None:
        # A crash mid-write leaves a line without its newline; end it so the next
        # entry starts on a line of its own (the cut line is then skipped on reading).
        size = os.fstat(fd).st_size
        if size == 0:
            return
        with open(self.path, "rb") as handle:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                os.write(fd, b"\n")

    def __iter__(self) -> Iterator[RecordEntry]:
        if not self.path.is_file():
            return
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield RecordEntry.from_dict(json.loads(line))
                except (ValueError, TypeError):
                    log.warning("%s:%d: unreadable record line ignored", self.path, number)

    def entries(self) -> list[RecordEntry]:
        return list(self)

    def last_done(self) -> dict[str, RecordEntry]:
        """The latest ``done`` entry of every scene that has one."""
        done: dict[str, RecordEntry] = {}
        for entry in self:
            if entry.status == DONE:
                done[entry.scene] = entry
        return done

    def known_scenes(self) -> set[str]:
        """Scenes this folder's batches have worked on (whose outputs are theirs)."""
        return {entry.scene for entry in self}
