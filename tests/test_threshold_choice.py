"""The decision threshold is chosen on the road networks of the held-out scenes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from synthetic_roads import write_road_scene

from roadseg.cli.main import cli
from roadseg.data import parse_source_spec
from roadseg.errors import InvalidParameterError
from roadseg.evaluation.endtoend import SceneCase, at_threshold, best_threshold, score_scenes
from roadseg.models import load
from roadseg.training import TrainConfig, train


def _result(own: float, table: dict[float, float | None]) -> dict:
    by = {t: {"groups": {}, "mean_apls": a, "scenes": {"s": {"apls": a}}} for t, a in table.items()}
    return {"threshold": own, "mean_apls": table[own], "scenes": {}, "by_threshold": by}


def test_best_threshold_takes_the_best_apls_and_the_models_on_a_tie() -> None:
    assert best_threshold(_result(0.7, {0.7: 0.30, 0.5: 0.41, 0.8: 0.20})) == 0.5
    assert best_threshold(_result(0.7, {0.7: 0.40, 0.5: 0.40, 0.8: 0.20})) == 0.7
    # Among equal others, the one nearest the model's.
    assert best_threshold(_result(0.7, {0.7: 0.1, 0.5: 0.4, 0.8: 0.4})) == 0.8
    assert best_threshold(_result(0.7, {0.7: None, 0.5: None})) is None
    # Without candidates: the model's own.
    assert best_threshold({"threshold": 0.6, "mean_apls": 0.3}) == 0.6


def test_at_threshold_swaps_in_that_thresholds_scores() -> None:
    result = _result(0.7, {0.7: 0.30, 0.5: 0.41})
    chosen = at_threshold(result, 0.5)
    assert chosen["threshold"] == 0.5 and chosen["mean_apls"] == 0.41
    assert chosen["scenes"] == {"s": {"apls": 0.41}}
    assert at_threshold(result, 0.7) is result


def test_score_scenes_vectorises_each_prediction_at_every_threshold(
    tmp_path: Path, tiny_model: Path
) -> None:
    scene, truth = write_road_scene(tmp_path / "scenes")
    own = load(tiny_model)[1].threshold
    result = score_scenes(
        tiny_model, [SceneCase("city", "img5", scene, truth)], thresholds=(0.01, 0.99)
    )
    table = result["by_threshold"]
    assert set(table) == {own, 0.01, 0.99}
    assert table[own]["mean_apls"] == result["mean_apls"] and result["threshold"] == own
    length = {t: v["scenes"]["img5"]["pred_length_m"] for t, v in table.items()}
    # Nearly everything is road at 0.01, nothing at 0.99.
    assert length[0.01] > length[0.99] == 0.0
    assert all(0.0 <= v["mean_apls"] <= 1.0 for v in table.values())


def test_training_keeps_the_threshold_whose_networks_score_best(tmp_path: Path) -> None:
    scene, truth = write_road_scene(tmp_path / "scenes")
    spec = parse_source_spec(
        f"scenes:{scene.parent},vectors={truth.parent},bands=3+2+1,buffer=3,val=*,name=city"
    )
    train_spec = parse_source_spec(
        f"scenes:{scene.parent},vectors={truth.parent},bands=3+2+1,buffer=3,name=train"
    )
    config = TrainConfig(
        sources=(train_spec, spec),
        out_dir=tmp_path / "run",
        base_channels=4,
        crop=32,
        batch_size=2,
        steps=4,
        warmup_steps=1,
        eval_every=2,
        device="cpu",
        threads=1,
        apls_thresholds=(0.02, 0.98),
    )
    result = train(config)
    records = [json.loads(line) for line in result.metrics_log.read_text().splitlines()]
    for record in records:
        end_to_end = record["val"]["end_to_end"]
        tables = end_to_end["by_threshold"]
        assert {"0.02", "0.98"} <= set(tables) and len(tables) in (2, 3)
        best = max(v["mean_apls"] for v in tables.values())
        # The record's threshold is one whose networks scored best ...
        assert end_to_end["mean_apls"] == best
        assert tables[repr(end_to_end["threshold"])]["mean_apls"] == best
        assert record["val"]["threshold"] == end_to_end["threshold"]
    # ... and the best checkpoint carries it.
    best_record = max(records, key=lambda r: r["val"]["selection"])
    assert load(result.best)[1].threshold == pytest.approx(best_record["val"]["threshold"])


def test_bad_candidate_thresholds_are_refused(tmp_path: Path) -> None:
    spec = parse_source_spec(f"pairs:{tmp_path},gsd=1.0")
    with pytest.raises(InvalidParameterError, match=r"apls_thresholds=1\.5"):
        TrainConfig(sources=(spec,), out_dir=tmp_path / "run", apls_thresholds=(0.5, 1.5))
    outcome = CliRunner().invoke(
        cli,
        [
            *("train", "--source", f"pairs:{tmp_path}", "--out", str(tmp_path / "r")),
            *("--apls-thresholds", "0.5,x"),
        ],
    )
    assert outcome.exit_code == 2 and "comma-separated" in outcome.output
