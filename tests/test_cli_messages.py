"""What the commands say: -v/-q anywhere, -o everywhere, plurals, no leaked warnings;
and the scripts and docs a new user follows."""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import subprocess
import warnings
from pathlib import Path

import click
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from inference_helpers import local_checkpoint, textured, write_scene

from roadseg.cli.main import COMMANDS, cli
from roadseg.cli.messages import to_cli
from roadseg.errors import InputNotFoundError
from roadseg.log import plural

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--device", "cpu", "--no-progress", "--tile-size", "64", "--overlap", "16"]


def test_verbosity_after_the_subcommand() -> None:
    result = CliRunner().invoke(cli, ["run", "nope.tif", "--prob-out", "p.tif", "-v"])
    assert isinstance(result.exception, InputNotFoundError)  # -v: the traceback
    result = CliRunner().invoke(cli, ["run", "nope.tif", "--prob-out", "p.tif", "-qq"])
    assert result.exit_code == 1 and "no such file" in result.output
    assert logging.getLogger("roadseg").level == logging.ERROR
    result = CliRunner().invoke(cli, ["-q", "models", "-v"])  # -q then -v: back to 0
    assert result.exit_code == 0, result.output
    assert logging.getLogger("roadseg").level == logging.INFO


@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"models"}))
def test_every_command_that_writes_takes_o(name: str) -> None:
    command = cli.get_command(None, name)  # type: ignore[arg-type]
    opts = {o for p in command.params for o in getattr(p, "opts", [])}
    assert "-o" in opts and {"-v", "-q"} <= opts


def test_plural() -> None:
    assert [plural(n, "road") for n in (0, 1, 2)] == ["0 roads", "1 road", "2 roads"]
    assert plural(1, "scene") == "1 scene"


def test_one_road_is_said_in_the_singular(tmp_path: Path) -> None:
    data = np.zeros((1, 80, 80), dtype=np.uint8)
    data[0, 38:43, 5:75] = 255
    raster = tmp_path / "line.tif"
    with rasterio.open(
        raster,
        "w",
        driver="GTiff",
        width=80,
        height=80,
        count=1,
        dtype="uint8",
        crs="EPSG:32633",
        transform=rasterio.Affine(1, 0, 500000, 0, -1, 4100000),
    ) as dst:
        dst.write(data)
    result = CliRunner().invoke(cli, ["vectorize", str(raster), "-o", str(tmp_path / "r.gpkg")])
    assert result.exit_code == 0, result.output
    assert ": 1 road, 0 junctions," in result.output


def test_a_plain_image_run_leaks_no_third_party_warning(tmp_path: Path) -> None:
    model = local_checkpoint(tmp_path / "m.safetensors")
    image = tmp_path / "plain.png"
    with rasterio.open(image, "w", driver="PNG", width=96, height=96, count=3, dtype="uint8") as d:
        d.write(textured(96, 96))
    args = ["run", str(image), "-o", str(tmp_path / "r.gpkg"), "--model", str(model), *FAST]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    leaked = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert not [m for m in leaked if "Georeferenc" in m or "crs" in m.lower()], leaked


def test_demo_resolves_the_scene_from_the_callers_folder(tmp_path: Path) -> None:
    """demo.sh, run from another folder with a relative scene, passes the right file."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "demo.sh", repo / "scripts" / "demo.sh")
    (repo / "scripts" / "bootstrap.sh").write_text("true\n")
    fake = repo / ".venv" / "bin" / "roadseg"
    fake.parent.mkdir(parents=True)
    fake.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/calls"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    write_scene(elsewhere / "mine.tif", textured(8, 8))
    done = subprocess.run(
        ["bash", str(repo / "scripts" / "demo.sh"), "mine.tif"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": os.environ.get("PATH", "")},
    )
    assert done.returncode == 0, done.stderr
    run_call = [c for c in (tmp_path / "calls").read_text().splitlines() if c.startswith("run")]
    assert run_call and run_call[0].split()[1] == str(elsewhere / "mine.tif")
    missing = subprocess.run(
        ["bash", str(repo / "scripts" / "demo.sh"), "nope.tif"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "nope.tif: no such file" in missing.stderr


def test_the_batch_python_example_has_the_main_guard() -> None:
    text = (ROOT / "docs" / "batch.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None
    code = block[1]
    assert 'if __name__ == "__main__":' in code
    assert code.index("__main__") < code.index("run_batch(")


@pytest.mark.realdata
def test_readme_training_examples_name_folders_that_exist(shared_data: Path) -> None:
    text = (ROOT / "README.md").read_text()
    paths = re.findall(r"\$DATA/([\w./-]+)", text)
    assert len(paths) >= 4
    for rel in paths:
        assert (shared_data / rel).exists(), rel
    stems = re.findall(r"val=(\w+)", text)
    for stem in stems:
        assert list(shared_data.rglob(f"*{stem}*")), stem


def _command() -> click.Command:
    @click.command()
    @click.option("-o", "--out")
    @click.option("--tile-size", type=int)
    @click.option("--overwrite/--no-overwrite")
    @click.option("--bands")
    @click.option("--device")
    @click.option("--scheduler")
    @click.option("--hole-area", "hole_area_m2", type=float)
    def command(**kwargs: object) -> None:
        """A command with some of roadseg's options."""

    return command


@pytest.mark.parametrize(
    ("library", "cli"),
    [
        ("tile_size=8: must be an integer >= 16", "--tile-size 8: must be an integer >= 16"),
        ("x: pass overwrite=True to replace it", "x: pass --overwrite to replace it"),
        ("x: given as both out=... and preview=...", "x: given as both --out and preview=..."),
        ("bands=(1, 2): names 2 band(s)", "--bands 1,2: names 2 band(s)"),
        ("device='cuda': no GPU; use device='cpu'", "--device cuda: no GPU; use --device cpu"),
        ("scheduler=tcp://h:8786 is gone", "--scheduler tcp://h:8786 is gone"),
        ("hole_area_m2=-1.0: must be >= 0", "--hole-area -1.0: must be >= 0"),
        ("a spec pairs:/x,gsd=1 and GPU=1", "a spec pairs:/x,gsd=1 and GPU=1"),
    ],
)
def test_the_cli_writes_the_parameters_of_a_command_as_its_flags(library: str, cli: str) -> None:
    assert to_cli(library, _command()) == cli
    assert to_cli(library, None) == library


@pytest.mark.parametrize("quiet", [[], ["-q"]])
def test_quiet_turns_the_progress_bar_off(tmp_path: Path, quiet: list[str]) -> None:
    scene = write_scene(tmp_path / "s.tif", textured(96, 96))
    model = local_checkpoint(tmp_path / "m.safetensors")
    args = ["run", str(scene), "--prob-out", str(tmp_path / "p.tif"), "--model", str(model)]
    args += ["--device", "cpu", "--tile-size", "64", "--overlap", "16", *quiet]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    shown = "roadseg run:" in result.stderr
    assert shown is not bool(quiet)


@pytest.mark.parametrize("value", ["1.5", "0", "1", "-0.1"])
def test_a_threshold_out_of_range_is_a_usage_error(tmp_path: Path, value: str) -> None:
    scene = write_scene(tmp_path / "s.tif", textured(32, 32))
    args = ["run", str(scene), "--out", str(tmp_path / "r.gpkg"), "--threshold", value]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "--threshold" in result.output, result.output
    assert not (tmp_path / "r.gpkg").exists()
