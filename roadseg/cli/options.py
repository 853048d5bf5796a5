"""Options shared by several commands, defined once.

Each is a decorator, so a command lists the options it takes::

    @click.command()
    @overwrite_option
    @device_option
    def run(overwrite: bool, device: str) -> None: ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from roadseg.device import DEVICE_CHOICES

F = TypeVar("F", bound=Callable[..., Any])

overwrite_option = click.option(
    "--overwrite/--no-overwrite",
    default=False,
    show_default=True,
    help="Replace existing outputs. Without it an existing output is an error.",
)

device_option = click.option(
    "--device",
    type=click.Choice(DEVICE_CHOICES, case_sensitive=False),
    default="auto",
    show_default=True,
    help="Where the model runs: 'auto' uses the GPU when there is one.",
)

model_option = click.option(
    "--model",
    "model",
    default=None,
    metavar="NAME|PATH",
    help="Shipped weights by name (see 'roadseg models') or a .safetensors checkpoint. "
    "Default: chosen by device (GPU: resunet, CPU: the fast variant).",
)

scheduler_option = click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Address of an existing dask-distributed scheduler. Default: run locally.",
)


def verbosity_options(func: F) -> F:
    """Add ``-v/--verbose`` and ``-q/--quiet`` (counted) to a command or group."""
    func = click.option("-q", "--quiet", count=True, help="Less output (repeat for less still).")(
        func
    )
    func = click.option(
        "-v", "--verbose", count=True, help="More output; -v also shows tracebacks."
    )(func)
    return func


def parse_int_list(
    ctx: click.Context | None, param: click.Parameter | None, value: str | None
) -> tuple[int, ...] | None:
    """Click callback: ``"1,2,3"`` to ``(1, 2, 3)``."""
    if value is None or value == "":
        return None
    try:
        items = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a comma-separated list of integers, e.g. 1,2,3"
        ) from None
    if not items:
        raise click.BadParameter(f"{value!r} names no items")
    return items


progress_option = click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Show a progress bar."
)

threshold_option = click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=None,
    help="Road probability threshold for the vectors. Default: the model's.",
)


def inference_options(func: F) -> F:
    """Add the options of scene inference (bands, resolution, tiling, batching, engine, TTA).

    They arrive as keyword arguments named as in :func:`roadseg.pipeline.run_scene`.
    """
    from roadseg.inference.defaults import (
        DEFAULT_BLOCK_SIZE,
        DEFAULT_OVERLAP,
        DEFAULT_TILE_SIZE,
        ENGINE_CHOICES,
    )

    options = [
        click.option(
            "--bands",
            callback=parse_int_list,
            default=None,
            metavar="1,2,3",
            help="Bands fed to the model, 1-based, in model order. Default: the colour bands.",
        ),
        click.option(
            "--gsd",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            metavar="METRES",
            help="Scene resolution in metres per pixel, overriding the file's "
            "(required for plain images not at the model's resolution).",
        ),
        click.option(
            "--tile-size",
            type=click.IntRange(min=16),
            default=DEFAULT_TILE_SIZE,
            show_default=True,
            help="Largest tile side in pixels (tiles shrink to fit the scene).",
        ),
        click.option(
            "--overlap",
            type=click.IntRange(min=0),
            default=DEFAULT_OVERLAP,
            show_default=True,
            help="Pixels shared by neighbouring tiles and blended.",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=None,
            help="Tiles per forward pass (speed and memory only).  "
            "[default: 1 on a CPU, 8 on a GPU]",
        ),
        click.option(
            "--block-size",
            type=click.IntRange(min=1),
            default=DEFAULT_BLOCK_SIZE,
            show_default=True,
            help="Side of the blocks a scene is processed in, pixels (speed and memory only).",
        ),
        click.option(
            "--engine",
            type=click.Choice(ENGINE_CHOICES, case_sensitive=False),
            default="auto",
            show_default=True,
            help="What runs the model: 'onnx' (ONNX Runtime, CPU; exported once per "
            "checkpoint and cached), 'torch' (eager PyTorch), 'auto' (ONNX Runtime on a "
            "CPU when installed, else PyTorch).",
        ),
        click.option(
            "--tta/--no-tta",
            default=False,
            show_default=True,
            help="Average the predictions of the four flips of each tile.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


#: (option, keyword, default, help) of the centreline tuning options; the defaults are
#: those of ``roadseg.vector.VectorOptions`` (a test keeps them equal).
VECTOR_TUNING: tuple[tuple[str, str, float, str], ...] = (
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

#: Keyword names of the centreline tuning options.
VECTOR_TUNING_KEYS: tuple[str, ...] = tuple(name for _, name, _, _ in VECTOR_TUNING)


def vector_tuning_options(func: F) -> F:
    """Add the centreline tuning options; they arrive as keyword arguments of ``vectorize``."""
    for flag, name, default, help_text in reversed(VECTOR_TUNING):
        func = click.option(
            flag,
            name,
            type=click.FloatRange(min=0),
            default=default,
            show_default=True,
            help=help_text,
        )(func)
    return func


def pop_vector_tuning(options: dict[str, Any]) -> dict[str, Any]:
    """Remove the centreline tuning values from ``options`` and return them."""
    return {key: options.pop(key) for key in VECTOR_TUNING_KEYS if key in options}


def accept_verbosity(command: click.Command) -> click.Command:
    """Let ``command`` take ``-v``/``-q`` after its name too (``roadseg run x.tif -v``).

    They add to those given before the command; logging is configured again with the
    total. Applied once per command, by the group that loads it.
    """
    if getattr(command, "_roadseg_verbosity", False) or command.callback is None:
        return command
    callback = command.callback
    command.params.extend(
        [
            click.Option(
                ["-v", "--verbose"], count=True, help="More output; -v also shows tracebacks."
            ),
            click.Option(
                ["-q", "--quiet"], count=True, help="Less output (repeat for less still)."
            ),
        ]
    )

    @functools.wraps(callback)
    def wrapped(*args: Any, verbose: int = 0, quiet: int = 0, **kwargs: Any) -> Any:
        if verbose or quiet:
            from roadseg.log import configure_logging

            root = click.get_current_context().find_root()
            root.ensure_object(dict)
            root.obj["verbosity"] = root.obj.get("verbosity", 0) + verbose - quiet
            configure_logging(root.obj["verbosity"])
        return callback(*args, **kwargs)

    command.callback = wrapped
    command._roadseg_verbosity = True  # type: ignore[attr-defined]
    return command
