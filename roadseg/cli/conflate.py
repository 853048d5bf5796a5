"""``roadseg conflate``: the roads of an earlier run against a reference network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from roadseg.cli.shared_options import overwrite_option, pop_reference, reference_options


@click.command()
@click.argument("roads", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="GeoPackage to write (layer 'missing_roads').",
)
@click.option(
    "--footprint",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    metavar="RASTER",
    help="The scene (or probability raster) whose valid area bounds the comparison. "
    "Default: the extent of the roads.",
)
@reference_options
@overwrite_option
def conflate(roads: Path, out: Path, footprint: Path | None, **options: Any) -> None:
    """Find the roads of ROADS (a GeoPackage from 'roadseg run') that a reference lacks.

    \b
    Example:
      roadseg conflate roads.gpkg --reference region.osm.pbf --out missing.gpkg
    """
    from roadseg.vector.missing import conflate_geopackage

    reference, conflate_options = pop_reference(options)
    if reference is None:
        raise click.UsageError("give the reference network: --reference REF")
    result = conflate_geopackage(
        roads,
        reference,
        out,
        footprint_from=footprint,
        options=conflate_options,
        **options,
    )
    recall = "-" if result.map_recall is None else f"{result.map_recall:.1%}"
    precision = "-" if result.map_precision is None else f"{result.map_precision:.1%}"
    click.echo(
        f"{result.path}: {result.n_missing} road(s) missing from {result.reference} "
        f"({result.missing_length_m / 1000:.2f} km); the detections cover {recall} of the "
        f"reference, the reference covers {precision} of the detections"
    )
