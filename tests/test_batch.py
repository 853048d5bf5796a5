"""run_batch and ``roadseg batch``: resumable, idempotent, fault-tolerant, on dask clusters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from batch_helpers import TESTS_DIR, BrightnessProcessor, write_scene
from click.testing import CliRunner

import roadseg.batch.driver as runner
from roadseg.batch import BatchLock, BatchLockedError, RunRecord, collect_scenes, run_batch
from roadseg.batch.fingerprint import file_sha256
from roadseg.cli.main import cli
from roadseg.inference import InferenceOptions

N_SCENES = 4


@pytest.fixture
def scene_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(N_SCENES):
        write_scene(folder / f"s{i}.tif", seed=i)
    return folder


@pytest.fixture(scope="module")
def threads_client():
    """An in-process dask cluster (two single-thread workers): fast to start."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _final(out_dir: Path) -> Counter:
    """How many times each scene was recorded done."""
    return Counter(e.scene for e in RunRecord(out_dir) if e.status == "done")


def _run(
    scene_dir: Path, out_dir: Path, model: Path, client, *, device="auto", options=None, **kwargs
):
    """``options``: fields of InferenceOptions other than the model and device."""
    kwargs.setdefault("process", BrightnessProcessor())
    inference = InferenceOptions(model=str(model), device=device, **(options or {}))
    return run_batch(
        collect_scenes([str(scene_dir)]), out_dir, inference=inference, scheduler=client, **kwargs
    )


def test_batch_writes_every_scene_and_a_record(scene_dir, tmp_path, tiny_model, threads_client):
    out = tmp_path / "out"
    summary = _run(scene_dir, out, tiny_model, threads_client, prob_cog=True)
    assert (summary.n_done, summary.n_skipped, summary.n_failed) == (N_SCENES, 0, 0)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["batch-record.jsonl"]
        + [f"s{i}{ext}" for i in range(N_SCENES) for ext in (".gpkg", ".prob.tif")]
    )
    lines = [json.loads(line) for line in (out / "batch-record.jsonl").read_text().splitlines()]
    done = [r for r in lines if r["status"] == "done"]
    assert len(done) == N_SCENES and sum(r["status"] == "submitted" for r in lines) == N_SCENES
    for r in done:
        assert r["input_sha256"] == file_sha256(scene_dir / f"{r['scene']}.tif")
        assert r["model"] == str(tiny_model) and r["model_sha256"] == file_sha256(tiny_model)
        assert r["roadseg_version"] and r["settings"] and r["worker"]
        assert r["started"] <= r["finished"] and r["duration_s"] >= 0
        assert r["n_roads"] >= 1 and r["total_length_m"] > 0 and r["pixels"] == 64 * 64
        assert set(r["outputs"]) == {f"{r['scene']}.gpkg", f"{r['scene']}.prob.tif"}
        for name, facts in r["outputs"].items():
            assert file_sha256(out / name) == facts["sha256"]
            assert (out / name).stat().st_size == facts["size"]
    assert not (out / ".roadseg-batch.lock").exists()


def test_rerun_skips_what_is_done_and_redoes_what_changed(
    scene_dir, tmp_path, tiny_model, threads_client
):
    out = tmp_path / "out"
    _run(scene_dir, out, tiny_model, threads_client)
    again = _run(scene_dir, out, tiny_model, threads_client)
    assert again.n_skipped == N_SCENES and again.n_done == 0
    assert [e.n_roads for e in again.entries] == [
        e.n_roads for e in RunRecord(out).last_done().values()
    ]
    # a new version of one scene, one output deleted, one output damaged
    write_scene(scene_dir / "s0.tif", seed=99)
    (out / "s1.gpkg").unlink()
    with open(out / "s2.gpkg", "ab") as handle:
        handle.write(b"garbage")
    third = _run(scene_dir, out, tiny_model, threads_client)
    status = {e.scene: e.status for e in third.entries}
    assert status == {"s0": "done", "s1": "done", "s2": "done", "s3": "skipped"}
    # damage that keeps size and time is found by verify (which re-reads the outputs)
    target = out / "s3.gpkg"
    stat = target.stat()
    with open(target, "r+b") as handle:
        handle.seek(200)
        handle.write(b"\xff" * 8)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _run(scene_dir, out, tiny_model, threads_client).n_skipped == N_SCENES
    verified = _run(scene_dir, out, tiny_model, threads_client, verify=True)
    assert [e.status for e in verified.entries] == ["skipped"] * 3 + ["done"]
    # other settings redo everything; speed-only settings do not
    assert (
        _run(scene_dir, out, tiny_model, threads_client, options={"batch_size": 2}).n_skipped
        == N_SCENES
    )
    changed = _run(scene_dir, out, tiny_model, threads_client, threshold=0.3)
    assert changed.n_done == N_SCENES
    forced = _run(scene_dir, out, tiny_model, threads_client, threshold=0.3, overwrite=True)
    assert forced.n_done == N_SCENES


def test_corrupt_scene_fails_clearly_and_the_others_are_done(
    scene_dir, tmp_path, tiny_model, threads_client
):
    (scene_dir / "bad.tif").write_bytes(b"II*\x00 this is not a GeoTIFF")
    out = tmp_path / "out"
    summary = _run(scene_dir, out, tiny_model, threads_client)
    status = {e.scene: e for e in summary.entries}
    assert status["bad"].status == "failed"
    assert status["bad"].attempt == 1  # a corrupt file is not retried
    assert status["bad"].error.startswith("InvalidInputError: ")
    assert "bad.tif" in status["bad"].error and "not a readable raster" in status["bad"].error
    assert all(status[f"s{i}"].status == "done" for i in range(N_SCENES))
    assert not summary.ok
    assert not (out / "bad.gpkg").exists()


def test_transient_failures_are_retried_a_bounded_number_of_times(
    scene_dir, tmp_path, tiny_model, threads_client
):
    out = tmp_path / "out"
    process = BrightnessProcessor(flaky_scene="s1", broken_scene="s2", marker_dir=str(tmp_path))
    summary = _run(scene_dir, out, tiny_model, threads_client, process=process, retries=2)
    by_scene = {e.scene: e for e in summary.entries}
    assert by_scene["s1"].status == "done" and by_scene["s1"].attempt == 2
    assert by_scene["s2"].status == "failed" and by_scene["s2"].attempt == 3
    assert "RuntimeError: " in by_scene["s2"].error and "simulated crash" in by_scene["s2"].error
    statuses = [(e.scene, e.status) for e in RunRecord(out) if e.scene in ("s1", "s2")]
    assert statuses.count(("s1", "retrying")) == 1 and statuses.count(("s2", "retrying")) == 2
    assert by_scene["s0"].status == by_scene["s3"].status == "done"
    # the failed scene is tried again by the next run; done ones are not
    rerun = _run(scene_dir, out, tiny_model, threads_client, retries=0)
    assert {e.scene: e.status for e in rerun.entries} == {
        "s0": "skipped",
        "s1": "skipped",
        "s2": "done",
        "s3": "skipped",
    }


def test_done_is_never_recorded_without_the_outputs(
    scene_dir, tmp_path, tiny_model, threads_client
):
    out = tmp_path / "out"
    summary = _run(
        scene_dir, out, tiny_model, threads_client, process=BrightnessProcessor(forget_scene="s3")
    )
    s3 = summary.entries[3]
    assert s3.status == "failed" and "s3.gpkg is missing" in s3.error
    assert _final(out)["s3"] == 0


def test_foreign_outputs_are_not_replaced_without_overwrite(
    scene_dir, tmp_path, tiny_model, threads_client
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "s0.gpkg").write_bytes(b"someone else's file")
    summary = _run(scene_dir, out, tiny_model, threads_client)
    assert summary.entries[0].status == "failed" and "overwrite=True" in summary.entries[0].error
    assert (out / "s0.gpkg").read_bytes() == b"someone else's file"
    assert _run(scene_dir, out, tiny_model, threads_client, overwrite=True).n_done == N_SCENES


def test_a_locked_output_folder_is_refused(scene_dir, tmp_path, tiny_model, threads_client):
    out = tmp_path / "out"
    out.mkdir()
    with BatchLock(out), pytest.raises(BatchLockedError, match="another batch"):
        _run(scene_dir, out, tiny_model, threads_client)
    assert not (out / "batch-record.jsonl").exists()


def _read_prob(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def test_cli_on_a_scheduler_with_two_worker_processes_matches_a_local_run(
    scene_dir, tmp_path, tiny_model, process_cluster, monkeypatch
):
    monkeypatch.setattr(runner, "process_with_run_scene", BrightnessProcessor())
    common = [str(scene_dir), "--model", str(tiny_model), "--prob-cog", "--no-progress"]
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
    assert remote.exit_code == 0, remote.output
    assert f"{N_SCENES} scenes: {N_SCENES} done, 0 skipped, 0 failed" in remote.output
    workers = {e.worker for e in RunRecord(tmp_path / "remote") if e.status == "done"}
    assert workers <= set(process_cluster.scheduler_info["workers"])
    local = CliRunner().invoke(
        cli, ["batch", *common, "--out-dir", str(tmp_path / "local"), "--workers", "1"]
    )
    assert local.exit_code == 0, local.output
    for i in range(N_SCENES):
        np.testing.assert_array_equal(
            _read_prob(tmp_path / "remote" / f"s{i}.prob.tif"),
            _read_prob(tmp_path / "local" / f"s{i}.prob.tif"),
        )
        a = gpd.read_file(tmp_path / "remote" / f"s{i}.gpkg")
        b = gpd.read_file(tmp_path / "local" / f"s{i}.gpkg")
        assert len(a) == len(b) > 0 and a.geometry.geom_equals(b.geometry).all()


def test_cli_exit_status_and_table_when_a_scene_fails(
    scene_dir, tmp_path, tiny_model, threads_client, monkeypatch
):
    monkeypatch.setattr(runner, "process_with_run_scene", BrightnessProcessor())
    (scene_dir / "bad.tif").write_bytes(b"nope")
    result = CliRunner().invoke(
        cli,
        [
            "batch",
            str(scene_dir),
            "--out-dir",
            str(tmp_path / "out"),
            "--model",
            str(tiny_model),
            "--scheduler",
            threads_client.scheduler.address,
            "--no-progress",
        ],
    )
    assert result.exit_code == 1
    rows = {line.split()[0]: line.split() for line in result.output.splitlines() if line}
    assert rows["bad"][1:3] == ["failed", "1"] and "InvalidInputError:" in rows["bad"]
    assert all(rows[f"s{i}"][1] == "done" for i in range(N_SCENES))
    assert "5 scenes: 4 done, 0 skipped, 1 failed" in result.output
    assert "Error: 1 of 5 scenes failed" in result.output


def test_a_worker_killed_mid_batch_does_not_lose_or_duplicate_scenes(
    scene_dir, tmp_path, tiny_model, process_cluster
):
    out = tmp_path / "out"
    process = BrightnessProcessor(kill_scene="s1", marker_dir=str(tmp_path), sleep=0.3)
    summary = _run(
        scene_dir,
        out,
        tiny_model,
        process_cluster.scheduler_address,
        process=process,
        prob_cog=True,
    )
    assert (tmp_path / "killed-s1").exists()  # the worker really died
    assert summary.n_done == N_SCENES and summary.ok
    assert _final(out) == Counter({f"s{i}": 1 for i in range(N_SCENES)})
    assert not list(out.glob(".*partial*"))
    for i in range(N_SCENES):
        assert len(gpd.read_file(out / f"s{i}.gpkg")) > 0
        assert _read_prob(out / f"s{i}.prob.tif").shape == (64, 64)


def test_cuda_without_gpu_workers_is_a_clear_error(scene_dir, tmp_path, tiny_model, threads_client):
    from roadseg.errors import DeviceError

    with pytest.raises(DeviceError, match=r"declares a GPU resource.*--resources GPU=1"):
        _run(scene_dir, tmp_path / "out", tiny_model, threads_client, device="cuda")
    assert not (tmp_path / "out" / ".roadseg-batch.lock").exists()


def test_gpu_tasks_go_to_gpu_workers_only(scene_dir, tmp_path, tiny_model):
    """With --device cuda every scene runs on a worker declaring GPU=1, none elsewhere."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        from distributed import Worker

        gpu_worker = client.sync(
            Worker, cluster.scheduler_address, nthreads=1, resources={"GPU": 1}, name="gpu"
        )
        try:
            client.wait_for_workers(2)
            summary = _run(scene_dir, tmp_path / "out", tiny_model, client, device="cuda")
        finally:
            client.sync(gpu_worker.close)
    assert summary.n_done == N_SCENES
    assert {e.worker for e in summary.entries} == {gpu_worker.address}


def test_a_missing_model_fails_before_anything_is_written(scene_dir, tmp_path, threads_client):
    from roadseg.errors import InputNotFoundError

    with pytest.raises(InputNotFoundError, match="no-such-model"):
        _run(scene_dir, tmp_path / "out", Path("no-such-model"), threads_client)
    assert not (tmp_path / "out").exists()


def _poisoned_batch(
    scene_dir: Path, out: Path, model: Path, workers: int, threads: int, sleep: float = 0.0
) -> dict[str, Any]:
    """The record entries by scene of a batch whose scene s2 kills its worker each time,
    on a local process cluster where dask reruns a task once after a worker dies."""
    import dask
    from distributed import LocalCluster

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
    ):
        summary = _run(
            scene_dir,
            out,
            model,
            cluster.scheduler_address,
            process=BrightnessProcessor(poison_scene="s2", sleep=sleep),
            retries=3,
        )
    return {e.scene: e for e in summary.entries}


def _after(_: Any, function: Any, *args: Any) -> Any:
    return function(*args)


class LosingClient:
    """A client on whose cluster one scene's first attempt is lost: it waits for a task
    that no worker can run, so it is never run while the workers sit idle (as a task
    held but never scheduled, dask/distributed#3196)."""

    def __init__(self, client: Any, scene: str) -> None:
        self._client, self._marker = client, f"roadseg-batch-{scene}-1-"

    def submit(self, function: Any, *args: Any, key: str, **kwargs: Any) -> Any:
        if key.startswith(self._marker):
            never = self._client.submit(
                time.sleep, 0, resources={"NO_SUCH_RESOURCE": 1}, pure=False
            )
            return self._client.submit(_after, never, function, *args, key=key, **kwargs)
        return self._client.submit(function, *args, key=key, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_scene_the_cluster_loses_is_resubmitted_once_every_worker_is_idle(
    scene_dir, tmp_path, tiny_model, threads_client
):
    out = tmp_path / "out"
    client = LosingClient(threads_client, "s1")
    summary = _run(scene_dir, out, tiny_model, client, stall_timeout=1.0)
    assert summary.n_done == N_SCENES
    assert summary.entries[1].attempt == 2
    lost = [e for e in RunRecord(out) if e.scene == "s1" and e.status == "retrying"]
    assert len(lost) == 1 and "SceneStalledError" in lost[0].error
    assert "it is waiting while a worker able to run it sits idle" in lost[0].error


def test_a_lost_scene_without_retries_fails_instead_of_hanging_the_batch(
    scene_dir, tmp_path, tiny_model, threads_client
):
    out = tmp_path / "out"
    client = LosingClient(threads_client, "s2")
    summary = _run(scene_dir, out, tiny_model, client, stall_timeout=1.0, retries=0)
    status = {e.scene: e.status for e in summary.entries}
    assert status == {"s0": "done", "s1": "done", "s2": "failed", "s3": "done"}
    assert summary.entries[2].error.startswith("SceneStalledError: no worker will run the scene")


def test_a_scene_that_kills_every_worker_fails_and_the_rest_is_done(
    scene_dir, tmp_path, tiny_model
):
    by_scene = _poisoned_batch(scene_dir, tmp_path / "out", tiny_model, workers=2, threads=1)
    # One more attempt, alone, after the first KilledWorker, then it is failed, although
    # --retries allows more.
    assert by_scene["s2"].status == "failed" and by_scene["s2"].attempt == 2
    assert "KilledWorker" in by_scene["s2"].error and "out of memory?" in by_scene["s2"].error
    assert [by_scene[s].status for s in ("s0", "s1", "s3")] == ["done"] * 3


def test_scenes_killed_beside_the_culprit_are_retried_alone_and_done(
    scene_dir, tmp_path, tiny_model
):
    """One worker with two threads: every scene that runs beside the poisoned one dies
    with it, twice (dask's own rerun included). Retried alone, they complete; the
    culprit, killed again alone, fails."""
    by_scene = _poisoned_batch(
        scene_dir, tmp_path / "out", tiny_model, workers=1, threads=2, sleep=1.5
    )
    assert by_scene["s2"].status == "failed" and "out of memory?" in by_scene["s2"].error
    assert [by_scene[s].status for s in ("s0", "s1", "s3")] == ["done"] * 3
    assert any(e.attempt > 1 for s, e in by_scene.items() if s != "s2")


def test_spread_blocks_runs_scenes_from_the_driver_with_the_cluster_as_scheduler(
    scene_dir, tmp_path, tiny_model, threads_client
):
    out = tmp_path / "out"
    summary = _run(
        scene_dir,
        out,
        tiny_model,
        threads_client,
        spread_blocks=True,
        process=BrightnessProcessor(flaky_scene="s0", marker_dir=str(tmp_path)),
    )
    assert summary.n_done == N_SCENES
    assert all(e.worker is None for e in summary.entries)  # ran in the driver
    assert summary.entries[0].attempt == 2
    assert (
        _run(scene_dir, out, tiny_model, threads_client, spread_blocks=True).n_skipped == N_SCENES
    )


def test_cli_takes_scenes_from_a_manifest_and_a_stac_item_collection(
    scene_dir, tmp_path, tiny_model, threads_client, monkeypatch
):
    monkeypatch.setattr(runner, "process_with_run_scene", BrightnessProcessor())
    (tmp_path / "list.txt").write_text("in/s0.tif\nin/s1.tif\n")
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "LC09-2026-12-01",
        "geometry": None,
        "properties": {"datetime": "2026-12-01T00:00:00Z"},
        "links": [],
        "assets": {"visual": {"href": "in/s3.tif"}},
    }
    (tmp_path / "search.json").write_text(
        json.dumps({"type": "FeatureCollection", "features": [item]})
    )
    result = CliRunner().invoke(
        cli,
        [
            "batch",
            "--manifest",
            str(tmp_path / "list.txt"),
            "--stac",
            str(tmp_path / "search.json"),
            "--stac-asset",
            "visual",
            "--out-dir",
            str(tmp_path / "out"),
            "--model",
            str(tiny_model),
            "--scheduler",
            threads_client.scheduler.address,
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.gpkg")) == [
        "LC09-2026-12-01.gpkg",
        "s0.gpkg",
        "s1.gpkg",
    ]


def test_default_model_is_the_shipped_weights_for_the_device(
    scene_dir, tmp_path, tiny_model, threads_client, monkeypatch
):
    import shutil

    import roadseg.models.checkpoint as checkpoint

    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(tiny_model, weights / "resunet-lite.safetensors")
    monkeypatch.setattr(checkpoint, "WEIGHTS_DIR", weights)
    summary = run_batch(
        collect_scenes([str(scene_dir / "s0.tif")]),
        tmp_path / "out",
        inference=InferenceOptions(device="cpu"),
        scheduler=threads_client,
        process=BrightnessProcessor(),
    )
    entry = summary.entries[0]
    assert entry.status == "done" and entry.model == "resunet-lite"
    assert entry.model_sha256 == file_sha256(tiny_model)


def test_a_scene_missing_from_a_manifest_is_recorded_failed(
    scene_dir, tmp_path, tiny_model, threads_client
):
    manifest = tmp_path / "list.txt"
    manifest.write_text("in/s0.tif\nin/deleted.tif\nin/s1.tif\n")
    summary = run_batch(
        collect_scenes(manifest=manifest),
        tmp_path / "out",
        inference=InferenceOptions(model=str(tiny_model)),
        scheduler=threads_client,
        process=BrightnessProcessor(),
    )
    assert [e.status for e in summary.entries] == ["done", "failed", "done"]
    assert summary.entries[1].error.startswith("InputNotFoundError: ")
    assert "deleted.tif" in summary.entries[1].error


def test_a_killed_batch_resumes_where_it_stopped(scene_dir, tmp_path, tiny_model, monkeypatch):
    for i in range(N_SCENES, 6):
        write_scene(scene_dir / f"s{i}.tif", seed=i)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS_DIR.parent), str(TESTS_DIR)]))
    args = [
        sys.executable,
        str(TESTS_DIR / "batch_helpers.py"),
        "1.5",
        "batch",
        str(scene_dir),
        "--out-dir",
        str(out),
        "--model",
        str(tiny_model),
        "--workers",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        args, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while sum(_final(out).values()) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the batch did not finish two scenes in time"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = set(_final(out))
    assert 2 <= len(done_before) < 6
    assert (out / ".roadseg-batch.lock").exists()  # left behind by the killed run
    monkeypatch.setattr(runner, "process_with_run_scene", BrightnessProcessor())
    result = CliRunner().invoke(
        cli,
        [
            "batch",
            str(scene_dir),
            "--out-dir",
            str(out),
            "--model",
            str(tiny_model),
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    final = {
        e.scene: e.status
        for e in RunRecord(out)
        if e.batch_id == RunRecord(out).entries()[-1].batch_id
    }
    assert {s for s, st in final.items() if st == "skipped"} == done_before
    assert {s for s, st in final.items() if st == "done"} == {
        f"s{i}" for i in range(6)
    } - done_before
    assert set(_final(out)) == {f"s{i}" for i in range(6)}
    assert all(n == 1 for n in _final(out).values())
    assert not list(out.glob(".*partial*")) and not (out / ".roadseg-batch.lock").exists()
