"""Options shared by several commands, defined once.

Each is a decorator, so a command lists the options it takes::

    @click.command()
    @overwrite_option
    @device_option
    def run(overwrite: bool, device: str) -> None: ...
"""

from __future__ import annotations

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
