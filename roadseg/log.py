"""Logging set-up shared by the CLI and the pipelines."""

from __future__ import annotations

import logging

LOGGER_NAME = "roadseg"


def get_logger(name: str) -> logging.Logger:
    """Return a child of the ``roadseg`` logger for a module name."""
    if name == LOGGER_NAME or name.startswith(LOGGER_NAME + "."):
        return logging.getLogger(name)
    return logging.getLogger(f"{LOGGER_NAME}.{name}")


def configure_logging(verbosity: int = 0) -> None:
    """Configure the ``roadseg`` logger for a verbosity level.

    Args:
        verbosity: 0 shows warnings and info, negative values are quieter (-1: warnings,
            -2: errors only) and positive values add debug output.
    """
    level = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO}.get(
        max(verbosity, -2), logging.DEBUG
    )
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    if not any(getattr(h, "_roadseg", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler._roadseg = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
    if verbosity <= 0:
        # Third-party chatter (rasterio, distributed) only at -v and above.
        for name in ("rasterio", "distributed", "fiona", "pyogrio"):
            logging.getLogger(name).setLevel(logging.ERROR)


def plural(count: int, word: str, many: str | None = None) -> str:
    """``"1 road"``, ``"2 roads"``: a count with its noun in the right number."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
