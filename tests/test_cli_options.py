"""Options shared by commands are defined once and reach the library unchanged."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from roadseg.cli.main import cli
from roadseg.cli.shared_options import VECTOR_OPTIONS
from roadseg.inference import InferenceOptions
from roadseg.vector import VectorOptions


@pytest.mark.parametrize("name", ["run", "batch", "vectorize"])
def test_tuning_defaults_are_those_of_the_library(name: str) -> None:
    library = {
        f.name: f.default
        for cls in (InferenceOptions, VectorOptions)
        for f in dataclasses.fields(cls)
        if f.name not in ("model", "device")  # shared with other commands
    }
    command = cli.get_command(None, name)  # type: ignore[arg-type]
    given = {p.name: p.default for p in command.params if p.name in library}
    assert given and all(library[key] == value for key, value in given.items()), given
    if name != "vectorize":
        assert set(given) == set(library) - {"gap_min_prob"}
    for _flag, field, _help in VECTOR_OPTIONS:
        assert field in library, field


def test_block_sizes_are_two_options_with_two_names() -> None:
    command = cli.get_command(None, "run")  # type: ignore[arg-type]
    flags = {p.name: p.opts for p in command.params}
    assert flags["block_size"] == ["--block-size"]
    assert flags["vector_block_size"] == ["--vector-block-size"]


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
    inference = call["inference"]
    assert inference.tile_size == 256 and inference.bands == (3, 2, 1) and inference.tta is True
    assert call["vector"].min_length_m == 40.0
    assert "min_length_m" not in call and "tile_size" not in call


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
            "--stall-timeout",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    (call,) = calls
    assert call["inference"].overlap == 48 and call["threshold"] == 0.3
    assert call["vector"].spur_length_m == 4.0
    assert call["stall_timeout"] == 30.0


def test_batch_refuses_a_stall_timeout_that_is_not_positive(tmp_path: Path, calls: list) -> None:
    result = CliRunner().invoke(
        cli, ["batch", "x", "--out-dir", str(tmp_path), "--stall-timeout", "0"]
    )
    assert result.exit_code == 2 and "--stall-timeout" in result.output
    assert not calls
