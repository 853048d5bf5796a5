"""Probability raster -> noded road centrelines in a GeoPackage.

Two stages:

1. **Blocks** (a Dask stage, one task per block): read the block's window plus a halo,
   threshold with hysteresis, fill small holes, skeletonise, and trace the skeleton
   links the block owns into pixel-path pieces (:mod:`roadseg.vector.skeleton`).
2. **Vectors** (cheap, in the client): join the pieces on their exact shared end
   pixels, collapse junction clusters, prune spurs, continue roads to the raster's
   border or to no-data, close short gaps where the probability supports it, drop
   short fragments, simplify, and map pixel
   coordinates to the raster's CRS (:mod:`roadseg.vector.graph`; the few small
   raster reads it needs are in :mod:`roadseg.vector.probe`).

The Dask side lives in :mod:`roadseg.vector.piece_dispatch`.

The raster is never read whole: each task reads one window, and the vector stage
reads only small windows under candidate gap bridges and border continuations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dask
import rasterio
import shapely
from pyproj import CRS

from roadseg.cluster import check_scheduler
from roadseg.context import RunContext
from roadseg.errors import InputNotFoundError, InvalidInputError
from roadseg.io.atomic import atomic_output, check_outputs, final_name, is_temporary
from roadseg.io.gdal import gdal_errors
from roadseg.io.pixels import PLAIN_IMAGE_TRANSFORM
from roadseg.io.remote import is_remote
from roadseg.log import get_logger, plural
from roadseg.raster.gsd import ground_sample_distance
from roadseg.raster.probability import PROB_MAX, PROB_NODATA, TAG_GSD, TAG_MODEL, TAG_THRESHOLD
from roadseg.vector.conflate import ConflateOptions
from roadseg.vector.footprint import valid_footprint
from roadseg.vector.graph import RoadGraph
from roadseg.vector.line_options import VectorOptions, check_threshold
from roadseg.vector.missing import MissingRoads, compare_with_reference, write_missing_layer
from roadseg.vector.network import RoadNetwork, to_network
from roadseg.vector.output import PREVIEW_FORMAT, ROADS_FORMAT, write_geopackage
from roadseg.vector.piece_dispatch import block_windows, run_blocks
from roadseg.vector.probe import distance_to_nodata, segment_support
from roadseg.vector.reference import ReferenceSpec
from roadseg.vector.repair import close_gaps, extend_to_border
from roadseg.vector.skeleton import MaskParams, block_pieces
from roadseg.vector.source import (
    GeoreferencedProbabilities,
    detect_encoding,
    open_probability,
    read_stored,
)
from roadseg.vector.width import road_widths_px

log = get_logger(__name__)

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class VectorResult:
    """What :func:`vectorize` wrote."""

    path: Path
    n_roads: int
    n_junctions: int
    total_length_m: float
    crs: str | None
    threshold: float
    preview: Path | None = None
    n_blocks: int = 0
    options: VectorOptions = field(default_factory=VectorOptions)
    missing: MissingRoads | None = None


def _label(path: Path) -> str:
    """How messages name the raster: never by a temporary name."""
    return f"the probabilities for {final_name(path)}" if is_temporary(path) else path.name


def _read_threshold(tags: dict[str, str], threshold: float | None) -> float:
    if threshold is not None:
        return check_threshold(threshold)
    raw = tags.get(TAG_THRESHOLD)
    try:
        value = float(raw) if raw is not None else DEFAULT_THRESHOLD
    except ValueError:
        log.warning(
            "ignoring unreadable %s tag %r; using %s", TAG_THRESHOLD, raw, DEFAULT_THRESHOLD
        )
        value = DEFAULT_THRESHOLD
    return check_threshold(value, TAG_THRESHOLD)


#: What the vector stage reads: a probability raster's path, or the raster with its
#: georeferencing (``roadseg.inference.PredictionResult``).
Probabilities = GeoreferencedProbabilities | str | os.PathLike[str]


def _path_of(prediction: Probabilities) -> Path:
    """The probability raster's path."""
    return Path(prediction if isinstance(prediction, str | os.PathLike) else prediction.path)


def extract_network(
    prediction: Probabilities,
    *,
    threshold: float | None = None,
    options: VectorOptions | None = None,
    scheduler: Any = None,
    progress: bool = False,
) -> tuple[RoadNetwork, int]:
    """Extract the road network of a probability raster, in memory (see :func:`vectorize`).

    Returns the network and the number of blocks processed.
    """
    options = (options or VectorOptions()).validate()
    check_scheduler(scheduler)
    return _extract_network(
        prediction, threshold, options, RunContext(scheduler, progress=progress)
    )


def _extract_network(
    prediction: Probabilities, threshold: float | None, options: VectorOptions, run: RunContext
) -> tuple[RoadNetwork, int]:
    """:func:`extract_network` with ``options`` validated and ``run.scheduler`` checked."""
    given = None if isinstance(prediction, str | os.PathLike) else prediction
    path = _path_of(prediction)
    if not path.is_file():
        raise InputNotFoundError(f"{path}: probability raster not found")
    try:
        src = open_probability(path)
    except rasterio.errors.RasterioIOError:
        raise InvalidInputError(
            f"{path}: not a raster GDAL can read; give a probability GeoTIFF or road mask"
        ) from None
    with src:
        encoding = detect_encoding(src, path)
        tags = src.tags()
        width, height = src.width, src.height
        file_crs, transform = src.crs, src.transform
    if given is None:
        thr = _read_threshold(tags, threshold)
    else:  # the georeferencing travelled with the pixels: the file's tags are not read
        if (given.width, given.height) != (width, height):
            raise InvalidInputError(
                f"{path}: {width}x{height} px, but the prediction was {given.width}x"
                f"{given.height} px; the file changed since it was written"
            )
        thr = check_threshold(threshold if threshold is not None else given.threshold)
        file_crs, transform = given.crs, given.transform
    crs = CRS.from_user_input(file_crs) if file_crs else None
    if not encoding.native:
        log.info("%s: read as %s", path.name, encoding.describe())
    if crs is None and transform.is_identity:
        transform = PLAIN_IMAGE_TRANSFORM  # QGIS shows a plain raster with y = -row
    if given is None:
        gsd = ground_sample_distance(crs, transform, width, height)
        if gsd is None:
            gsd = float(tags.get(TAG_GSD, 1.0))
    else:  # the resolution the probabilities were computed at travelled with them too
        gsd = float(given.gsd_m)
    if crs is None:
        log.warning("%s has no CRS; lengths assume %.3g m per pixel", final_name(path), gsd)

    params = MaskParams(
        high=thr * PROB_MAX,
        low=thr * options.hysteresis * PROB_MAX,
        hole_px=round(options.hole_area_m2 / gsd**2),
        encoding=None if encoding.native and not encoding.masked else encoding,
    )
    windows = list(block_windows(width, height, options.vector_block_size))
    log.info(
        "vectorizing %s: %dx%d px in %s, threshold %.3g, %.3g m/px",
        _label(path),
        width,
        height,
        plural(len(windows), "block"),
        thr,
        gsd,
    )
    block = dask.delayed(block_pieces, pure=True)
    tasks = [
        block(str(path), w, options.halo, params, dask_key_name=f"block_pieces-{i}")
        for i, w in enumerate(windows)
    ]
    results = run_blocks(tasks, run)

    graph = RoadGraph.from_pieces(p for pieces in results for p in pieces)
    del results
    graph.merge_degree_two()
    graph.collapse_junction_clusters(max(2.5, options.junction_merge_m / gsd))
    graph.merge_degree_two()
    graph.prune_spurs(options.spur_length_m / gsd)
    if options.border_m > 0:
        with open_probability(path) as src:
            n_ext = extend_to_border(
                graph,
                width,
                height,
                options.border_m / gsd,
                lambda p0, p1: segment_support(src, p0, p1, params.encoding),
                thr * options.hysteresis,
                lambda p, d, n: distance_to_nodata(src, p, d, n, params.encoding),
            )
        log.debug("continued %d dead end(s) to the raster's border or no-data", n_ext)
    if options.gap_m > 0:
        min_support = (
            options.gap_min_prob
            if options.gap_min_prob is not None
            else thr * options.hysteresis / 2
        )
        with open_probability(path) as src:
            n_gaps = close_gaps(
                graph,
                options.gap_m / gsd,
                lambda p0, p1: segment_support(src, p0, p1, params.encoding),
                min_support,
            )
        log.debug("closed %d gap(s)", n_gaps)
        graph.merge_degree_two()
    graph.drop_short_components(options.min_length_m / gsd)
    graph.merge_degree_two()
    graph.simplify(options.simplify_m / gsd)
    with open_probability(path) as src:
        widths = road_widths_px(
            [edge.xy for edge in graph.edges.values()],
            lambda window: read_stored(src, window, params.encoding),
            lambda stored: (stored >= params.high) & (stored != PROB_NODATA),
            (height, width),
        )
    width_px = dict(zip(graph.edges, widths, strict=True))
    network = to_network(graph, transform, crs, thr, gsd, width_px)
    return replace(network, model=tags.get(TAG_MODEL)), len(windows)


def vectorize(
    prediction: Probabilities,
    out: str | os.PathLike[str],
    *,
    options: VectorOptions | None = None,
    threshold: float | None = None,
    preview: str | os.PathLike[str] | None = None,
    scene: str | os.PathLike[str] | None = None,
    scheduler: Any = None,
    overwrite: bool = False,
    progress: bool = False,
    reference: ReferenceSpec | None = None,
    conflate_options: ConflateOptions | None = None,
) -> VectorResult:
    """Vectorise a road-probability raster into a noded road network in a GeoPackage.

    Args:
        prediction: what ``predict_scene`` returned (the raster with its
            georeferencing, its ground sample distance and the model's threshold, taken
            as they are), or the path of a probability raster in the format of
            :mod:`roadseg.raster.probability` (or another one, see
            :mod:`roadseg.vector.source`), whose own CRS, transform and tags are used (the
            ground sample distance measured from the CRS, else the ``ROADSEG_GSD_M`` tag).
        out: the GeoPackage to write (layers ``roads`` and ``junctions``).
        options: the tuning and blocking of the extraction (see
            :class:`VectorOptions`); ``None``: the defaults.
        threshold: road probability threshold, strictly between 0 and 1; default: the
            model's (the prediction's, or the raster's ``ROADSEG_THRESHOLD`` tag), else 0.5.
        preview: optional PNG quick-look of the roads.
        scene: optional original image drawn under the roads in the preview (default:
            the probabilities).
        scheduler: None (local threads), a ``tcp://`` scheduler address or a
            ``distributed.Client``; the workers must see the raster's path.
        overwrite: replace an existing output (and preview).
        progress: show a progress bar over blocks.
        reference: a reference road network (OpenStreetMap or any line layer); the
            roads it lacks go to a ``missing_roads`` layer of ``out`` (see
            :mod:`roadseg.vector.conflate`).
        conflate_options: how roads are matched to the reference.

    Returns:
        A :class:`VectorResult` with counts and total length.
    """
    options = (options or VectorOptions()).validate()
    if threshold is not None:
        check_threshold(threshold)
    check_scheduler(scheduler)
    prob_path = _path_of(prediction)
    check_outputs(
        {"out": (out, ROADS_FORMAT), "preview": (preview, PREVIEW_FORMAT)},
        [prob_path, scene, reference.path if reference is not None else None],
        overwrite,
    )
    if scene is not None and not is_remote(scene) and not Path(scene).is_file():
        raise InputNotFoundError(f"{scene}: scene for the preview not found")
    if reference is not None:
        reference.validate().check()
        conflate_options = (conflate_options or ConflateOptions()).validate()
    return vectorize_checked(
        prediction,
        out,
        RunContext(scheduler, overwrite, progress),
        options=options,
        threshold=threshold,
        preview=preview,
        scene=scene,
        reference=reference,
        conflate_options=conflate_options,
    )


def vectorize_checked(
    prediction: Probabilities,
    out: str | os.PathLike[str],
    run: RunContext,
    *,
    options: VectorOptions,
    threshold: float | None = None,
    preview: str | os.PathLike[str] | None = None,
    scene: str | os.PathLike[str] | None = None,
    reference: ReferenceSpec | None = None,
    conflate_options: ConflateOptions | None = None,
) -> VectorResult:
    """:func:`vectorize` once its arguments are checked, by it or, with the rest of a
    run's before any work, by :func:`roadseg.pipeline.run_scene`: ``options`` and
    ``threshold`` valid, ``run.scheduler`` usable, the outputs writable, the scene and
    the reference readable, ``conflate_options`` validated when there is a reference."""
    prob_path = _path_of(prediction)
    target = Path(out)
    with gdal_errors(reading=[prob_path, scene], writing=[out, preview]):
        network, n_blocks = _extract_network(prediction, threshold, options, run)
        missing, highlight = None, []
        with atomic_output(target, overwrite=run.overwrite) as tmp:
            write_geopackage(network.roads, network.junctions, tmp, model=network.model)
            if reference is not None:
                found = compare_with_reference(
                    network.roads, reference, valid_footprint(prob_path), conflate_options
                )
                missing = write_missing_layer(
                    tmp, found, reference, conflate_options, network.model
                )
                missing = replace(missing, path=target)
                highlight = [shapely.get_coordinates(g) for g in found.missing.geometry]
        preview_path = None
        if preview is not None:
            from roadseg.vector.preview import write_preview

            preview_path = write_preview(
                [shapely.get_coordinates(g) for g in network.roads.geometry],
                network.crs,
                scene if scene is not None else prob_path,
                Path(preview),
                overwrite=run.overwrite,
                highlight=highlight,
            )
    total = float(network.roads["length_m"].sum()) if len(network.roads) else 0.0
    result = VectorResult(
        path=target,
        n_roads=len(network.roads),
        n_junctions=len(network.junctions),
        total_length_m=total,
        crs=network.crs.to_string() if network.crs is not None else None,
        threshold=network.threshold,
        preview=preview_path,
        n_blocks=n_blocks,
        options=options,
        missing=missing,
    )
    log.info(
        "wrote %s: %s, %s, %.1f km",
        target,
        plural(result.n_roads, "road"),
        plural(result.n_junctions, "junction"),
        total / 1000,
    )
    return result


__all__ = [
    "GeoreferencedProbabilities",
    "RoadNetwork",
    "VectorOptions",
    "VectorResult",
    "extract_network",
    "vectorize",
    "vectorize_checked",
]
