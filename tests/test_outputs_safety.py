"""Outputs never destroy inputs, never clobber, and leave nothing behind when killed."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from inference_helpers import local_checkpoint, textured, write_scene

from roadseg.cli.main import cli
from roadseg.errors import InvalidParameterError, OutputExistsError, OutputIsInputError
from roadseg.io import atomic
from roadseg.io.atomic import (
    OutputFormat,
    atomic_output,
    check_outputs,
    clear_stale,
    final_name,
    parse_temporary,
    publish,
    temporary_sibling,
)

FAST = ["--device", "cpu", "--no-progress", "--tile-size", "64", "--overlap", "16"]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    local_checkpoint(tmp_path / "m.safetensors")
    write_scene(tmp_path / "scene.tif", textured(90, 120))
    return tmp_path


def _invoke(workdir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["run", *args, "--model", str(workdir / "m.safetensors"), *FAST]
    )
    return result.exit_code, result.output


@pytest.mark.parametrize("flag", ["--prob-out", "--out", "--preview"])
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_an_output_that_is_the_scene_is_refused(
    workdir: Path, flag: str, overwrite: list[str]
) -> None:
    scene = workdir / "scene.tif"
    before = scene.read_bytes()
    extra = ["--out", str(workdir / "r.gpkg")] if flag == "--preview" else []
    code, output = _invoke(workdir, str(scene), flag, str(scene), *extra, *overwrite)
    assert code != 0
    assert "is the input" in output and "Traceback" not in output, output
    assert scene.read_bytes() == before
    assert sorted(p.name for p in workdir.iterdir()) == ["m.safetensors", "scene.tif"]


def test_an_output_that_is_the_scene_by_another_path_or_a_link(workdir: Path) -> None:
    (workdir / "sub").mkdir()
    os.link(workdir / "scene.tif", workdir / "same.tif")
    for target in (workdir / "sub" / ".." / "scene.tif", workdir / "same.tif"):
        with pytest.raises(OutputIsInputError):
            atomic.check_not_input(target, [workdir / "scene.tif"])


def test_check_outputs_is_the_one_check_of_a_calls_outputs(tmp_path: Path) -> None:
    gpkg, png = OutputFormat((".gpkg",), "a GeoPackage"), OutputFormat((".png",), "a PNG image")
    scene = tmp_path / "scene.tif"
    scene.write_bytes(b"x")
    given = {"out": (tmp_path / "r.gpkg", gpkg), "preview": (None, png)}
    assert check_outputs(given, [scene, None], False) == {"out": tmp_path / "r.gpkg"}
    with pytest.raises(OutputIsInputError):
        check_outputs({"out": (scene, gpkg)}, [scene], True)
    with pytest.raises(InvalidParameterError, match=r"given as both out=\.\.\. and preview="):
        check_outputs(
            {"out": (tmp_path / "a.png", gpkg), "preview": (tmp_path / "a.png", png)}, [], True
        )
    with pytest.raises(InvalidParameterError, match=r"name the file r\.png"):
        check_outputs({"preview": (tmp_path / "r.jpg", png)}, [], False)
    (tmp_path / "old.gpkg").write_bytes(b"x")
    with pytest.raises(OutputExistsError):
        check_outputs({"out": (tmp_path / "old.gpkg", gpkg)}, [scene], False)
    assert check_outputs({"out": (tmp_path / "old.gpkg", gpkg)}, [scene], True)


def test_temporary_names_never_nest_and_name_their_output(tmp_path: Path) -> None:
    target = tmp_path / "roads.gpkg"
    tmp = temporary_sibling(target, role="prob", suffix=".tif")
    again = temporary_sibling(tmp, role="raw")
    for name in (tmp, again):
        parsed = parse_temporary(name)
        assert parsed is not None and parsed.final_name == "roads.gpkg"
        assert name.name.count("partial") == 1
        assert final_name(name) == "roads.gpkg"
    assert again.suffix == ".tif" and tmp.name.startswith(".")
    assert parse_temporary(tmp_path / "roads.gpkg") is None


def test_leftovers_of_dead_writers_are_removed_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    live = temporary_sibling(tmp_path / "roads.gpkg")
    stale = live.with_name(live.name.replace(f"-{os.getpid()}-", f"-{dead_pid}-"))
    other = temporary_sibling(tmp_path / "other.gpkg")
    other_stale = other.with_name(other.name.replace(f"-{os.getpid()}-", f"-{dead_pid}-"))
    for p in (live, stale, other_stale):
        p.write_bytes(b"")
    assert clear_stale(tmp_path, "roads.gpkg") == ["roads.gpkg"]
    assert live.exists() and not stale.exists() and other_stale.exists()
    assert clear_stale(tmp_path) == ["other.gpkg"]


def test_publish_without_overwrite_never_replaces_a_file_that_appeared(tmp_path: Path) -> None:
    target = tmp_path / "roads.gpkg"
    tmp = temporary_sibling(target)
    tmp.write_bytes(b"mine")
    target.write_bytes(b"the other run's")  # another run published first
    with pytest.raises(OutputExistsError):
        publish(tmp, target, overwrite=False)
    assert target.read_bytes() == b"the other run's"


def test_two_runs_racing_for_one_output_one_wins_one_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    first = atomic_output(target)
    second = atomic_output(target)
    tmp1, tmp2 = first.__enter__(), second.__enter__()  # both checked: no file yet
    tmp1.write_text("one")
    tmp2.write_text("two")
    first.__exit__(None, None, None)
    with pytest.raises(OutputExistsError):
        second.__exit__(None, None, None)
    assert target.read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_outputs_get_the_usual_mode_not_0600(tmp_path: Path) -> None:
    from roadseg.models import ModelMetadata, build, save_checkpoint

    model = build("resunet", in_channels=3, base_channels=4)
    meta = ModelMetadata("resunet", {"in_channels": 3, "base_channels": 4}, gsd_m=1.0)
    path = save_checkpoint(model, meta, tmp_path / "c.safetensors")
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o666 & ~atomic._UMASK
    assert mode & stat.S_IRGRP or atomic._UMASK & 0o040


# -- killed runs ---------------------------------------------------------------------


def _command(folder: Path) -> list[str]:
    return [
        sys.executable, "-m", "roadseg", "run", "big.tif", "--out", "roads.gpkg",
        "--model", "m.safetensors", "--device", "cpu", "--no-progress",
        "--tile-size", "128", "--overlap", "16", "--block-size", "256",
    ]  # fmt: skip


def _start_and_wait_for_a_temporary(folder: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        _command(folder), cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    for _ in range(1200):  # polls; never a timing assertion
        if any(parse_temporary(p) for p in folder.iterdir()) or proc.poll() is not None:
            break
        time.sleep(0.05)
    return proc


@pytest.fixture
def big(tmp_path: Path) -> Path:
    local_checkpoint(tmp_path / "m.safetensors")
    write_scene(tmp_path / "big.tif", textured(1200, 1200))
    return tmp_path


def test_sigterm_is_handled_like_ctrl_c(big: Path) -> None:
    proc = _start_and_wait_for_a_temporary(big)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be signalled")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert b"Traceback" not in err and b"Aborted: terminated" in err
    assert sorted(p.name for p in big.iterdir()) == ["big.tif", "m.safetensors"]


def test_a_run_killed_with_sigkill_then_rerun_leaves_nothing_behind(big: Path) -> None:
    proc = _start_and_wait_for_a_temporary(big)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    proc.kill()
    proc.wait(timeout=60)
    assert any(parse_temporary(p) for p in big.iterdir())  # what SIGKILL leaves
    again = subprocess.run(_command(big), cwd=big, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "removed what an interrupted run left of roads.gpkg" in again.stderr
    assert ".partial" not in again.stderr  # logs never show temporary names
    assert sorted(p.name for p in big.iterdir()) == ["big.tif", "m.safetensors", "roads.gpkg"]


def test_a_read_only_output_folder_is_one_clear_line(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests may run as root, for whom chmod does not stop writes: fake the answer.
    monkeypatch.setattr(atomic, "folder_writable", lambda folder: False)
    code, output = _invoke(workdir, str(workdir / "scene.tif"), "--out", str(workdir / "r.gpkg"))
    assert code == 1 and output.count("\n") == 1, output
    assert output.startswith("Error: ") and "is not writable" in output


def test_a_gdal_failure_while_writing_names_the_output_not_a_temporary(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasterio._err import CPLE_OpenFailedError

    from roadseg.inference import writer

    def refuse(self: writer.ProbabilityWriter) -> None:
        raise CPLE_OpenFailedError(
            3, 4, f"Attempt to create new tiff file '{self.path}' failed: Permission denied"
        )

    monkeypatch.setattr(writer.ProbabilityWriter, "_open", refuse)
    code, output = _invoke(
        workdir, str(workdir / "scene.tif"), "--prob-out", str(workdir / "p.tif")
    )
    assert code == 1 and output.count("\n") == 1, output
    assert "p.tif: could not be written" in output and "writable" in output
    assert ".partial" not in output and "Traceback" not in output
    assert sorted(p.name for p in workdir.iterdir()) == ["m.safetensors", "scene.tif"]
