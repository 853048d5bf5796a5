"""``roadseg vectorize``: a probability raster to road centrelines in a GeoPackage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roadseg.cli.shared_options import (
    overwrite_option,
    pop_options,
    progress_option,
    scheduler_option,
    threshold_option,
    vector_tuning_options,
)


@click.command()
@click.argument("probs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="GeoPackage to write (layers 'roads' and 'junctions').",
)
@threshold_option
@click.option(
    "--preview",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a PNG quick-look of the roads.",
)
@click.option(
    "--scene",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Original image to draw under the roads in the preview (default: the probabilities).",
)
@vector_tuning_options
@scheduler_option
@overwrite_option
@progress_option
def vectorize(probs: Path, out: Path, **kwargs: Any) -> None:
    """Turn a road-probability raster (PROBS) into road centrelines.

    PROBS is a probability raster from 'roadseg run', or another single-band one:
    0-1 floats, 0-255 bytes, or a 0/1 or 0/255 road mask (its nodata is honoured).

    \b
    Example:
      roadseg vectorize probs.tif --out roads.gpkg --preview roads.png
    """
    from roadseg.log import plural
    from roadseg.vector import VectorOptions
    from roadseg.vector import vectorize as run_vectorize

    result = run_vectorize(probs, out, options=pop_options(VectorOptions, kwargs), **kwargs)
    click.echo(
        f"{result.path}: {plural(result.n_roads, 'road')}, "
        f"{plural(result.n_junctions, 'junction')}, "
        f"{result.total_length_m / 1000:.2f} km ({result.crs})"
    )
