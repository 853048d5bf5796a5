"""The CLI skeleton: help, version, models, error reporting."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from roadseg import __version__
from roadseg.cli.main import COMMANDS, cli
from roadseg.errors import InvalidInputError


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_models_lists_architectures_with_parameter_counts() -> None:
    result = CliRunner().invoke(cli, ["models"])
    assert result.exit_code == 0, result.output
    assert "ResUNet " in result.output
    assert "8.22 M parameters" in result.output
    assert "ResUNetPlusPlus" in result.output
    assert "Shipped weights" in result.output


def _failing_command() -> click.Command:
    @click.command("fail")
    def fail() -> None:
        raise InvalidInputError("scene.tif: not a raster")

    return fail


def test_library_errors_are_one_line_without_traceback(monkeypatch) -> None:
    monkeypatch.setitem(COMMANDS, "fail", "tests.test_cli:_FAIL")
    result = CliRunner().invoke(cli, ["fail"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: scene.tif: not a raster"
    assert "Traceback" not in result.output


def test_verbose_shows_the_traceback(monkeypatch) -> None:
    monkeypatch.setitem(COMMANDS, "fail", "tests.test_cli:_FAIL")
    result = CliRunner().invoke(cli, ["-v", "fail"])
    assert result.exit_code != 0
    assert isinstance(result.exception, InvalidInputError)


def test_console_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "roadseg", "--version"], capture_output=True, text=True, check=True
    )
    assert __version__ in out.stdout


_FAIL = _failing_command()
