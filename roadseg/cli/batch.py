"""``roadseg batch``: many scenes into one output folder, on a dask cluster, resumable."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from roadseg.cli.shared_options import (
    aws_no_sign_request_option,
    device_option,
    inference_options,
    model_option,
    pop_options,
    pop_reference,
    progress_option,
    reference_options,
    scheduler_option,
    threshold_option,
    vector_tuning_options,
)


@click.command()
@click.argument("inputs", nargs=-1, metavar="INPUTS...")
@click.option(
    "-o",
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
    "--stall-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="Resubmit, as another attempt, a scene the cluster has lost (held, yet no "
    "worker will run it) for this long.",
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
@inference_options
@threshold_option
@vector_tuning_options
@reference_options
@aws_no_sign_request_option
@progress_option
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
    stall_timeout: float,
    prob_cog: bool,
    spread_blocks: bool,
    overwrite: bool,
    verify: bool,
    progress: bool,
    threshold: float | None,
    **options: Any,
) -> None:
    """Process many scenes into one folder, skipping those already done.

    INPUTS are scene files, folders (their .tif files), glob patterns or URLs
    (https://, http://, s3://); --manifest and --stac add more, local or remote. Each scene becomes <scene>.gpkg in --out-dir, and every attempt
    and result is appended to --out-dir/batch-record.jsonl. Rerunning the same command
    skips scenes done with the same input, model and settings, and redoes the rest.
    The exit status is 1 when any scene failed.
    """
    from roadseg.batch import collect_scenes, format_summary, run_batch
    from roadseg.cli.messages import to_cli
    from roadseg.inference import InferenceOptions
    from roadseg.log import plural
    from roadseg.vector import VectorOptions

    scenes = collect_scenes(inputs, manifest=manifest, stac=stac, stac_asset=stac_asset)
    options.update(model=model, device=device.lower())
    inference = pop_options(InferenceOptions, options)
    reference, conflate = pop_reference(options)
    summary = run_batch(
        scenes,
        out_dir,
        inference=inference,
        vector=pop_options(VectorOptions, options),
        threshold=threshold,
        prob_cog=prob_cog,
        reference=reference,
        conflate=conflate,
        scheduler=scheduler,
        workers=workers,
        memory_limit=memory_limit,
        retries=retries,
        stall_timeout=stall_timeout,
        overwrite=overwrite,
        verify=verify,
        spread_blocks=spread_blocks,
        progress=progress,
    )
    # The record's errors name parameters, as the library does; the table, flags.
    command = click.get_current_context().command
    entries = tuple(
        replace(e, error=to_cli(e.error, command)) if e.error else e for e in summary.entries
    )
    click.echo(format_summary(replace(summary, entries=entries)))
    if not summary.ok:
        raise click.ClickException(
            f"{summary.n_failed} of {plural(len(summary.entries), 'scene')} failed; see the errors above "
            f"and {summary.record_path}"
        )
