"""Finding the labelled images of a source: image/mask pairs, scenes and their roads."""

from __future__ import annotations

import re
from pathlib import Path

from roadseg.errors import InputNotFoundError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg")
_PAIR_FOLDERS = (("images", "masks"), ("sat", "map"), ("image", "mask"), ("img", "gt"))


def find_pairs(folder: Path) -> list[tuple[str, Path, Path]]:
    """``(stem, image, mask)`` for every image/mask pair in ``folder``, sorted by stem.

    Layouts: ``images/``+``masks/`` (or ``sat/``+``map/``, ...) with the same stems,
    or DeepGlobe's ``NAME_sat.jpg`` with ``NAME_mask.png`` in one folder.

    Raises:
        InputNotFoundError: no folder, or no pairs in it.
    """
    if not folder.is_dir():
        raise InputNotFoundError(f"{folder}: image/mask folder not found")
    pairs: list[tuple[str, Path, Path]] = []
    for image_dir, mask_dir in _PAIR_FOLDERS:
        if (folder / image_dir).is_dir() and (folder / mask_dir).is_dir():
            masks = _by_stem(folder / mask_dir)
            for stem, image in _by_stem(folder / image_dir).items():
                if stem in masks:
                    pairs.append((stem, image, masks[stem]))
            break
    else:
        files = _by_stem(folder)
        for stem, image in files.items():
            if stem.endswith("_sat") and stem[:-4] + "_mask" in files:
                pairs.append((stem[:-4], image, files[stem[:-4] + "_mask"]))
    if not pairs:
        raise InputNotFoundError(
            f"{folder}: no image/mask pairs found; expected images/ and masks/ (or sat/ and "
            "map/) with the same file names, or NAME_sat.jpg with NAME_mask.png"
        )
    return sorted(pairs)


def _by_stem(folder: Path) -> dict[str, Path]:
    return {
        p.stem: p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    }


def find_scenes(folder: Path, vectors: Path) -> list[tuple[str, Path, Path]]:
    """``(key, scene, vector file)`` for every GeoTIFF in ``folder`` with its roads.

    ``folder`` and ``vectors`` may also be one scene and its vector file (key: the
    scene's file stem).

    The key is the last ``_``-separated part of the scene's name (``img308``), or the
    whole name when those parts are not unique.

    A vector file belongs to a scene when both names end with the same
    ``_``-separated part (``RGB-PanSharpen_AOI_4_Shanghai_img308.tif`` and
    ``spacenetroads_AOI_4_Shanghai_img308.geojson``); the longest such part wins.

    Raises:
        InputNotFoundError: a folder is missing, or a scene has no vector file.
    """
    if folder.is_file():
        if not vectors.is_file():
            raise InputNotFoundError(
                f"{vectors}: road vector file not found (a single scene needs a single file)"
            )
        return [(folder.stem, folder, vectors)]
    for path in (folder, vectors):
        if not path.is_dir():
            raise InputNotFoundError(f"{path}: folder not found")
    vector_files = [p for p in sorted(vectors.iterdir()) if p.suffix.lower() in VECTOR_SUFFIXES]
    found = []
    for scene in sorted(folder.iterdir()):
        if scene.suffix.lower() not in (".tif", ".tiff"):
            continue
        best, best_len = None, 0
        for vec in vector_files:
            length = _common_token_suffix(scene.stem, vec.stem)
            if length > best_len:
                best, best_len = vec, length
        if best is None:
            raise InputNotFoundError(
                f"{scene}: no road vector file in {vectors} ends with the same name part"
            )
        found.append((scene.stem.rsplit("_", 1)[-1], scene, best))
    if not found:
        raise InputNotFoundError(f"{folder}: no GeoTIFF scenes (.tif) found")
    if len({key for key, _, _ in found}) < len(found):
        found = [(scene.stem, scene, vec) for _, scene, vec in found]
    return found


def _common_token_suffix(a: str, b: str) -> int:
    ta, tb = re.split(r"_", a), re.split(r"_", b)
    n = 0
    while n < min(len(ta), len(tb)) and ta[-1 - n] == tb[-1 - n]:
        n += 1
    return len("_".join(ta[len(ta) - n :])) if n else 0
