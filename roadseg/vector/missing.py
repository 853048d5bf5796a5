"""The ``missing_roads`` layer: detected roads that a reference network lacks, written
into a GeoPackage with its provenance and its two figures (see
:mod:`roadseg.vector.conflate` for the method)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from pyproj import CRS

from roadseg.errors import InputNotFoundError, InvalidInputError
from roadseg.io.atomic import OutputFormat, atomic_output, check_outputs
from roadseg.log import get_logger, plural
from roadseg.vector.conflate import ConflateOptions, Conflation, conflate, metric_crs
from roadseg.vector.footprint import valid_footprint
from roadseg.vector.output import GEOMETRY_COLUMN, MODEL_KEY, ROADS_LAYER
from roadseg.vector.reference import ReferenceSpec, read_reference
from roadseg.vector.style import write_layer_styles

log = get_logger(__name__)

MISSING_LAYER = "missing_roads"
#: The GeoPackage ``roadseg conflate`` writes.
MISSING_FORMAT = OutputFormat((".gpkg",), "a GeoPackage (layer missing_roads)")
#: Keys of the ``missing_roads`` layer's metadata (GDAL layer metadata in the GeoPackage).
META_REFERENCE = "ROADSEG_REFERENCE"
META_REFERENCE_TIME = "ROADSEG_REFERENCE_TIMESTAMP"
META_MODEL = MODEL_KEY
META_MAP_RECALL = "ROADSEG_MAP_RECALL"
META_MAP_PRECISION = "ROADSEG_MAP_PRECISION"
META_OPTIONS = "ROADSEG_CONFLATE_OPTIONS"


@dataclass(frozen=True)
class MissingRoads:
    """What a comparison with a reference wrote.

    Attributes:
        path: the GeoPackage holding the ``missing_roads`` layer.
        reference: the reference file's name.
        n_missing: missing roads found.
        missing_length_m: their length.
        map_recall: share of the reference's length the detections cover.
        map_precision: share of the detected length the reference covers.
    """

    path: Path
    reference: str
    n_missing: int
    missing_length_m: float
    map_recall: float | None
    map_precision: float | None


def compare_with_reference(
    roads: gpd.GeoDataFrame,
    reference: ReferenceSpec,
    footprint: shapely.Geometry,
    options: ConflateOptions,
) -> Conflation:
    """Read the reference within ``footprint`` and compare ``roads`` with it.

    Raises:
        InvalidInputError: the roads have no CRS (nothing places them on the map).
    """
    if roads.crs is None:
        raise InvalidInputError(
            "the roads have no CRS, so they cannot be compared with a map; run on a "
            "georeferenced scene"
        )
    crs = CRS.from_user_input(roads.crs)
    if footprint.is_empty:
        log.warning("the scene has no valid data: nothing to compare with %s", reference.label)
        empty = gpd.GeoDataFrame(
            columns=["id", "road_id", "length_m", "mean_prob", "geometry"],
            geometry="geometry",
            crs=crs,
        )
        return Conflation(empty, None, None, 0.0, 0.0)
    lines = read_reference(reference, footprint, crs)
    if not len(lines):
        log.warning(
            "%s has no roads within the scene: every detected road is reported missing "
            "(is it the right reference for this area?)",
            reference.label,
        )
    return conflate(roads, lines, footprint, options)


def write_missing_layer(
    gpkg: Path,
    found: Conflation,
    reference: ReferenceSpec,
    options: ConflateOptions,
    model: str | None,
) -> MissingRoads:
    """Add the ``missing_roads`` layer (with its metadata and style) to ``gpkg``."""
    metadata = {
        META_REFERENCE: reference.label,
        META_REFERENCE_TIME: reference.timestamp() or "",
        META_MODEL: model or "",
        META_MAP_RECALL: "" if found.map_recall is None else f"{found.map_recall:.4f}",
        META_MAP_PRECISION: "" if found.map_precision is None else f"{found.map_precision:.4f}",
        META_OPTIONS: (
            f"tolerance_m={options.tolerance_m:g} max_angle_deg={options.max_angle_deg:g} "
            f"min_missing_m={options.min_missing_m:g} step_m={options.step_m:g}"
        ),
    }
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*crs.*not provided", category=UserWarning)
        pyogrio.write_dataframe(
            found.missing,
            gpkg,
            layer=MISSING_LAYER,
            driver="GPKG",
            geometry_type="LineString",
            promote_to_multi=False,
            layer_options={"SPATIAL_INDEX": "YES", "FID": "fid", "GEOMETRY_NAME": GEOMETRY_COLUMN},
            layer_metadata=metadata,
        )
    write_layer_styles(gpkg, geometry_column=GEOMETRY_COLUMN)
    result = MissingRoads(
        path=gpkg,
        reference=reference.label,
        n_missing=len(found.missing),
        missing_length_m=found.missing_length_m,
        map_recall=found.map_recall,
        map_precision=found.map_precision,
    )
    log.info(
        "against %s: %s missing from it (%.2f km); the detections cover %s of its length, "
        "it covers %s of theirs",
        reference.label,
        plural(result.n_missing, "road"),
        result.missing_length_m / 1000,
        _share(found.map_recall),
        _share(found.map_precision),
    )
    return result


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def conflate_geopackage(
    roads_path: str | os.PathLike[str],
    reference: ReferenceSpec,
    out: str | os.PathLike[str],
    *,
    footprint_from: str | os.PathLike[str] | None = None,
    options: ConflateOptions | None = None,
    overwrite: bool = False,
) -> MissingRoads:
    """``roadseg conflate``: the roads of an earlier run against a reference network.

    Args:
        roads_path: a GeoPackage written by ``roadseg run`` or ``vectorize``.
        reference: the reference network.
        out: the GeoPackage to write (layer ``missing_roads``).
        footprint_from: the scene or probability raster whose valid area bounds the
            comparison (default: the extent of the roads, which leaves the map's
            roads beyond the detections out of its recall).
        options: the matching.
        overwrite: replace an existing ``out``.
    """
    options = (options or ConflateOptions()).validate()
    reference.validate()
    roads_path = Path(roads_path)
    target = check_outputs(
        {"out": (out, MISSING_FORMAT)}, [roads_path, reference.path, footprint_from], overwrite
    )["out"]
    if not roads_path.is_file():
        raise InputNotFoundError(f"{roads_path}: road GeoPackage not found")
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(roads_path)]
    except Exception:
        raise InvalidInputError(f"{roads_path}: not a GeoPackage GDAL can read") from None
    if ROADS_LAYER not in layers:
        raise InvalidInputError(
            f"{roads_path}: no {ROADS_LAYER!r} layer (it has {', '.join(layers)}); give the "
            "output of roadseg run or roadseg vectorize"
        )
    reference.check()
    roads = pyogrio.read_dataframe(roads_path, layer=ROADS_LAYER)
    model = (pyogrio.read_info(roads_path, layer=ROADS_LAYER).get("layer_metadata") or {}).get(
        META_MODEL
    )
    if footprint_from is not None:
        if not Path(footprint_from).is_file():
            raise InputNotFoundError(f"{footprint_from}: raster for the footprint not found")
        footprint = _in_crs(valid_footprint(Path(footprint_from)), footprint_from, roads.crs)
    else:
        footprint = _extent_of(roads, options.tolerance_m)
    found = compare_with_reference(roads, reference, footprint, options)
    with atomic_output(target, overwrite=overwrite) as tmp:
        result = write_missing_layer(tmp, found, reference, options, model)
    return MissingRoads(**{**result.__dict__, "path": target})


def _extent_of(roads: gpd.GeoDataFrame, margin_m: float) -> shapely.Geometry:
    """The roads' bounding box widened by ``margin_m`` on the ground (a single straight
    road has a box of no area), in their CRS; empty without roads."""
    if not len(roads) or roads.crs is None:
        return shapely.Polygon()
    local = metric_crs(shapely.box(*roads.total_bounds), CRS.from_user_input(roads.crs))
    x0, y0, x1, y1 = roads.to_crs(local).total_bounds
    box = shapely.box(x0 - margin_m, y0 - margin_m, x1 + margin_m, y1 + margin_m)
    return gpd.GeoSeries([box], crs=local).to_crs(roads.crs).iloc[0]


def _in_crs(
    footprint: shapely.Geometry, raster: str | os.PathLike[str], crs: object
) -> shapely.Geometry:
    import rasterio

    with rasterio.open(raster) as src:
        source = src.crs
    if source is None and crs is not None:
        raise InvalidInputError(
            f"{raster}: has no CRS, so its footprint cannot be placed on the roads; give "
            "the georeferenced scene or probability raster"
        )
    if source is None or crs is None:
        return footprint
    series = gpd.GeoSeries([footprint], crs=source).to_crs(crs)
    return series.iloc[0]
