"""Labelled data sources: how one is written and parsed.

A data source is written on the command line as ``KIND:PATH[,key=value...]``:

* ``pairs:FOLDER,gsd=1.0[,nodata=255][,val=STEM+STEM][,exclude=STEM+...][,weight=1]``:
  image/mask pairs (Massachusetts ``images/``+``masks/`` or ``sat/``+``map/`` with the
  same stems, or DeepGlobe ``*_sat.jpg`` + ``*_mask.png`` in one folder). They are not
  georeferenced, so ``gsd`` (metres per pixel) is required. ``nodata=255`` marks pixels
  whose bands all equal 255 (Massachusetts white areas) as no-data.
* ``scenes:FOLDER,vectors=FOLDER[,buffer=3.5][,lane_width=3.5][,lanes=lane_number]``
  ``[,layer=NAME][,bands=1+2+3][,nodata=0][,val=...]``:
  GeoTIFF scenes with road lines (GeoJSON or GeoPackage, matched to each scene by the
  trailing ``_``-separated part of their names, e.g. ``..._img308``). Roads are
  rasterised with a buffer of ``buffer`` metres on each side; an empty file means no
  roads. With ``lane_width``, a road whose attribute ``lanes`` (SpaceNet's
  ``lane_number`` by default) holds a lane count is drawn that many lanes wide instead
  (half-width ``lanes * lane_width / 2``); roads without a count keep ``buffer``.
  ``FOLDER`` and ``vectors`` may also name one scene and its one vector file.
  ``bands=1+1+1`` feeds a one-band (panchromatic) scene to an RGB model, as
  ``roadseg run`` does.

``val`` lists the stems held out for validation: they are never trained on; ``val=*``
holds out every image of the source (an evaluation-only source). Held-out scenes are
also scored end to end, as ``roadseg run`` and APLS see them.
``weight`` is the share of training crops drawn from the source (sources are drawn in
proportion to their weights, images within a source in proportion to valid area).
Paths may not contain commas.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from roadseg.errors import InputNotFoundError, InvalidParameterError

SOURCE_KINDS = ("pairs", "scenes")
#: The road attribute holding the lane count unless ``lanes=`` names another (SpaceNet's).
DEFAULT_LANES_FIELD = "lane_number"
_SOURCE_KEYS = {
    "pairs": {"gsd", "nodata", "val", "exclude", "weight", "name"},
    "scenes": {
        "vectors",
        "buffer",
        "lane_width",
        "lanes",
        "layer",
        "bands",
        "nodata",
        "val",
        "exclude",
        "weight",
        "name",
    },
}


@dataclass(frozen=True)
class SourceSpec:
    """One labelled data source.

    Attributes:
        kind: ``pairs`` or ``scenes``.
        path: folder of images (pairs) or GeoTIFF scenes.
        name: short name used in metric reports (default: the folder name).
        gsd_m: metres per pixel of un-georeferenced pairs.
        nodata: value that, in all bands, marks a no-data pixel, on top of the file's
            own mask.
        vectors: folder of road vector files (scenes).
        buffer_m: half-width of the rasterised roads, metres (scenes).
        lane_width_m: width of one lane, metres: roads with a lane count are drawn
            that wide per lane (scenes; ``None``: every road ``buffer_m``).
        lanes_field: the road attribute holding the lane count (scenes).
        layer: layer of GeoPackage road files (scenes).
        bands: 1-based band indexes to read (scenes; default: the first three).
        val: stems held out for validation (``("*",)``: all of them).
        exclude: stems ignored entirely.
        weight: share of training crops drawn from this source.
    """

    kind: str
    path: Path
    name: str
    gsd_m: float | None = None
    nodata: float | None = None
    vectors: Path | None = None
    buffer_m: float = 3.5
    lane_width_m: float | None = None
    lanes_field: str = DEFAULT_LANES_FIELD
    layer: str | None = None
    bands: tuple[int, ...] | None = None
    val: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    weight: float = 1.0

    def holds_out(self, stem: str) -> bool:
        """Whether the image ``stem`` is held out for validation."""
        return stem in self.val or "*" in self.val

    def to_spec(self) -> str:
        """The command-line form of this source (paths as given)."""
        parts = [f"{self.kind}:{self.path}"]
        if self.kind == "pairs":
            parts.append(f"gsd={self.gsd_m:g}")
        else:
            parts.append(f"vectors={self.vectors}")
            parts.append(f"buffer={self.buffer_m:g}")
            if self.lane_width_m is not None:
                parts.append(f"lane_width={self.lane_width_m:g}")
                parts.append(f"lanes={self.lanes_field}")
            if self.layer:
                parts.append(f"layer={self.layer}")
            if self.bands:
                parts.append("bands=" + "+".join(str(b) for b in self.bands))
        if self.nodata is not None:
            parts.append(f"nodata={self.nodata:g}")
        if self.val:
            parts.append("val=" + "+".join(self.val))
        if self.exclude:
            parts.append("exclude=" + "+".join(self.exclude))
        if self.weight != 1.0:
            parts.append(f"weight={self.weight:g}")
        parts.append(f"name={self.name}")
        return ",".join(parts)


def parse_source_spec(text: str) -> SourceSpec:
    """Parse ``KIND:PATH[,key=value...]`` (see the module documentation).

    Raises:
        InvalidParameterError: unknown kind or key, missing ``gsd``/``vectors``, bad number.
    """
    kind, sep, rest = text.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in SOURCE_KINDS:
        raise InvalidParameterError(
            f"data source {text!r} must start with one of {', '.join(SOURCE_KINDS)} and a "
            "colon, e.g. pairs:data/massachusetts/train,gsd=1.0"
        )
    path_text, *items = rest.split(",")
    if not path_text:
        raise InvalidParameterError(f"data source {text!r} names no folder")
    options: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq or key not in _SOURCE_KEYS[kind]:
            raise InvalidParameterError(
                f"data source {text!r}: unknown option {item!r}; {kind} sources take "
                f"{', '.join(sorted(_SOURCE_KEYS[kind]))} as key=value"
            )
        options[key] = value.strip()
    path = Path(path_text)

    def number(key: str, default: float | None) -> float | None:
        if key not in options:
            return default
        try:
            return float(options[key])
        except ValueError:
            raise InvalidParameterError(
                f"data source {text!r}: {key}={options[key]!r} is not a number"
            ) from None

    def stems(key: str) -> tuple[str, ...]:
        return tuple(s for s in options.get(key, "").split("+") if s)

    gsd = number("gsd", None)
    if kind == "pairs" and (gsd is None or gsd <= 0):
        raise InvalidParameterError(
            f"data source {text!r}: image/mask pairs are not georeferenced; declare their "
            "pixel size in metres with gsd=, e.g. pairs:FOLDER,gsd=1.0"
        )
    vectors = Path(options["vectors"]) if "vectors" in options else None
    if kind == "scenes" and vectors is None:
        raise InvalidParameterError(
            f"data source {text!r}: scenes need their road vectors: add vectors=FOLDER"
        )
    bands = None
    if "bands" in options:
        try:
            bands = tuple(int(b) for b in options["bands"].split("+"))
        except ValueError:
            raise InvalidParameterError(
                f"data source {text!r}: bands={options['bands']!r} must look like 1+2+3"
            ) from None
    weight = number("weight", 1.0)
    buffer_m = number("buffer", 3.5)
    if weight is None or weight <= 0 or buffer_m is None or buffer_m <= 0:
        raise InvalidParameterError(f"data source {text!r}: weight and buffer must be > 0")
    lane_width = number("lane_width", None)
    if lane_width is not None and lane_width <= 0:
        raise InvalidParameterError(
            f"data source {text!r}: lane_width={options['lane_width']!r} must be > 0 "
            "(metres per lane, e.g. lane_width=3.5)"
        )
    if "lanes" in options and lane_width is None:
        raise InvalidParameterError(
            f"data source {text!r}: lanes={options['lanes']!r} names the lane-count "
            "attribute, which only lane_width= uses; add lane_width=3.5"
        )
    return SourceSpec(
        kind=kind,
        path=path,
        name=options.get("name") or path.name or kind,
        gsd_m=gsd,
        nodata=number("nodata", None),
        vectors=vectors,
        buffer_m=buffer_m,
        lane_width_m=lane_width,
        lanes_field=options.get("lanes") or DEFAULT_LANES_FIELD,
        layer=options.get("layer"),
        bands=bands,
        val=stems("val"),
        exclude=stems("exclude"),
        weight=weight,
    )


def read_recipe(path: str | os.PathLike[str], data_dir: str | os.PathLike[str]) -> list[SourceSpec]:
    """The sources of a recipe file (``scripts/recipes/*.sources``): one source per
    line, ``{data}`` standing for ``data_dir``; blank lines and ``#`` comments skipped.

    Raises:
        InputNotFoundError: the recipe file does not exist.
        InvalidParameterError: a line is not a valid source.
    """
    recipe = Path(path)
    if not recipe.is_file():
        raise InputNotFoundError(f"{recipe}: recipe file not found")
    lines = (line.strip() for line in recipe.read_text().splitlines())
    return [
        parse_source_spec(line.replace("{data}", str(data_dir)))
        for line in lines
        if line and not line.startswith("#")
    ]
