"""The batch watchdog: which pending scenes the cluster has lost, and when to resubmit them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from distributed.core import Status

from roadseg.batch.watchdog import StallWatch, scheduler_view, unknown_keys
from roadseg.errors import InvalidParameterError, SceneStalledError


def worker(address: str, *, busy: bool = False, status=Status.running, **resources: float) -> Any:
    return SimpleNamespace(
        address=address, status=status, resources=resources, processing={"x": 1} if busy else {}
    )


def scheduler(workers: list[Any], **tasks: Any) -> Any:
    return SimpleNamespace(workers={w.address: w for w in workers}, tasks=tasks)


def task(state: str, on: Any = None) -> Any:
    return SimpleNamespace(state=state, processing_on=on)


def test_a_task_waiting_while_an_able_worker_sits_idle_is_lost():
    view = scheduler([worker("w1"), worker("w2", busy=True)], a=task("no-worker"), b=task("queued"))
    lost, ask = scheduler_view(view, ["a", "b"], {})
    assert set(lost) == {"a", "b"} and "no-worker while a worker able" in lost["a"]
    assert ask == {}


def test_waiting_behind_busy_paused_or_unable_workers_is_not_lost():
    waiting = {"a": task("queued")}
    for workers in (
        [worker("w1", busy=True)],  # queued behind a busy worker
        [worker("w1", status=Status.paused)],  # memory pause
        [],  # no worker has joined yet
    ):
        assert scheduler_view(scheduler(workers, **waiting), ["a"], {}) == ({}, {})
    # A GPU task with only CPU workers idle waits for a GPU worker.
    cpu_only = scheduler([worker("w1")], a=task("no-worker"))
    assert scheduler_view(cpu_only, ["a"], {"GPU": 1}) == ({}, {})
    with_gpu = scheduler([worker("w1"), worker("w2", GPU=1)], a=task("no-worker"))
    assert set(scheduler_view(with_gpu, ["a"], {"GPU": 1})[0]) == {"a"}


def test_forgotten_tasks_and_tasks_on_gone_workers_are_lost_and_the_rest_are_asked_about():
    w1 = worker("w1", busy=True)
    gone = worker("w9", busy=True)
    view = scheduler([w1], b=task("processing", on=gone), c=task("processing", on=w1))
    lost, ask = scheduler_view(view, ["a", "b", "c"], {})
    assert lost == {
        "a": "the scheduler has forgotten it",
        "b": "it is processing on a worker that is gone",
    }
    assert ask == {"c": "w1"}


def test_a_worker_names_the_keys_it_does_not_know():
    dask_worker = SimpleNamespace(state=SimpleNamespace(tasks={"c": object()}))
    assert unknown_keys(dask_worker, ["c", "d"]) == ["d"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_scene_is_resubmitted_only_when_lost_at_every_look_for_stall_s():
    clock = FakeClock()
    watch = StallWatch(10.0, clock=clock)
    assert watch.look({"a": "why", "b": "why"}, ["a", "b"]) == {}
    clock.now = 6.0
    assert watch.look({"a": "why"}, ["a", "b"]) == {}  # b was found: its clock stops
    clock.now = 10.0
    assert watch.look({"a": "why", "b": "why"}, ["a", "b"]) == {"a": "why"}
    clock.now = 19.0
    assert watch.look({"b": "why"}, ["b"]) == {}  # b lost again since 10 s only
    clock.now = 20.0
    assert watch.look({"b": "why"}, ["b"]) == {"b": "why"}
    # A key no longer pending is forgotten.
    clock.now = 30.0
    watch.look({"c": "why"}, [])
    clock.now = 45.0
    assert watch.look({"c": "why"}, ["c"]) == {}


def test_looks_are_spaced_a_quarter_of_stall_s_apart_and_at_most_5_s():
    clock = FakeClock()
    watch = StallWatch(8.0, clock=clock)
    assert watch.due() and watch.look_every_s == 2.0
    watch.look({}, [])
    clock.now = 1.9
    assert not watch.due()
    clock.now = 2.0
    assert watch.due()
    assert StallWatch(120.0).look_every_s == 5.0


def test_the_error_names_why_the_wait_and_the_upstream_issue():
    error = StallWatch(120.0).error("the scheduler has forgotten it")
    assert isinstance(error, SceneStalledError) and isinstance(error, TimeoutError)
    message = str(error)
    assert "the scheduler has forgotten it, for 120 s" in message
    assert "dask/distributed#3196" in message


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_a_stall_timeout_that_is_not_positive_is_refused(bad):
    with pytest.raises(InvalidParameterError, match="stall_timeout"):
        StallWatch(bad)
