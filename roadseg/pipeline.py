"""``run_scene``: the whole of ``roadseg run`` — probabilities, then road vectors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roadseg.cluster import check_scheduler
from roadseg.context import RunContext
from roadseg.errors import InvalidParameterError
from roadseg.inference import InferenceOptions, PredictionResult
from roadseg.inference.predict import predict_checked
from roadseg.io.atomic import check_outputs, remove_quietly, temporary_sibling
from roadseg.io.gdal import gdal_errors
from roadseg.io.urls import is_remote
from roadseg.log import get_logger
from roadseg.raster.probability import PROBABILITY_FORMAT
from roadseg.vector import VectorOptions, VectorResult, check_threshold
from roadseg.vector.conflate import ConflateOptions
from roadseg.vector.output import PREVIEW_FORMAT, ROADS_FORMAT
from roadseg.vector.reference import ReferenceSpec
from roadseg.vector.vectorize import vectorize_checked

log = get_logger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_scene` produced.

    Attributes:
        scene: the input: a path, or the URL of a remote scene as given.
        prediction: the probability raster (a temporary one, already deleted, when
            only ``out`` was asked for).
        vectors: the road vectors, or ``None``.
    """

    scene: Path | str
    prediction: PredictionResult
    vectors: VectorResult | None


def run_scene(
    scene: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    prob_out: str | os.PathLike[str] | None = None,
    inference: InferenceOptions | None = None,
    vector: VectorOptions | None = None,
    threshold: float | None = None,
    preview: str | os.PathLike[str] | None = None,
    scheduler: Any = None,
    overwrite: bool = False,
    progress: bool = False,
    reference: ReferenceSpec | None = None,
    conflate_options: ConflateOptions | None = None,
) -> RunResult:
    """Predict road probabilities for a scene and, with ``out``, extract road vectors.

    Every argument is checked here, once, before any work; the two stages then run
    without checking them again.

    Args:
        scene: input raster.
        out: road GeoPackage to write.
        prob_out: probability COG to keep; without it (and with ``out``) the
            probabilities go to a temporary file beside ``out``, deleted afterwards.
        inference: how the probabilities are computed (model, device, tiling, ...;
            see :class:`roadseg.inference.InferenceOptions`); ``None``: the defaults.
        vector: the tuning of the road lines (see :class:`roadseg.vector.VectorOptions`);
            ``None``: the defaults. Needs ``out``.
        threshold: decision threshold of the road lines, strictly between 0 and 1
            (default: the model's). Needs ``out``.
        preview: PNG preview written by the vector stage. Needs ``out``.
        scheduler: ``None`` (local), a ``tcp://`` address or a ``distributed.Client``;
            both stages run on it.
        overwrite: replace existing outputs.
        progress: show progress bars.
        reference: a reference road network; the roads it lacks go to a
            ``missing_roads`` layer of ``out`` (see :mod:`roadseg.vector.conflate`).
            Needs ``out``.
        conflate_options: how roads are matched to the reference.

    Raises:
        InvalidParameterError: neither output given, or a bad option.
        OutputExistsError: an output exists and ``overwrite`` is false (checked before
            any work).
    """
    inference = (inference or InferenceOptions()).validate()
    if out is None and prob_out is None:
        raise InvalidParameterError(
            "nothing to write: give out=roads.gpkg and/or prob_out=probs.tif"
        )
    if threshold is not None:
        check_threshold(threshold)
    if vector is not None:
        vector.validate()
    check_scheduler(scheduler)
    if out is None:
        given = [f"preview={preview}"] if preview is not None else []
        given += [f"threshold={threshold}"] if threshold is not None else []
        given += ["vector=..."] if vector is not None else []
        given += ["reference=..."] if reference is not None else []
        if given:
            raise InvalidParameterError(
                f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} to the "
                "road lines; give out=roads.gpkg as well"
            )
    check_outputs(
        {
            "out": (out, ROADS_FORMAT),
            "prob_out": (prob_out, PROBABILITY_FORMAT),
            "preview": (preview, PREVIEW_FORMAT),
        },
        [scene, reference.path if reference is not None else None],
        overwrite,
    )
    if reference is not None:  # a bad reference stops the run before any work
        reference.validate().check()
        conflate_options = (conflate_options or ConflateOptions()).validate()
    run = RunContext(scheduler, overwrite, progress)
    if out is None:
        with gdal_errors(reading=[scene], writing=[prob_out]):
            prediction = predict_checked(scene, Path(prob_out), inference, run)  # type: ignore[arg-type]
        return RunResult(_scene_ref(scene), prediction, None)

    temporary = prob_out is None
    # One temporary name, made from the output's: a leftover says whose it was.
    prob_path = (
        temporary_sibling(out, role="prob", suffix=".tif") if temporary else Path(prob_out)  # type: ignore[arg-type]
    )
    try:
        with gdal_errors(reading=[scene], writing=[out, prob_out, preview]):
            # A temporary prob_path is written in place, never published: overwrite
            # does not apply to it.
            prediction = predict_checked(scene, prob_path, inference, run)
            # The georeferencing and the model's threshold travel with the pixels.
            vectors = vectorize_checked(
                prediction,
                out,
                run,
                options=vector or VectorOptions(),
                threshold=threshold,
                preview=preview,
                scene=scene,
                reference=reference,
                conflate_options=conflate_options,
            )
    finally:
        if temporary:
            remove_quietly([prob_path])
    return RunResult(_scene_ref(scene), prediction, vectors)


def _scene_ref(scene: str | os.PathLike[str]) -> Path | str:
    """A scene as :class:`RunResult` keeps it: ``Path`` would fold a URL's ``//``."""
    return os.fspath(scene) if is_remote(scene) else Path(scene)
