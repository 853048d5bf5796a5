"""``predict_scene``: a scene in, a georeferenced road-probability COG out."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rasterio
import torch
from affine import Affine

from roadseg import __version__
from roadseg.cluster import check_scheduler
from roadseg.context import RunContext
from roadseg.device import resolve_device
from roadseg.inference.block_dispatch import run_blocks
from roadseg.inference.block_steps import GDAL_CACHE_MB, BlockJob
from roadseg.inference.defaults import DEFAULT_BATCH_SIZE
from roadseg.inference.engine import resolve_engine
from roadseg.inference.layout import Layout
from roadseg.inference.options import InferenceOptions
from roadseg.inference.predictor import ModelSpec, get_predictor, release_engines
from roadseg.inference.writer import ProbabilityWriter, write_cog
from roadseg.io.atomic import (
    atomic_output,
    check_outputs,
    final_name,
    is_temporary,
    remove_quietly,
    temporary_sibling,
)
from roadseg.io.gdal import gdal_errors
from roadseg.io.remote import check_unchanged
from roadseg.log import get_logger, plural, progress_bar
from roadseg.models import output_stride, read_metadata, resolve_model
from roadseg.raster import probability as P
from roadseg.raster.grid import SMALL_GRID_SIDE, scene_pixel_size_m
from roadseg.raster.prepare import fingerprint_of, prepare_scene, scene_env

log = get_logger(__name__)


@dataclass(frozen=True)
class PredictionResult:
    """What :func:`predict_scene` wrote.

    Attributes:
        path: the probability COG.
        width, height: its size in pixels (the working grid).
        crs: its CRS (``None`` for a plain image).
        transform: its pixel-to-CRS transform.
        gsd_m: its ground sample distance in metres.
        model_name: the model's name (shipped name or checkpoint file name).
        threshold: the model's decision threshold.
        blocks: number of blocks computed.
        tiles: number of tiles the model saw.
        seconds: wall-clock time.
        device: where the model ran (``cpu``, ``cuda``, or as asked of a cluster).
        engine: what ran the model (``torch``, ``onnx``, or as asked of a cluster).
        stages: seconds spent in each stage: ``prepare`` (checks and statistics),
            ``load`` (model load or ONNX export), ``write`` (cells to the GeoTIFF),
            ``cog`` (the COG conversion), and, summed over blocks when run locally,
            ``read``, ``infer`` and ``blend`` (two blocks overlap, so these may add up
            to more than the wall-clock time).
    """

    path: Path
    width: int
    height: int
    crs: rasterio.crs.CRS | None
    transform: Affine
    gsd_m: float
    model_name: str
    threshold: float
    blocks: int
    tiles: int
    seconds: float
    device: str
    engine: str = "torch"
    stages: dict[str, float] = field(default_factory=dict, compare=False)


def _size_text(res: tuple[float, float]) -> str:
    """``"1.5"`` for square pixels, ``"2 x 1"`` for others."""
    if abs(res[0] - res[1]) <= 1e-3 * max(res):
        return f"{(res[0] + res[1]) / 2:.3g}"
    return f"{res[0]:.3g} x {res[1]:.3g}"


def predict_scene(
    scene: str | os.PathLike[str],
    prob_out: str | os.PathLike[str],
    options: InferenceOptions | None = None,
    *,
    scheduler: Any = None,
    overwrite: bool = False,
    progress: bool = False,
) -> PredictionResult:
    """Compute road probabilities for a scene and write them as a COG.

    The scene is read block by block at the model's resolution, normalised with
    statistics computed once for the whole scene, cut into overlapping tiles whose
    predictions are blended with a smooth weight window, and written as each block
    completes. See ``docs/run.md``.

    Args:
        scene: input raster (GeoTIFF or any GDAL format).
        prob_out: output ``.tif``.
        options: model, device, engine, bands, tiling and batching (see
            :class:`InferenceOptions`); ``None``: the defaults.
        scheduler: ``None`` (local), a ``tcp://`` address or a ``distributed.Client``.
        overwrite: replace an existing ``prob_out``.
        progress: show a progress bar over blocks.

    Returns:
        The :class:`PredictionResult`: the file and its georeferencing, which the
        vector stage takes as it is (``roadseg.vector.vectorize(result, ...)``).

    Raises:
        InputNotFoundError, InvalidInputError, InvalidParameterError,
        OutputExistsError, OutputIsInputError, CheckpointError, DeviceError.
    """
    options = (options or InferenceOptions()).validate()
    check_scheduler(scheduler)
    outputs = {"prob_out": (prob_out, P.PROBABILITY_FORMAT)}
    target = check_outputs(outputs, [scene], overwrite)["prob_out"]
    return predict_checked(scene, target, options, RunContext(scheduler, overwrite, progress))


def predict_checked(
    scene: str | os.PathLike[str], target: Path, options: InferenceOptions, run: RunContext
) -> PredictionResult:
    """:func:`predict_scene` once its arguments are checked, by it or, with the rest of
    a run's before any work, by :func:`roadseg.pipeline.run_scene`: ``options``
    validated, ``run.scheduler`` usable, ``target`` writable (or a temporary name)."""
    started = time.perf_counter()
    # GDAL's default block cache (5 % of RAM) would keep a scene's blocks, and the
    # output's, and grow with the scene.
    with (
        scene_env(scene),
        rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2**20),
        gdal_errors(reading=[scene], writing=[target]),
    ):
        return _predict(scene, target, options, run, started=started)


def _predict(
    scene: str | os.PathLike[str],
    target: Path,
    options: InferenceOptions,
    run: RunContext,
    *,
    started: float,
) -> PredictionResult:
    device, engine = options.device, options.engine
    distributed = run.scheduler is not None
    if distributed:
        # Each worker resolves the device itself; only the default weights depend on it.
        device_name = device.strip().lower()
        model_device = (
            resolve_device("auto")
            if device_name == "auto"
            else torch.device("cuda" if device_name.startswith("cuda") else "cpu")
        )
        # Workers resolve ``auto`` themselves; an impossible choice fails here, early.
        engine_name = resolve_engine(engine, model_device) if engine != "auto" else "auto"
    else:
        model_device = resolve_device(device)
        device_name = str(model_device)
        engine_name = resolve_engine(engine, model_device)
    checkpoint = resolve_model(options.model, model_device)
    meta = read_metadata(checkpoint)
    info, spec = prepare_scene(
        scene,
        in_channels=meta.in_channels,
        model_gsd_m=meta.gsd_m,
        max_gsd_m=meta.max_gsd_m,
        normalization=meta.normalization,
        bands=options.bands,
        gsd=options.gsd,
        announce=True,  # the statistics read takes minutes on a huge scene
    )
    grid = spec.grid
    if min(grid.width, grid.height) < SMALL_GRID_SIDE:
        log.warning(
            "%s: the working grid is only %dx%d px at %.3g m; the model sees little "
            "context and may find no roads (for a plain image, check its gsd)",
            info.name,
            grid.width,
            grid.height,
            grid.gsd_m,
        )
    layout = Layout.create(
        grid.width,
        grid.height,
        tile_size=options.tile_size,
        overlap=options.overlap,
        block_size=options.block_size,
        align=output_stride(meta.architecture, meta.arch_kwargs),
    )
    batch_size = (
        options.batch_size
        or DEFAULT_BATCH_SIZE["cuda" if device_name.startswith("cuda") else "cpu"]
    )
    model_name = meta.name or Path(checkpoint).stem
    log.info(
        "%s: %dx%d px at %s m -> %dx%d px at %.3g m; %s of %dx%d px in %s; model %s on %s (%s)",
        info.name,
        info.width,
        info.height,
        _size_text(scene_pixel_size_m(info)),
        grid.width,
        grid.height,
        grid.gsd_m,
        plural(layout.n_tiles, "tile"),
        *layout.tile_shape,
        plural(layout.n_blocks, "block"),
        model_name,
        device_name,
        engine_name,
    )
    stages = {"prepare": time.perf_counter() - started}
    model_spec = ModelSpec(
        str(Path(checkpoint).resolve()), device_name, batch_size, options.tta, engine_name
    )
    if not distributed:
        tick = time.perf_counter()
        get_predictor(model_spec)  # load (and export) once, fail early
        stages["load"] = time.perf_counter() - tick
    gpu = distributed and device_name.startswith("cuda")
    jobs = (BlockJob.from_layout(layout, index) for index in layout.blocks())
    tags = {
        P.TAG_MODEL: model_name,
        P.TAG_THRESHOLD: f"{meta.threshold:g}",
        P.TAG_GSD: f"{grid.gsd_m:.6g}",
        P.TAG_VERSION: __version__,
        P.TAG_SOURCE: info.name,
    }
    # A temporary target (the probabilities of 'run --out' alone) is written directly:
    # it is already a temporary name, and is never published.
    publishing = (
        contextlib.nullcontext(target)
        if is_temporary(target)
        else atomic_output(target, overwrite=run.overwrite)
    )
    with publishing as final_tmp:
        raw = temporary_sibling(target, role="raw")
        try:
            with (
                ProbabilityWriter(raw, grid, layout, tags) as writer,
                progress_bar(layout.n_blocks, "roadseg run", "block", enabled=run.progress) as bar,
            ):

                def on_result(result: Any) -> None:
                    tick = time.perf_counter()
                    writer.add(result)
                    stages["write"] = stages.get("write", 0.0) + time.perf_counter() - tick
                    for stage, seconds in result.seconds.items():
                        stages[stage] = stages.get(stage, 0.0) + seconds
                    bar.update(1)

                blocks = run_blocks(spec, model_spec, jobs, run.scheduler, on_result, gpu)
            if spec.remote:  # blocks read from a file replaced meanwhile: publish nothing
                check_unchanged(spec.path, lambda: fingerprint_of(spec), spec.fingerprint)
            if not distributed:
                # The COG conversion and the vector stage that follows need memory;
                # the engine's arena would sit on top of theirs.
                release_engines()
            tick = time.perf_counter()
            write_cog(raw, final_tmp)
            stages["cog"] = time.perf_counter() - tick
        finally:
            remove_quietly([raw])
    seconds = time.perf_counter() - started
    if is_temporary(target):  # the probabilities of 'run --out' alone: not an output
        log.info("%s: probabilities computed in %.1f s", final_name(target), seconds)
    else:
        log.info("wrote %s in %.1f s", target, seconds)
    return PredictionResult(
        path=target,
        width=grid.width,
        height=grid.height,
        crs=grid.crs,
        transform=grid.transform,
        gsd_m=grid.gsd_m,
        model_name=model_name,
        threshold=float(meta.threshold),
        blocks=blocks,
        tiles=layout.n_tiles,
        seconds=seconds,
        device=device_name,
        engine=engine_name,
        stages=stages,
    )
