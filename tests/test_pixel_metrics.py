"""Relaxed precision/recall, breakeven, IoU and F1 of road masks."""

from __future__ import annotations

import numpy as np
import pytest

from roadseg.errors import InvalidParameterError
from roadseg.evaluation.pixel import PixelAccumulator, slack_pixels


def _roads(shape: tuple[int, int] = (64, 64)) -> np.ndarray:
    truth = np.zeros(shape, dtype=np.uint8)
    truth[30:34, :] = 1
    truth[:, 10:13] = 1
    return truth


def test_perfect_prediction_scores_one() -> None:
    truth = _roads()
    acc = PixelAccumulator()
    acc.update(truth.astype(np.float32), truth)
    scores = acc.scores(0.5)
    for key in ("relaxed_precision", "relaxed_recall", "relaxed_f1", "iou", "f1"):
        assert scores[key] == pytest.approx(1.0), key
    assert acc.breakeven() == pytest.approx(1.0)


def test_empty_prediction_has_zero_recall() -> None:
    acc = PixelAccumulator()
    acc.update(np.zeros((64, 64), np.float32), _roads())
    scores = acc.scores(0.5)
    assert scores["relaxed_recall"] == 0.0
    assert scores["recall"] == 0.0
    assert scores["iou"] == 0.0
    assert scores["f1"] == 0.0


def test_slack_forgives_small_shifts_only() -> None:
    truth = np.zeros((64, 64), np.uint8)
    truth[30:33, :] = 1
    near = np.roll(truth, 2, axis=0).astype(np.float32)
    far = np.roll(truth, 6, axis=0).astype(np.float32)
    acc_near, acc_far = PixelAccumulator(slack=3), PixelAccumulator(slack=3)
    acc_near.update(near, truth)
    acc_far.update(far, truth)
    assert acc_near.scores(0.5)["relaxed_f1"] == pytest.approx(1.0)
    assert acc_near.scores(0.5)["iou"] < 0.5
    assert acc_far.scores(0.5)["relaxed_f1"] == 0.0


def test_invalid_pixels_are_ignored() -> None:
    truth = _roads()
    pred = truth.astype(np.float32)
    pred[:, 40:] = 1.0  # wrong, but only where the data is missing
    valid = np.ones_like(truth, dtype=bool)
    valid[:, 40:] = False
    acc = PixelAccumulator()
    acc.update(pred, truth, valid)
    assert acc.scores(0.5)["precision"] == pytest.approx(1.0)


def test_threshold_and_breakeven_from_probabilities() -> None:
    rng = np.random.default_rng(0)
    truth = _roads((96, 96))
    prob = np.clip(truth * 0.7 + rng.normal(0, 0.15, truth.shape), 0, 1).astype(np.float32)
    acc = PixelAccumulator()
    acc.update(prob, truth)
    best = acc.best_threshold("f1")
    assert 0.2 < best < 0.8
    assert acc.scores(best)["f1"] >= acc.scores(0.05)["f1"]
    assert acc.scores(best)["f1"] >= acc.scores(0.95)["f1"]
    assert 0.5 < acc.breakeven() <= 1.0


def test_merge_equals_one_pass() -> None:
    truth = _roads()
    prob = np.random.default_rng(1).random(truth.shape).astype(np.float32)
    whole, a, b = PixelAccumulator(), PixelAccumulator(), PixelAccumulator()
    whole.update(prob, truth)
    a.update(prob[:, :32], truth[:, :32])
    b.update(prob[:, 32:], truth[:, 32:])
    a.merge(b)
    assert a.images == 2
    np.testing.assert_array_equal(a.truth_strict, whole.truth_strict)
    assert a.scores(0.5)["iou"] == pytest.approx(whole.scores(0.5)["iou"])


def test_bad_inputs_are_rejected() -> None:
    acc = PixelAccumulator()
    with pytest.raises(InvalidParameterError, match="shape"):
        acc.update(np.zeros((4, 4)), np.zeros((5, 5)))
    with pytest.raises(InvalidParameterError, match="threshold"):
        acc.scores(1.5)


def test_slack_is_three_metres_whatever_the_resolution() -> None:
    """A 0.5 m model is forgiven the same ground as a 1 m one: Mnih's 3 px at 1 m."""
    assert slack_pixels(1.0) == 3 and slack_pixels(0.5) == 6 and slack_pixels(0.3) == 10
    assert slack_pixels(4.0) == 1  # never less than a pixel
    with pytest.raises(InvalidParameterError, match="gsd_m=0"):
        slack_pixels(0)
