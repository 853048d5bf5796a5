"""What ``roadseg evaluate`` does with its arguments:

* a checkpoint on data sources: :func:`roadseg.evaluation.scoring.evaluate_model`;
* :func:`evaluate_probability_raster`: a probability GeoTIFF written by ``roadseg run``
  against road vectors (rasterised on its grid) or a mask raster on the same grid,
  streamed in strips of rows;
* :func:`evaluate_vectors`: a road network against a reference network (APLS), from
  :mod:`roadseg.evaluation.apls`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rasterio.windows import Window, subdivide

from roadseg.device import resolve_device
from roadseg.errors import InputNotFoundError, InvalidInputError, InvalidParameterError
from roadseg.evaluation.pixel import PixelAccumulator, slack_facts, slack_pixels
from roadseg.evaluation.scoring import evaluate_model, summarise
from roadseg.io.gdal import gdal_errors
from roadseg.io.remote import display_url, is_remote, network_env, scene_file_name
from roadseg.log import get_logger
from roadseg.raster.gsd import ground_sample_distance
from roadseg.raster.probability import TAG_THRESHOLD, decode_probability
from roadseg.raster.rasterize import rasterize_roads, read_roads
from roadseg.raster.scene import open_dataset
from roadseg.raster.windows import array_slices

if TYPE_CHECKING:
    pass

log = get_logger(__name__)

VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb")
STRIP_ROWS = 512
#: The widest slack taken from the ground (3 m at 0.2 m pixels): wider disks filter slowly.
MAX_GROUND_SLACK_PX = 15


def is_vector_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (a file or a URL) names a vector file by its extension."""
    return Path(scene_file_name(path)).suffix.lower() in VECTOR_SUFFIXES


def _check_found(paths: Sequence[str | os.PathLike[str]]) -> None:
    """A missing local file is an error before any work; a URL is asked for when read."""
    for path in paths:
        if not is_remote(path) and not Path(path).exists():
            raise InputNotFoundError(f"{path}: file not found")


def _name(path: str | os.PathLike[str]) -> str:
    return path if isinstance(path, str) and is_remote(path) else str(Path(path))


def evaluate_probability_raster(
    prediction: str | os.PathLike[str],
    truth: str | os.PathLike[str],
    threshold: float | None = None,
    slack: int | None = None,
    buffer_m: float = 3.5,
    layer: str | None = None,
) -> dict[str, Any]:
    """Score a probability GeoTIFF against road vectors or a mask raster, in strips.

    Args:
        prediction: probability raster (``roadseg run`` format: uint8, 255 no-data).
        truth: road lines (rasterised with ``buffer_m`` metres each side on the
            prediction's grid) or a mask raster on the same grid (non-zero = road).
        threshold: default the ``ROADSEG_THRESHOLD`` tag of the prediction, else 0.5.
        slack: relaxation distance in pixels; ``None``: 3 m on the ground at the
            prediction's resolution (3 px when it has no CRS).
        buffer_m: half-width of rasterised roads, metres.
        layer: layer of a GeoPackage truth.
    """
    _check_found([prediction, truth])
    with network_env(), gdal_errors(reading=[prediction, truth]), open_dataset(prediction) as pred:
        slack, on_ground = _raster_slack(pred, slack, display_url(prediction))
        acc = PixelAccumulator(slack=slack)
        if threshold is None:
            threshold = float(pred.tags().get(TAG_THRESHOLD, 0.5))
        roads = read_roads(truth, layer) if is_vector_file(truth) else None
        mask_src = None if roads is not None else open_dataset(truth)
        try:
            if mask_src is not None and (mask_src.width, mask_src.height) != (
                pred.width,
                pred.height,
            ):
                raise InvalidInputError(
                    f"{display_url(truth)}: mask is {mask_src.width}x{mask_src.height} pixels but the "
                    f"prediction is {pred.width}x{pred.height}; give a mask on the same grid "
                    "or road vectors"
                )
            full = Window(0, 0, pred.width, pred.height)
            for core in subdivide(full, STRIP_ROWS, pred.width):  # (height, width)
                # the strip and ``slack`` rows either side, which the relaxed scores see
                window = Window(
                    0, core.row_off - slack, pred.width, core.height + 2 * slack
                ).intersection(full)
                stored = pred.read(1, window=window)
                prob = decode_probability(stored) if stored.dtype == np.uint8 else stored
                valid = np.isfinite(prob)
                prob = np.nan_to_num(prob, nan=0.0)
                if roads is not None:
                    truth_mask = rasterize_roads(
                        roads,
                        pred.crs,
                        pred.window_transform(window),
                        (window.height, window.width),
                        buffer_m,
                    )
                else:
                    assert mask_src is not None
                    truth_mask = mask_src.read(1, window=window) > 0
                counted = np.zeros_like(valid)
                inside = array_slices(core, window)
                counted[inside] = valid[inside]
                acc.update(prob, truth_mask, counted)
        finally:
            if mask_src is not None:
                mask_src.close()
    name = Path(scene_file_name(prediction)).stem
    _, metrics = summarise({name: acc}, threshold)
    metrics.update(slack_facts(None if on_ground else slack, {name: [slack]}))
    return metrics


def _raster_slack(pred: Any, slack: int | None, name: str) -> tuple[int, bool]:
    """The pixels of slack to score ``pred`` with, and whether they are 3 m on the ground.

    ``slack`` given is used as it is. A raster without a CRS has no metres: 3 px. A very
    fine one (a drone scene) would need a disk too wide to filter in reasonable time:
    at most ``MAX_GROUND_SLACK_PX``. Both are said in a warning.
    """
    if slack is not None:
        return slack, False
    gsd = ground_sample_distance(pred.crs, pred.transform, pred.width, pred.height)
    if gsd is None:
        log.warning("%s has no CRS: relaxed scores with 3 px of slack (give --slack)", name)
        return 3, False
    pixels = slack_pixels(gsd)
    if pixels > MAX_GROUND_SLACK_PX:
        log.warning(
            "%s: 3 m of slack would be %d of its %.3g m pixels; scored with %d px (%.2g m) "
            "instead (give --slack for more)",
            name,
            pixels,
            gsd,
            MAX_GROUND_SLACK_PX,
            MAX_GROUND_SLACK_PX * gsd,
        )
        return MAX_GROUND_SLACK_PX, False
    return pixels, True


def evaluate_vectors(
    prediction: str | os.PathLike[str], truth: str | os.PathLike[str]
) -> dict[str, float]:
    """APLS and related scores of a road network against a reference network."""
    _check_found([prediction, truth])
    from roadseg.evaluation.apls import evaluate_vector_files

    with network_env(), gdal_errors(reading=[prediction, truth]):
        return dict(evaluate_vector_files(prediction, truth))


def evaluate(
    *,
    prediction: str | os.PathLike[str] | None = None,
    truth: str | os.PathLike[str] | None = None,
    sources: Sequence[str] = (),
    model: str | os.PathLike[str] | None = None,
    device: str = "auto",
    threshold: float | None = None,
    slack: int | None = None,
    buffer_m: float = 3.5,
    layer: str | None = None,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Score whatever is given, as ``roadseg evaluate`` does, and optionally save it.

    * ``sources`` (data source specs): ``model`` (default: the shipped weights for the
      device) on labelled data;
    * ``prediction`` and ``truth`` vector files: APLS of two networks;
    * a ``prediction`` raster and a ``truth`` (vectors or mask): pixel scores.

    Args:
        out: a JSON file to write the metrics to (written whole, then renamed).
        overwrite: replace an existing ``out``.

    Raises:
        InvalidParameterError: both or neither of ``sources`` and the files, or a
            vector ``prediction`` with a raster ``truth``.
    """
    from roadseg.io.atomic import atomic_output, check_not_input, check_output_path

    files = [_name(f) for f in (prediction, truth) if f is not None]
    if out is not None:
        check_not_input(out, [f for f in files if not is_remote(f)])
        check_output_path(out, overwrite)
    if bool(sources) == bool(files) or (files and len(files) != 2):
        raise InvalidParameterError(
            "give either a prediction and its truth, or data sources for a model"
        )
    if sources:
        from roadseg.data.spec import parse_source_spec
        from roadseg.models import resolve_model

        dev = resolve_device(device)
        metrics = evaluate_model(
            resolve_model(model, dev),
            [parse_source_spec(s) for s in sources],
            device=dev,
            threshold=threshold,
            slack=slack,
        )
    elif is_vector_file(files[0]) and is_vector_file(files[1]):
        metrics = evaluate_vectors(files[0], files[1])
    elif is_vector_file(files[0]):
        raise InvalidParameterError(
            f"{files[0]}: a vector prediction needs a vector truth (got {files[1]})"
        )
    else:
        metrics = evaluate_probability_raster(
            files[0], files[1], threshold=threshold, slack=slack, buffer_m=buffer_m, layer=layer
        )
    if out is not None:
        with atomic_output(out, overwrite=overwrite) as tmp:
            tmp.write_text(json.dumps(metrics, indent=1, sort_keys=True))
    return metrics


def _slack_text(metrics: dict[str, Any]) -> str:
    """``3 px``, or on the ground ``3 m (6 px)`` / ``3 m (cil 6 px, massachusetts 3 px)``."""
    if "slack_m" not in metrics:
        return f"{metrics.get('slack_px', 3)} px"
    by_dataset = {
        name: "/".join(map(str, pixels)) for name, pixels in metrics["slack_px_by_dataset"].items()
    }
    if len(set(by_dataset.values())) == 1:
        return f"{metrics['slack_m']:g} m ({next(iter(by_dataset.values()))} px)"
    return (
        f"{metrics['slack_m']:g} m ("
        + ", ".join(f"{k} {v} px" for k, v in by_dataset.items())
        + ")"
    )


def format_metrics(metrics: dict[str, Any]) -> str:
    """A short table of per-dataset scores for the terminal."""
    if "per_dataset" not in metrics:
        return "\n".join(
            f"{k:<20} {v:.4f}" if isinstance(v, float) else f"{k:<20} {v}"
            for k, v in metrics.items()
        )
    head = (
        f"{'dataset':<16}{'breakeven':>10}{'rel.P':>8}{'rel.R':>8}{'rel.F1':>8}{'IoU':>8}{'F1':>8}"
    )
    lines = [f"threshold {metrics['threshold']:.3f}, slack {_slack_text(metrics)}", head]
    rows = {**metrics["per_dataset"]}
    if len(rows) > 1:
        rows["all"] = metrics["all"]
    for name, s in rows.items():
        lines.append(
            f"{name:<16}{s['relaxed_breakeven']:>10.4f}{s['relaxed_precision']:>8.4f}"
            f"{s['relaxed_recall']:>8.4f}{s['relaxed_f1']:>8.4f}{s['iou']:>8.4f}{s['f1']:>8.4f}"
        )
    for name, images in metrics.get("per_image", {}).items():
        scored = [(s["relaxed_breakeven"], stem) for stem, s in images.items() if s["road_pixels"]]
        if len(scored) > 1:
            weakest = ", ".join(f"{stem} {value:.3f}" for value, stem in sorted(scored)[:3])
            lines.append(f"{name}: weakest breakeven {weakest}")
    return "\n".join(lines)
