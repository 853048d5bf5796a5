"""Training on a tiny synthetic dataset: loss, checkpoint, resume, sources, sampler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from click.testing import CliRunner
from rasterio.transform import from_origin

from roadseg.cli.main import cli
from roadseg.data import CropSampler, find_pairs, load_source, read_recipe
from roadseg.errors import InputNotFoundError, InvalidParameterError, OutputExistsError
from roadseg.models import build, load
from roadseg.training import TrainConfig, parse_source_spec, train
from roadseg.training.environment import channels_last_trains, lr_factor
from roadseg.training.loss import bce_dice_loss
from roadseg.training.state import state_paths


def _write_png(path: Path, array: np.ndarray) -> None:
    array = array if array.ndim == 3 else array[None]
    with rasterio.open(
        path,
        "w",
        driver="PNG",
        width=array.shape[2],
        height=array.shape[1],
        count=array.shape[0],
        dtype="uint8",
    ) as dst:
        dst.write(array)


def _synthetic_pairs(root: Path, count: int = 4, size: int = 64) -> Path:
    """Dark noisy ground with bright roads; Massachusetts layout (images/, masks/)."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(count):
        mask = np.zeros((size, size), np.uint8)
        for _ in range(2):
            pos = int(rng.integers(4, size - 8))
            if rng.random() < 0.5:
                mask[pos : pos + 4, :] = 1
            else:
                mask[:, pos : pos + 4] = 1
        ground = rng.integers(20, 90, (3, size, size))
        image = np.where(mask[None] > 0, rng.integers(170, 230, (3, size, size)), ground)
        _write_png(root / "images" / f"tile{i}.png", image.astype(np.uint8))
        _write_png(root / "masks" / f"tile{i}.png", mask * 255)
    return root


def _config(data: Path, out: Path, **kwargs: object) -> TrainConfig:
    values: dict[str, object] = dict(
        sources=(parse_source_spec(f"pairs:{data},gsd=1.0,val=tile3,name=synthetic"),),
        out_dir=out,
        base_channels=4,
        crop=32,
        batch_size=4,
        steps=30,
        warmup_steps=3,
        lr=1e-2,
        eval_every=10,
        device="cpu",
        threads=1,
        scale_jitter=0.0,
        colour_jitter=0.0,
        name="tiny",
    )
    values.update(kwargs)
    return TrainConfig(**values)  # type: ignore[arg-type]


def test_training_reduces_loss_and_writes_loadable_checkpoint(tmp_path: Path) -> None:
    data = _synthetic_pairs(tmp_path / "data")
    result = train(_config(data, tmp_path / "run"))
    records = [json.loads(line) for line in result.metrics_log.read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30]
    assert records[-1]["train_loss"] < 0.8 * records[0]["train_loss"]
    model, meta = load(result.best)
    assert meta.name == "tiny"
    assert meta.architecture == "resunet" and meta.arch_kwargs["base_channels"] == 4
    assert 0.0 < meta.threshold < 1.0
    assert meta.training["split"]["synthetic"] == {
        "train": ["tile0", "tile1", "tile2"],
        "val": ["tile3"],
    }
    assert meta.training["step"] in (10, 20, 30)
    assert "relaxed_breakeven" in meta.metrics["per_dataset"]["synthetic"]
    assert (tmp_path / "run" / "learning_curve.png").stat().st_size > 0
    out = model(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, 1, 32, 32)


def test_resume_continues_from_the_saved_step(tmp_path: Path) -> None:
    data = _synthetic_pairs(tmp_path / "data")
    run = tmp_path / "run"
    first = train(_config(data, run, steps=10, eval_every=5))
    assert first.step == 10
    state = json.loads(state_paths(first.last)[1].read_text())
    assert state["record"]["step"] == 10
    with pytest.raises(OutputExistsError, match="resume="):
        train(_config(data, run, steps=10, eval_every=5))
    second = train(_config(data, run, steps=14, eval_every=5), resume=first.last)
    assert second.step == 14
    steps = [json.loads(line)["step"] for line in second.metrics_log.read_text().splitlines()]
    assert steps == [5, 10, 14]
    # The learning rate continues on the schedule of the new run.
    lr = json.loads(second.metrics_log.read_text().splitlines()[-1])["lr"]
    assert lr == pytest.approx(1e-2 * lr_factor(14, 14, 3))


def test_resume_refuses_another_architecture(tmp_path: Path) -> None:
    data = _synthetic_pairs(tmp_path / "data", count=2)
    first = train(
        _config(
            data,
            tmp_path / "run",
            steps=2,
            eval_every=2,
            sources=(parse_source_spec(f"pairs:{data},gsd=1.0"),),
        )
    )
    with pytest.raises(InvalidParameterError, match="same model options"):
        train(
            _config(
                data,
                tmp_path / "run",
                steps=4,
                base_channels=8,
                sources=(parse_source_spec(f"pairs:{data},gsd=1.0"),),
            ),
            resume=first.last,
        )


def test_train_command(tmp_path: Path) -> None:
    data = _synthetic_pairs(tmp_path / "data", count=2)
    args = [
        "train",
        "--source",
        f"pairs:{data},gsd=1.0,val=tile1",
        "--out",
        str(tmp_path / "run"),
        "--base-channels",
        "4",
        "--crop",
        "32",
        "--steps",
        "3",
        "--eval-every",
        "3",
        "--device",
        "cpu",
        "--threads",
        "1",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "trained 3 steps" in result.output
    again = CliRunner().invoke(cli, args)
    assert again.exit_code != 0 and "--overwrite" in again.output


def test_source_specs() -> None:
    spec = parse_source_spec("pairs:data/mass,gsd=0.5,nodata=255,val=a+b,weight=2")
    assert (spec.kind, spec.gsd_m, spec.nodata, spec.val, spec.weight) == (
        "pairs",
        0.5,
        255.0,
        ("a", "b"),
        2.0,
    )
    assert parse_source_spec(spec.to_spec()) == spec
    scenes = parse_source_spec("scenes:s,vectors=v,buffer=2,bands=3+2+1,name=sn")
    assert scenes.bands == (3, 2, 1) and scenes.buffer_m == 2.0 and scenes.name == "sn"
    assert scenes.lane_width_m is None
    lanes = parse_source_spec("scenes:s,vectors=v,lane_width=3.5,lanes=lanes_total")
    assert (lanes.lane_width_m, lanes.lanes_field) == (3.5, "lanes_total")
    assert parse_source_spec(lanes.to_spec()) == lanes
    for bad, match in (
        ("scenes:s,vectors=v,lane_width=0", "lane_width='0' must be > 0"),
        ("scenes:s,vectors=v,lanes=lane_number", "add lane_width=3.5"),
        ("pairs:data", "gsd="),
        ("scenes:data", "vectors="),
        ("tiles:data", "must start"),
        ("pairs:data,gsd=1,colour=red", "unknown option"),
        ("pairs:data,gsd=x", "not a number"),
    ):
        with pytest.raises(InvalidParameterError, match=match):
            parse_source_spec(bad)


def test_read_recipe(tmp_path: Path) -> None:
    recipe = tmp_path / "r.sources"
    recipe.write_text(
        "# a comment\n\n  pairs:{data}/mass,gsd=1.0,val=a  \nscenes:{data}/sn,vectors={data}/v\n"
    )
    specs = read_recipe(recipe, "/d")
    assert [(s.kind, s.path, s.val) for s in specs] == [
        ("pairs", Path("/d/mass"), ("a",)),
        ("scenes", Path("/d/sn"), ()),
    ]
    assert specs[1].vectors == Path("/d/v")
    with pytest.raises(InputNotFoundError, match=r"missing\.sources"):
        read_recipe(tmp_path / "missing.sources", "/d")
    recipe.write_text("pairs:{data}/mass\n")
    with pytest.raises(InvalidParameterError, match="gsd="):
        read_recipe(recipe, "/d")


def test_pairs_layouts_nodata_and_resampling(tmp_path: Path) -> None:
    folder = tmp_path / "dg"
    folder.mkdir()
    image = np.full((3, 40, 40), 100, np.uint8)
    image[:, :, 30:] = 255  # white no-data on the right
    mask = np.zeros((40, 40), np.uint8)
    mask[:, 10:14] = 255
    _write_png(folder / "7_sat.png", image)
    _write_png(folder / "7_mask.png", mask)
    assert [p[0] for p in find_pairs(folder)] == ["7"]
    spec = parse_source_spec(f"pairs:{folder},gsd=0.5,nodata=255")
    train_images, val_images = load_source(spec, gsd_m=1.0, in_channels=3)
    assert not val_images
    (img,) = train_images
    assert img.shape == (20, 20)  # 0.5 m read at 1 m
    assert img.label[:, 5:7].all() and not img.label[:, 10:].any()
    # The boundary pixel blends data and white, as roadseg run reads it: valid.
    assert img.valid[:, :15].all() and not img.valid[:, 16:].any()
    with pytest.raises(InputNotFoundError, match="validation stems"):
        load_source(parse_source_spec(f"pairs:{folder},gsd=1,val=8"), 1.0, 3)


def test_scene_source_places_roads_in_a_lonlat_scene(tmp_path: Path) -> None:
    scenes, vectors = tmp_path / "rgb", tmp_path / "geojson"
    scenes.mkdir()
    vectors.mkdir()
    res = 2.7e-6  # about 0.3 m at 31 degrees north
    transform = from_origin(121.0, 31.0, res, res)
    pixels = np.full((3, 300, 300), 80, np.uint8)
    pixels[:, :, 145:155] = 200
    with rasterio.open(
        scenes / "RGB_AOI_img7.tif",
        "w",
        driver="GTiff",
        width=300,
        height=300,
        count=3,
        dtype="uint8",
        crs="EPSG:4326",
        transform=transform,
        nodata=0,
    ) as dst:
        dst.write(pixels)
    lon = 121.0 + 150 * res
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "LineString", "coordinates": [[lon, 31.0], [lon, 31.0 - 300 * res]]},
    }
    (vectors / "roads_AOI_img7.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": [feature]})
    )
    spec = parse_source_spec(f"scenes:{scenes},vectors={vectors},buffer=2,val=img7,name=sn")
    train_images, (img,) = load_source(spec, gsd_m=1.0, in_channels=3)
    assert not train_images and img.stem == "img7" and img.dataset == "sn"
    # About 77 m x 89 m: square 1 m pixels on the scene's own (lon/lat) grid.
    assert 70 <= img.shape[1] <= 85 and 85 <= img.shape[0] <= 95
    road_columns = np.flatnonzero(img.label[10:-10].any(axis=0))
    bright_columns = np.flatnonzero(img.raw[0, img.shape[0] // 2] > 140)
    assert len(road_columns) <= 8  # 4 m wide
    assert abs(road_columns.mean() - bright_columns.mean()) <= 1.5


def test_sampler_is_deterministic_and_augments(tmp_path: Path) -> None:
    data = _synthetic_pairs(tmp_path / "data", count=2)
    images, _ = load_source(parse_source_spec(f"pairs:{data},gsd=1"), 1.0, 3)
    a = CropSampler([images], [1.0], crop=24, seed=3).batch(2)
    b = CropSampler([images], [1.0], crop=24, seed=3).batch(2)
    assert a.image.shape == (2, 3, 24, 24) and a.target.shape == (2, 1, 24, 24)
    assert torch.equal(a.image, b.image) and torch.equal(a.target, b.target)
    assert float(a.image.min()) >= 0.0 and float(a.image.max()) <= 1.0


def test_loss_ignores_invalid_pixels_and_prefers_right_answers() -> None:
    target = torch.zeros(1, 1, 8, 8)
    target[..., 2:4, :] = 1
    good, bad = (target * 2 - 1) * 6, (1 - target * 2) * 6
    assert bce_dice_loss(good, target) < 0.1 < bce_dice_loss(bad, target)
    valid = torch.zeros_like(target)
    valid[..., :, :4] = 1
    mixed = good.clone()
    mixed[..., :, 4:] = bad[..., :, 4:]
    assert bce_dice_loss(mixed, target, valid) == pytest.approx(
        float(bce_dice_loss(good, target)), abs=0.02
    )


def test_schedule_warms_up_then_decays() -> None:
    assert lr_factor(0, 100, 10) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10) == pytest.approx(0.5)
    assert lr_factor(100, 100, 10) == pytest.approx(0.0)


def test_wall_clock_budget_stops_the_run(tmp_path: Path) -> None:
    data = _synthetic_pairs(tmp_path / "data", count=2)
    result = train(
        _config(
            data,
            tmp_path / "run",
            steps=1000,
            max_minutes=0.0005,
            sources=(parse_source_spec(f"pairs:{data},gsd=1.0,val=tile1"),),
        )
    )
    assert result.step < 1000
    assert result.best.is_file() and result.last.is_file()


def test_sampler_avoids_no_data(tmp_path: Path) -> None:
    folder = tmp_path / "pairs"
    folder.mkdir()
    image = np.full((3, 64, 64), 100, np.uint8)
    image[:, :, :48] = 255  # three quarters white no-data
    _write_png(folder / "1_sat.png", image)
    _write_png(folder / "1_mask.png", np.zeros((64, 64), np.uint8))
    images, _ = load_source(parse_source_spec(f"pairs:{folder},gsd=1,nodata=255"), 1.0, 3)
    batch = CropSampler([images], [1.0], crop=16, seed=0, min_valid=0.9, scale_jitter=0).batch(8)
    assert float(batch.valid.mean()) > 0.9


def test_cldice_punishes_a_broken_road_more_than_a_thinner_one() -> None:
    from roadseg.training.loss import soft_cldice_loss

    target = torch.zeros(1, 1, 32, 64)
    target[..., 14:19, :] = 1  # a 5 px road across the crop
    broken = target.clone()
    broken[..., 28:36] = 0  # 8 px gap: 40 road pixels lost, the road cut in two
    thinner = target.clone()
    thinner[..., 14, :] = 0  # one edge row lost: 64 road pixels, still connected

    def logits(mask: torch.Tensor) -> torch.Tensor:
        return (mask * 2 - 1) * 8

    perfect = float(soft_cldice_loss(logits(target), target))
    assert perfect < 0.02
    assert float(soft_cldice_loss(logits(broken), target)) > float(
        soft_cldice_loss(logits(thinner), target)
    )
    x = logits(broken).requires_grad_()
    soft_cldice_loss(x, target).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


@pytest.mark.parametrize(("base", "expected"), [(4, False), (6, False), (8, True), (16, True)])
def test_narrow_models_train_in_the_default_layout_on_a_cpu(base: int, expected: bool) -> None:
    """Strided 1x1 convolutions with input channels not a multiple of 8 crash oneDNN's
    channels-last backward pass on AVX2 CPUs; such models must not train channels-last."""
    model = build("resunet", in_channels=3, num_classes=1, base_channels=base)
    assert channels_last_trains(model, torch.device("cpu")) is expected
