"""GDAL, rasterio and pyogrio failures as roadseg errors that name the file.

GDAL reports a truncated TIFF as ``RasterioIOError: Read failed`` and a failed create
as a ``CPLE_*`` error deep in a traceback. :func:`gdal_errors` turns them, at the
boundary of a whole read or write, into one :class:`~roadseg.errors.RoadsegError`
naming the file the failure concerns and what to do. Such errors are permanent: a
batch does not retry them.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from roadseg.errors import OutputWriteError, RoadsegError, UnreadableInputError
from roadseg.io.atomic import final_name, is_temporary

PathLike = str | os.PathLike[str]


def _library_errors() -> tuple[type[BaseException], ...]:
    import rasterio.errors
    from rasterio._err import CPLE_BaseError

    kinds: list[type[BaseException]] = [rasterio.errors.RasterioError, CPLE_BaseError]
    with contextlib.suppress(ImportError):
        import pyogrio.errors

        kinds += [pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError]
    return tuple(kinds)


def _gdal_message(exc: BaseException) -> str:
    """GDAL's own words, on one line, without the temporary file names.

    rasterio wraps GDAL's message as "Read failed. See previous exception": the
    chained exception has the words that say what is wrong.
    """
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    words = [" ".join(str(e).split()) for e in chain]
    useful = [w for w in words if w and "previous exception" not in w]
    text = useful[-1] if useful else (words[0] or type(exc).__name__)
    for word in text.split():
        stripped = word.strip("'\",;:()`")
        if is_temporary(Path(stripped).name):
            text = text.replace(stripped, final_name(stripped))
    return text


#: What GDAL says when a network read fails (curl, HTTP, its network file systems).
_NETWORK_WORDS = re.compile(r"curl|http|/vsi(curl|s3|gs|az)|range downloading|timed? ?out", re.I)


def _mentions(text: str, path: Path) -> bool:
    return path.name in text


def describe_failure(
    exc: BaseException, reading: Sequence[PathLike], writing: Sequence[PathLike]
) -> RoadsegError:
    """The roadseg error for a library failure while reading or writing these files."""
    from roadseg.io.remote import describe_remote_failure, is_remote

    raw = str(exc)
    remote = [p for p in reading if p is not None and is_remote(p)]
    writes = any(p is not None for p in writing)
    if remote and (not writes or _NETWORK_WORDS.search(_gdal_message(exc) + " " + raw)):
        return describe_remote_failure(exc, remote[0])
    detail = _gdal_message(exc)
    outputs = [Path(p) for p in writing if p is not None]
    inputs = [Path(p) for p in reading if p is not None and not is_remote(p)]
    target = next((p for p in outputs if _mentions(raw, p)), None)
    if target is None and "partial" in raw and outputs:
        target = outputs[0]
    source = next((p for p in inputs if _mentions(raw, p)), None)
    if target is not None or (source is None and not inputs and outputs):
        out = target or outputs[0]
        hint = (
            "check that the folder is writable"
            if "ermission" in raw or "ead-only" in raw
            else "check the folder's permissions and free space"
        )
        return OutputWriteError(f"{out}: could not be written ({detail}); {hint}")
    src = source or (inputs[0] if inputs else Path("input"))
    return UnreadableInputError(
        f"{src}: could not be read ({detail}); the file is truncated or corrupt, so "
        "copy or export it again (gdalinfo -checksum shows where it fails)"
    )


@contextlib.contextmanager
def gdal_errors(
    *, reading: Sequence[PathLike | None] = (), writing: Sequence[PathLike | None] = ()
) -> Iterator[None]:
    """Turn GDAL/rasterio/pyogrio failures in the block into one clear roadseg error.

    Args:
        reading: the inputs of the block, in the order to blame them.
        writing: the outputs of the block.
    """
    kinds = _library_errors()
    try:
        yield
    except RoadsegError:
        raise
    except kinds as exc:
        raise describe_failure(exc, [p for p in reading if p], [p for p in writing if p]) from exc
    except PermissionError as exc:
        outputs = [Path(p) for p in writing if p]
        if not outputs:
            raise
        raise OutputWriteError(
            f"{outputs[0]}: could not be written ({exc.strerror}); check that the folder "
            "is writable"
        ) from exc
