"""Atomic outputs: write to a temporary name beside the target, publish when done.

A crash, an exception, Ctrl-C or SIGTERM never leaves a half-written file under the
final name, and an existing file is only replaced when ``overwrite`` is true. Without
``overwrite`` the file is published with a hard link, which fails if the name exists,
so two runs racing for the same output cannot silently replace each other's file.

Every temporary name roadseg uses is made here, by :func:`temporary_sibling`, from the
*final* name only (a temporary name is never built from another one). The name carries
the host and the process id of its writer, so a later run recognises the leftovers of a
run that was killed (SIGKILL, power loss) and removes them (:func:`clear_stale`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from roadseg.errors import (
    InvalidParameterError,
    OutputExistsError,
    OutputIsInputError,
    OutputNotWritableError,
)
from roadseg.io.urls import is_remote

# Plain logging: io sits beside roadseg.log in the layering, not above it.
log = logging.getLogger("roadseg.io.atomic")

#: Leftovers from another host are only reported, never removed; after this long they
#: are reported as certainly stale.
STALE_AFTER_S = 24 * 3600

#: The process's umask, read once (reading it means setting it).
_UMASK = os.umask(0o022)
os.umask(_UMASK)

_HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:4]

#: ``.<final name>.<host>-<pid>-<random>[.<role>].partial<suffix>[side-car]``
_TEMP_RE = re.compile(
    r"^\.(?P<final>.+)\.(?P<host>[0-9a-f]{4})-(?P<pid>\d+)-(?P<rand>[0-9a-f]{6})"
    r"(?:\.(?P<role>[a-z]+))?\.partial(?P<rest>.*)$"
)


@dataclass(frozen=True)
class TemporaryName:
    """A parsed temporary name: which output it was for, and who wrote it."""

    path: Path
    final_name: str
    host: str
    pid: int

    @property
    def ours(self) -> bool:
        """Written on this host."""
        return self.host == _HOST_TAG

    @property
    def writer_alive(self) -> bool:
        """Whether the process that wrote it may still be running (True if unknown)."""
        if not self.ours:
            return True
        if self.pid == os.getpid():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def parse_temporary(path: str | os.PathLike[str]) -> TemporaryName | None:
    """The :class:`TemporaryName` of a roadseg temporary file, or ``None``."""
    p = Path(path)
    m = _TEMP_RE.match(p.name)
    if m is None:
        return None
    return TemporaryName(p, m["final"], m["host"], int(m["pid"]))


def is_temporary(path: str | os.PathLike[str]) -> bool:
    return parse_temporary(path) is not None


def final_name(path: str | os.PathLike[str]) -> str:
    """The name a user knows a file by: the output's name for a temporary file.

    Use it in every message, so that logs never show temporary names.
    """
    parsed = parse_temporary(path)
    return parsed.final_name if parsed is not None else Path(path).name


def temporary_sibling(target: str | os.PathLike[str], role: str = "", suffix: str = "") -> Path:
    """A unique hidden name in the same folder as ``target``.

    Same folder, so the final rename is atomic on one file system; the suffix is the
    target's (or ``suffix``), so GDAL drivers that pick a format by extension still do.
    ``role`` tells apart several temporaries of one output (e.g. ``raw`` for an
    intermediate). Given a temporary name, it works from that name's final name, so
    names never nest.
    """
    target = Path(target)
    parsed = parse_temporary(target)
    name = parsed.final_name if parsed is not None else target.name
    if role and not re.fullmatch(r"[a-z]+", role):
        raise ValueError(f"role must be lower-case letters, got {role!r}")
    token = f"{_HOST_TAG}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    ext = suffix or target.suffix
    return target.with_name(f".{name}.{token}{'.' + role if role else ''}.partial{ext}")


def remove_quietly(paths: Iterable[Path]) -> None:
    """Remove files (and their GDAL ``.aux.xml`` side-cars) that may not exist."""
    for path in paths:
        for leftover in (path, path.with_name(path.name + ".aux.xml")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def clear_stale(folder: str | os.PathLike[str], final: str | None = None) -> list[str]:
    """Remove temporaries left in ``folder`` by killed runs; report the doubtful ones.

    A temporary is removed when its writer ran on this host and is no longer running.
    One written on another host (a shared folder) is left alone, with a warning once it
    is older than a day.

    Args:
        folder: where to look.
        final: only temporaries of the output of this name (default: all).

    Returns:
        The final names of the outputs whose leftovers were removed.
    """
    removed: list[str] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for path in entries:
        parsed = parse_temporary(path)
        if parsed is None or (final is not None and parsed.final_name != final):
            continue
        if not parsed.writer_alive:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            if parsed.final_name not in removed:
                removed.append(parsed.final_name)
                log.info(
                    "removed what an interrupted run left of %s in %s", parsed.final_name, folder
                )
        elif not parsed.ours:
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > STALE_AFTER_S:
                    log.warning(
                        "%s: a temporary file of %s left by a run on another host over a "
                        "day ago; delete it if no run is writing there",
                        path,
                        parsed.final_name,
                    )
    return removed


def check_not_input(
    output: str | os.PathLike[str] | None, inputs: Iterable[str | os.PathLike[str] | None]
) -> None:
    """Refuse an output that is one of the inputs (the same file by any path).

    Raises:
        OutputIsInputError: ``output`` resolves to (or is a hard link of) an input.
    """
    if output is None:
        return
    out = Path(output)
    for given in inputs:
        if given is None or is_remote(given):  # a URL is never a local output
            continue
        source = Path(given)
        same = out.resolve() == source.resolve()
        if not same and out.exists() and source.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(out, source)
        if same:
            raise OutputIsInputError(
                f"{out}: this output is the input {source}; writing it would destroy the "
                "input, so choose another output name (overwrite=True does not change this)"
            )


def check_distinct(outputs: dict[str, str | os.PathLike[str] | None]) -> None:
    """Refuse two outputs given the same file (``{"out": path, ...}``, keyed by the
    parameters' names)."""
    seen: dict[Path, str] = {}
    for name, path in outputs.items():
        if path is None:
            continue
        key = Path(path).resolve()
        if key in seen:
            raise InvalidParameterError(
                f"{path}: given as both {seen[key]}=... and {name}=...; give different files"
            )
        seen[key] = name


def check_suffix(path: str | os.PathLike[str], allowed: tuple[str, ...], what: str) -> None:
    """Refuse an output whose extension names another format than the one written.

    Raises:
        InvalidParameterError: the suffix is not one of ``allowed``.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise InvalidParameterError(
            f"{path}: roadseg writes {what} here, which would not match the extension "
            f"{suffix or '(none)'}; name the file {Path(path).stem}{allowed[0]}"
        )


@dataclass(frozen=True)
class OutputFormat:
    """What roadseg writes to one kind of output.

    Attributes:
        suffixes: the extensions that name it, the first being the one suggested.
        what: how messages describe it (``"a PNG image"``).
    """

    suffixes: tuple[str, ...]
    what: str


#: An output: its path (``None``: not asked for) and the format written there.
Output = tuple[str | os.PathLike[str] | None, OutputFormat]


def check_outputs(
    outputs: Mapping[str, Output],
    inputs: Iterable[str | os.PathLike[str] | None],
    overwrite: bool,
) -> dict[str, Path]:
    """Check every output of one call before any work: the one check of outputs.

    Refused whatever ``overwrite`` says, since no option makes them right: an output
    that is an input, two outputs that are one file, an extension naming a format other
    than the one written. Then each output must be writable (:func:`check_output_path`,
    which also clears what killed runs left of it).

    Args:
        outputs: ``{parameter name: (path or None, format)}``, in the order messages
            should name them.
        inputs: the files the call reads (``None`` entries are skipped).
        overwrite: whether existing outputs may be replaced.

    Returns:
        The outputs given, as paths, keyed by parameter name.

    Raises:
        OutputIsInputError: an output is an input.
        InvalidParameterError: two outputs are one file, a misnamed extension, or an
            unusable folder.
        OutputExistsError: an output exists and ``overwrite`` is false.
        OutputNotWritableError: an output's folder cannot be written.
    """
    given = [(name, path, form) for name, (path, form) in outputs.items() if path is not None]
    sources = list(inputs)
    for _, path, _ in given:
        check_not_input(path, sources)
    check_distinct({name: path for name, path, _ in given})
    for _, path, form in given:
        check_suffix(path, form.suffixes, form.what)
    return {name: check_output_path(path, overwrite) for name, path, _ in given}


def folder_writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (always true for root)."""
    return os.access(folder, os.W_OK | os.X_OK)


def check_output_path(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """Check that ``path`` may be written, before any work is done.

    Leftovers of killed runs writing the same output are removed first.

    Raises:
        OutputExistsError: the file exists and ``overwrite`` is false.
        InvalidParameterError: the parent folder does not exist or is a file, or the
            path is a folder.
        OutputNotWritableError: the folder cannot be written.
    """
    target = Path(path)
    if target.is_dir():
        raise InvalidParameterError(f"{target}: output path is a directory; give a file name")
    if target.exists() and not overwrite:
        raise OutputExistsError(
            f"{target}: output already exists; pass overwrite=True to replace it"
        )
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        if parent.exists():
            raise InvalidParameterError(f"{target}: {parent} is a file, not a folder")
        raise InvalidParameterError(
            f"{target}: the folder {parent} does not exist; create it first"
        )
    if not folder_writable(parent):
        raise OutputNotWritableError(
            f"{target}: the folder {parent} is not writable; choose another output folder"
        )
    clear_stale(parent, target.name)
    return target


def publish(tmp: Path, target: Path, overwrite: bool) -> None:
    """Move a complete temporary file onto ``target``.

    With ``overwrite``: an atomic rename. Without: a hard link, which fails if the
    name exists (another run got there first), then the temporary name is removed.

    Raises:
        OutputExistsError: ``target`` appeared while this run was working.
    """
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise OutputExistsError(
            f"{target}: the output was created by another process while this run was "
            "working; it was left as it is (pass overwrite=True to replace it)"
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # No hard links on this file system: claim the name exclusively, then rename.
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            raise OutputExistsError(
                f"{target}: the output was created by another process while this run "
                "was working; it was left as it is (pass overwrite=True to replace it)"
            ) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path; publish it as ``path`` if the block succeeds.

    The temporary file (and GDAL side-cars such as ``.aux.xml``) is removed if the block
    raises, including on ``KeyboardInterrupt`` (Ctrl-C, and SIGTERM in the CLI).

    Example:
        >>> with atomic_output("roads.gpkg", overwrite=True) as tmp:  # doctest: +SKIP
        ...     write_geopackage(tmp)
    """
    target = check_output_path(path, overwrite)
    tmp = temporary_sibling(target)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{target}: nothing was written")
        # Some writers (safetensors) create private 0600 files; an output gets the
        # user's usual mode, so that cluster workers and colleagues can read it.
        os.chmod(tmp, 0o666 & ~_UMASK)
        publish(tmp, target, overwrite)
    finally:
        remove_quietly([tmp])
