"""``roadseg evaluate``: score a model on labelled data, or a prediction against truth."""

from __future__ import annotations

import json
from pathlib import Path

import click

from roadseg.cli.options import device_option, model_option, overwrite_option


@click.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="KIND:PATH[,key=value...]",
    help="Labelled data to run the model on (repeat for several), as for 'roadseg train'. "
    "A source with val=STEM+STEM is evaluated on those images only.",
)
@model_option
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=None,
    help="Decision threshold. Default: the model's (or the prediction's tag).",
)
@click.option(
    "--slack",
    default=3,
    show_default=True,
    type=click.IntRange(0),
    help="Relaxation distance of relaxed precision/recall, pixels.",
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
@overwrite_option
def evaluate(
    files: tuple[Path, ...],
    sources: tuple[str, ...],
    model: str | None,
    threshold: float | None,
    slack: int,
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
    from roadseg.errors import InvalidParameterError
    from roadseg.evaluation import runner
    from roadseg.io.atomic import atomic_output, check_not_input, check_output_path

    if out_path is not None:
        check_not_input(out_path, files)
        check_output_path(out_path, overwrite)
    if files and sources:
        raise InvalidParameterError("give either PREDICTION TRUTH files or --source, not both")
    if files:
        if len(files) != 2:
            raise InvalidParameterError(
                f"expected two files, PREDICTION and TRUTH, got {len(files)}"
            )
        pred, truth = files
        if runner.is_vector_file(pred) and runner.is_vector_file(truth):
            metrics = runner.evaluate_vectors(pred, truth)
        elif runner.is_vector_file(pred):
            raise InvalidParameterError(
                f"{pred}: a vector prediction needs a vector truth (got {truth})"
            )
        else:
            metrics = runner.evaluate_probability_raster(
                pred, truth, threshold=threshold, slack=slack, buffer_m=buffer_m, layer=layer
            )
    elif sources:
        from roadseg.data.spec import parse_source_spec
        from roadseg.device import resolve_device
        from roadseg.models import default_weights_name

        dev = resolve_device(device)
        metrics = runner.evaluate_model(
            model or default_weights_name(dev),
            [parse_source_spec(s) for s in sources],
            device=dev,
            threshold=threshold,
            slack=slack,
        )
    else:
        raise InvalidParameterError(
            "nothing to evaluate: give --source data for a model, or PREDICTION TRUTH files"
        )
    click.echo(runner.format_metrics(metrics))
    if out_path is not None:
        with atomic_output(out_path, overwrite=overwrite) as tmp:
            tmp.write_text(json.dumps(metrics, indent=1, sort_keys=True))
