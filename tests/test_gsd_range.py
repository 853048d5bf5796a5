"""Models with a range of working resolutions: a scene inside the range is worked at its
own resolution, finer ones are downsampled to the finest, coarser ones upsampled to the
coarsest; training, validation and ``roadseg run`` read scenes alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from inference_helpers import local_checkpoint, textured, write_scene
from synthetic_roads import write_road_scene

from roadseg.cli.main import cli
from roadseg.data import load_source, parse_source_spec
from roadseg.errors import InvalidParameterError
from roadseg.models import ModelMetadata, read_metadata
from roadseg.models.metadata import DEFAULT_NORMALIZATION
from roadseg.raster.grid import working_grid, working_gsd
from roadseg.raster.scene import describe_scene
from roadseg.training.config import TrainConfig

FAST = ["--device", "cpu", "--no-progress", "--tile-size", "64", "--overlap", "16"]
X0, Y0 = 500_000.0, 4_100_000.0


@pytest.mark.parametrize(
    ("scene_gsd", "expected"), [(0.3, 0.5), (0.5, 0.5), (0.75, 0.75), (1.0, 1.0), (2.0, 1.0)]
)
def test_a_range_keeps_a_scene_inside_it_at_its_own_resolution(
    scene_gsd: float, expected: float
) -> None:
    assert working_gsd(scene_gsd, 0.5, 1.0) == expected
    assert working_gsd(scene_gsd, 0.5) == 0.5  # one resolution: every scene at it


def test_a_range_upside_down_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match=r"max_gsd_m \(0.4\) is finer"):
        working_gsd(1.0, 0.5, 0.4)
    with pytest.raises(InvalidParameterError, match="gsd_m must be positive"):
        working_gsd(1.0, 0.0)
    source = parse_source_spec("pairs:data,gsd=1.0")
    with pytest.raises(InvalidParameterError, match="--max-gsd"):
        TrainConfig(sources=(source,), out_dir=Path("run"), gsd_m=1.0, max_gsd_m=0.5)


@pytest.mark.parametrize(("pixel", "side"), [(1.0, 60), (0.25, 120), (2.0, 60)])
def test_working_grids_of_a_range(tmp_path: Path, pixel: float, side: int) -> None:
    """60 m of ground: at 1 m it stays 60 px (no resampling); 0.25 m pixels become 0.5 m
    ones; 2 m pixels become 1 m ones."""
    n = round(60 / pixel)
    scene = write_scene(
        tmp_path / "s.tif", textured(n, n), transform=Affine(pixel, 0, X0, 0, -pixel, Y0)
    )
    grid = working_grid(describe_scene(scene, in_channels=3), 0.5, 1.0)
    assert (grid.width, grid.height) == (side, side)
    assert grid.resampled == (pixel != 1.0)


def test_metadata_keeps_the_range_and_old_checkpoints_have_none(tmp_path: Path) -> None:
    meta = ModelMetadata("resunet", {"base_channels": 4}, gsd_m=0.5, max_gsd_m=1.0)
    assert ModelMetadata.from_json(meta.to_json()).max_gsd_m == 1.0
    old = ModelMetadata.from_json('{"architecture": "resunet", "arch_kwargs": {}, "gsd_m": 1.0}')
    assert old.max_gsd_m is None
    path = local_checkpoint(tmp_path / "m.safetensors", gsd_m=0.5, max_gsd_m=1.0)
    assert read_metadata(path).max_gsd_m == 1.0


def test_run_works_a_scene_inside_the_range_at_its_own_resolution(tmp_path: Path) -> None:
    """The same model on a 1 m scene: a range model writes a 1 m grid (no upsampling),
    a 0.5 m model a 0.5 m grid of four times the pixels."""
    scene = write_scene(
        tmp_path / "s.tif", textured(64, 64), transform=Affine(1.0, 0, X0, 0, -1.0, Y0)
    )
    shapes = {}
    for name, max_gsd in (("range", 1.0), ("fine", None)):
        model = local_checkpoint(tmp_path / f"{name}.safetensors", gsd_m=0.5, max_gsd_m=max_gsd)
        out = tmp_path / f"{name}.prob.tif"
        result = CliRunner().invoke(
            cli, ["run", str(scene), "--prob-out", str(out), "--model", str(model), *FAST]
        )
        assert result.exit_code == 0, result.output
        with rasterio.open(out) as dst:
            shapes[name] = (dst.shape, dst.res)
    assert shapes["range"] == ((64, 64), pytest.approx((1.0, 1.0)))
    assert shapes["fine"] == ((128, 128), pytest.approx((0.5, 0.5)))


def test_training_reads_each_source_at_the_resolution_run_will(tmp_path: Path) -> None:
    """A scenes source at 1 m stays at 1 m for a [0.5, 1] model, and its pixels are
    scored with 3 m of slack (3 px), not the finest resolution's 6."""
    from roadseg.evaluation.pixel import slack_pixels

    scene, _ = write_road_scene(tmp_path / "scenes")
    spec = parse_source_spec(f"scenes:{scene.parent},vectors={scene.parent},val=*")
    with rasterio.open(scene) as src:
        native = src.res[0]
    _, (ranged,) = load_source(spec, 0.5, 3, DEFAULT_NORMALIZATION, max_gsd_m=native)
    _, (fine,) = load_source(spec, 0.5, 3, DEFAULT_NORMALIZATION)
    assert ranged.grid.gsd_m == pytest.approx(native) and not ranged.grid.resampled
    assert fine.grid.gsd_m == pytest.approx(0.5)
    assert slack_pixels(ranged.grid.gsd_m) == round(3 / native)


def test_a_warm_start_at_other_resolutions_is_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Starting a 0.5-1 m run from 1 m weights is allowed, and logged, never silent."""
    import logging

    import torch

    from roadseg.models import build, save_checkpoint
    from roadseg.training.network import arch_kwargs_of, build_network

    source = parse_source_spec("pairs:data,gsd=1.0")
    config = TrainConfig(
        sources=(source,), out_dir=tmp_path / "run", base_channels=4, gsd_m=0.5, max_gsd_m=1.0
    )
    kwargs = arch_kwargs_of(config)
    start = save_checkpoint(
        build(config.architecture, **kwargs),
        ModelMetadata(config.architecture, kwargs, gsd_m=1.0),
        tmp_path / "one-metre.safetensors",
    )
    with caplog.at_level(logging.WARNING, logger="roadseg"):
        build_network(replace(config, init=start), torch.device("cpu"), None)
    assert "was trained at 1 m; this run trains at 0.5-1 m" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="roadseg"):
        build_network(
            replace(config, init=start, gsd_m=1.0, max_gsd_m=None), torch.device("cpu"), None
        )
    assert "was trained at" not in caplog.text
