"""Hard negatives: the starting model's false positives, and crops centred on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_roads import write_road_scene

from roadseg.data import CropSampler, load_source, parse_source_spec
from roadseg.data.sampler import crop_origin
from roadseg.errors import InvalidParameterError
from roadseg.models import build, save_checkpoint
from roadseg.models.metadata import DEFAULT_NORMALIZATION, ModelMetadata
from roadseg.training import TrainConfig, train
from roadseg.training.hard_negatives import false_positives, mine_hard_negatives


def _image(tmp_path: Path):
    scene, truth = write_road_scene(tmp_path / "scenes")
    spec = parse_source_spec(f"scenes:{scene.parent},vectors={truth.parent},bands=3+2+1")
    (image,), _ = load_source(spec, 1.0, 3, DEFAULT_NORMALIZATION)
    return image


def _sees_roads_everywhere():
    model = build("resunet", in_channels=3, num_classes=1, base_channels=4)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.head.bias.fill_(8.0)  # sigmoid(8) > 0.99 at every pixel
    return model.eval()


@pytest.mark.parametrize("seed", range(5))
def test_crop_origin_holds_the_point(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for shape, side in (((300, 200), 64), ((50, 40), 64), ((64, 64), 64)):
        for _ in range(50):
            point = np.array([rng.integers(0, shape[0]), rng.integers(0, shape[1])])
            top, left = crop_origin(point, side, shape, rng)
            assert 0 <= top <= max(0, shape[0] - side) and 0 <= left <= max(0, shape[1] - side)
            assert top <= point[0] < top + side and left <= point[1] < left + side


def test_false_positives_are_predictions_away_from_roads() -> None:
    label = np.zeros((20, 20), np.uint8)
    label[:, 10] = 1
    valid = np.ones((20, 20), bool)
    valid[0] = False
    found = false_positives(np.ones((20, 20)), label, valid, 0.5, slack=2)
    assert not found[:, 8:13].any() and not found[0].any()
    assert found[1:, :8].all() and found[1:, 13:].all()
    assert not false_positives(np.zeros((20, 20)), label, valid, 0.5, slack=2).any()


def test_mining_finds_every_road_free_pixel_of_a_model_that_sees_roads_everywhere(
    tmp_path: Path,
) -> None:
    image = _image(tmp_path)
    model = _sees_roads_everywhere()
    ((points,),) = mine_hard_negatives(model, [[image]], torch.device("cpu"), max_points=10**9)
    expected = false_positives(np.ones(image.shape), image.label, image.valid, 0.5, 3)
    assert points is not None and len(points) == expected.sum() > 0
    assert expected[points[:, 0], points[:, 1]].all()
    ((few,),) = mine_hard_negatives(model, [[image]], torch.device("cpu"), max_points=7)
    assert few is not None and len(few) == 7
    assert mine_hard_negatives(model, [[]], torch.device("cpu")) == [[]]


def test_a_share_of_crops_is_centred_on_hard_points(tmp_path: Path) -> None:
    image = _image(tmp_path)
    point = np.array([[5, 7]])
    for share, expected in ((1.0, 200), (0.0, 0), (0.5, None)):
        sampler = CropSampler([[image]], [1.0], crop=32, seed=1)
        sampler.set_hard([[point]], share)
        picks = [sampler._hard_pick(0) for _ in range(200)]
        hits = sum(p is not None and (p[1] == point[0]).all() for p in picks)
        if expected is None:
            assert 60 < hits < 140
        else:
            assert hits == expected
        sampler.batch(3)  # crops drawn around the point are valid batches
    with pytest.raises(InvalidParameterError, match="per group and per image"):
        CropSampler([[image]], [1.0], crop=32).set_hard([[point, point]], 0.5)
    with pytest.raises(InvalidParameterError, match="hard_share"):
        CropSampler([[image]], [1.0], crop=32).set_hard([[point]], 1.5)


def test_without_hard_points_the_batches_are_unchanged(tmp_path: Path) -> None:
    image = _image(tmp_path)
    plain = CropSampler([[image]], [1.0], crop=32, seed=3).batch(4)
    shared = CropSampler([[image]], [1.0], crop=32, seed=3, hard=[[None]], hard_share=0.5)
    assert torch.equal(plain.image, shared.batch(4).image)


def test_training_mines_the_starting_weights_false_positives(tmp_path: Path) -> None:
    scene, truth = write_road_scene(tmp_path / "scenes")
    spec = parse_source_spec(f"scenes:{scene.parent},vectors={truth.parent},bands=3+2+1")
    start = tmp_path / "start.safetensors"
    meta = ModelMetadata(
        architecture="resunet",
        arch_kwargs={"in_channels": 3, "num_classes": 1, "base_channels": 4},
    )
    save_checkpoint(_sees_roads_everywhere(), meta, start)
    common = dict(
        sources=(spec,),
        base_channels=4,
        crop=32,
        batch_size=2,
        steps=2,
        eval_every=2,
        device="cpu",
        threads=1,
        hard_negatives=0.5,
    )
    with pytest.raises(InvalidParameterError, match="init="):
        train(TrainConfig(out_dir=tmp_path / "no-init", **common))
    result = train(TrainConfig(out_dir=tmp_path / "run", init=start, **common))
    record = json.loads(result.metrics_log.read_text().splitlines()[-1])
    assert record["step"] == 2
    with pytest.raises(InvalidParameterError, match="hard_negatives=2"):
        TrainConfig(out_dir=tmp_path / "x", **{**common, "hard_negatives": 2.0})
