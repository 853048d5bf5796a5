"""``roadseg run``: road probabilities and road lines for a scene."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roadseg.cli.shared_options import (
    VECTOR_FLAGS,
    SceneParam,
    aws_no_sign_request_option,
    device_option,
    inference_options,
    model_option,
    overwrite_option,
    pop_options,
    pop_reference,
    progress_option,
    reference_options,
    scheduler_option,
    threshold_option,
    vector_tuning_options,
)


@click.command()
@click.argument("scene", type=SceneParam())
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Road centrelines and junctions, GeoPackage.",
)
@click.option(
    "--prob-out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Road probability raster, Cloud-Optimised GeoTIFF (uint8, 255 = no data).",
)
@click.option(
    "--preview",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PNG preview of the extracted roads over the scene.",
)
@model_option
@device_option
@inference_options
@scheduler_option
@threshold_option
@vector_tuning_options
@reference_options
@aws_no_sign_request_option
@overwrite_option
@progress_option
def run(
    scene: Path | str,
    out: Path | None,
    prob_out: Path | None,
    preview: Path | None,
    **options: Any,
) -> None:
    """Find roads in SCENE (a GeoTIFF or other raster, local or at a URL).

    \b
    Examples:
      roadseg run scene.tif --out roads.gpkg
      roadseg run scene.tif --out roads.gpkg --prob-out probs.tif --preview roads.png
      roadseg run scene.tif --prob-out probs.tif --tta --device cuda
      roadseg run plain.png --gsd 0.5 --out roads.gpkg
      roadseg run scene.tif --out roads.gpkg --reference region.osm.pbf
      roadseg run https://example.com/scene.tif --out roads.gpkg
      roadseg run s3://bucket/scene.tif --out roads.gpkg --aws-no-sign-request
    """
    from roadseg.inference import InferenceOptions
    from roadseg.log import get_logger, plural
    from roadseg.pipeline import run_scene
    from roadseg.vector import VectorOptions

    vector = pop_options(VectorOptions, options)
    reference, conflate_options = pop_reference(options)
    if out is None and reference is not None:
        raise click.UsageError("--reference compares the road lines; give --out roads.gpkg as well")
    if out is None:
        given = [name for name in VECTOR_FLAGS if _given(name)]
        if given:
            raise click.UsageError(
                f"{VECTOR_FLAGS[given[0]]} tunes the road lines; give --out roads.gpkg as well"
            )
    result = run_scene(
        scene,
        out,
        prob_out=prob_out,
        inference=pop_options(InferenceOptions, options),
        vector=vector if out is not None else None,
        preview=preview,
        reference=reference,
        conflate_options=conflate_options,
        **options,
    )
    log = get_logger("roadseg.cli.run")
    pred = result.prediction
    if prob_out is not None:
        log.info(
            "probabilities: %s (%dx%d px at %.3g m, model %s, %.1f s)",
            pred.path,
            pred.width,
            pred.height,
            pred.gsd_m,
            pred.model_name,
            pred.seconds,
        )
    if result.vectors is not None:
        v = result.vectors
        log.info(
            "roads: %s (%s, %s, %.1f km)",
            v.path,
            plural(v.n_roads, "road"),
            plural(v.n_junctions, "junction"),
            v.total_length_m / 1000,
        )


def _given(name: str) -> bool:
    """Whether the user typed option ``name`` (rather than taking its default)."""
    source = click.get_current_context().get_parameter_source(name)
    return source not in (None, click.core.ParameterSource.DEFAULT)
