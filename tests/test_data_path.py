"""Training, validation and ``roadseg run`` read a scene through one data path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from rasterio.windows import Window
from synthetic_roads import write_road_scene

from roadseg.data import CropSampler, load_source, parse_source_spec
from roadseg.evaluation.endtoend import SceneCase, score_scenes
from roadseg.evaluation.pixel import PixelAccumulator
from roadseg.evaluation.scoring import evaluate_images
from roadseg.inference.block_steps import BlockJob, read_block
from roadseg.inference.grid_predict import predict_grid
from roadseg.inference.layout import Layout
from roadseg.inference.predictor import run_model
from roadseg.models import build
from roadseg.models.metadata import DEFAULT_NORMALIZATION
from roadseg.raster.prepare import prepare_scene
from roadseg.raster.windows import array_slices


def test_training_crops_are_the_model_input_of_roadseg_run(tmp_path: Path) -> None:
    scene, _ = write_road_scene(tmp_path / "scenes")
    spec = parse_source_spec(f"scenes:{scene.parent},vectors={scene.parent},bands=3+2+1")
    (image,), _ = load_source(spec, 1.0, 3, DEFAULT_NORMALIZATION, cache_dir=tmp_path / "cache")
    # What roadseg run computes for the same scene (the function predict_scene calls).
    _, run_scene_spec = prepare_scene(
        scene,
        in_channels=3,
        model_gsd_m=1.0,
        normalization=DEFAULT_NORMALIZATION,
        bands=(3, 2, 1),
    )
    assert image.scene_spec == run_scene_spec
    assert image.shape == (90, 102)  # 0.6 m resampled to square 1 m pixels
    layout = Layout.create(102, 90, tile_size=64, overlap=16, block_size=64)
    for index in layout.blocks():
        job = BlockJob.from_layout(layout, index)
        data = read_block(run_scene_spec, job)
        part = job.read.intersection(Window(0, 0, 102, 90))
        inside = part.toslices()
        local = array_slices(part, job.read)
        np.testing.assert_array_equal(data.image[:, local[0], local[1]], image.model_input(*inside))
        np.testing.assert_array_equal(data.valid[local], image.valid[inside])
    # The road lies on the bright rows of the working grid, and the no-data corner is
    # not valid.
    assert image.label[38:40].all() and not image.label[50:].any()
    assert not image.valid[:10, :15].any() and image.valid[20:].all()
    # A second load reads the cache and gives the same arrays.
    (again,), _ = load_source(spec, 1.0, 3, DEFAULT_NORMALIZATION, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(again.raw, image.raw)
    np.testing.assert_array_equal(again.label, image.label)


def test_lane_widths_reach_the_training_labels(tmp_path: Path) -> None:
    scene, truth = write_road_scene(tmp_path / "scenes")
    roads = json.loads(truth.read_text())
    roads["features"][0]["properties"]["lane_number"] = "4"
    truth.write_text(json.dumps(roads))
    cache = tmp_path / "cache"
    rows = {}
    for extra in ("", ",lane_width=3.5"):
        spec = parse_source_spec(f"scenes:{scene.parent},vectors={scene.parent}{extra}")
        (image,), _ = load_source(spec, 1.0, 3, DEFAULT_NORMALIZATION, cache_dir=cache)
        rows[extra] = int(image.label[:, 50].sum())  # the road's width across one column
    # 3.5 m on each side by default; four lanes of 3.5 m: 7 m on each side. The cache
    # keeps the two labels apart.
    assert 7 <= rows[""] <= 9 and 14 <= rows[",lane_width=3.5"] <= 16


def test_sampler_crop_without_augmentation_is_a_window_of_model_input(tmp_path: Path) -> None:
    scene, _ = write_road_scene(tmp_path / "scenes")
    spec = parse_source_spec(f"scenes:{scene.parent},vectors={scene.parent},bands=3+2+1")
    (image,), _ = load_source(spec, 1.0, 3, DEFAULT_NORMALIZATION)
    sampler = CropSampler([[image]], [1.0], crop=32, seed=1, scale_jitter=0, colour_jitter=0)
    whole = image.model_input()
    batch = sampler.batch(6)
    for crop in batch.image:
        # Every crop is a flipped/rotated window of the whole-grid input.
        found = False
        for k in range(4):
            for flip in (False, True):
                c = torch.rot90(crop, -k, dims=(-2, -1))
                c = torch.flip(c, dims=(-1,)) if flip else c
                hits = np.argwhere(np.isclose(whole[0], float(c[0, 0, 0])))
                for r, q in hits:
                    window = whole[:, r : r + 32, q : q + 32]
                    if window.shape[1:] == (32, 32) and np.array_equal(window, c.numpy()):
                        found = True
                        break
                if found:
                    break
            if found:
                break
        assert found


def test_grey_crops_have_equal_bands(tmp_path: Path) -> None:
    scene, _ = write_road_scene(tmp_path / "scenes")
    spec = parse_source_spec(f"scenes:{scene.parent},vectors={scene.parent},bands=3+2+1")
    (image,), _ = load_source(spec, 1.0, 3, DEFAULT_NORMALIZATION)
    batch = CropSampler([[image]], [1.0], crop=32, seed=0, grey=1.0).batch(3)
    assert torch.equal(batch.image[:, 0], batch.image[:, 1])
    assert torch.equal(batch.image[:, 1], batch.image[:, 2])
    colour = CropSampler([[image]], [1.0], crop=32, seed=0, grey=0.0).batch(3)
    assert not torch.equal(colour.image[:, 0], colour.image[:, 2])


def test_validation_blends_like_roadseg_run(tmp_path: Path) -> None:
    """Validation probabilities are the run pipeline's, tile seams and all."""
    scene, _ = write_road_scene(tmp_path / "scenes")
    spec = parse_source_spec(f"scenes:{scene.parent},vectors={scene.parent},bands=3+2+1,val=*")
    _, (image,) = load_source(spec, 1.0, 3, DEFAULT_NORMALIZATION)
    model = build("resunet", in_channels=3, num_classes=1, base_channels=4).eval()
    prob, valid = predict_grid(
        image.scene_spec,
        lambda tiles: run_model(model, torch.device("cpu"), tiles, 1),
        align=model.output_stride,
        tile_size=64,
        overlap=16,
        block_size=64,
    )
    assert prob.shape == image.shape and valid.shape == image.shape
    np.testing.assert_array_equal(valid, image.valid)
    assert np.isfinite(prob).all() and prob.min() >= 0 and prob.max() <= 1
    accumulators = evaluate_images(model, [image])
    assert set(accumulators) == {spec.name}


def test_end_to_end_scores_runs_and_apls(tmp_path: Path, tiny_model: Path) -> None:
    scene, truth = write_road_scene(tmp_path / "scenes")
    empty = tmp_path / "empty.geojson"
    empty.write_text("")
    result = score_scenes(
        tiny_model,
        [SceneCase("city", "img5", scene, truth), SceneCase("city", "none", scene, empty)],
        keep_dir=tmp_path / "out",
    )
    assert set(result["scenes"]) == {"img5", "none"}
    assert result["scenes"]["none"]["apls"] is None
    apls = result["scenes"]["img5"]["apls"]
    assert 0.0 <= apls <= 1.0 and result["groups"]["city"] == pytest.approx(apls)
    assert (tmp_path / "out" / "city-img5.gpkg").is_file()


def test_validation_with_tta_predicts_as_roadseg_run_tta(tmp_path: Path) -> None:
    """``tta=True`` scores the mean of the four flips, as ``roadseg run --tta`` runs."""
    scene, _ = write_road_scene(tmp_path / "scenes")
    spec = parse_source_spec(f"scenes:{scene.parent},vectors={scene.parent},bands=3+2+1,val=*")
    _, (image,) = load_source(spec, 1.0, 3, DEFAULT_NORMALIZATION)
    torch.manual_seed(0)
    model = build("resunet", in_channels=3, num_classes=1, base_channels=4).eval()

    def counts(tta: bool) -> np.ndarray:
        prob, valid = predict_grid(
            image.scene_spec,
            lambda tiles: run_model(model, torch.device("cpu"), tiles, 1, tta=tta),
            align=model.output_stride,
        )
        acc = PixelAccumulator()
        acc.update(prob, image.label, valid)
        return acc.pred_all

    with_tta = evaluate_images(model, [image], tta=True)[spec.name].pred_all
    np.testing.assert_array_equal(with_tta, counts(tta=True))
    # An untrained network is not flip-invariant, so the flips change the prediction.
    assert not np.array_equal(with_tta, counts(tta=False))


def test_end_to_end_reads_the_bands_its_source_names(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A held-out scene of a ``bands=`` source runs on those bands, as its pixels were
    scored (an 8-band multispectral chip must not run on its first three)."""
    import roadseg.pipeline

    scene, _ = write_road_scene(tmp_path / "scenes")
    spec = parse_source_spec(f"scenes:{scene.parent},vectors={scene.parent},bands=3+2+1,val=*")
    _, (image,) = load_source(spec, 1.0, 3, DEFAULT_NORMALIZATION)
    case = SceneCase.of(image)
    assert case.bands == (3, 2, 1)
    seen = []
    real_run_scene = roadseg.pipeline.run_scene

    def recording_run_scene(*args: object, **kwargs: object) -> object:
        seen.append(kwargs["inference"].bands)
        return real_run_scene(*args, **kwargs)

    monkeypatch.setattr(roadseg.pipeline, "run_scene", recording_run_scene)
    result = score_scenes(tiny_model, [case])
    assert seen == [(3, 2, 1)] and result["scenes"][image.stem]["apls"] is not None
