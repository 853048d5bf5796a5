"""``roadseg batch``: many scenes into one output folder, on a dask cluster, resumable."""

from __future__ import annotations

import click

from roadseg.cli.options import (
    device_option,
    model_option,
    parse_int_list,
    scheduler_option,
)
from roadseg.inference import (
    DEFAULT_BLOCK_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_TILE_SIZE,
)


@click.command()
@click.argument("inputs", nargs=-1, metavar="INPUTS...")
@click.option(
    "--out-dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder: <scene>.gpkg (and <scene>.prob.tif), and the run record.",
)
@click.option("--manifest", type=click.Path(dir_okay=False), help="Text file, a scene a line.")
@click.option("--stac", type=click.Path(dir_okay=False), help="STAC ItemCollection JSON file.")
@click.option(
    "--stac-asset", default="image", show_default=True, help="Asset key used from STAC items."
)
@model_option
@device_option
@scheduler_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Local worker processes (default: one per two CPU cores; one with CUDA).",
)
@click.option(
    "--memory-limit",
    default="auto",
    show_default=True,
    help="Memory limit of each local worker, e.g. 4GB ('auto': the machine's memory / workers).",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Further attempts for a scene after a transient failure.",
)
@click.option(
    "--prob-cog/--no-prob-cog",
    default=False,
    show_default=True,
    help="Also write each scene's road probability as a COG.",
)
@click.option(
    "--spread-blocks",
    is_flag=True,
    help="Run scenes one at a time with each scene's blocks spread over the cluster "
    "(for a few very large scenes); default: one scene per worker.",
)
@click.option(
    "--overwrite/--no-overwrite",
    default=False,
    show_default=True,
    help="Redo every scene, replacing its outputs, even scenes already done. Without it "
    "done scenes are skipped and a file no batch wrote is never replaced.",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Before skipping a finished scene, re-read its outputs and check their SHA-256 "
    "(default: check size and modification time).",
)
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
    help="Scene resolution in metres per pixel, overriding the files'.",
)
@click.option(
    "--tile-size",
    type=click.IntRange(min=16),
    default=DEFAULT_TILE_SIZE,
    show_default=True,
    help="Tile side in pixels.",
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
    help="Tiles per forward pass (speed only: changing it does not redo scenes).  "
    "[default: 1 on a CPU, 8 on a GPU]",
)
@click.option(
    "--block-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BLOCK_SIZE,
    show_default=True,
    help="Side of the blocks a scene is processed in, pixels (speed and memory only).",
)
@click.option(
    "--tta/--no-tta",
    default=False,
    show_default=True,
    help="Average the predictions of the four flips of each tile.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Road probability threshold for the vectors. Default: the model's.",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
def batch(
    inputs: tuple[str, ...],
    out_dir: str,
    manifest: str | None,
    stac: str | None,
    stac_asset: str,
    model: str | None,
    device: str,
    scheduler: str | None,
    workers: int | None,
    memory_limit: str,
    retries: int,
    prob_cog: bool,
    spread_blocks: bool,
    overwrite: bool,
    verify: bool,
    bands: tuple[int, ...] | None,
    gsd: float | None,
    tile_size: int,
    overlap: int,
    batch_size: int | None,
    block_size: int,
    tta: bool,
    threshold: float | None,
    progress: bool,
) -> None:
    """Process many scenes into one folder, skipping those already done.

    INPUTS are scene files, folders (their .tif files) or glob patterns; --manifest and
    --stac add more. Each scene becomes <scene>.gpkg in --out-dir, and every attempt
    and result is appended to --out-dir/batch-record.jsonl. Rerunning the same command
    skips scenes done with the same input, model and settings, and redoes the rest.
    The exit status is 1 when any scene failed.
    """
    from roadseg.batch import collect_scenes, format_summary, run_batch

    scenes = collect_scenes(inputs, manifest=manifest, stac=stac, stac_asset=stac_asset)
    run_options = {
        "bands": bands,
        "gsd": gsd,
        "tile_size": tile_size,
        "overlap": overlap,
        "batch_size": batch_size,
        "block_size": block_size,
        "tta": tta,
        "threshold": threshold,
    }
    summary = run_batch(
        scenes,
        out_dir,
        model=model,
        device=device.lower(),
        run_options={k: v for k, v in run_options.items() if v is not None},
        prob_cog=prob_cog,
        scheduler=scheduler,
        workers=workers,
        memory_limit=memory_limit,
        retries=retries,
        overwrite=overwrite,
        verify=verify,
        spread_blocks=spread_blocks,
        progress=progress,
    )
    click.echo(format_summary(summary))
    if not summary.ok:
        raise click.ClickException(
            f"{summary.n_failed} of {len(summary.entries)} scenes failed; see the errors above "
            f"and {summary.record_path}"
        )
