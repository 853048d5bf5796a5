"""``run_scene``: the whole of ``roadseg run`` — probabilities, then road vectors."""

from __future__ import annotations

import contextlib
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
from roadseg.io.atomic import check_output_path, temporary_sibling
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
    if prob_out is not None:
        check_output_path(prob_out, overwrite)
    if out is not None:
        out_path = check_output_path(out, overwrite)
        if preview is not None:
            check_output_path(preview, overwrite)
        if prob_out is not None and Path(prob_out).resolve() == out_path.resolve():
            raise InvalidParameterError("--out and --prob-out must be different files")
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
        prediction = predict_scene(scene, prob_out, overwrite=overwrite, **predict_kwargs)  # type: ignore[arg-type]
        return RunResult(Path(scene), prediction, None)

    from roadseg.vector import vectorize

    temporary = prob_out is None
    prob_path = (
        temporary_sibling(Path(out).with_suffix(".tif")) if temporary else Path(prob_out)  # type: ignore[arg-type]
    )
    try:
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
            for leftover in (prob_path, prob_path.with_name(prob_path.name + ".aux.xml")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
    return RunResult(Path(scene), prediction, vectors)
