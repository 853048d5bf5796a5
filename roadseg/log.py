"""Logging set-up shared by the CLI and the pipelines."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any

from tqdm.auto import tqdm

LOGGER_NAME = "roadseg"
#: Whether messages and progress go to standard error as JSON lines (for programs that
#: run roadseg, such as the QGIS plugin) rather than as text and progress bars.
_json_lines = False
#: Least seconds between two JSON progress lines of one bar (the last one always goes).
JSON_PROGRESS_INTERVAL = 0.2
_WRITE_LOCK = threading.Lock()


def get_logger(name: str) -> logging.Logger:
    """Return a child of the ``roadseg`` logger for a module name."""
    if name == LOGGER_NAME or name.startswith(LOGGER_NAME + "."):
        return logging.getLogger(name)
    return logging.getLogger(f"{LOGGER_NAME}.{name}")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json_line("log", level=record.levelname, message=record.getMessage())


def json_line(kind: str, /, **fields: Any) -> str:
    """One line of the JSON-lines protocol: ``{"type": kind, ...}``."""
    # ASCII escapes: the reader's decoding of a child's stderr need not match ours.
    return json.dumps({"type": kind, **fields})


def configure_logging(verbosity: int = 0, json_lines: bool | None = None) -> None:
    """Configure the ``roadseg`` logger for a verbosity level.

    Args:
        verbosity: 0 shows warnings and info, negative values are quieter (-1: warnings,
            -2: errors only) and positive values add debug output.
        json_lines: write messages and progress to standard error as JSON lines
            (``None``: keep the current choice). See ``docs/qgis.md``.
    """
    global _json_lines
    if json_lines is not None:
        _json_lines = json_lines
    level = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO}.get(
        max(verbosity, -2), logging.DEBUG
    )
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(getattr(h, "_roadseg", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler._roadseg = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    for handler in logger.handlers:
        if getattr(handler, "_roadseg", False):
            handler.setFormatter(
                _JsonFormatter() if _json_lines else logging.Formatter("%(levelname)s: %(message)s")
            )
    logger.propagate = False
    if verbosity <= 0:
        # Third-party chatter (rasterio, distributed) only at -v and above.
        for name in ("rasterio", "distributed", "fiona", "pyogrio"):
            logging.getLogger(name).setLevel(logging.ERROR)


def plural(count: int, word: str, many: str | None = None) -> str:
    """``"1 road"``, ``"2 roads"``: a count with its noun in the right number."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def json_lines_enabled() -> bool:
    """Whether roadseg reports as JSON lines (``roadseg --log-format json``)."""
    return _json_lines


class JsonProgress:
    """A progress bar's counterpart that writes ``{"type": "progress", "stage": ...,
    "done": n, "total": N}`` lines to standard error, at most every
    :data:`JSON_PROGRESS_INTERVAL` seconds and always at the end."""

    def __init__(self, total: int | None, desc: str, initial: int = 0) -> None:
        self.total, self.desc, self.n = total, desc, initial
        self._last = 0.0
        self._emit(force=True)

    def _emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= JSON_PROGRESS_INTERVAL:
            self._last = now
            line = json_line("progress", stage=self.desc, done=self.n, total=self.total)
            with _WRITE_LOCK:  # one write, never split by a log line of another thread
                sys.stderr.write(line + "\n")
                sys.stderr.flush()

    def update(self, n: int = 1) -> None:
        self.n += n
        self._emit(force=self.total is not None and self.n >= self.total)

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        """Ignored: the text after a bar is for people."""

    def close(self) -> None:
        """Nothing to release (the last count went out with the last update)."""

    def __enter__(self) -> JsonProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(
    total: int | None, desc: str, unit: str, enabled: bool = True, initial: int = 0
) -> Any:
    """A tqdm bar, or JSON progress lines under ``--log-format json``; ``enabled=False``
    (``--no-progress``, ``-q``) shows neither."""
    if _json_lines and enabled:
        return JsonProgress(total, desc, initial)
    return tqdm(
        total=total, desc=desc, unit=unit, disable=not enabled, initial=initial, dynamic_ncols=True
    )
