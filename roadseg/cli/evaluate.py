"""``roadseg evaluate``: score a model on labelled data, or a prediction against truth."""

from __future__ import annotations

from pathlib import Path

import click

from roadseg.cli.shared_options import (
    SceneParam,
    aws_no_sign_request_option,
    device_option,
    model_option,
    overwrite_option,
    threshold_option,
)


@click.command()
@click.argument("files", nargs=-1, type=SceneParam(exists=True))
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="KIND:PATH[,key=value...]",
    help="Labelled data to run the model on (repeat for several), as for 'roadseg train'. "
    "A source with val=STEM+STEM is evaluated on those images only.",
)
@model_option
@threshold_option
@click.option(
    "--slack",
    default=None,
    type=click.IntRange(0),
    metavar="PIXELS",
    help="Relaxation distance of relaxed precision/recall, pixels. Default: 3 m on the "
    "ground at the resolution scored (3 px at 1 m, 6 at 0.5 m), as training validates.",
)
@click.option(
    "--buffer",
    "buffer_m",
    default=3.5,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Half-width in metres of road lines rasterised as truth for a probability raster.",
)
@click.option("--layer", default=None, help="Layer of a GeoPackage truth file.")
@click.option(
    "-o",
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the metrics to this JSON file.",
)
@device_option
@aws_no_sign_request_option
@overwrite_option
def evaluate(
    files: tuple[Path | str, ...],
    sources: tuple[str, ...],
    model: str | None,
    threshold: float | None,
    slack: int | None,
    buffer_m: float,
    layer: str | None,
    out_path: Path | None,
    device: str,
    overwrite: bool,
) -> None:
    """Print road-extraction metrics.

    \b
    Three forms:
      roadseg evaluate --source pairs:FOLDER,gsd=1.0 [--model NAME|PATH]
          run a model on labelled data: relaxed breakeven, relaxed P/R/F1, IoU, F1
      roadseg evaluate PROBABILITY.tif TRUTH.geojson|MASK.tif
          score a probability raster written by 'roadseg run'
      roadseg evaluate ROADS.gpkg TRUTH.geojson
          compare two road networks (APLS)
    """
    if files and sources:
        raise click.UsageError("give either PREDICTION TRUTH files or --source, not both")
    if not files and not sources:
        raise click.UsageError(
            "nothing to evaluate: give --source data for a model, or PREDICTION TRUTH files"
        )
    if files and len(files) != 2:
        raise click.UsageError(f"expected two files, PREDICTION and TRUTH, got {len(files)}")
    from roadseg.evaluation.command import evaluate as run_evaluation
    from roadseg.evaluation.command import format_metrics

    metrics = run_evaluation(
        prediction=files[0] if files else None,
        truth=files[1] if files else None,
        sources=sources,
        model=model,
        device=device,
        threshold=threshold,
        slack=slack,
        buffer_m=buffer_m,
        layer=layer,
        out=out_path,
        overwrite=overwrite,
    )
    click.echo(format_metrics(metrics))
