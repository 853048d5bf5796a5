"""The options objects: validated and picklable; one threshold range; the georeferencing
that travels with a prediction."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio
from synthetic_roads import UTM, write_prob_raster

from roadseg.errors import InvalidInputError, InvalidParameterError
from roadseg.inference import InferenceOptions, PredictionResult
from roadseg.vector import VectorOptions, check_threshold, extract_network, vectorize

CROSS = [[(8, 60), (112, 60)], [(60, 8), (60, 112)]]


def test_options_are_frozen_picklable_values() -> None:
    options = InferenceOptions(model="m.safetensors", bands=[3, 2, 1], tile_size=256)
    assert options.bands == (3, 2, 1)  # a list becomes a tuple: hashable
    assert pickle.loads(pickle.dumps(options)) == options
    assert hash(options) == hash(
        InferenceOptions(model="m.safetensors", bands=(3, 2, 1), tile_size=256)
    )
    vector = VectorOptions(min_length_m=5.0)
    assert pickle.loads(pickle.dumps(vector)) == vector
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.tile_size = 8  # type: ignore[misc]
    assert options.validate() is options and vector.validate() is vector


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (InferenceOptions(tile_size=8), "tile_size=8: must be an integer >= 16"),
        (InferenceOptions(overlap=-1), "overlap=-1: must be an integer >= 0"),
        (InferenceOptions(tile_size=64, overlap=32), "overlap=32: must be less than half"),
        (InferenceOptions(batch_size=0), "batch_size=0: must be an integer >= 1"),
        (InferenceOptions(block_size=0), "block_size=0: must be an integer >= 1"),
        (InferenceOptions(gsd=0.0), "gsd=0.0: must be a positive number"),
        (InferenceOptions(bands=(0, 1)), "bands=(0, 1): must be 1-based"),
        (InferenceOptions(engine="tpu"), "engine='tpu': must be one of auto, torch, onnx"),
        (VectorOptions(vector_block_size=8), "vector_block_size=8: must be an integer >= 16"),
        (VectorOptions(halo=-1), "halo=-1: must be an integer >= 0"),
        (VectorOptions(hysteresis=0.0), "hysteresis=0.0: must be in (0, 1]"),
    ],
)
def test_validate_names_the_parameter_its_value_and_the_fix(options, message) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        options.validate()
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, float("nan"), "0.5", True])
def test_one_threshold_range(value) -> None:
    with pytest.raises(InvalidParameterError, match="threshold="):
        check_threshold(value)


def test_threshold_is_checked_where_it_is_given(tmp_path: Path) -> None:
    assert check_threshold(0.25) == 0.25
    prob = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), UTM)
    for bad in (0.0, 1.0):
        with pytest.raises(InvalidParameterError, match=f"threshold={bad}"):
            vectorize(prob, tmp_path / "r.gpkg", threshold=bad)
    assert not (tmp_path / "r.gpkg").exists()


def _prediction(path: Path, **changes: object) -> PredictionResult:
    with rasterio.open(path) as src:
        fields = dict(
            path=path,
            width=src.width,
            height=src.height,
            crs=src.crs,
            transform=src.transform,
            gsd_m=0.5,
            model_name="m",
            threshold=0.5,
            blocks=1,
            tiles=1,
            seconds=0.0,
            device="cpu",
        )
    fields.update(changes)
    return PredictionResult(**fields)  # type: ignore[arg-type]


def test_the_vector_stage_takes_the_prediction_and_its_georeferencing(tmp_path: Path) -> None:
    prob = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), UTM, threshold=0.5)
    by_path = vectorize(prob, tmp_path / "a.gpkg")
    by_result = vectorize(_prediction(prob), tmp_path / "b.gpkg")
    assert (by_result.n_roads, by_result.n_junctions) == (by_path.n_roads, by_path.n_junctions)
    assert by_result.total_length_m == pytest.approx(by_path.total_length_m)
    assert by_result.crs == by_path.crs
    # the prediction's threshold is used, not the file's tag; a given one wins
    assert vectorize(_prediction(prob, threshold=0.3), tmp_path / "c.gpkg").threshold == 0.3
    given = vectorize(_prediction(prob, threshold=0.3), tmp_path / "d.gpkg", threshold=0.6)
    assert given.threshold == 0.6
    # and its transform: the same pixels moved 1 km east
    moved = _prediction(prob, transform=rasterio.Affine.translation(1000, 0) @ UTM[1])
    shifted = vectorize(moved, tmp_path / "e.gpkg")
    a = gpd.read_file(tmp_path / "a.gpkg", layer="roads").total_bounds
    e = gpd.read_file(tmp_path / "e.gpkg", layer="roads").total_bounds
    assert shifted.n_roads == by_path.n_roads
    assert e[0] - a[0] == pytest.approx(1000) and e[1] == pytest.approx(a[1])
    # and its ground sample distance, as it is (a declared gsd), not measured again
    network, _ = extract_network(_prediction(prob, gsd_m=0.25))
    assert network.gsd_m == 0.25
    assert extract_network(prob)[0].gsd_m == 0.5  # a path: measured from its CRS
    with pytest.raises(InvalidInputError, match="the file changed"):
        vectorize(_prediction(prob, width=99), tmp_path / "f.gpkg")
