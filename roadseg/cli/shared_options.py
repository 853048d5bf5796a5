"""Options shared by several commands, defined once.

Each is a decorator, so a command lists the options it takes::

    @click.command()
    @overwrite_option
    @device_option
    def run(overwrite: bool, device: str) -> None: ...
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from roadseg.device import DEVICE_CHOICES

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

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


class SceneParam(click.ParamType):
    """A scene: a local file (must exist when ``exists``) or a URL (``https://``,
    ``http://``, ``s3://``, ``/vsicurl/``, ``/vsis3/``), kept as the string it is."""

    name = "scene"

    def __init__(self, *, exists: bool = False) -> None:
        self.exists = exists

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from roadseg.io.remote import is_remote

        if isinstance(value, Path) or not is_remote(str(value)):
            local = click.Path(exists=self.exists, dir_okay=False, path_type=Path)
            return local.convert(value, param, ctx)
        return str(value)


def _no_sign_request(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    # GDAL reads it from the environment, in this process and in the local workers it
    # starts; a remote scene's settings carry it to other workers.
    if value:
        os.environ["AWS_NO_SIGN_REQUEST"] = "YES"
    return value


aws_no_sign_request_option = click.option(
    "--aws-no-sign-request",
    is_flag=True,
    default=False,
    expose_value=False,
    callback=_no_sign_request,
    help="Read s3:// scenes of public buckets without credentials "
    "(sets AWS_NO_SIGN_REQUEST=YES for GDAL).",
)

threshold_option = click.option(
    "--threshold",
    # The library's check_threshold range, so a bad value is a usage error (exit 2).
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    metavar="P",
    help="Road probability threshold, strictly between 0 and 1. Default: the model's (in "
    "a probability raster, its ROADSEG_THRESHOLD tag), else 0.5.",
)


def field_defaults(cls: type) -> dict[str, Any]:
    """The default of each field of the dataclass ``cls``: the one source of the
    options' defaults."""
    return {f.name: f.default for f in dataclasses.fields(cls)}


def pop_options(cls: type[T], values: dict[str, Any]) -> T:
    """Remove the values of ``cls``'s fields from ``values``; ``cls`` made of them."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{name: values.pop(name) for name in list(values) if name in names})


def inference_options(func: F) -> F:
    """Add the options of scene inference (bands, resolution, tiling, batching, engine, TTA).

    They arrive as keyword arguments named as the fields of
    :class:`roadseg.inference.InferenceOptions` (see :func:`pop_options`), with its
    defaults.
    """
    from roadseg.inference.defaults import ENGINE_CHOICES
    from roadseg.inference.options import MIN_TILE_SIZE, InferenceOptions

    default = field_defaults(InferenceOptions)
    options = [
        click.option(
            "--bands",
            callback=parse_int_list,
            default=default["bands"],
            metavar="1,2,3",
            help="Bands fed to the model, 1-based, in model order. Default: the colour bands.",
        ),
        click.option(
            "--gsd",
            type=click.FloatRange(min=0, min_open=True),
            default=default["gsd"],
            metavar="METRES",
            help="Scene resolution in metres per pixel, overriding the file's "
            "(required for plain images not at the model's resolution).",
        ),
        click.option(
            "--tile-size",
            type=click.IntRange(min=MIN_TILE_SIZE),
            default=default["tile_size"],
            show_default=True,
            help="Largest tile side in pixels (tiles shrink to fit the scene).",
        ),
        click.option(
            "--overlap",
            type=click.IntRange(min=0),
            default=default["overlap"],
            show_default=True,
            help="Pixels shared by neighbouring tiles and blended.",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=default["batch_size"],
            help="Tiles per forward pass (speed and memory only).  "
            "[default: 1 on a CPU, 8 on a GPU]",
        ),
        click.option(
            "--block-size",
            type=click.IntRange(min=1),
            default=default["block_size"],
            show_default=True,
            help="Side of the blocks inference reads, predicts and writes a scene in, "
            "pixels (speed and memory only; the road lines' blocks are --vector-block-size).",
        ),
        click.option(
            "--engine",
            type=click.Choice(ENGINE_CHOICES, case_sensitive=False),
            default=default["engine"],
            show_default=True,
            help="What runs the model: 'onnx' (ONNX Runtime, CPU; exported once per "
            "checkpoint and cached), 'torch' (eager PyTorch), 'auto' (ONNX Runtime on a "
            "CPU when installed, else PyTorch).",
        ),
        click.option(
            "--tta/--no-tta",
            default=default["tta"],
            show_default=True,
            help="Average the predictions of the four flips of each tile.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


#: (option, field of ``roadseg.vector.VectorOptions``, help) of the road lines' options;
#: their defaults are the fields' own.
VECTOR_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--hysteresis", "hysteresis", "Low threshold as a fraction of the threshold (1 = off)."),
    ("--hole-area", "hole_area_m2", "Fill holes in the road mask smaller than this (m²)."),
    ("--min-length", "min_length_m", "Drop isolated networks shorter than this (m)."),
    ("--spur-length", "spur_length_m", "Prune dead-end branches shorter than this (m)."),
    ("--simplify", "simplify_m", "Douglas-Peucker tolerance (m); 0 keeps every vertex."),
    ("--gap", "gap_m", "Bridge breaks up to this long where probability allows (m); 0 = off."),
    ("--junction-merge", "junction_merge_m", "Merge junctions closer than this (m)."),
    (
        "--border",
        "border_m",
        "Continue roads ending this close to the raster's edge or no-data to it (m); 0 = off.",
    ),
    (
        "--vector-block-size",
        "vector_block_size",
        "Side of the blocks the road lines are extracted in, pixels; memory per task grows "
        "with its square (speed and memory only; not inference's --block-size).",
    ),
    (
        "--halo",
        "halo",
        "Pixels read around each of those blocks; more than the widest road in pixels.",
    ),
)

#: Option flag of each field of ``VectorOptions`` the commands take, for messages.
VECTOR_FLAGS: dict[str, str] = {name: flag for flag, name, _ in VECTOR_OPTIONS}


def vector_tuning_options(func: F) -> F:
    """Add the road lines' options; they arrive as keyword arguments named as the fields
    of :class:`roadseg.vector.VectorOptions` (see :func:`pop_options`), with its
    defaults."""
    from roadseg.vector.line_options import MIN_VECTOR_BLOCK_SIZE, VectorOptions

    default = field_defaults(VectorOptions)
    types = {
        "vector_block_size": click.IntRange(min=MIN_VECTOR_BLOCK_SIZE),
        "halo": click.IntRange(min=0),
    }
    for flag, name, help_text in reversed(VECTOR_OPTIONS):
        func = click.option(
            flag,
            name,
            type=types.get(name, click.FloatRange(min=0)),
            default=default[name],
            show_default=True,
            help=help_text,
        )(func)
    return func


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
        root = click.get_current_context().find_root()
        root.ensure_object(dict)
        if verbose or quiet:
            from roadseg.log import configure_logging

            root.obj["verbosity"] = root.obj.get("verbosity", 0) + verbose - quiet
            configure_logging(root.obj["verbosity"])
        if root.obj.get("verbosity", 0) < 0 and kwargs.get("progress"):
            kwargs["progress"] = False  # -q: no progress bar either
        return callback(*args, **kwargs)

    command.callback = wrapped
    command._roadseg_verbosity = True  # type: ignore[attr-defined]
    return command


def _names(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    """Click callback: ``"track,path"`` to ``("track", "path")``."""
    if value is None:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())


def reference_options(func: F) -> F:
    """Add the options of the comparison with a reference network (``--reference`` and
    its matching); :func:`pop_reference` turns them into the library's values."""
    from roadseg.vector.conflate import ConflateOptions

    default = field_defaults(ConflateOptions)
    options = [
        click.option(
            "--reference",
            type=click.Path(path_type=Path, dir_okay=False),
            default=None,
            metavar="REF",
            help="A reference road network: an OpenStreetMap extract (.osm.pbf, .osm, "
            ".osm.bz2) or any line layer GDAL reads. Roads it lacks go to a "
            "'missing_roads' layer.",
        ),
        click.option(
            "--reference-layer", default=None, help="The reference's line layer, if it has several."
        ),
        click.option(
            "--highway-keep",
            callback=_names,
            default=None,
            metavar="CLASS,...",
            help="Keep only these highway=* classes of the reference.",
        ),
        click.option(
            "--highway-drop",
            callback=_names,
            default=None,
            metavar="CLASS,...",
            help="Drop these highway=* classes (default: proposed, construction, abandoned, "
            "steps, platforms and the like).",
        ),
        click.option(
            "--match-tolerance",
            "tolerance_m",
            type=click.FloatRange(min=0, min_open=True),
            default=default["tolerance_m"],
            show_default=True,
            help="Metres: a reference road this close, in the same direction, is the same road.",
        ),
        click.option(
            "--match-angle",
            "max_angle_deg",
            type=click.FloatRange(min=0, max=90, min_open=True),
            default=default["max_angle_deg"],
            show_default=True,
            help="Degrees: the largest difference of direction of matched roads.",
        ),
        click.option(
            "--missing-min-length",
            "min_missing_m",
            type=click.FloatRange(min=0, min_open=True),
            default=default["min_missing_m"],
            show_default=True,
            help="Metres: the shortest unmatched stretch reported missing.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def pop_reference(values: dict[str, Any]) -> tuple[Any, Any]:
    """Remove :func:`reference_options`' values from ``values``; the
    :class:`~roadseg.vector.reference.ReferenceSpec` (``None`` without ``--reference``)
    and the :class:`~roadseg.vector.conflate.ConflateOptions`."""
    from roadseg.vector.conflate import ConflateOptions
    from roadseg.vector.reference import DEFAULT_DROP, ReferenceSpec

    options = pop_options(ConflateOptions, values)
    path = values.pop("reference")
    layer = values.pop("reference_layer")
    keep, drop = values.pop("highway_keep"), values.pop("highway_drop")
    if path is None:
        if layer is not None or keep is not None or drop is not None:
            raise click.UsageError("--reference-layer and --highway-* need --reference REF")
        return None, options
    if keep is not None and drop is not None:
        raise click.UsageError("give --highway-keep or --highway-drop, not both")
    spec = ReferenceSpec(Path(path), layer, keep or (), DEFAULT_DROP if drop is None else drop)
    return spec, options
