"""``roadseg batch`` end to end with the real ``run_scene`` on tiny scenes and a tiny model.

Each scene goes through the whole pipeline (probabilities and road vectors) in freshly
started worker processes, so most of these are marked slow; the same behaviours are
checked quickly with a light scene processor in ``test_batch.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from batch_helpers import TESTS_DIR, KillDuringRunScene, write_scene
from click.testing import CliRunner

from roadseg.batch import RunRecord, collect_scenes, run_batch
from roadseg.cli.main import cli
from roadseg.inference import InferenceOptions

SIZE = 96


@pytest.fixture
def scene_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        write_scene(folder / f"s{i}.tif", seed=i, size=SIZE)
    return folder


def _done(out_dir: Path) -> Counter:
    return Counter(e.scene for e in RunRecord(out_dir) if e.status == "done")


def _prob(path: Path) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as src:
        return src.read(1), {"crs": src.crs, "transform": src.transform, **src.tags()}


@pytest.mark.slow
def test_scheduler_with_two_worker_processes_gives_the_local_outputs(
    scene_dir, tmp_path, tiny_model, process_cluster
):
    (scene_dir / "corrupt.tif").write_bytes(b"II*\x00" + os.urandom(200))
    common = [
        str(scene_dir),
        "--model",
        str(tiny_model),
        "--prob-cog",
        "--no-progress",
        "--tile-size",
        "64",
        "--overlap",
        "8",
        "--device",
        "cpu",
    ]
    remote = CliRunner().invoke(
        cli,
        [
            "batch",
            *common,
            "--out-dir",
            str(tmp_path / "remote"),
            "--scheduler",
            process_cluster.scheduler_address,
        ],
    )
    local = CliRunner().invoke(
        cli, ["batch", *common, "--out-dir", str(tmp_path / "local"), "--workers", "1"]
    )
    for result in (remote, local):
        assert result.exit_code == 1, result.output  # the corrupt scene
        assert "4 scenes: 3 done, 0 skipped, 1 failed" in result.output
    failed = [e for e in RunRecord(tmp_path / "remote") if e.status == "failed"]
    assert [e.scene for e in failed] == ["corrupt"] and failed[0].attempt == 1
    assert failed[0].error.startswith("InvalidInputError: ") and "corrupt.tif" in failed[0].error
    workers = {e.worker for e in RunRecord(tmp_path / "remote") if e.status == "done"}
    assert workers <= set(process_cluster.scheduler_info["workers"])
    for i in range(3):
        a, tags_a = _prob(tmp_path / "remote" / f"s{i}.prob.tif")
        b, tags_b = _prob(tmp_path / "local" / f"s{i}.prob.tif")
        assert a.shape == (SIZE, SIZE) and len(np.unique(a)) > 0
        np.testing.assert_array_equal(a, b)
        assert tags_a == tags_b
        ga = gpd.read_file(tmp_path / "remote" / f"s{i}.gpkg", layer="roads")
        gb = gpd.read_file(tmp_path / "local" / f"s{i}.gpkg", layer="roads")
        assert len(ga) == len(gb) and ga.geometry.geom_equals(gb.geometry).all()


@pytest.mark.slow
def test_a_worker_killed_inside_run_scene_loses_and_corrupts_nothing(
    scene_dir, tmp_path, tiny_model, process_cluster
):
    out = tmp_path / "out"
    summary = run_batch(
        collect_scenes([str(scene_dir)]),
        out,
        inference=InferenceOptions(model=str(tiny_model), device="cpu", tile_size=64, overlap=8),
        prob_cog=True,
        scheduler=process_cluster.scheduler_address,
        process=KillDuringRunScene(scene="s1", marker_dir=str(tmp_path)),
    )
    assert (tmp_path / "killed-s1").exists()
    assert summary.ok and summary.n_done == 3
    assert _done(out) == Counter({"s0": 1, "s1": 1, "s2": 1})
    assert not list(out.glob(".*partial*"))
    reference = tmp_path / "reference"
    run_batch(
        collect_scenes([str(scene_dir / "s1.tif")]),
        reference,
        inference=InferenceOptions(model=str(tiny_model), device="cpu", tile_size=64, overlap=8),
        prob_cog=True,
        scheduler=process_cluster.scheduler_address,
    )
    np.testing.assert_array_equal(
        _prob(out / "s1.prob.tif")[0], _prob(reference / "s1.prob.tif")[0]
    )


@pytest.mark.slow
def test_a_killed_batch_process_resumes_where_it_stopped(scene_dir, tmp_path, tiny_model):
    for i in range(3, 4):
        write_scene(scene_dir / f"s{i}.tif", seed=i, size=SIZE)
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "roadseg",
        "batch",
        str(scene_dir),
        "--out-dir",
        str(out),
        "--model",
        str(tiny_model),
        "--prob-cog",
        "--workers",
        "1",
        "--device",
        "cpu",
        "--tile-size",
        "64",
        "--overlap",
        "8",
        "--no-progress",
    ]
    env = dict(os.environ, PYTHONPATH=str(TESTS_DIR.parent))
    proc = subprocess.Popen(
        args,
        cwd=TESTS_DIR.parent,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while sum(_done(out).values()) < 1:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the batch did not finish a scene in time"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the batch and its local cluster
        proc.wait()
    before = set(_done(out))
    assert 1 <= len(before) < 4, before
    assert (out / ".roadseg-batch.lock").exists()
    rerun = subprocess.run(
        [a for a in args if a != "--no-progress"],
        cwd=TESTS_DIR.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    final_rows = {
        line.split()[0]: line.split()[1]
        for line in rerun.stdout.splitlines()
        if line.startswith("s") and len(line.split()) > 1
    }
    assert {s for s, st in final_rows.items() if st == "skipped"} == before
    assert {s for s, st in final_rows.items() if st == "done"} == {
        f"s{i}" for i in range(4)
    } - before
    assert _done(out) == Counter({f"s{i}": 1 for i in range(4)})
    for i in range(4):
        assert _prob(out / f"s{i}.prob.tif")[0].shape == (SIZE, SIZE)
    assert not list(out.glob(".*partial*")) and not (out / ".roadseg-batch.lock").exists()


def test_spread_blocks_gives_the_same_rasters_as_one_scene_per_worker(
    scene_dir, tmp_path, tiny_model, process_cluster
):
    common = dict(
        inference=InferenceOptions(
            model=str(tiny_model), device="cpu", tile_size=64, overlap=8, block_size=48
        ),
        prob_cog=True,
        scheduler=process_cluster.scheduler_address,
    )
    scenes = collect_scenes([str(scene_dir / "s0.tif"), str(scene_dir / "s2.tif")])
    spread = run_batch(scenes, tmp_path / "spread", spread_blocks=True, **common)
    per_scene = run_batch(scenes, tmp_path / "per-scene", **common)
    assert spread.n_done == per_scene.n_done == 2
    for name in ("s0", "s2"):
        np.testing.assert_array_equal(
            _prob(tmp_path / "spread" / f"{name}.prob.tif")[0],
            _prob(tmp_path / "per-scene" / f"{name}.prob.tif")[0],
        )
