"""Opening an input scene: checks that it is a usable raster and which bands to read."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import ColorInterp
from rasterio.errors import RasterioIOError

from roadseg.errors import InputNotFoundError, InvalidInputError, InvalidParameterError
from roadseg.io.quiet import quiet_raster_warnings
from roadseg.io.remote import (
    describe_remote_failure,
    display_url,
    gdal_path,
    is_remote,
    scene_file_name,
)
from roadseg.log import get_logger
from roadseg.raster.gsd import ground_sample_distance

log = get_logger(__name__)

#: Pixel types a scene may have.
SUPPORTED_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")


@dataclass(frozen=True)
class SceneInfo:
    """What the pipeline needs to know about a scene, read once from its header.

    Attributes:
        path: the file, or the URL of a remote scene (see :mod:`roadseg.io.remote`).
        width, height: size in pixels.
        count: number of bands in the file.
        dtype: pixel type.
        crs: coordinate reference system, ``None`` for a plain image.
        transform: pixel-to-CRS transform (pixel coordinates for a plain image).
        bands: 1-based band indexes fed to the model, in model order.
        gsd_m: ground sample distance in metres (declared or measured).
        georeferenced: whether the file has a CRS and transform.
    """

    path: str
    width: int
    height: int
    count: int
    dtype: str
    crs: rasterio.crs.CRS | None
    transform: Affine
    bands: tuple[int, ...]
    gsd_m: float
    georeferenced: bool

    @property
    def name(self) -> str:
        """The scene's file name, for messages and metadata (no credentials)."""
        return scene_file_name(self.path)


def open_dataset(path: str | os.PathLike[str]) -> rasterio.io.DatasetReader:
    """Open a raster for reading with errors that say what is wrong.

    A remote scene (a URL or a GDAL network path) is opened through GDAL's network file
    systems; read it inside :func:`roadseg.io.remote.network_env`.

    Raises:
        InputNotFoundError: no such file (for a URL: HTTP 404).
        InvalidInputError: the file is not a raster GDAL can read.
        RemoteAccessError, RemoteRangeError, RemoteUnavailableError: the server
            refused, cannot serve ranges, or could not be reached.
    """
    if is_remote(path):
        try:
            with quiet_raster_warnings():
                return rasterio.open(gdal_path(path))
        except RasterioIOError as exc:
            error = describe_remote_failure(exc, path)
            if "not recognized as" in str(exc) or "not a supported" in str(exc):
                error = InvalidInputError(
                    f"{display_url(path)}: not a raster GDAL can read (give a GeoTIFF "
                    "or another image format)"
                )
            raise error from None
    target = Path(path)
    if not target.exists():
        raise InputNotFoundError(f"{target}: no such file; check the scene path")
    if target.is_dir():
        raise InvalidInputError(f"{target}: is a directory, not a raster file")
    try:
        with quiet_raster_warnings():
            return rasterio.open(target)
    except RasterioIOError:
        raise InvalidInputError(
            f"{target}: not a raster GDAL can read (give a GeoTIFF or another image format)"
        ) from None


def scene_fingerprint(src: rasterio.io.DatasetReader) -> tuple[object, ...]:
    """Facts of a scene's header that change when the file is replaced: size, bands,
    georeferencing, overviews and where its first and last blocks lie in the file.

    Compared before and after a remote run (a change that keeps every block in place
    and of the same size is not seen).
    """
    facts: list[object] = [
        src.width,
        src.height,
        src.count,
        tuple(src.dtypes),
        tuple(src.transform)[:6],
        src.crs.to_wkt() if src.crs else "",
        tuple(src.overviews(1)) if src.count else (),
    ]
    if src.count and src.driver == "GTiff":
        block_h, block_w = src.block_shapes[0]
        last = f"{(src.width - 1) // block_w}_{(src.height - 1) // block_h}"
        for key in (
            "BLOCK_OFFSET_0_0",
            "BLOCK_SIZE_0_0",
            f"BLOCK_OFFSET_{last}",
            f"BLOCK_SIZE_{last}",
        ):
            facts.append(src.get_tag_item(key, "TIFF", bidx=1))
    return tuple(facts)


def describe_scene(
    path: str | os.PathLike[str],
    *,
    in_channels: int,
    bands: Sequence[int] | None = None,
    gsd: float | None = None,
    default_gsd: float = 1.0,
    quiet: bool = False,
) -> SceneInfo:
    """Check a scene and decide which bands to read and at what resolution it is.

    Args:
        path: the raster.
        in_channels: bands the model takes.
        bands: 1-based band indexes; ``None`` picks them (see :func:`default_bands`).
        gsd: declared ground sample distance in metres, overriding the scene's own.
        default_gsd: resolution assumed for a plain image when ``gsd`` is ``None``
            (the model's).

    Raises:
        InputNotFoundError, InvalidInputError, InvalidParameterError.
    """
    with open_dataset(path) as src:
        return describe_dataset(
            src,
            path,
            in_channels=in_channels,
            bands=bands,
            gsd=gsd,
            default_gsd=default_gsd,
            quiet=quiet,
        )


def describe_dataset(
    src: rasterio.io.DatasetReader,
    path: str | os.PathLike[str],
    *,
    in_channels: int,
    bands: Sequence[int] | None = None,
    gsd: float | None = None,
    default_gsd: float = 1.0,
    quiet: bool = False,
) -> SceneInfo:
    """:func:`describe_scene` of a dataset already open (``path`` names it)."""
    if gsd is not None and not (np.isfinite(gsd) and gsd > 0):
        raise InvalidParameterError(f"gsd={gsd!r}: must be a positive number of metres per pixel")
    name = display_url(path)
    if src.count < 1:
        hint = (
            f"; it holds {len(src.subdatasets)} subdatasets, give one of them, "
            f"e.g. {src.subdatasets[0]}"
            if src.subdatasets
            else ""
        )
        raise InvalidInputError(f"{name}: the raster has no bands{hint}")
    dtype = np.dtype(src.dtypes[0]).name
    if dtype not in SUPPORTED_DTYPES:
        raise InvalidInputError(
            f"{name}: unsupported pixel type {dtype}; convert it to one of "
            f"{', '.join(SUPPORTED_DTYPES)} (e.g. gdal_translate -ot Float32)"
        )
    if src.width < 1 or src.height < 1:
        raise InvalidInputError(f"{name}: the raster is empty ({src.width}x{src.height})")
    chosen = select_bands(src, in_channels, bands)
    georeferenced = src.crs is not None and not src.transform.is_identity
    measured = (
        ground_sample_distance(src.crs, src.transform, src.width, src.height)
        if georeferenced
        else None
    )
    if not georeferenced and not quiet:
        log.warning(
            "%s has no georeferencing; the output will be in pixel coordinates "
            "and the image is taken to be at %g m per pixel%s",
            name,
            gsd if gsd is not None else default_gsd,
            "" if gsd is not None else " (declare it with gsd=...)",
        )
    scene_gsd = gsd if gsd is not None else (measured if measured else default_gsd)
    return SceneInfo(
        path=os.fspath(path),
        width=src.width,
        height=src.height,
        count=src.count,
        dtype=dtype,
        crs=src.crs if georeferenced else None,
        transform=src.transform if georeferenced else Affine.identity(),
        bands=chosen,
        gsd_m=float(scene_gsd),
        georeferenced=georeferenced,
    )


def select_bands(
    src: rasterio.io.DatasetReader, in_channels: int, bands: Sequence[int] | None
) -> tuple[int, ...]:
    """The 1-based bands to feed a model of ``in_channels`` inputs.

    Given ``bands`` are checked against the file. Without them: the colour bands (alpha
    excluded) when there are exactly ``in_channels`` of them, a single band repeated for
    a panchromatic scene, else the first ``in_channels`` with a warning.

    Raises:
        InvalidParameterError: a band is out of range or the count does not fit.
        InvalidInputError: the scene has too few bands for the model.
    """
    if bands is not None:
        chosen = tuple(int(b) for b in bands)
        bad = [b for b in chosen if not 1 <= b <= src.count]
        if bad:
            raise InvalidParameterError(
                f"{scene_file_name(src.name)}: band {bad[0]} is out of range: the scene has "
                f"{src.count} band(s), "
                f"numbered 1 to {src.count}"
            )
        if len(chosen) == 1 and in_channels > 1:
            return chosen * in_channels
        if len(chosen) != in_channels:
            raise InvalidParameterError(
                f"bands={chosen}: names {len(chosen)} band(s) but the model takes {in_channels}; "
                f"give {in_channels} (or 1, repeated)"
            )
        return chosen
    colour = [i + 1 for i, ci in enumerate(src.colorinterp) if ci != ColorInterp.alpha] or list(
        range(1, src.count + 1)
    )
    if len(colour) == in_channels:
        return tuple(colour)
    if len(colour) == 1:
        log.info("single-band scene: band 1 is repeated for the model's %d inputs", in_channels)
        return (colour[0],) * in_channels
    if len(colour) < in_channels:
        raise InvalidInputError(
            f"{scene_file_name(src.name)}: the scene has {len(colour)} colour band(s) but the "
            f"model takes {in_channels}; "
            "choose bands with bands=..."
        )
    log.warning(
        "the scene has %d bands and the model takes %d: using bands %s; choose others with bands=...",
        len(colour),
        in_channels,
        ",".join(map(str, colour[:in_channels])),
    )
    return tuple(colour[:in_channels])
