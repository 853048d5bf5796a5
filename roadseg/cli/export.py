"""``roadseg export``: a checkpoint as an ONNX model, for roadseg or for Deepness in QGIS."""

from __future__ import annotations

from pathlib import Path

import click

from roadseg.cli.shared_options import model_option, overwrite_option


@click.command()
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The ONNX file to write (.onnx).",
)
@model_option
@click.option(
    "--deepness",
    is_flag=True,
    help="For the QGIS plugin Deepness: a fixed square tile, its metadata and its "
    "standardisation (see docs/qgis.md).",
)
@click.option(
    "--tile-size",
    type=click.IntRange(min=32),
    default=512,
    show_default=True,
    help="With --deepness: the tile side, a multiple of the model's output stride.",
)
@click.option(
    "--resolution",
    "resolution_m",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="With --deepness: the metres per pixel Deepness resamples scenes to, within the "
    "model's range (a range model, e.g. 0.5-1 m); default: the model's finest.",
)
@overwrite_option
def export(
    out: Path,
    model: str | None,
    deepness: bool,
    tile_size: int,
    resolution_m: float | None,
    overwrite: bool,
) -> None:
    """Write a model as ONNX: probabilities out, the sigmoid inside.

    \b
    Example:
      roadseg export --deepness -o roads.onnx
    """
    from roadseg.inference.deepness import export_model

    path = export_model(
        out,
        model,
        deepness=deepness,
        tile_size=tile_size,
        resolution_m=resolution_m,
        overwrite=overwrite,
    )
    click.echo(f"{path}: ONNX model{' for Deepness' if deepness else ''}")
