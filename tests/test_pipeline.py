"""run_scene: outputs checked before any work, then probabilities and road vectors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from inference_helpers import local_checkpoint, textured, write_scene
from rasterio.transform import from_origin
from scipy import ndimage
from shapely.geometry import Point

from roadseg.errors import InvalidParameterError, OutputExistsError
from roadseg.inference import InferenceOptions
from roadseg.pipeline import run_scene
from roadseg.vector import VectorOptions, VectorResult

FAST = dict(device="cpu", tile_size=64, overlap=16)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    local_checkpoint(tmp_path / "m.safetensors")
    return write_scene(tmp_path / "scene.tif", textured(80, 90))


def test_out_alone_uses_a_temporary_probability_raster_and_deletes_it(scene: Path) -> None:
    folder = scene.parent
    result = run_scene(
        scene,
        folder / "roads.gpkg",
        threshold=0.3,
        inference=InferenceOptions(model=folder / "m.safetensors", **FAST),
    )
    assert isinstance(result.vectors, VectorResult)
    assert result.vectors.path == folder / "roads.gpkg" and result.vectors.threshold == 0.3
    assert not result.prediction.path.exists()  # the temporary probabilities are gone
    assert sorted(p.name for p in folder.iterdir()) == ["m.safetensors", "roads.gpkg", "scene.tif"]
    roads = gpd.read_file(folder / "roads.gpkg", layer="roads")
    with rasterio.open(scene) as src:
        assert roads.crs == src.crs
    assert len(roads) == result.vectors.n_roads


def test_out_and_prob_out_keep_both_and_pass_vector_options(scene: Path) -> None:
    folder = scene.parent
    result = run_scene(
        scene,
        folder / "roads.gpkg",
        prob_out=folder / "p.tif",
        preview=folder / "roads.png",
        inference=InferenceOptions(model=folder / "m.safetensors", **FAST),
        vector=VectorOptions(min_length_m=5.0),
    )
    assert result.prediction.path == folder / "p.tif" and (folder / "p.tif").exists()
    assert result.vectors.options.min_length_m == 5.0
    assert (folder / "roads.png").stat().st_size > 0


def test_the_vector_stage_is_handed_the_prediction(scene: Path, monkeypatch) -> None:
    import roadseg.pipeline as pipeline

    seen = []
    real = pipeline.vectorize_checked

    def spy(prediction, *args, **kwargs):
        seen.append(prediction)
        return real(prediction, *args, **kwargs)

    monkeypatch.setattr(pipeline, "vectorize_checked", spy)
    folder = scene.parent
    result = run_scene(
        scene,
        folder / "roads.gpkg",
        inference=InferenceOptions(model=folder / "m.safetensors", **FAST),
    )
    assert seen == [result.prediction]  # its CRS, transform and threshold, not a path
    assert result.vectors.threshold == result.prediction.threshold


def test_each_option_is_validated_once_at_the_edge(scene: Path, monkeypatch) -> None:
    import roadseg.context
    import roadseg.pipeline as pipeline

    calls: list[str] = []
    for cls in (InferenceOptions, VectorOptions):
        real = cls.validate

        def counted(self, real=real, name=cls.__name__):
            calls.append(name)
            return real(self)

        monkeypatch.setattr(cls, "validate", counted)
    runs = []
    real_vectorize = pipeline.vectorize_checked

    def spy(prediction, out, run, **kwargs):
        runs.append(run)
        return real_vectorize(prediction, out, run, **kwargs)

    monkeypatch.setattr(pipeline, "vectorize_checked", spy)
    folder = scene.parent
    run_scene(
        scene,
        folder / "roads.gpkg",
        inference=InferenceOptions(model=folder / "m.safetensors", **FAST),
        vector=VectorOptions(min_length_m=5.0),
        overwrite=True,
    )
    assert sorted(calls) == ["InferenceOptions", "VectorOptions"]
    assert runs == [roadseg.context.RunContext(None, True, False)]


def test_every_output_is_checked_before_any_work(scene: Path) -> None:
    folder = scene.parent
    (folder / "roads.gpkg").write_text("old")
    with pytest.raises(OutputExistsError, match=r"roads\.gpkg"):
        run_scene(
            scene,
            folder / "roads.gpkg",
            prob_out=folder / "p.tif",
            inference=InferenceOptions(model=folder / "m.safetensors", **FAST),
        )
    assert not (folder / "p.tif").exists()
    assert (folder / "roads.gpkg").read_text() == "old"


def test_options_for_vectors_need_out(scene: Path) -> None:
    with pytest.raises(InvalidParameterError, match=r"out=roads\.gpkg"):
        run_scene(scene, prob_out=scene.parent / "p.tif", preview=scene.parent / "x.png")
    with pytest.raises(InvalidParameterError, match="nothing to write"):
        run_scene(scene)


def _sample_scene_module():
    spec = importlib.util.spec_from_file_location(
        "sample_scene", REPO / "scripts" / "sample_scene.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# Share of the synthetic roads' length found, measured: 0.80 (resunet-lite), 0.49
# (resunet-mobilenetv2, trained at 0.5-1 m on real imagery only; precision 1.0 for both).
@pytest.mark.parametrize(
    ("model", "min_found"), [(None, 0.5), ("resunet-mobilenetv2", 0.35)], ids=["default", "mnv2"]
)
def test_shipped_weights_find_the_roads_of_the_sample_scene(
    tmp_path: Path, model: str | None, min_found: float
) -> None:
    """The quick-start job end to end: shipped weights, real vector stage, right places."""
    size = 384
    rgb, roads = _sample_scene_module().make_scene(size, seed=3)
    transform = from_origin(500_000, 5_500_000, 1.0, 1.0)
    path = tmp_path / "sample.tif"
    profile = dict(driver="GTiff", width=size, height=size, count=3, dtype="uint8")
    with rasterio.open(path, "w", crs="EPSG:32633", transform=transform, **profile) as dst:
        dst.write(rgb)
    result = run_scene(
        path, tmp_path / "roads.gpkg", inference=InferenceOptions(model=model, device="cpu")
    )
    lines = gpd.read_file(tmp_path / "roads.gpkg", layer="roads")
    assert result.vectors.n_roads == len(lines) > 0
    # Distance from every pixel to the nearest true road pixel, in metres (1 m pixels).
    distance = ndimage.distance_transform_edt(~roads)
    samples = [
        line.interpolate(d) for line in lines.geometry for d in np.arange(0, line.length, 2.0)
    ]
    inv = ~transform
    near = [
        distance[int(row), int(col)] <= 6
        for col, row in ((inv @ (p.x, p.y)) for p in samples if isinstance(p, Point))
        if 0 <= row < size and 0 <= col < size
    ]
    precision = float(np.mean(near))
    # Most of the true road length must be found (road area / width ~ centreline length).
    found_length = lines.geometry.length.sum()
    true_length = roads.sum() / 7.0  # road pixels / typical width
    print(f"precision {precision:.3f}, found {found_length:.0f} m of ~{true_length:.0f} m")
    assert precision > 0.8, f"only {precision:.0%} of the extracted road lies on roads"
    assert found_length > min_found * true_length, (found_length, true_length)
