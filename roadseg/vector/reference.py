"""A reference road network to compare detections with: an OpenStreetMap extract or any
line layer GDAL reads, read only within a footprint.

OpenStreetMap files (``.osm.pbf``, ``.osm``, ``.osm.bz2``) are read through GDAL's OSM
driver, layer ``lines``, keeping ways with a ``highway`` tag; GDAL has no bzip2 reader,
so an ``.osm.bz2`` is decompressed as a stream into a private temporary folder that is
removed afterwards. Every other format (GeoPackage, GeoJSON, FlatGeobuf, GeoParquet,
...) is read by its own driver. Only features whose envelope meets the footprint's are
read (GDAL's spatial filter), and they are clipped to the footprint.
"""

from __future__ import annotations

import bz2
import contextlib
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import CRS, Transformer

from roadseg.errors import InputNotFoundError, InvalidInputError, InvalidParameterError
from roadseg.log import get_logger

log = get_logger(__name__)

OSM_SUFFIXES = (".osm.pbf", ".osm", ".osm.bz2", ".pbf")
OSM_LINES_LAYER = "lines"
HIGHWAY_FIELD = "highway"
#: ``highway`` values that are not roads on the ground (yet, or any more), or not
#: lines a model of road surfaces could find; dropped unless ``keep`` names them.
DEFAULT_DROP = (
    "proposed",
    "construction",
    "abandoned",
    "razed",
    "platform",
    "corridor",
    "elevator",
    "steps",
    "bus_stop",
    "rest_area",
    "services",
)
LINE_TYPES = ("LineString", "MultiLineString", "LineString Z", "MultiLineString Z")


@dataclass(frozen=True)
class ReferenceSpec:
    """Which reference network to read.

    Attributes:
        path: the file.
        layer: its line layer (default: OpenStreetMap's ``lines``, else the file's
            only line layer).
        keep: ``highway`` values to keep (empty: all but ``drop``).
        drop: ``highway`` values to drop.
    """

    path: Path
    layer: str | None = None
    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = DEFAULT_DROP

    @property
    def is_osm(self) -> bool:
        return self.path.name.lower().endswith(OSM_SUFFIXES)

    @property
    def label(self) -> str:
        """The file's name, for logs and metadata (never a full path or a URL's query)."""
        return self.path.name

    def timestamp(self) -> str | None:
        """When the reference was made: OpenStreetMap's ``osmosis_replication_timestamp``
        or the file's own metadata where GDAL reports one, else its modification time."""
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "more than one layer": the dataset's is wanted
            meta = pyogrio.read_info(str(self.path), layer=self.layer).get("dataset_metadata")
            for key, value in (meta or {}).items():
                if "timestamp" in key.lower():
                    return str(value)
        stamp = datetime.fromtimestamp(self.path.stat().st_mtime, tz=timezone.utc)
        return stamp.isoformat(timespec="seconds")

    def check(self) -> ReferenceSpec:
        """Check that the file exists and has a usable line layer; return ``self``.

        Raises:
            InputNotFoundError: no such file.
            InvalidInputError: not readable by GDAL, no line layer, or no CRS.
        """
        if not self.path.is_file():
            raise InputNotFoundError(f"{self.path}: reference network not found")
        with _readable(self) as source:
            self._line_layer(source)
        return self

    def _line_layer(self, source: str) -> tuple[str, CRS]:
        try:
            layers = pyogrio.list_layers(source)
        except Exception:
            raise InvalidInputError(
                f"{self.path}: not a vector file GDAL can read; give an OpenStreetMap "
                "extract or a line layer (GeoPackage, GeoJSON, FlatGeobuf, GeoParquet)"
            ) from None
        names = [str(name) for name, _ in layers]
        if self.layer is not None:
            if self.layer not in names:
                raise InvalidInputError(
                    f"{self.path}: no layer {self.layer!r}; it has {', '.join(names)}"
                )
            layer = self.layer
        elif self.is_osm:
            layer = OSM_LINES_LAYER
        else:
            lines = [str(n) for n, g in layers if g in LINE_TYPES]
            if not lines:
                raise InvalidInputError(
                    f"{self.path}: no line layer (layers: "
                    f"{', '.join(f'{n} ({g})' for n, g in layers) or 'none'}); a reference "
                    "network is road lines"
                )
            if len(lines) > 1:
                log.warning(
                    "%s has %d line layers; using %r (choose one with --reference-layer)",
                    self.label,
                    len(lines),
                    lines[0],
                )
            layer = lines[0]
        kinds = dict((str(n), g) for n, g in layers)
        if kinds.get(layer) not in LINE_TYPES:
            raise InvalidInputError(
                f"{self.path}: layer {layer!r} holds {kinds.get(layer)}, not lines"
            )
        crs = pyogrio.read_info(source, layer=layer).get("crs")
        if not crs:
            raise InvalidInputError(
                f"{self.path}: layer {layer!r} has no CRS; assign one (for example with "
                "ogr2ogr -a_srs EPSG:4326) so it can be placed on the scene"
            )
        return layer, CRS.from_user_input(crs)

    def validate(self) -> ReferenceSpec:
        """Check the options (not the file); return ``self``."""
        if self.keep and self.drop != DEFAULT_DROP:
            raise InvalidParameterError(
                f"keep={list(self.keep)} and drop={list(self.drop)}: give the highway classes "
                "to keep or those to drop, not both"
            )
        return self


@contextlib.contextmanager
def _readable(spec: ReferenceSpec) -> Iterator[str]:
    """A path GDAL can read: the file itself, or a decompressed copy of an ``.osm.bz2``
    in a private folder removed on exit."""
    if not spec.path.name.lower().endswith(".bz2"):
        yield str(spec.path)
        return
    folder = tempfile.mkdtemp(prefix="roadseg-osm-")
    try:
        plain = Path(folder) / spec.path.name[: -len(".bz2")]
        try:
            with bz2.open(spec.path, "rb") as packed, open(plain, "wb") as out:
                shutil.copyfileobj(packed, out, 1 << 20)
        except (OSError, EOFError) as exc:
            raise InvalidInputError(f"{spec.path}: not a readable bzip2 file ({exc})") from None
        yield str(plain)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_reference(
    spec: ReferenceSpec, footprint: shapely.Geometry, footprint_crs: CRS
) -> gpd.GeoDataFrame:
    """The reference's lines within ``footprint`` (a polygon in ``footprint_crs``),
    clipped to it and in ``footprint_crs``; columns ``highway`` (where the source has
    it) and ``geometry``.

    Raises:
        InputNotFoundError, InvalidInputError: see :meth:`ReferenceSpec.check`.
    """
    if not spec.path.is_file():
        raise InputNotFoundError(f"{spec.path}: reference network not found")
    with _readable(spec) as source:
        layer, crs = spec._line_layer(source)
        to_ref = Transformer.from_crs(footprint_crs, crs, always_xy=True)
        # Densified, so that a footprint's edges bend correctly into the reference's CRS.
        outline = shapely.segmentize(footprint, max(footprint.length / 400, 1e-9))
        bbox = shapely.transform(outline, lambda xy: _apply(to_ref, xy)).bounds
        fields = pyogrio.read_info(source, layer=layer)["fields"]
        has_highway = HIGHWAY_FIELD in list(fields)
        where = f"{HIGHWAY_FIELD} IS NOT NULL" if spec.is_osm else None
        lines = pyogrio.read_dataframe(
            source,
            layer=layer,
            bbox=bbox,
            where=where,
            columns=[HIGHWAY_FIELD] if has_highway else [],
        )
    if has_highway:
        highway = lines[HIGHWAY_FIELD].astype(str)
        chosen = highway.isin(spec.keep) if spec.keep else ~highway.isin(spec.drop)
        lines = lines[chosen.to_numpy()]
    elif spec.keep or spec.drop != DEFAULT_DROP:
        log.warning("%s has no %r field; its classes cannot be filtered", spec.label, HIGHWAY_FIELD)
    lines = lines.set_crs(crs, allow_override=True).to_crs(footprint_crs)
    clipped = shapely.intersection(lines.geometry.to_numpy(), footprint)
    # A clip can give collections (a line and the point where it grazes the edge): keep
    # the line parts of every result, one row each.
    parts, owner = shapely.get_parts(clipped, return_index=True)
    keep = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 0)  # LineString
    lines = gpd.GeoDataFrame(
        lines.drop(columns=lines.geometry.name).iloc[owner[keep]].reset_index(drop=True),
        geometry=gpd.GeoSeries(parts[keep], crs=footprint_crs),
    )
    log.info(
        "reference %s: %d line(s) within the scene (%s)",
        spec.label,
        len(lines),
        "highway=* kept" if has_highway else "every line",
    )
    return lines.reset_index(drop=True)


def _apply(transformer: Transformer, xy: np.ndarray) -> np.ndarray:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])
