"""The ``roadseg`` click group.

Subcommands live in their own modules and are imported only when used, so
``roadseg --help`` stays quick. Library errors become one-line click errors here, at
the edge, and nowhere else, with the parameters they name written as the command's
flags (:mod:`roadseg.cli.messages`).
"""

from __future__ import annotations

import importlib
import signal
import sys
from typing import Any

import click

from roadseg import __version__
from roadseg.cli.messages import to_cli
from roadseg.cli.shared_options import accept_verbosity, verbosity_options
from roadseg.errors import RoadsegError
from roadseg.log import configure_logging, json_line, json_lines_enabled

# name -> "module:attribute"; a new command adds one line here.
COMMANDS: dict[str, str] = {
    "batch": "roadseg.cli.batch:batch",
    "conflate": "roadseg.cli.conflate:conflate",
    "evaluate": "roadseg.cli.evaluate:evaluate",
    "export": "roadseg.cli.export:export",
    "models": "roadseg.cli.models:models",
    "run": "roadseg.cli.run:run",
    "train": "roadseg.cli.train:train",
    "vectorize": "roadseg.cli.vectorize:vectorize",
}


class RoadsegGroup(click.Group):
    """A group that loads subcommands lazily and reports library errors as one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return accept_verbosity(getattr(importlib.import_module(module_name), attr))

    def invoke(self, ctx: click.Context) -> Any:
        previous = _handle_sigterm()
        try:
            return super().invoke(ctx)
        except RoadsegError as exc:
            if ctx.obj and ctx.obj.get("verbosity", 0) > 0:
                raise
            # The library names its parameters; the user typed the command's flags.
            name = ctx.invoked_subcommand
            command = self.get_command(ctx, name) if name else None
            message = to_cli(str(exc), command)
            if json_lines_enabled():
                click.echo(json_line("error", message=message, kind=type(exc).__name__), err=True)
            raise click.ClickException(message) from None
        except Terminated:
            click.echo("Aborted: terminated (SIGTERM); no partial output was kept.", err=True)
            sys.exit(128 + signal.SIGTERM)
        except KeyboardInterrupt:
            click.echo("Aborted: interrupted; no partial output was kept.", err=True)
            sys.exit(130)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it unwinds like Ctrl-C: every
    ``finally`` runs and temporary outputs are removed."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


def _handle_sigterm() -> Any:
    """Make SIGTERM (systemd, kill) behave like Ctrl-C; return the previous handler."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None  # signals can only be handled in the main thread
    if hasattr(signal, "SIGBREAK"):  # Windows: what a parent's CTRL_BREAK_EVENT raises
        signal.signal(signal.SIGBREAK, _raise_terminated)
    return signal.signal(signal.SIGTERM, _raise_terminated)


@click.group(cls=RoadsegGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="roadseg")
@verbosity_options
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="'json': messages, progress and errors as one JSON object a line on standard "
    "error, for programs that run roadseg (see docs/qgis.md).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int, log_format: str) -> None:
    """Extract road networks from aerial and satellite GeoTIFFs.

    \b
    Typical use:
      roadseg run scene.tif --out roads.gpkg
      roadseg models
    """
    verbosity = verbose - quiet
    ctx.ensure_object(dict)
    ctx.obj["verbosity"] = verbosity
    configure_logging(verbosity, json_lines=log_format == "json")
