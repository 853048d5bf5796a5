"""The roadseg exception family.

Every error raised on purpose by roadseg is a :class:`RoadsegError`. Subclasses also
inherit the built-in exception they resemble, so ``except FileNotFoundError`` keeps
working for callers who do not know about roadseg. Messages name the bad value and
say how to fix it; the CLI prints them as one line.
"""

from __future__ import annotations


class RoadsegError(Exception):
    """Base class of all roadseg errors."""


class InputNotFoundError(RoadsegError, FileNotFoundError):
    """An input file does not exist."""


class InvalidInputError(RoadsegError, ValueError):
    """An input exists but cannot be used (not a raster, no bands, bad dtype, ...)."""


class InvalidParameterError(RoadsegError, ValueError):
    """An option or argument has a value that cannot work."""


class OutputExistsError(RoadsegError, FileExistsError):
    """An output exists and ``overwrite`` was not asked for."""


class CheckpointError(RoadsegError, ValueError):
    """A checkpoint is corrupt, tampered with, or does not match its architecture."""


class UnknownNameError(RoadsegError, KeyError):
    """A name (architecture, weights) is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0]) if self.args else ""


class DeviceError(RoadsegError, RuntimeError):
    """The requested compute device is not available."""


class OutputIsInputError(InvalidParameterError):
    """An output names one of the inputs; writing it would destroy the input."""


class OutputNotWritableError(RoadsegError, PermissionError):
    """An output's folder cannot be written."""


class OutputWriteError(RoadsegError, OSError):
    """Writing an output failed (disk full, permissions, a GDAL driver error)."""


class UnreadableInputError(InvalidInputError):
    """An input opened but its data cannot be read (truncated or corrupt)."""


class RemoteAccessError(RoadsegError, PermissionError):
    """A server refused a remote scene (HTTP 401 or 403, an untrusted certificate)."""


class RemoteRangeError(InvalidInputError):
    """A server sends whole files only (it ignores HTTP ``Range``): a remote scene cannot
    be read in parts."""


class RemoteUnavailableError(RoadsegError, ConnectionError):
    """A remote scene could not be read for a reason that may pass (server down, a
    timeout, a dropped connection, HTTP 5xx): a batch retries it."""


class SceneChangedError(RoadsegError, RuntimeError):
    """A remote scene changed on its server during the run: a batch retries it."""


class SceneStalledError(RoadsegError, TimeoutError):
    """The cluster held a scene's task but no worker ran it: a batch resubmits it."""
