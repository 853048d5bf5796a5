"""Scene inference: seam-free blending, georeferencing, no-data, odd sizes, dtypes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from inference_helpers import (
    local_checkpoint,
    read_probability,
    resunet_checkpoint,
    textured,
    whole_image_probability,
    write_scene,
)

from roadseg.inference import InferenceOptions, predict_scene
from roadseg.raster import probability as P

SMALL = dict(tile_size=64, overlap=16, block_size=100, batch_size=3)


@pytest.fixture
def local_model(tmp_path: Path) -> Path:
    return local_checkpoint(tmp_path / "local.safetensors")


def test_tiled_blocked_pipeline_equals_whole_image_prediction(
    tmp_path: Path, local_model: Path
) -> None:
    scene = write_scene(tmp_path / "scene.tif", textured(300, 433))
    result = predict_scene(
        scene, tmp_path / "p.tif", InferenceOptions(model=local_model, device="cpu", **SMALL)
    )
    assert result.blocks > 4 and result.tiles > result.blocks  # several blocks of several tiles
    got = read_probability(result.path)
    want = whole_image_probability(scene, local_model)
    assert want.std() > 0.1  # the model's output varies, so a shifted tile would show
    assert got.shape == want.shape == (300, 433)
    diff = np.abs(got - want)
    # Only the uint8 quantisation separates the two: no seams, no shifted pixel.
    assert diff.max() <= 0.5 / P.PROB_MAX + 1e-4
    # And a one-pixel shift of the reference would not pass.
    assert np.abs(got[:, 1:] - want[:, :-1]).max() > 0.1


def test_block_size_and_batch_size_do_not_change_the_result(
    tmp_path: Path, local_model: Path
) -> None:
    scene = write_scene(tmp_path / "scene.tif", textured(150, 170))
    a = predict_scene(
        scene, tmp_path / "a.tif", InferenceOptions(model=local_model, device="cpu", **SMALL)
    )
    b = predict_scene(
        scene,
        tmp_path / "b.tif",
        InferenceOptions(
            model=local_model,
            device="cpu",
            tile_size=64,
            overlap=16,
            block_size=10_000,
            batch_size=1,
        ),
    )
    assert b.blocks == 1 and a.blocks > 1
    np.testing.assert_allclose(read_probability(a.path), read_probability(b.path), atol=1.01 / 254)


def _check_georeferencing(scene: Path, out: Path) -> None:
    with rasterio.open(scene) as src, rasterio.open(out) as dst:
        assert dst.crs == src.crs
        assert dst.transform.almost_equals(src.transform)
        np.testing.assert_allclose(tuple(dst.bounds), tuple(src.bounds), rtol=0, atol=1e-9)
        assert dst.nodata == P.PROB_NODATA
        assert dst.dtypes[0] == "uint8"
        assert dst.scales[0] == pytest.approx(P.PROB_SCALE)
        assert dst.profile["compress"] == "deflate" and dst.profile["tiled"]
        tags = dst.tags()
        assert tags[P.TAG_SOURCE] == scene.name
        assert float(tags[P.TAG_THRESHOLD]) == 0.5


def test_output_is_a_cloud_optimised_geotiff_with_overviews(
    tmp_path: Path, local_model: Path
) -> None:
    scene = write_scene(tmp_path / "scene.tif", textured(600, 1030))
    result = predict_scene(
        scene,
        tmp_path / "p.tif",
        InferenceOptions(model=local_model, device="cpu", tile_size=256, overlap=32),
    )
    with rasterio.open(result.path) as dst:
        assert dst.overviews(1)[:1] == [2]
        assert dst.block_shapes[0] == (512, 512)
        assert dst.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local.safetensors", "p.tif", "scene.tif"]


def test_utm_scene_round_trips_crs_and_transform(tmp_path: Path, local_model: Path) -> None:
    scene = write_scene(tmp_path / "utm.tif", textured(120, 90))
    result = predict_scene(
        scene, tmp_path / "p.tif", InferenceOptions(model=local_model, device="cpu", **SMALL)
    )
    _check_georeferencing(scene, result.path)
    assert result.gsd_m == pytest.approx(1.0)


def test_geographic_scene_uses_metres_and_keeps_its_grid(tmp_path: Path) -> None:
    # 0.3 m pixels in EPSG:4326 near Las Vegas; the model is trained at 0.3 m.
    lat = 36.17
    dy = 0.3 / 111_000
    dx = 0.3 / (111_320 * np.cos(np.radians(lat)))
    transform = Affine(dx, 0, -115.14, 0, -dy, lat)
    scene = write_scene(
        tmp_path / "wgs84.tif", textured(96, 110), crs="EPSG:4326", transform=transform
    )
    model = local_checkpoint(tmp_path / "m.safetensors", gsd_m=0.3)
    result = predict_scene(
        scene, tmp_path / "p.tif", InferenceOptions(model=model, device="cpu", **SMALL)
    )
    assert (result.width, result.height) == (110, 96)  # no resampling: same resolution
    assert result.gsd_m == pytest.approx(0.3, rel=0.01)
    _check_georeferencing(scene, result.path)


def test_scene_is_resampled_to_the_model_resolution_on_the_same_footprint(
    tmp_path: Path, local_model: Path
) -> None:
    transform = Affine(0.5, 0, 500_000, 0, -0.5, 4_100_000)
    scene = write_scene(tmp_path / "fine.tif", textured(201, 150), transform=transform)
    result = predict_scene(
        scene, tmp_path / "p.tif", InferenceOptions(model=local_model, device="cpu", **SMALL)
    )
    assert (result.width, result.height) == (75, 100)  # 0.5 m -> 1 m, rounded
    with rasterio.open(scene) as src, rasterio.open(result.path) as dst:
        np.testing.assert_allclose(tuple(dst.bounds), tuple(src.bounds), atol=1e-6)
        assert dst.crs == src.crs
    assert result.gsd_m == pytest.approx(1.0, rel=0.01)


def test_nodata_and_alpha_regions_stay_nodata(tmp_path: Path, local_model: Path) -> None:
    image = textured(130, 140)
    image[:, :40, :] = 0  # a black no-data border on top
    scene = write_scene(tmp_path / "nodata.tif", image, nodata=0)
    out = predict_scene(
        scene, tmp_path / "p.tif", InferenceOptions(model=local_model, device="cpu", **SMALL)
    )
    with rasterio.open(out.path) as dst:
        stored = dst.read(1)
    assert (stored[:40] == P.PROB_NODATA).all()
    assert (stored[40:] != P.PROB_NODATA).all()

    rgba = np.concatenate([textured(130, 140), np.full((1, 130, 140), 255, np.uint8)])
    rgba[3, :, 100:] = 0  # transparent on the right
    rgba[:3, :, 100:] = 0
    scene = write_scene(tmp_path / "alpha.tif", rgba, alpha=True)
    out = predict_scene(
        scene, tmp_path / "q.tif", InferenceOptions(model=local_model, device="cpu", **SMALL)
    )
    with rasterio.open(out.path) as dst:
        stored = dst.read(1)
    assert (stored[:, 100:] == P.PROB_NODATA).all()
    assert (stored[:, :100] != P.PROB_NODATA).all()


def test_nodata_does_not_change_predictions_next_to_it_like_black_imagery_would(
    tmp_path: Path, local_model: Path
) -> None:
    # The model sees a neutral fill, not zeros: valid pixels beside no-data get the same
    # prediction whatever value the no-data pixels hold.
    image = textured(100, 100)
    a, b = image.copy(), image.copy()
    a[:, :, :50] = 0
    b[:, :, :50] = 7
    pa = predict_scene(
        write_scene(tmp_path / "a.tif", a, nodata=0),
        tmp_path / "pa.tif",
        InferenceOptions(model=local_model, device="cpu", **SMALL),
    )
    pb = predict_scene(
        write_scene(tmp_path / "b.tif", b, nodata=7),
        tmp_path / "pb.tif",
        InferenceOptions(model=local_model, device="cpu", **SMALL),
    )
    np.testing.assert_array_equal(
        read_probability(pa.path)[:, 50:], read_probability(pb.path)[:, 50:]
    )


@pytest.mark.parametrize(("height", "width"), [(37, 23), (1, 5), (64, 64)])
def test_scene_smaller_than_one_tile(
    tmp_path: Path, local_model: Path, height: int, width: int
) -> None:
    scene = write_scene(tmp_path / "tiny.tif", textured(height, width))
    result = predict_scene(
        scene, tmp_path / "p.tif", InferenceOptions(model=local_model, device="cpu", **SMALL)
    )
    got = read_probability(result.path)
    assert got.shape == (height, width) and np.isfinite(got).all()
    if min(height, width) > 8:
        want = whole_image_probability(scene, local_model)
        assert np.abs(got - want).max() <= 0.5 / P.PROB_MAX + 1e-4


@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_uint16_and_float_scenes_match_the_same_image_in_uint8(
    tmp_path: Path, local_model: Path, dtype: str
) -> None:
    base = textured(90, 110)
    # 11-bit values (or reflectance-like floats): the per-scene stretch makes them equal.
    scaled = (base.astype(np.float64) * (2047 / 255 if dtype == "uint16" else 1 / 255)).astype(
        dtype
    )
    ref = predict_scene(
        write_scene(tmp_path / "u8.tif", base),
        tmp_path / "u8p.tif",
        InferenceOptions(model=local_model, device="cpu", **SMALL),
    )
    other = predict_scene(
        write_scene(tmp_path / "x.tif", scaled),
        tmp_path / "xp.tif",
        InferenceOptions(model=local_model, device="cpu", **SMALL),
    )
    diff = np.abs(read_probability(ref.path) - read_probability(other.path))
    assert diff.mean() < 0.02


def test_nan_pixels_of_a_float_scene_are_nodata(tmp_path: Path, local_model: Path) -> None:
    image = textured(60, 70).astype(np.float32)
    image[:, 10:20, 10:20] = np.nan
    result = predict_scene(
        write_scene(tmp_path / "f.tif", image),
        tmp_path / "p.tif",
        InferenceOptions(model=local_model, device="cpu", **SMALL),
    )
    got = read_probability(result.path)
    assert np.isnan(got[10:20, 10:20]).all()
    assert np.isfinite(got).sum() == 60 * 70 - 100


def test_plain_image_without_georeferencing_is_accepted_with_a_warning(
    tmp_path: Path, local_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scene = write_scene(tmp_path / "plain.tif", textured(80, 90), crs=None)
    result = predict_scene(
        scene,
        tmp_path / "p.tif",
        InferenceOptions(model=local_model, device="cpu", gsd=0.5, **SMALL),
    )
    assert "no georeferencing" in caplog.text
    assert result.crs is None
    assert (result.width, result.height) == (45, 40)  # declared 0.5 m, model 1 m


def test_band_selection_and_single_band_repetition(tmp_path: Path, local_model: Path) -> None:
    rgb = textured(70, 80)
    five = np.concatenate([rgb[::-1], textured(70, 80, bands=2, seed=3)])  # b,g,r,x,y
    a = predict_scene(
        write_scene(tmp_path / "rgb.tif", rgb),
        tmp_path / "a.tif",
        InferenceOptions(model=local_model, device="cpu", **SMALL),
    )
    b = predict_scene(
        write_scene(tmp_path / "five.tif", five),
        tmp_path / "b.tif",
        InferenceOptions(model=local_model, device="cpu", bands=(3, 2, 1), **SMALL),
    )
    np.testing.assert_array_equal(read_probability(a.path), read_probability(b.path))
    pan = predict_scene(
        write_scene(tmp_path / "pan.tif", rgb[:1]),
        tmp_path / "c.tif",
        InferenceOptions(model=local_model, device="cpu", **SMALL),
    )
    assert np.isfinite(read_probability(pan.path)).all()


def test_tta_averages_flips(tmp_path: Path) -> None:
    model = resunet_checkpoint(tmp_path / "r.safetensors")
    image = textured(64, 64)
    scene = write_scene(tmp_path / "s.tif", image)
    flipped = write_scene(tmp_path / "f.tif", np.ascontiguousarray(image[:, :, ::-1]))
    kw = dict(model=model, device="cpu", tile_size=64, overlap=0, block_size=64)
    a = read_probability(
        predict_scene(scene, tmp_path / "a.tif", InferenceOptions(tta=True, **kw)).path
    )
    b = read_probability(
        predict_scene(flipped, tmp_path / "b.tif", InferenceOptions(tta=True, **kw)).path
    )
    plain = read_probability(predict_scene(scene, tmp_path / "c.tif", InferenceOptions(**kw)).path)
    # With all four flips averaged the prediction commutes with flipping the input.
    np.testing.assert_allclose(a, b[:, ::-1], atol=1.01 / 254)
    assert np.abs(a - plain).max() > 2 / 254
