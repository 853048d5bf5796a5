"""``roadseg vectorize``: a probability raster to road centrelines in a GeoPackage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from roadseg.cli.options import overwrite_option, scheduler_option

F = TypeVar("F", bound=Callable[..., Any])

#: (option, keyword, default, help) of the tuning options; defaults mirror VectorOptions.
_TUNING: tuple[tuple[str, str, float, str], ...] = (
    ("--hysteresis", "hysteresis", 0.6, "Low threshold as a fraction of the threshold (1 = off)."),
    ("--hole-area", "hole_area_m2", 30.0, "Fill holes in the road mask smaller than this (m²)."),
    ("--min-length", "min_length_m", 20.0, "Drop isolated networks shorter than this (m)."),
    ("--spur-length", "spur_length_m", 10.0, "Prune dead-end branches shorter than this (m)."),
    ("--simplify", "simplify_m", 1.0, "Douglas-Peucker tolerance (m); 0 keeps every vertex."),
    (
        "--gap",
        "gap_m",
        15.0,
        "Bridge breaks up to this long where probability allows (m); 0 = off.",
    ),
    ("--junction-merge", "junction_merge_m", 3.0, "Merge junctions closer than this (m)."),
    (
        "--border",
        "border_m",
        10.0,
        "Continue roads ending this close to the raster's edge or no-data to it (m); 0 = off.",
    ),
)


def vector_tuning_options(func: F) -> F:
    """Add the centreline tuning options; they arrive as keyword arguments of ``vectorize``."""
    for flag, name, default, help_text in reversed(_TUNING):
        func = click.option(
            flag,
            name,
            type=click.FloatRange(min=0),
            default=default,
            show_default=True,
            help=help_text,
        )(func)
    return func


@click.command()
@click.argument("probs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="GeoPackage to write (layers 'roads' and 'junctions').",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Road probability threshold. Default: the model's, stored in the raster, else 0.5.",
)
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
@click.option(
    "--block-size",
    type=click.IntRange(min=16),
    default=2048,
    show_default=True,
    help="Block side in pixels (memory per worker grows with its square).",
)
@click.option(
    "--halo",
    type=click.IntRange(min=0),
    default=128,
    show_default=True,
    help="Pixels read around each block; more than the widest road in pixels.",
)
@vector_tuning_options
@scheduler_option
@overwrite_option
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
def vectorize(probs: Path, out: Path, **kwargs: Any) -> None:
    """Turn a road-probability raster (PROBS, from 'roadseg run') into road centrelines.

    \b
    Example:
      roadseg vectorize probs.tif --out roads.gpkg --preview roads.png
    """
    from roadseg.vector import vectorize as run_vectorize

    result = run_vectorize(probs, out, **kwargs)
    click.echo(
        f"{result.path}: {result.n_roads} roads, {result.n_junctions} junctions, "
        f"{result.total_length_m / 1000:.2f} km ({result.crs})"
    )
