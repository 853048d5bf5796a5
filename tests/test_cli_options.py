"""Options shared by commands are defined once and reach the library unchanged."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from roadseg.cli.main import cli
from roadseg.cli.options import VECTOR_TUNING
from roadseg.vector import VectorOptions


def test_tuning_defaults_are_those_of_the_library() -> None:
    library = {f.name: f.default for f in dataclasses.fields(VectorOptions)}
    for _flag, name, default, _help in VECTOR_TUNING:
        assert library[name] == default, name


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record what the commands hand to the library (the CLI plumbing only)."""
    seen: list[dict[str, Any]] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        seen.append({"args": args, **kwargs})
        raise SystemExit(0)

    monkeypatch.setattr("roadseg.pipeline.run_scene", record)
    monkeypatch.setattr("roadseg.batch.run_batch", record)
    return seen


def test_run_passes_inference_and_tuning_options(tmp_path: Path, calls: list) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "s.tif",
            "--out",
            "r.gpkg",
            "--tile-size",
            "256",
            "--min-length",
            "40",
            "--bands",
            "3,2,1",
            "--tta",
        ],
    )
    assert result.exit_code == 0, result.output
    (call,) = calls
    assert call["tile_size"] == 256 and call["bands"] == (3, 2, 1) and call["tta"] is True
    assert call["vector_options"]["min_length_m"] == 40.0
    assert "min_length_m" not in call


def test_run_refuses_tuning_without_out(calls: list) -> None:
    result = CliRunner().invoke(cli, ["run", "s.tif", "--prob-out", "p.tif", "--gap", "0"])
    assert result.exit_code == 2 and "--gap tunes the road lines" in result.output
    assert not calls


def test_batch_passes_the_same_options(tmp_path: Path, calls: list, monkeypatch) -> None:
    monkeypatch.setattr("roadseg.batch.collect_scenes", lambda *a, **k: ["scene"])
    result = CliRunner().invoke(
        cli,
        [
            "batch",
            "x",
            "--out-dir",
            str(tmp_path),
            "--overlap",
            "48",
            "--spur-length",
            "4",
            "--threshold",
            "0.3",
        ],
    )
    assert result.exit_code == 0, result.output
    (call,) = calls
    options = call["run_options"]
    assert options["overlap"] == 48 and options["threshold"] == 0.3
    assert options["vector_options"]["spur_length_m"] == 4.0
