"""StallWatch: when pending scenes count as lost by the cluster."""

from __future__ import annotations

import pytest

from roadseg.batch.watchdog import StallWatch
from roadseg.errors import InvalidParameterError, SceneStalledError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


IDLE = {"tcp://w1": (), "tcp://w2": ()}
BUSY = {"tcp://w1": ("roadseg-batch-s0-1-abc",), "tcp://w2": ()}


def test_an_idle_cluster_holding_scenes_stalls_after_stall_s():
    clock = FakeClock()
    watch = StallWatch(10.0, clock=clock)
    assert not watch.stalled(IDLE, n_pending=1)  # the idle spell starts
    clock.now = 9.9
    assert not watch.stalled(IDLE, n_pending=1)
    clock.now = 10.0
    assert watch.stalled(IDLE, n_pending=1)
    # Told once: the resubmitted scenes get a new spell.
    clock.now = 10.5
    assert not watch.stalled(IDLE, n_pending=1)


def test_a_busy_worker_ends_the_idle_spell():
    clock = FakeClock()
    watch = StallWatch(10.0, clock=clock)
    watch.stalled(IDLE, n_pending=1)
    clock.now = 9.0
    assert not watch.stalled(BUSY, n_pending=1)
    clock.now = 15.0
    assert not watch.stalled(IDLE, n_pending=1)  # a new spell starts here
    clock.now = 24.0
    assert not watch.stalled(IDLE, n_pending=1)
    clock.now = 25.0
    assert watch.stalled(IDLE, n_pending=1)


def test_a_cluster_without_workers_or_a_batch_with_nothing_pending_never_stalls():
    clock = FakeClock()
    watch = StallWatch(10.0, clock=clock)
    for step in range(5):
        clock.now = 20.0 * step
        assert not watch.stalled({}, n_pending=3)  # waiting for workers to join
        assert not watch.stalled(IDLE, n_pending=0)


def test_the_error_names_the_wait_and_the_upstream_issue():
    error = StallWatch(120.0).error()
    assert isinstance(error, SceneStalledError) and isinstance(error, TimeoutError)
    assert "120 s" in str(error) and "dask/distributed#3196" in str(error)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_a_stall_timeout_that_is_not_positive_is_refused(bad):
    with pytest.raises(InvalidParameterError, match="stall_timeout"):
        StallWatch(bad)
