"""Batch inputs and outputs: permanent errors not retried, no scratch files or stale
outputs left in the output folder, folders give every GDAL raster format."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from batch_helpers import BrightnessProcessor, write_scene
from inference_helpers import local_checkpoint, textured
from inference_helpers import write_scene as write_georef_scene

from roadseg.batch import collect_scenes, run_batch
from roadseg.batch.local_cluster import batch_client, plan_local_cluster
from roadseg.batch.task import SceneTask, execute_attempt, process_with_run_scene
from roadseg.inference import InferenceOptions


@pytest.fixture(scope="module")
def threads_client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _truncated(path: Path) -> Path:
    write_georef_scene(path, textured(256, 256))
    os.truncate(path, path.stat().st_size // 2)
    return path


def test_a_truncated_scene_is_a_permanent_error_not_retried(tmp_path: Path) -> None:
    model = local_checkpoint(tmp_path / "m.safetensors")
    scene = _truncated(tmp_path / "cut.tif")
    out = tmp_path / "out"
    out.mkdir()
    task = SceneTask(
        "cut",
        scene,
        out / "cut.gpkg",
        None,
        InferenceOptions(model=str(model), device="cpu", tile_size=64, overlap=16),
    )
    attempt = execute_attempt(process_with_run_scene, task)
    assert not attempt.ok and not attempt.retryable
    assert attempt.error.startswith("UnreadableInputError: ")
    assert "cut.tif: could not be read" in attempt.error and "partial" not in attempt.error
    assert list(out.iterdir()) == []


def test_the_local_cluster_keeps_its_scratch_space_out_of_the_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plan = plan_local_cluster(1, workers=1, device="cpu", memory_limit="1GB")
    with batch_client(None, plan) as client:
        scratch = Path(client.run(lambda dask_worker: dask_worker.local_directory).popitem()[1])
        assert tmp_path not in scratch.parents
    assert not scratch.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_rerun_without_prob_cog_removes_the_stale_probabilities(
    tmp_path: Path, threads_client
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_scene(folder / "a.tif", seed=1)
    out = tmp_path / "out"
    out.mkdir()
    foreign = out / "b.prob.tif"  # not a batch's: never touched
    foreign.write_bytes(b"someone else's file")
    scenes = collect_scenes([str(folder)])
    model = local_checkpoint(tmp_path / "m.safetensors")
    kwargs = dict(
        inference=InferenceOptions(model=str(model)),
        scheduler=threads_client,
        process=BrightnessProcessor(),
    )
    run_batch(scenes, out, prob_cog=True, **kwargs)
    assert (out / "a.prob.tif").is_file()
    summary = run_batch(scenes, out, prob_cog=False, **kwargs)
    assert summary.ok
    assert (out / "a.gpkg").is_file() and not (out / "a.prob.tif").exists()
    assert foreign.read_bytes() == b"someone else's file"


def test_folders_give_jpeg_and_png_scenes_but_not_batch_outputs(tmp_path: Path) -> None:
    for name, driver in (("a.jpg", "JPEG"), ("b.png", "PNG"), ("c.tif", "GTiff")):
        with rasterio.open(
            tmp_path / name, "w", driver=driver, width=16, height=16, count=3, dtype="uint8"
        ) as dst:
            dst.write(np.zeros((3, 16, 16), dtype=np.uint8))
    (tmp_path / "c.prob.tif").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a scene")
    names = [s.name for s in collect_scenes([str(tmp_path)])]
    assert names == ["a", "b", "c"]


def test_leftovers_in_the_output_folder_are_reported_by_their_outputs_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    import roadseg.batch.plan as plan
    from roadseg.io.atomic import temporary_sibling

    leftover = temporary_sibling(tmp_path / "19438_sat.gpkg", role="prob", suffix=".tif")
    leftover.write_bytes(b"")
    (tmp_path / "keep.gpkg").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="roadseg"):
        plan.clear_partials(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.gpkg"]
    assert "19438_sat.gpkg" in caplog.text and ".partial" not in caplog.text
