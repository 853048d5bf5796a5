"""The scheduled-run entry point and the deployment scripts of pipelines/."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from batch_helpers import TESTS_DIR, BrightnessProcessor, write_scene

import roadseg.batch.driver as runner
from pipelines import nightly
from roadseg.batch import BatchLock, RunRecord

ROOT = TESTS_DIR.parent
DEPLOY = ROOT / "pipelines" / "deploy"


@pytest.fixture(scope="module")
def scheduler_address():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster),
    ):
        yield cluster.scheduler_address


@pytest.fixture
def incoming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(runner, "process_with_run_scene", BrightnessProcessor())
    folder = tmp_path / "incoming"
    (folder / "sub").mkdir(parents=True)
    write_scene(folder / "a.tif", seed=1, size=32)
    write_scene(folder / "b.TIF", seed=2, size=32)
    write_scene(folder / "sub" / "c.tif", seed=3, size=32)
    (folder / ".a.1234.partial.tif").write_bytes(b"half a file being copied in")
    return folder


def test_nightly_on_a_watched_folder_into_a_dated_folder(
    incoming, tmp_path, tiny_model, scheduler_address
):
    args = [
        "--watch",
        str(incoming),
        "--out-root",
        str(tmp_path / "roads"),
        "--model",
        str(tiny_model),
        "--scheduler",
        scheduler_address,
    ]
    assert nightly.main(args) == nightly.EXIT_OK
    day = tmp_path / "roads" / datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert sorted(p.name for p in day.glob("*.gpkg")) == ["a.gpkg", "b.gpkg"]
    assert nightly.main([*args, "--recursive"]) == nightly.EXIT_OK
    record = RunRecord(day).entries()
    last = [e for e in record if e.batch_id == record[-1].batch_id]
    assert {e.scene: e.status for e in last if e.status != "submitted"} == {
        "a": "skipped",
        "b": "skipped",
        "c": "done",
    }


def test_nightly_exit_status_says_whether_scenes_failed(
    incoming, tmp_path, tiny_model, scheduler_address
):
    (incoming / "broken.tif").write_bytes(b"not an image")
    args = [
        "--watch",
        str(incoming),
        "--out-dir",
        str(tmp_path / "roads"),
        "--model",
        str(tiny_model),
        "--scheduler",
        scheduler_address,
    ]
    assert nightly.main(args) == nightly.EXIT_FAILED_SCENES
    assert sorted(p.name for p in (tmp_path / "roads").glob("*.gpkg")) == ["a.gpkg", "b.gpkg"]
    with BatchLock(tmp_path / "roads"):
        assert nightly.main(args) == nightly.EXIT_CANNOT_RUN


def test_nightly_with_nothing_to_do_and_with_bad_options(tmp_path, tiny_model, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert nightly.main(["--watch", str(empty), "--out-dir", str(tmp_path / "o")]) == 0
    assert not (tmp_path / "o").exists()
    assert nightly.main(["--out-dir", str(tmp_path / "o")]) == nightly.EXIT_CANNOT_RUN
    assert "exactly one of --watch and --stac" in capsys.readouterr().err
    assert nightly.main(["--watch", str(empty)]) == nightly.EXIT_CANNOT_RUN


def test_nightly_runs_as_a_script_and_as_a_module(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for how in (["-m", "pipelines.nightly"], [str(ROOT / "pipelines" / "nightly.py")]):
        done = subprocess.run(
            [sys.executable, *how, "--watch", str(tmp_path), "--out-dir", str(tmp_path / "o")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "nothing to do" in done.stderr


def test_deploy_units_call_the_pipeline_and_the_scripts():
    service = (DEPLOY / "roadseg-nightly.service").read_text()
    assert "ExecStart=/opt/roadseg/.venv/bin/python -m pipelines.nightly" in service
    assert "OnCalendar=" in (DEPLOY / "roadseg-nightly.timer").read_text()
    cron = [
        line
        for line in (DEPLOY / "crontab.example").read_text().splitlines()
        if line and not line.startswith(("#", "MAILTO"))
    ]
    assert len(cron) == 1 and len(cron[0].split(None, 5)) == 6 and "pipelines.nightly" in cron[0]
    for script in DEPLOY.glob("*.sh"):
        assert os.access(script, os.X_OK), script
        subprocess.run(["bash", "-n", str(script)], check=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_deploy_scripts_start_a_cluster_that_runs_a_batch(tmp_path, tiny_model, monkeypatch):
    """start-scheduler.sh, start-cpu-workers.sh and start-gpu-workers.sh for real on loopback.

    The 'GPU' worker runs on the CPU here (GPUS=0 only sets CUDA_VISIBLE_DEVICES); what is
    checked is that it declares GPU=1 and that --device cuda places every scene on it.
    """
    from distributed import Client

    dask_cli = shutil.which("dask", path=str(Path(sys.executable).parent)) or "dask"
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(
        os.environ,
        DASK=dask_cli,
        DASK_HOST="127.0.0.1",
        DASK_PORT=str(port),
        DASK_DASHBOARD=":0",
        N_WORKERS="2",
        MEMORY_LIMIT="1GB",
        OMP_NUM_THREADS="1",
        GPUS="0",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS_DIR)]),
    )
    procs = []
    try:
        for cmd in (
            ["start-scheduler.sh"],
            ["start-cpu-workers.sh", address],
            ["start-gpu-workers.sh", address],
        ):
            procs.append(
                subprocess.Popen(
                    ["bash", str(DEPLOY / cmd[0]), *cmd[1:]],
                    env=env,
                    cwd=tmp_path,
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(3, timeout=90)
            workers = client.scheduler_info(n_workers=-1)["workers"]
        gpu = {a for a, w in workers.items() if w.get("resources", {}).get("GPU") == 1}
        assert len(gpu) == 1 and len(workers) == 3
        scenes = tmp_path / "in"
        scenes.mkdir()
        for i in range(3):
            write_scene(scenes / f"s{i}.tif", seed=i, size=32)
        monkeypatch.setattr(runner, "process_with_run_scene", BrightnessProcessor())
        code = nightly.main(
            [
                "--watch",
                str(scenes),
                "--out-dir",
                str(tmp_path / "out"),
                "--model",
                str(tiny_model),
                "--scheduler",
                address,
                "--device",
                "cuda",
            ]
        )
        assert code == nightly.EXIT_OK
        done = [e for e in RunRecord(tmp_path / "out") if e.status == "done"]
        assert len(done) == 3 and {e.worker for e in done} == gpu
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_nightly_on_a_stac_item_collection(incoming, tmp_path, tiny_model, scheduler_address):
    import json

    items = [
        {
            "type": "Feature",
            "stac_version": "1.0.0",
            "id": item_id,
            "geometry": None,
            "properties": {"datetime": "2026-12-01T00:00:00Z"},
            "links": [],
            "assets": {"visual": {"href": href}},
        }
        for item_id, href in (
            ("S2A-2026-12-01", "incoming/a.tif"),
            ("tile:31/U", "incoming/sub/c.tif"),
        )
    ]
    search = tmp_path / "search.json"
    search.write_text(json.dumps({"type": "FeatureCollection", "features": items}))
    code = nightly.main(
        [
            "--stac",
            str(search),
            "--stac-asset",
            "visual",
            "--out-dir",
            str(tmp_path / "roads"),
            "--model",
            str(tiny_model),
            "--scheduler",
            scheduler_address,
        ]
    )
    assert code == nightly.EXIT_OK
    assert sorted(p.name for p in (tmp_path / "roads").iterdir() if p.suffix == ".gpkg") == [
        "S2A-2026-12-01.gpkg",
        "tile_31_U.gpkg",
    ]
