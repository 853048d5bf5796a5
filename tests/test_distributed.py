"""The block graphs on a dask-distributed cluster give the same raster as locally."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from inference_helpers import resunet_checkpoint, textured, write_scene

from roadseg.errors import InvalidParameterError
from roadseg.inference import InferenceOptions, predict_scene
from roadseg.inference.block_dispatch import block_graph
from roadseg.inference.block_steps import BlockJob
from roadseg.inference.layout import Layout
from roadseg.inference.predictor import ModelSpec
from roadseg.raster.grid import working_grid
from roadseg.raster.normalize import BandStats
from roadseg.raster.prepare import SceneSpec
from roadseg.raster.scene import describe_scene


def _stored(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def _models_loaded() -> int:
    from roadseg.inference.predictor import _CACHE

    return len(_CACHE)


def test_local_cluster_with_worker_processes_gives_the_identical_raster(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    model = resunet_checkpoint(tmp_path / "m.safetensors")
    scene = write_scene(tmp_path / "scene.tif", textured(180, 230))
    kw = dict(model=model, device="cpu", tile_size=64, overlap=16, block_size=100)
    local = predict_scene(scene, tmp_path / "local.tif", InferenceOptions(**kw))
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        by_client = predict_scene(
            scene, tmp_path / "client.tif", InferenceOptions(**kw), scheduler=client
        )
        by_address = predict_scene(
            scene,
            tmp_path / "address.tif",
            InferenceOptions(**kw),
            scheduler=cluster.scheduler_address,
        )
        # Both worker processes took part, each loading the model once for itself.
        loaded = client.run(_models_loaded)
        assert sorted(loaded.values()) == [1, 1]
    assert local.blocks == by_client.blocks == by_address.blocks > 4
    np.testing.assert_array_equal(_stored(local.path), _stored(by_client.path))
    np.testing.assert_array_equal(_stored(local.path), _stored(by_address.path))
    with rasterio.open(local.path) as a, rasterio.open(by_client.path) as b:
        assert a.profile == b.profile and a.tags() == b.tags()


def test_inference_tasks_ask_for_a_gpu_only_when_the_model_runs_on_cuda(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "scene.tif", textured(40, 40))
    info = describe_scene(scene, in_channels=3)
    grid = working_grid(info, 1.0)
    layout = Layout.create(grid.width, grid.height, tile_size=32, overlap=8, block_size=64)
    spec = SceneSpec(str(scene), grid, info.bands, BandStats((0.0,) * 3, (255.0,) * 3))
    job = BlockJob.from_layout(layout, (0, 0))
    for gpu in (True, False):
        graph = block_graph(spec, ModelSpec("m.safetensors", "cuda"), job, gpu=gpu)
        annotations = {
            name.split("-")[1]: layer.annotations
            for name, layer in graph.__dask_graph__().layers.items()
        }
        assert set(annotations) == {"read", "infer", "blend"}
        assert annotations["infer"] == ({"resources": {"GPU": 1}} if gpu else None)
        assert annotations["read"] is None and annotations["blend"] is None


def test_a_scheduler_that_is_not_an_address_is_refused(tmp_path: Path) -> None:
    model = resunet_checkpoint(tmp_path / "m.safetensors")
    scene = write_scene(tmp_path / "scene.tif", textured(40, 40))
    with pytest.raises(InvalidParameterError, match="tcp://"):
        predict_scene(
            scene,
            tmp_path / "p.tif",
            InferenceOptions(model=model, device="cpu"),
            scheduler="localhost",
        )
    assert not (tmp_path / "p.tif").exists()
