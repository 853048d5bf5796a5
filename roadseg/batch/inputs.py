"""Which scenes a batch processes: folders, glob patterns, text manifests, STAC.

Every source becomes a list of :class:`SceneInput`, each with a name that is unique in
the batch and becomes the stem of the scene's outputs.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from roadseg.errors import InputNotFoundError, InvalidInputError, InvalidParameterError
from roadseg.io.remote import display_url, is_remote, scene_file_name
from roadseg.log import get_logger

log = get_logger(__name__)

#: File suffixes picked up when a folder is given: GeoTIFF and the other GDAL raster
#: formats scenes come in (JPEG and PNG with or without world files among them).
RASTER_SUFFIXES = (
    ".tif",
    ".tiff",
    ".vrt",
    ".jp2",
    ".img",
    ".jpg",
    ".jpeg",
    ".png",
    ".webp",
    ".bmp",
    ".ntf",
    ".nitf",
)
#: Outputs of a batch, never taken for scenes when the output folder is also an input.
OUTPUT_NAME_ENDINGS = (".prob.tif",)
#: Asset keys tried, in order, when a STAC item has no asset of the requested key.
STAC_FALLBACK_ASSETS = ("image", "visual", "data")


@dataclass(frozen=True)
class SceneInput:
    """One scene of a batch.

    Attributes:
        name: unique name in the batch; the stem of the scene's output files.
        path: the raster file, absolute, or the URL of a remote scene (a string, as
            given: ``Path`` would fold its ``//``).
    """

    name: str
    path: Path | str


def _expand(item: str) -> list[Path | str]:
    if is_remote(item):  # read as it is: no listing or pattern over the network
        return [item]
    path = Path(item).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and is_raster_name(p))
        if not found:
            log.warning("%s: folder holds no raster files (%s)", path, ", ".join(RASTER_SUFFIXES))
        return found
    if path.is_file():
        return [path]
    if glob.has_magic(item):
        found = sorted(Path(p) for p in glob.glob(os.path.expanduser(item), recursive=True))
        found = [p for p in found if p.is_file()]
        if not found:
            log.warning("%s: pattern matches no files", item)
        return found
    raise InputNotFoundError(f"{item}: no such file, folder or pattern; check the path")


def is_raster_name(path: Path) -> bool:
    """Whether a file name looks like a scene (raster suffix, not hidden)."""
    name = path.name.lower()
    return (
        path.suffix.lower() in RASTER_SUFFIXES
        and not path.name.startswith(".")
        and not name.endswith(OUTPUT_NAME_ENDINGS)
    )


def read_manifest(manifest: str | os.PathLike[str]) -> list[Path | str]:
    """Scene paths and URLs listed in a text file, one a line.

    Blank lines and lines starting with ``#`` are ignored; relative paths are relative
    to the manifest's folder; URLs (``https://``, ``s3://``, ``/vsicurl/``, ...) are kept
    as they are.

    Raises:
        InputNotFoundError: the manifest does not exist.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise InputNotFoundError(f"{manifest}: manifest not found")
    paths: list[Path | str] = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if is_remote(line):
            paths.append(line)
            continue
        path = Path(line).expanduser()
        paths.append(path if path.is_absolute() else manifest.parent / path)
    return paths


def read_stac(
    item_collection: str | os.PathLike[str], asset: str = "image"
) -> list[tuple[str, Path | str]]:
    """``(item id, asset path or URL)`` for each item of a STAC ItemCollection file.

    Args:
        item_collection: a GeoJSON FeatureCollection of STAC items (for example the
            saved result of a STAC API search).
        asset: key of the asset to process; when an item lacks it, the first of
            ``image``, ``visual``, ``data`` it has is used, with a warning.

    Raises:
        InputNotFoundError: the file does not exist.
        InvalidInputError: the file is not an ItemCollection, an item has no usable
            asset, or an asset's URL is of a kind GDAL cannot read.
    """
    try:
        import pystac
    except ImportError:  # pragma: no cover - pystac is an optional extra
        raise InvalidParameterError(
            "reading STAC needs pystac; install it with: pip install 'roadseg[stac]'"
        ) from None
    source = Path(item_collection)
    if not source.is_file():
        raise InputNotFoundError(f"{source}: STAC ItemCollection not found")
    try:
        collection = pystac.ItemCollection.from_file(str(source.resolve()))
    except Exception as exc:  # pystac raises many kinds on bad input
        raise InvalidInputError(
            f"{source}: not a STAC ItemCollection ({type(exc).__name__}: {exc})"
        ) from None
    scenes: list[tuple[str, Path | str]] = []
    for item in collection:
        chosen = item.assets.get(asset)
        if chosen is None:
            key = next((k for k in STAC_FALLBACK_ASSETS if k in item.assets), None)
            if key is None:
                raise InvalidInputError(
                    f"{source}: item {item.id!r} has no asset {asset!r} (it has "
                    f"{', '.join(item.assets) or 'none'}); choose one with stac_asset=..."
                )
            log.warning("STAC item %s has no asset %r; using %r", item.id, asset, key)
            chosen = item.assets[key]
        href = chosen.href
        if is_remote(href):
            scenes.append((item.id, href))
            continue
        if "://" in href and not href.startswith("file://"):
            raise InvalidInputError(
                f"{source}: item {item.id!r} asset {display_url(href)} is of a kind GDAL "
                "cannot read; give https://, http:// or s3:// assets, or local files"
            )
        path = Path(href.removeprefix("file://")).expanduser()
        # Relative hrefs are relative to the collection file, as in a saved search.
        scenes.append((item.id, path if path.is_absolute() else source.parent / path))
    return scenes


def collect_scenes(
    inputs: Sequence[str] = (),
    *,
    manifest: str | os.PathLike[str] | None = None,
    stac: str | os.PathLike[str] | None = None,
    stac_asset: str = "image",
) -> list[SceneInput]:
    """All scenes of a batch, in a stable order, each once.

    Args:
        inputs: files, folders (their raster files) and glob patterns.
        manifest: a text file listing scenes.
        stac: a STAC ItemCollection file; scenes are named by item id.
        stac_asset: the asset key to use from each STAC item.

    A scene listed in a manifest or a STAC file that does not exist is kept (with a
    warning): the batch records it as failed and goes on with the others.

    Raises:
        InvalidParameterError: no scene was given at all, or two different scenes
            would write outputs of the same name.
        InputNotFoundError: a file, folder or pattern given in ``inputs`` does not exist.
    """
    named: list[tuple[str, Path | str]] = []
    for item in inputs:
        named.extend(_named(p) for p in _expand(item))
    if manifest is not None:
        named.extend(_named(p) for p in read_manifest(manifest))
    if stac is not None:
        named.extend(read_stac(stac, stac_asset))
    scenes = _unique(named)
    if not scenes:
        raise InvalidParameterError(
            "no scenes to process; give files, folders or patterns, manifest=... or stac=..."
        )
    for scene in scenes:
        if not is_remote(scene.path) and not Path(scene.path).is_file():
            # Recorded as failed by the batch, which goes on with the others.
            log.warning("%s: scene %r does not exist", scene.path, scene.name)
    return scenes


def safe_name(name: str) -> str:
    """A scene name usable as a file stem: characters other than letters, digits,
    ``.``, ``_`` and ``-`` (such as the ``/`` or ``:`` of some STAC ids) become ``_``."""
    cleaned = re.sub(r"[^\w.-]", "_", name).lstrip(".")
    return cleaned or "scene"


def _named(path: Path | str) -> tuple[str, Path | str]:
    """A scene's name in the batch: its file's stem (for a URL, without the query)."""
    return Path(scene_file_name(path)).stem, path


def _unique(named: Iterable[tuple[str, Path | str]]) -> list[SceneInput]:
    by_path: dict[Path | str, SceneInput] = {}
    by_name: dict[str, Path | str] = {}
    for raw_name, given in named:
        name = safe_name(raw_name)
        path = given if is_remote(given) else Path(given).expanduser().absolute()
        if path in by_path:
            continue
        if name in by_name and is_remote(path):
            # URLs cannot be renamed: .../2023/scene.tif and .../2024/scene.tif, or
            # get?id=1 and get?id=2, are told apart by a digest of the URL (stable
            # from run to run, so the run record still recognises them).
            digest = hashlib.sha256(display_url(path).encode()).hexdigest()[:8]
            name = f"{name}-{digest}"
        if name in by_name:
            raise InvalidParameterError(
                f"two scenes are both named {name!r} ({display_url(by_name[name])} and "
                f"{display_url(path)}); their "
                "outputs would collide: rename one or run them in separate batches"
            )
        by_name[name] = path
        by_path[path] = SceneInput(name=name, path=path)
    return list(by_path.values())
