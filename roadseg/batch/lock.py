"""A lock file so that two batches never write the same output folder at once."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

import psutil

from roadseg.errors import OutputExistsError
from roadseg.log import get_logger

log = get_logger(__name__)

LOCK_NAME = ".roadseg-batch.lock"


class BatchLockedError(OutputExistsError):
    """Another batch holds the output folder."""


class BatchLock:
    """Exclusive hold on a batch output folder, as a context manager.

    The lock file is created with ``O_EXCL`` and holds the owner's host, process id and
    start time. A lock left by a process that no longer runs on this host (a killed
    batch) is taken over with a warning; a lock held by a live process, or by another
    host, is an error.
    """

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.path = Path(out_dir) / LOCK_NAME
        self._held = False

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            BatchLockedError: another live batch holds it.
        """
        owner = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if not self._remove_if_stale():
                    break
                continue
            with os.fdopen(fd, "w") as handle:
                json.dump(owner, handle)
            self._held = True
            return
        holder = self._read() or {}
        since = holder.get("since")
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(since)) if since else "?"
        raise BatchLockedError(
            f"{self.path.parent}: another batch is writing this folder (pid "
            f"{holder.get('pid', '?')} on {holder.get('host', '?')}, since {when}); wait for "
            f"it to finish, or delete {self.path} if that process is gone"
        )

    def _read(self) -> dict[str, object] | None:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _remove_if_stale(self) -> bool:
        holder = self._read()
        if holder is None:
            # Unreadable: a writer may be between open and write; give it a moment.
            time.sleep(0.2)
            holder = self._read()
        stale = holder is None or (
            holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", -1)))  # type: ignore[call-overload]
        )
        if not stale:
            return False
        log.warning("removing stale batch lock %s (owner %s is gone)", self.path, holder)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        return True

    def release(self) -> None:
        if self._held:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._held = False

    def __enter__(self) -> BatchLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
