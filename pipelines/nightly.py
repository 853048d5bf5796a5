"""Scheduled batch runs: a watched folder or a STAC ItemCollection into an output folder.

Run it from cron or a systemd timer (examples in ``pipelines/deploy/``)::

    python -m pipelines.nightly --watch /data/incoming --out-dir /data/roads
    python -m pipelines.nightly --stac /data/search.json --out-root /data/roads --dated

With ``--out-dir`` every night writes into the same folder, so scenes done on earlier
nights are skipped (the run record remembers them) and only new or changed scenes are
processed. With ``--out-root`` and ``--dated`` each night gets its own folder,
``ROOT/YYYY-MM-DD`` (UTC); a rerun on the same day resumes that day's folder.

Exit status: 0 when every scene is done or skipped (also when there is nothing to do),
1 when any scene failed, 2 when the run could not start (bad options, another batch
holds the folder, unreachable scheduler, missing model).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import click

from roadseg.batch import collect_scenes, format_summary, run_batch
from roadseg.batch.inputs import is_raster_name
from roadseg.errors import RoadsegError
from roadseg.inference import InferenceOptions
from roadseg.log import configure_logging, get_logger

log = get_logger("pipelines.nightly")

EXIT_OK = 0
EXIT_FAILED_SCENES = 1
EXIT_CANNOT_RUN = 2


def output_folder(out_dir: str | None, out_root: str | None, dated: bool, now: datetime) -> Path:
    """The folder of this run: fixed, or ``ROOT/YYYY-MM-DD`` (UTC)."""
    if (out_dir is None) == (out_root is None):
        raise click.UsageError("give exactly one of --out-dir and --out-root")
    if out_dir is not None:
        return Path(out_dir)
    root = Path(out_root)  # type: ignore[arg-type]
    return root / now.strftime("%Y-%m-%d") if dated else root


def watched_scenes(folder: str, recursive: bool) -> list[str]:
    """Raster files in a watched folder (hidden and partial files left out)."""
    files = Path(folder).rglob("*") if recursive else Path(folder).iterdir()
    return sorted(str(p) for p in files if p.is_file() and is_raster_name(p))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--watch", type=click.Path(file_okay=False), help="Folder of incoming scenes.")
@click.option("--recursive", is_flag=True, help="Also take scenes from sub-folders of --watch.")
@click.option("--stac", type=click.Path(dir_okay=False), help="STAC ItemCollection JSON file.")
@click.option("--stac-asset", default="image", show_default=True, help="Asset key of STAC items.")
@click.option("--out-dir", help="Fixed output folder: earlier nights' scenes are skipped.")
@click.option("--out-root", help="Root of per-run output folders (with --dated).")
@click.option(
    "--dated/--no-dated",
    default=True,
    show_default=True,
    help="With --out-root: one folder per day, ROOT/YYYY-MM-DD (UTC).",
)
@click.option("--model", default=None, help="Shipped weights name or checkpoint path.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--scheduler", default=None, help="tcp://HOST:PORT of a dask scheduler.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Local workers.")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True)
@click.option("--prob-cog/--no-prob-cog", default=False, show_default=True)
@click.option("-v", "--verbose", count=True, help="More log output.")
def nightly(
    watch: str | None,
    recursive: bool,
    stac: str | None,
    stac_asset: str,
    out_dir: str | None,
    out_root: str | None,
    dated: bool,
    model: str | None,
    device: str,
    scheduler: str | None,
    workers: int | None,
    retries: int,
    prob_cog: bool,
    verbose: int,
) -> int:
    """One scheduled batch run; the exit status says whether every scene succeeded."""
    configure_logging(verbose)
    if (watch is None) == (stac is None):
        raise click.UsageError("give exactly one of --watch and --stac")
    folder = output_folder(out_dir, out_root, dated, datetime.now(timezone.utc))
    try:
        if watch is not None:
            if not Path(watch).is_dir():
                raise click.UsageError(f"--watch {watch}: no such folder")
            inputs = watched_scenes(watch, recursive)
            if not inputs:
                log.info("%s holds no scenes: nothing to do", watch)
                return EXIT_OK
            scenes = collect_scenes(inputs)
        else:
            scenes = collect_scenes(stac=stac, stac_asset=stac_asset)
        log.info("%d scene(s) into %s", len(scenes), folder)
        summary = run_batch(
            scenes,
            folder,
            inference=InferenceOptions(model=model, device=device),
            prob_cog=prob_cog,
            scheduler=scheduler,
            workers=workers,
            retries=retries,
        )
    except RoadsegError as exc:
        log.error("%s", exc)
        return EXIT_CANNOT_RUN
    click.echo(format_summary(summary))
    return EXIT_OK if summary.ok else EXIT_FAILED_SCENES


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run once and return the exit status."""
    try:
        return int(
            nightly.main(args=list(argv) if argv is not None else None, standalone_mode=False) or 0
        )
    except click.exceptions.Exit as exc:  # --help
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_CANNOT_RUN


if __name__ == "__main__":
    sys.exit(main())
