"""``roadseg run``: road probabilities (and, with the vector stage, road lines) for a scene."""

from __future__ import annotations

from pathlib import Path

import click

from roadseg.cli.options import (
    device_option,
    model_option,
    overwrite_option,
    parse_int_list,
    scheduler_option,
)
from roadseg.inference import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_TILE_SIZE,
)


@click.command()
@click.argument("scene", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
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
@model_option
@device_option
@click.option(
    "--bands",
    callback=parse_int_list,
    default=None,
    metavar="1,2,3",
    help="Bands fed to the model, 1-based, in model order. Default: the colour bands.",
)
@click.option(
    "--gsd",
    type=float,
    default=None,
    metavar="METRES",
    help="Scene resolution in metres per pixel, overriding the file's "
    "(required for plain images not at the model's resolution).",
)
@click.option(
    "--tile-size",
    type=click.IntRange(min=16),
    default=DEFAULT_TILE_SIZE,
    show_default=True,
    help="Largest tile side in pixels (tiles shrink to fit the scene).",
)
@click.option(
    "--overlap",
    type=click.IntRange(min=0),
    default=DEFAULT_OVERLAP,
    show_default=True,
    help="Pixels shared by neighbouring tiles and blended.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Tiles per forward pass.  [default: 1 on a CPU, 8 on a GPU]",
)
@click.option(
    "--block-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BLOCK_SIZE,
    show_default=True,
    help="Side of the blocks the scene is processed in, pixels.",
)
@click.option(
    "--tta/--no-tta",
    default=False,
    show_default=True,
    help="Average the predictions of the four flips of each tile.",
)
@scheduler_option
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Road probability threshold for the vectors. Default: the model's.",
)
@click.option(
    "--preview",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PNG preview of the extracted roads over the scene.",
)
@overwrite_option
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Show a progress bar."
)
def run(
    scene: Path,
    out: Path | None,
    prob_out: Path | None,
    model: str | None,
    device: str,
    bands: tuple[int, ...] | None,
    gsd: float | None,
    tile_size: int,
    overlap: int,
    batch_size: int | None,
    block_size: int,
    tta: bool,
    scheduler: str | None,
    threshold: float | None,
    preview: Path | None,
    overwrite: bool,
    progress: bool,
) -> None:
    """Find roads in SCENE (a GeoTIFF or other raster).

    \b
    Examples:
      roadseg run scene.tif --prob-out probs.tif
      roadseg run scene.tif --out roads.gpkg --prob-out probs.tif --tta
      roadseg run plain.png --gsd 0.5 --prob-out probs.tif
    """
    from roadseg.log import get_logger
    from roadseg.pipeline import run_scene

    result = run_scene(
        scene,
        out,
        prob_out=prob_out,
        model=model,
        device=device,
        bands=bands,
        gsd=gsd,
        tile_size=tile_size,
        overlap=overlap,
        batch_size=batch_size,
        block_size=block_size,
        tta=tta,
        scheduler=scheduler,
        threshold=threshold,
        preview=preview,
        overwrite=overwrite,
        progress=progress,
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
            "roads: %s (%d roads, %d junctions, %.1f km)",
            v.path,
            v.n_roads,
            v.n_junctions,
            v.total_length_m / 1000,
        )
