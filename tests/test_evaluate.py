"""``roadseg evaluate`` and the evaluation scoring and command."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from rasterio.transform import from_origin

from roadseg.cli.main import cli
from roadseg.data.spec import parse_source_spec
from roadseg.evaluation.command import evaluate_probability_raster, format_metrics
from roadseg.evaluation.scoring import evaluate_model
from roadseg.models import ModelMetadata, build, save_checkpoint
from roadseg.raster.probability import PROB_NODATA, TAG_THRESHOLD, encode_probability

CRS = "EPSG:32633"
TRANSFORM = from_origin(500000.0, 5000200.0, 1.0, 1.0)


def _truth_vectors(path: Path) -> Path:
    feature = {
        "type": "Feature",
        "properties": {},
        "geometry": {
            "type": "LineString",
            "coordinates": [[500100.5, 5000200.0], [500100.5, 4999000.0]],
        },
    }
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
                "features": [feature],
            }
        )
    )
    return path


def _probability(
    path: Path, prob: np.ndarray, threshold: float = 0.5, transform: Affine = TRANSFORM
) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=prob.shape[1],
        height=prob.shape[0],
        count=1,
        dtype="uint8",
        crs=CRS,
        transform=transform,
        nodata=PROB_NODATA,
    ) as dst:
        dst.write(encode_probability(prob), 1)
        dst.update_tags(**{TAG_THRESHOLD: str(threshold)})
    return path


def test_probability_raster_against_vectors(tmp_path: Path) -> None:
    truth = _truth_vectors(tmp_path / "truth.geojson")
    perfect = np.zeros((1100, 600), np.float32)  # taller and wider than a strip: streamed
    perfect[:, 97:104] = 1.0
    scores = evaluate_probability_raster(
        _probability(tmp_path / "p.tif", perfect), truth, buffer_m=3.5
    )
    assert scores["all"]["relaxed_recall"] == pytest.approx(1.0)
    assert scores["all"]["relaxed_precision"] == pytest.approx(1.0)
    assert scores["all"]["road_pixels"] == pytest.approx(1100 * 8, rel=0.15)
    empty = _probability(tmp_path / "e.tif", np.zeros((300, 200), np.float32))
    assert evaluate_probability_raster(empty, truth)["all"]["relaxed_recall"] == 0.0


def test_evaluate_command_on_rasters_writes_json(tmp_path: Path) -> None:
    mask = np.zeros((64, 64), np.uint8)
    mask[:, 30:34] = 1
    mask_path = tmp_path / "mask.tif"
    with rasterio.open(
        mask_path,
        "w",
        driver="GTiff",
        width=64,
        height=64,
        count=1,
        dtype="uint8",
        crs=CRS,
        transform=TRANSFORM,
    ) as dst:
        dst.write(mask, 1)
    pred = _probability(tmp_path / "p.tif", mask.astype(np.float32) * 0.9, threshold=0.6)
    out = tmp_path / "m.json"
    result = CliRunner().invoke(cli, ["evaluate", str(pred), str(mask_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert saved["threshold"] == pytest.approx(0.6)
    assert saved["all"]["f1"] == pytest.approx(1.0)
    again = CliRunner().invoke(cli, ["evaluate", str(pred), str(mask_path), "--out", str(out)])
    assert again.exit_code != 0 and "--overwrite" in again.output


def test_the_default_slack_is_3_m_on_the_ground_at_the_rasters_resolution(
    tmp_path: Path,
) -> None:
    half_metre = from_origin(500000.0, 5000200.0, 0.5, 0.5)
    mask = np.zeros((64, 64), np.uint8)
    mask[:, 30:34] = 1
    mask_path = tmp_path / "mask.tif"
    profile = {"driver": "GTiff", "width": 64, "height": 64, "count": 1, "dtype": "uint8"}
    with rasterio.open(mask_path, "w", crs=CRS, transform=half_metre, **profile) as dst:
        dst.write(mask, 1)
    shifted = np.zeros((64, 64), np.float32)
    shifted[:, 35:39] = 1.0  # 5 px, 2.5 m, beside the truth
    pred = _probability(tmp_path / "p.tif", shifted, transform=half_metre)
    on_ground = evaluate_probability_raster(pred, mask_path)
    assert on_ground["slack_m"] == 3.0 and on_ground["slack_px_by_dataset"] == {"p": [6]}
    assert on_ground["all"]["relaxed_precision"] == pytest.approx(1.0)
    assert on_ground["all"]["relaxed_recall"] == pytest.approx(1.0)
    assert "slack 3 m (6 px)" in format_metrics({**on_ground, "per_dataset": {}})
    in_pixels = evaluate_probability_raster(pred, mask_path, slack=3)
    assert in_pixels["slack_px"] == 3 and "slack_m" not in in_pixels
    assert in_pixels["all"]["relaxed_precision"] == pytest.approx(0.5)  # 2 of 4 columns


def test_a_raster_without_crs_or_very_fine_is_scored_in_pixels_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    prob = np.zeros((40, 40), np.float32)
    prob[:, 10:12] = 1.0
    mask = tmp_path / "mask.tif"
    profile = {"driver": "GTiff", "width": 40, "height": 40, "count": 1, "dtype": "uint8"}
    with rasterio.open(mask, "w", **profile) as dst:
        dst.write((prob > 0).astype(np.uint8), 1)
    bare = tmp_path / "bare.tif"
    with rasterio.open(bare, "w", nodata=PROB_NODATA, **profile) as dst:
        dst.write(encode_probability(prob), 1)
    scores = evaluate_probability_raster(bare, mask)
    assert scores["slack_px"] == 3 and "slack_m" not in scores
    assert "has no CRS" in caplog.text
    drone = _probability(tmp_path / "d.tif", prob, transform=from_origin(5e5, 5e6, 0.05, 0.05))
    assert evaluate_probability_raster(drone, mask)["slack_px"] == 15  # not 60
    assert "scored with 15 px" in caplog.text


def test_two_vector_files_go_to_apls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    fake = types.ModuleType("roadseg.evaluation.apls")

    def evaluate_vector_files(pred: Path, truth: Path) -> dict[str, float]:
        calls.append((Path(pred).name, Path(truth).name))
        return {"apls": 0.75}

    fake.evaluate_vector_files = evaluate_vector_files  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "roadseg.evaluation.apls", fake)
    a = _truth_vectors(tmp_path / "a.geojson")
    b = _truth_vectors(tmp_path / "b.gpkg.geojson")
    result = CliRunner().invoke(cli, ["evaluate", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert calls == [("a.geojson", "b.gpkg.geojson")]
    assert "0.7500" in result.output


def test_evaluate_needs_something(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["evaluate"])
    assert result.exit_code != 0 and "nothing to evaluate" in result.output


def test_evaluate_model_on_pairs_uses_model_threshold(tmp_path: Path) -> None:
    folder = tmp_path / "pairs"
    folder.mkdir()
    image = np.random.default_rng(0).integers(0, 255, (3, 40, 40), dtype=np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:14] = 255
    other = np.zeros((40, 40), np.uint8)
    other[:, 20:22] = 255
    for name, array in (
        ("1_sat.png", image),
        ("1_mask.png", mask[None]),
        ("2_sat.png", image[::-1].copy()),
        ("2_mask.png", other[None]),
    ):
        with rasterio.open(
            folder / name,
            "w",
            driver="PNG",
            width=40,
            height=40,
            count=array.shape[0],
            dtype="uint8",
        ) as dst:
            dst.write(array)
    meta = ModelMetadata(
        "resunet", {"in_channels": 3, "num_classes": 1, "base_channels": 4}, threshold=0.3
    )
    ckpt = save_checkpoint(build("resunet", base_channels=4), meta, tmp_path / "m.safetensors")
    metrics = evaluate_model(ckpt, [parse_source_spec(f"pairs:{folder},gsd=1,name=x")], "cpu")
    assert metrics["threshold"] == pytest.approx(0.3)
    assert metrics["slack_m"] == 3.0 and metrics["slack_px_by_dataset"] == {"x": [3]}  # 1 m
    assert metrics["images"] == {"x": ["1", "2"]}
    assert metrics["per_dataset"]["x"]["road_pixels"] == 160 + 80
    per_image = metrics["per_image"]["x"]
    assert {k: v["road_pixels"] for k, v in per_image.items()} == {"1": 160, "2": 80}
    assert "x: weakest breakeven" in format_metrics(metrics)
