"""Atomic outputs: write to a temporary name beside the target, rename when done.

A crash, an exception or Ctrl-C never leaves a half-written file under the final
name, and an existing file is only replaced when ``overwrite`` is true.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from roadseg.errors import InvalidParameterError, OutputExistsError


def check_output_path(path: str | os.PathLike[str], overwrite: bool) -> Path:
    """Check that ``path`` may be written, before any work is done.

    Raises:
        OutputExistsError: the file exists and ``overwrite`` is false.
        InvalidParameterError: the parent folder does not exist or is a file.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target}: output already exists; pass --overwrite to replace it")
    if target.is_dir():
        raise InvalidParameterError(f"{target}: output path is a directory; give a file name")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidParameterError(
            f"{target}: the folder {parent} does not exist; create it first"
        )
    return target


def temporary_sibling(target: Path) -> Path:
    """A unique hidden name in the same folder as ``target``, with the same suffix.

    Same folder, so the final rename is atomic on one file system; same suffix, so
    GDAL drivers that pick a format by extension still do.
    """
    return target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.partial{target.suffix}")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path; rename it onto ``path`` if the block succeeds.

    The temporary file (and GDAL side-cars such as ``.aux.xml``) is removed if the block
    raises, including on ``KeyboardInterrupt``.

    Example:
        >>> with atomic_output("roads.gpkg", overwrite=True) as tmp:  # doctest: +SKIP
        ...     write_geopackage(tmp)
    """
    target = check_output_path(path, overwrite)
    tmp = temporary_sibling(target)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{tmp}: nothing was written for {target}")
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".aux.xml")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
