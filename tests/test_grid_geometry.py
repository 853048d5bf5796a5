"""The working grid: square pixels of the model's resolution on the scene's footprint,
for non-square pixels, rotated and sheared transforms, high latitudes and plain images."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from inference_helpers import local_checkpoint, read_probability, textured, write_scene
from rasterio.enums import Resampling

from roadseg.cli.main import cli
from roadseg.errors import InvalidInputError
from roadseg.inference import InferenceOptions
from roadseg.raster.grid import working_grid
from roadseg.raster.scene import describe_scene

FAST = ["--device", "cpu", "--no-progress", "--tile-size", "64", "--overlap", "16"]
X0, Y0 = 500_000.0, 4_100_000.0


def _grid(path: Path, model_gsd: float = 1.0, gsd: float | None = None):
    return working_grid(describe_scene(path, in_channels=3, gsd=gsd), model_gsd)


def _footprint(transform: Affine, width: int, height: int) -> np.ndarray:
    return np.array([transform @ c for c in ((0, 0), (width, 0), (0, height), (width, height))])


def test_non_square_pixels_become_square_pixels_of_the_model(tmp_path: Path) -> None:
    scene = write_scene(
        tmp_path / "s.tif", textured(120, 60), transform=Affine(2.0, 0, X0, 0, -1.0, Y0)
    )
    grid = _grid(scene)
    assert (grid.width, grid.height) == (120, 120)
    assert grid.res_m == pytest.approx((1.0, 1.0))
    assert grid.gsd_m == pytest.approx(1.0)
    assert np.allclose(
        _footprint(grid.transform, 120, 120), _footprint(Affine(2, 0, X0, 0, -1, Y0), 60, 120)
    )


def test_non_square_scene_is_predicted_as_its_square_resampling(tmp_path: Path) -> None:
    """The model sees the scene undistorted: the same as a scene resampled beforehand."""
    model = local_checkpoint(tmp_path / "m.safetensors")
    wide = write_scene(
        tmp_path / "wide.tif", textured(96, 48, seed=3), transform=Affine(2.0, 0, X0, 0, -1.0, Y0)
    )
    with rasterio.open(wide) as src:
        square = src.read(out_shape=(3, 96, 96), resampling=Resampling.bilinear)
    ref = write_scene(tmp_path / "ref.tif", square, transform=Affine(1.0, 0, X0, 0, -1.0, Y0))
    outs = []
    for scene in (wide, ref):
        out = tmp_path / f"{scene.stem}.prob.tif"
        result = CliRunner().invoke(
            cli, ["run", str(scene), "--prob-out", str(out), "--model", str(model), *FAST]
        )
        assert result.exit_code == 0, result.output
        with rasterio.open(out) as dst:
            assert dst.res == pytest.approx((1.0, 1.0)) and dst.shape == (96, 96)
        outs.append(read_probability(out))
    assert np.nanmean(np.abs(outs[0] - outs[1])) < 0.03


def test_the_log_gives_each_axis_of_non_square_pixels(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = local_checkpoint(tmp_path / "m.safetensors")
    scene = write_scene(
        tmp_path / "s.tif", textured(64, 32), transform=Affine(2.0, 0, X0, 0, -1.0, Y0)
    )
    result = CliRunner().invoke(
        cli,
        ["run", str(scene), "--prob-out", str(tmp_path / "p.tif"), "--model", str(model), *FAST],
    )
    assert result.exit_code == 0, result.output
    assert "32x64 px at 2 x 1 m -> 64x64 px at 1 m" in caplog.text


def test_a_declared_gsd_keeps_the_aspect_of_the_pixels(tmp_path: Path) -> None:
    scene = write_scene(
        tmp_path / "s.tif", textured(100, 50), transform=Affine(2.0, 0, X0, 0, -1.0, Y0)
    )
    grid = _grid(scene, gsd=3.0)  # mean 3 m: 4 m x 2 m
    assert (grid.width, grid.height) == (200, 200)


def test_a_rotated_transform_works_and_keeps_its_rotation(tmp_path: Path) -> None:
    rotated = Affine.translation(X0, Y0) @ Affine.rotation(30) @ Affine.scale(2.0, -2.0)
    model = local_checkpoint(tmp_path / "m.safetensors")
    scene = write_scene(tmp_path / "r.tif", textured(50, 40), transform=rotated)
    grid = _grid(scene)
    assert (grid.width, grid.height) == (80, 100)
    assert grid.res_m == pytest.approx((1.0, 1.0))
    assert np.allclose(_footprint(grid.transform, 80, 100), _footprint(rotated, 40, 50))
    out = tmp_path / "p.tif"
    result = CliRunner().invoke(
        cli, ["run", str(scene), "--prob-out", str(out), "--model", str(model), *FAST]
    )
    assert result.exit_code == 0, result.output
    with rasterio.open(out) as dst:
        assert dst.transform.almost_equals(grid.transform)


def test_a_sheared_transform_is_refused_clearly(tmp_path: Path) -> None:
    scene = write_scene(
        tmp_path / "s.tif", textured(40, 40), transform=Affine(1.0, 0.4, X0, 0, -1.0, Y0)
    )
    with pytest.raises(InvalidInputError, match=r"sheared.*gdalwarp"):
        _grid(scene)


def test_a_scene_at_78_north_in_degrees_gets_square_metre_pixels(tmp_path: Path) -> None:
    # 1e-5 degrees of longitude is about 0.23 m at 78 N, of latitude about 1.1 m.
    transform = Affine(2e-5, 0, 15.0, 0, -1e-5, 78.0)
    scene = write_scene(
        tmp_path / "n.tif", textured(100, 200), crs="EPSG:4326", transform=transform
    )
    grid = _grid(scene)
    dx = 2e-5 * 111_412 * math.cos(math.radians(78.0))
    dy = 1e-5 * 111_600
    assert grid.width == pytest.approx(200 * dx, rel=0.02)
    assert grid.height == pytest.approx(100 * dy, rel=0.02)
    assert grid.res_m[0] == pytest.approx(1.0, rel=0.02)
    assert grid.res_m[1] == pytest.approx(1.0, rel=0.02)


def test_a_tiny_working_grid_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scene = write_scene(
        tmp_path / "crop.tif", textured(233, 380), transform=Affine(0.15, 0, X0, 0, -0.15, Y0)
    )
    assert (_grid(scene).width, _grid(scene).height) == (57, 35)
    model = local_checkpoint(tmp_path / "m.safetensors")
    args = ["run", str(scene), "--prob-out", str(tmp_path / "p.tif"), "--model", str(model)]
    with caplog.at_level(logging.WARNING, logger="roadseg"):
        result = CliRunner().invoke(cli, [*args, *FAST[:3], "--tile-size", "32", "--overlap", "8"])
    assert result.exit_code == 0, result.output
    assert "only 57x35 px" in caplog.text


def test_a_plain_image_output_is_y_up_so_qgis_shows_it_the_right_way_up(tmp_path: Path) -> None:
    model = local_checkpoint(tmp_path / "m.safetensors")
    image = tmp_path / "plain.png"
    with rasterio.open(
        image, "w", driver="PNG", width=96, height=64, count=3, dtype="uint8"
    ) as dst:
        dst.write(textured(64, 96))
    out, prob = tmp_path / "r.gpkg", tmp_path / "p.tif"
    args = ["run", str(image), "--out", str(out), "--prob-out", str(prob), "--model", str(model)]
    result = CliRunner().invoke(cli, [*args, *FAST, "--min-length", "0"])
    assert result.exit_code == 0, result.output
    with rasterio.open(prob) as dst:
        # y = -row: the north-up convention QGIS uses for a raster without georeferencing
        assert dst.transform.e < 0 and dst.bounds.top == 0 and dst.bounds.bottom == -64
    import geopandas as gpd

    roads = gpd.read_file(out, layer="roads")
    if len(roads):
        ys = roads.geometry.get_coordinates()["y"]
        assert (ys <= 0).all() and (ys >= -64).all()


def test_the_statistics_read_is_announced_before_it_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import roadseg.inference.predict as predict
    import roadseg.raster.prepare as prepare

    seen: list[str] = []
    real = prepare.scene_band_stats

    def spy(*args, **kwargs):
        seen.append(caplog.text)
        return real(*args, **kwargs)

    monkeypatch.setattr(prepare, "scene_band_stats", spy)
    monkeypatch.setattr(prepare, "STATS_WINDOWED_PIXELS", 100)  # this scene is "huge"
    model = local_checkpoint(tmp_path / "m.safetensors")
    scene = write_scene(tmp_path / "s.tif", textured(64, 64))
    with caplog.at_level(logging.INFO, logger="roadseg"):
        predict.predict_scene(
            scene,
            tmp_path / "p.tif",
            InferenceOptions(model=model, device="cpu", tile_size=64, overlap=16),
        )
    assert len(seen) == 1
    assert "reading band statistics" in seen[0] and "no overviews" in seen[0]
    assert "gdaladdo" in seen[0]
