"""Nothing left behind, nothing sent: ``roadseg run`` and ``roadseg batch`` (with a
failing scene) leave an empty temporary folder empty, and a local run opens no network
connection at all."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from batch_helpers import write_scene, write_tiny_checkpoint

ROADSEG = str(Path(sys.executable).with_name("roadseg"))


def _environment(tmpdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY",)}
    env.update(TMPDIR=str(tmpdir), OMP_NUM_THREADS="1")
    return env


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    write_scene(folder / "a.tif", seed=1)
    (folder / "b.tif").write_text("not a raster")
    model = write_tiny_checkpoint(tmp_path / "tiny.safetensors")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return folder, model, scratch


def test_run_and_a_failing_batch_leave_the_temporary_folder_empty(
    inputs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    folder, model, scratch = inputs
    env = _environment(scratch)
    run = [ROADSEG, "-q", "run", str(folder / "a.tif"), "--out", str(tmp_path / "r.gpkg")]
    done = subprocess.run([*run, "--model", str(model)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(scratch)) == []  # no .ses from ONNX Runtime's telemetry
    batch = [ROADSEG, "-q", "batch", str(folder), "--out-dir", str(tmp_path / "out")]
    batch += ["--model", str(model), "--workers", "1", "--retries", "0"]
    failed = subprocess.run(batch, env=env, capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1 and "1 of 2 scenes failed" in failed.stderr, failed.stderr
    assert sorted(os.listdir(scratch)) == []  # no dask-scratch-space either


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_a_local_run_opens_no_network_connection(
    inputs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    folder, model, scratch = inputs
    trace = tmp_path / "connect.txt"
    command = ["strace", "-f", "-e", "trace=connect", "-o", str(trace), ROADSEG, "-q", "run"]
    command += [str(folder / "a.tif"), "--out", str(tmp_path / "r.gpkg"), "--model", str(model)]
    done = subprocess.run(command, env=_environment(scratch), capture_output=True, text=True)
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    calls = [line for line in trace.read_text().splitlines() if "connect(" in line]
    network = [line for line in calls if not re.search(r"sa_family=AF_UNIX", line)]
    assert network == [], network
