"""``run_scene``: the whole of ``roadseg run`` — probabilities, then road vectors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roadseg.errors import InvalidParameterError
from roadseg.inference import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_TILE_SIZE,
    PredictionResult,
    predict_scene,
)
from roadseg.io.atomic import (
    check_distinct,
    check_not_input,
    check_output_path,
    check_suffix,
    remove_quietly,
    temporary_sibling,
)
from roadseg.io.gdal import gdal_errors
from roadseg.log import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_scene` produced.

    Attributes:
        scene: the input.
        prediction: the probability raster (a temporary one, already deleted, when
            only ``out`` was asked for).
        vectors: the road vectors (``roadseg.vector.VectorResult``), or ``None``.
    """

    scene: Path
    prediction: PredictionResult
    vectors: Any | None


def run_scene(
    scene: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    prob_out: str | os.PathLike[str] | None = None,
    model: str | os.PathLike[str] | None = None,
    device: str = "auto",
    engine: str = "auto",
    bands: tuple[int, ...] | list[int] | None = None,
    gsd: float | None = None,
    tile_size: int = DEFAULT_TILE_SIZE,
    overlap: int = DEFAULT_OVERLAP,
    batch_size: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    tta: bool = False,
    scheduler: Any = None,
    threshold: float | None = None,
    preview: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = False,
    vector_options: dict[str, Any] | None = None,
) -> RunResult:
    """Predict road probabilities for a scene and, with ``out``, extract road vectors.

    Args:
        scene: input raster.
        out: road GeoPackage to write.
        prob_out: probability COG to keep; without it (and with ``out``) the
            probabilities go to a temporary file beside ``out``, deleted afterwards.
        threshold: decision threshold for the vector stage (default: the model's).
        preview: PNG preview written by the vector stage.
        vector_options: further keyword arguments of ``roadseg.vector.vectorize``.
        Others: see :func:`roadseg.inference.predict_scene`.

    Raises:
        InvalidParameterError: neither output given, or a bad option.
        OutputExistsError: an output exists and ``overwrite`` is false (checked before
            any work).
    """
    if out is None and prob_out is None:
        raise InvalidParameterError(
            "nothing to write: give --out roads.gpkg and/or --prob-out probs.tif"
        )
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InvalidParameterError(f"--threshold must be between 0 and 1, got {threshold}")
    if out is None and (preview is not None or threshold is not None or vector_options):
        raise InvalidParameterError(
            "--preview and --threshold apply to the road vectors; give --out as well"
        )
    check_outputs(scene, out=out, prob_out=prob_out, preview=preview)
    if prob_out is not None:
        check_output_path(prob_out, overwrite)
    if out is not None:
        check_output_path(out, overwrite)
        if preview is not None:
            check_output_path(preview, overwrite)
    predict_kwargs: dict[str, Any] = dict(
        model=model,
        device=device,
        engine=engine,
        bands=bands,
        gsd=gsd,
        tile_size=tile_size,
        overlap=overlap,
        batch_size=batch_size,
        block_size=block_size,
        tta=tta,
        scheduler=scheduler,
        progress=progress,
    )
    if out is None:
        with gdal_errors(reading=[scene], writing=[prob_out]):
            prediction = predict_scene(scene, prob_out, overwrite=overwrite, **predict_kwargs)  # type: ignore[arg-type]
        return RunResult(Path(scene), prediction, None)

    from roadseg.vector import vectorize

    temporary = prob_out is None
    # One temporary name, made from the output's: a leftover says whose it was.
    prob_path = (
        temporary_sibling(out, role="prob", suffix=".tif") if temporary else Path(prob_out)  # type: ignore[arg-type]
    )
    try:
        with gdal_errors(reading=[scene], writing=[out, prob_out, preview]):
            prediction = predict_scene(
                scene, prob_path, overwrite=overwrite or temporary, **predict_kwargs
            )
            vectors = vectorize(
                prediction.path,
                out,
                threshold=threshold,
                overwrite=overwrite,
                scheduler=scheduler,
                preview=preview,
                scene=scene,
                progress=progress,
                **(vector_options or {}),
            )
    finally:
        if temporary:
            remove_quietly([prob_path])
    return RunResult(Path(scene), prediction, vectors)


#: Extensions of the files ``roadseg run`` writes, the first being the one suggested.
VECTOR_SUFFIXES = (".gpkg",)
PROB_SUFFIXES = (".tif", ".tiff")
PREVIEW_SUFFIXES = (".png",)


def check_outputs(
    scene: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    prob_out: str | os.PathLike[str] | None = None,
    preview: str | os.PathLike[str] | None = None,
) -> None:
    """Refuse outputs that would destroy the scene, collide, or misname their format.

    Checked with or without ``overwrite``: no option makes these right.

    Raises:
        OutputIsInputError: an output is the scene itself.
        InvalidParameterError: two outputs are one file, or an extension names a
            format other than the one written.
    """
    outputs = {"out": out, "prob_out": prob_out, "preview": preview}
    for path in outputs.values():
        check_not_input(path, [scene])
    check_distinct(outputs)
    if out is not None:
        check_suffix(out, VECTOR_SUFFIXES, "a GeoPackage (layers roads and junctions)")
    if prob_out is not None:
        check_suffix(prob_out, PROB_SUFFIXES, "a Cloud-Optimised GeoTIFF")
    if preview is not None:
        check_suffix(preview, PREVIEW_SUFFIXES, "a PNG image")
