"""Running the roadseg command as a child process, with its progress in Processing.

roadseg runs in its own environment: the child gets this process's environment without
the variables that point Python, GDAL, PROJ or Qt at QGIS's own copies (a different
GDAL or PROJ database would break roadseg's). It reports with ``--log-format json``:
one JSON object a line on standard error (messages, progress per stage, the error).
Cancel sends SIGTERM; roadseg then removes its temporary outputs and exits, and
nothing partial is left.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence

#: Variables the child does not inherit: they point at QGIS's Python, GDAL, PROJ, Qt.
DROPPED_PREFIXES = ("PYTHON", "QGIS", "GDAL_", "PROJ_", "QT_", "CPL_", "OGR_", "GISBASE")
DROPPED = {"LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "VIRTUAL_ENV", "CONDA_PREFIX", "PROJ_LIB"}
#: Share of the bar each stage fills, per command (a stage not listed fills all of it).
STAGES = {
    "run": {"roadseg run": (0.0, 85.0), "vectorize": (85.0, 100.0)},
    "vectorize": {"vectorize": (0.0, 100.0)},
    "batch": {"batch": (0.0, 100.0)},
}
#: Seconds to wait for the pipes to drain once the child has ended.
DRAIN_SECONDS = 5
#: Seconds between checks of the Cancel button while the child is silent.
POLL_SECONDS = 0.1
#: Seconds a cancelled child has to clean up before it is killed.
GRACE_SECONDS = 30


class RoadsegFailedError(RuntimeError):
    """The command failed; the message is roadseg's own one line."""


class CancelledError(RuntimeError):
    """The user cancelled; the child has stopped and removed its partial outputs."""


def find_roadseg(configured: str | None = None) -> str | None:
    """The roadseg command: the configured path, else ``roadseg`` on PATH."""
    if configured:
        return configured if os.path.isfile(configured) else shutil.which(configured)
    return shutil.which("roadseg")


def child_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment less QGIS's Python, GDAL, PROJ and Qt settings."""
    env = dict(os.environ if base is None else base)
    for key in list(env):
        if key in DROPPED or key.startswith(DROPPED_PREFIXES):
            del env[key]
    return env


def run_roadseg(
    executable: str,
    arguments: Sequence[str],
    *,
    on_progress: Callable[[float], None],
    on_message: Callable[[str, str], None],
    is_cancelled: Callable[[], bool],
) -> None:
    """Run ``roadseg --log-format json ARGUMENTS`` to its end.

    Raises:
        CancelledError: ``is_cancelled()`` turned true; the child was stopped cleanly.
        RoadsegFailedError: the command exited non-zero; the message is roadseg's.
    """
    command = [executable, "--log-format", "json", *arguments]
    stages = STAGES.get(arguments[0] if arguments else "", {})
    windows = os.name == "nt"
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_environment(),
        text=True,
        encoding="utf-8",
        errors="replace",
        # On Windows: no console window, and a process group that CTRL_BREAK reaches.
        creationflags=(
            subprocess.CREATE_NO_WINDOW | subprocess.CREATE_NEW_PROCESS_GROUP if windows else 0
        ),
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump(stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line.rstrip("\n"))
        lines.put(None)

    readers = [
        threading.Thread(target=pump, args=(s,), daemon=True)
        for s in (process.stderr, process.stdout)
    ]
    for reader in readers:
        reader.start()
    try:
        error, last_text = _follow(
            process, lines, len(readers), stages, on_progress, on_message, is_cancelled
        )
    finally:
        _stop(process)  # a no-op once it has ended; stops it on any error here
        for reader in readers:
            reader.join(DRAIN_SECONDS)
        if not any(reader.is_alive() for reader in readers):
            for stream in (process.stdout, process.stderr):
                stream.close()
    code = process.returncode
    if code != 0:
        if error is None and last_text and last_text.startswith("Error: "):
            error = last_text[len("Error: ") :]
        raise RoadsegFailedError(error or last_text or f"roadseg exited with status {code}")
    on_progress(100.0)


def _follow(process, lines, open_streams, stages, on_progress, on_message, is_cancelled):
    """Relay the child's lines until both its pipes close; ``(error, last text line)``."""
    error, last_text = None, None
    while open_streams:
        if is_cancelled():
            _stop(process)
            raise CancelledError("cancelled; roadseg stopped and removed its partial outputs")
        try:
            line = lines.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue
        if line is None:
            open_streams -= 1
            continue
        event = _parse(line)
        if event is None:
            if line.strip():
                last_text = line.strip()
                on_message("INFO", last_text)
            continue
        kind = event.get("type")
        if kind == "progress":
            on_progress(_percent(event, stages))
        elif kind == "log":
            on_message(str(event.get("level", "INFO")), str(event.get("message", "")))
        elif kind == "error":
            error = str(event.get("message", ""))
    process.wait()
    return error, last_text


def _parse(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _percent(event: dict, stages: dict) -> float:
    start, end = stages.get(str(event.get("stage")), (0.0, 100.0))
    total = event.get("total") or 0
    done = event.get("done") or 0
    share = min(1.0, done / total) if total else 0.0
    return start + (end - start) * share


def _stop(process: subprocess.Popen) -> None:
    """Ask roadseg to stop (SIGTERM; CTRL_BREAK on Windows), so that it unwinds and
    removes its temporary files, then wait; kill only a child that does not end within
    the grace period."""
    if process.poll() is not None:
        return
    if os.name == "nt":
        process.send_signal(signal.CTRL_BREAK_EVENT)
    else:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
