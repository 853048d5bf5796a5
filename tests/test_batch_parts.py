"""Batch building blocks: inputs, fingerprints, the run record, the lock, the table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from batch_helpers import write_scene

from roadseg.batch import (
    BatchLock,
    BatchLockedError,
    BatchSummary,
    RecordEntry,
    RunRecord,
    collect_scenes,
    format_summary,
    read_stac,
)
from roadseg.batch.fingerprint import file_sha256, settings_fingerprint
from roadseg.batch.plan import batch_settings
from roadseg.errors import DeviceError, InputNotFoundError, InvalidInputError, InvalidParameterError
from roadseg.inference import InferenceOptions
from roadseg.vector import VectorOptions


@pytest.fixture
def scene_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "scenes"
    folder.mkdir()
    for i, name in enumerate(["b", "a", "c"]):
        write_scene(folder / f"{name}.tif", seed=i, size=16)
    (folder / "notes.txt").write_text("not a scene")
    return folder


def test_collect_folder_glob_and_file_dedupes_in_stable_order(scene_dir: Path) -> None:
    scenes = collect_scenes([str(scene_dir), str(scene_dir / "a.tif"), str(scene_dir / "*.tif")])
    assert [s.name for s in scenes] == ["a", "b", "c"]
    assert all(s.path.is_absolute() for s in scenes)


def test_manifest_paths_are_relative_to_the_manifest(scene_dir: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "list.txt"
    manifest.write_text("# tonight\nscenes/c.tif\n\n" + str(scene_dir / "a.tif") + "\n")
    scenes = collect_scenes(manifest=manifest)
    assert [s.name for s in scenes] == ["c", "a"]


def test_a_missing_scene_in_a_manifest_is_kept_for_the_batch_to_record(tmp_path: Path) -> None:
    manifest = tmp_path / "list.txt"
    manifest.write_text("gone.tif\n")
    assert [s.name for s in collect_scenes(manifest=manifest)] == ["gone"]


def test_no_scenes_and_missing_paths_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="no scenes"):
        collect_scenes([])
    with pytest.raises(InputNotFoundError, match=r"nowhere\.tif"):
        collect_scenes([str(tmp_path / "nowhere.tif")])


def test_two_scenes_with_one_name_would_collide(tmp_path: Path) -> None:
    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
        write_scene(tmp_path / sub / "s.tif", seed=1, size=16)
    with pytest.raises(InvalidParameterError, match="both named 's'"):
        collect_scenes([str(tmp_path / "x"), str(tmp_path / "y")])


def _item(item_id: str, assets: dict[str, str]) -> dict:
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "geometry": {"type": "Point", "coordinates": [0.0, 0.0]},
        "bbox": [0.0, 0.0, 0.0, 0.0],
        "properties": {"datetime": "2026-12-01T00:00:00Z"},
        "links": [],
        "assets": {k: {"href": v, "type": "image/tiff"} for k, v in assets.items()},
    }


def test_stac_item_collection_uses_the_asset_key_and_item_ids(
    scene_dir: Path, tmp_path: Path
) -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [
            _item("item-1", {"image": "scenes/a.tif", "visual": "scenes/b.tif"}),
            _item("item-2", {"visual": str(scene_dir / "c.tif")}),
        ],
    }
    path = tmp_path / "search.json"
    path.write_text(json.dumps(collection))
    pairs = read_stac(path, asset="visual")
    assert [(i, p.name) for i, p in pairs] == [("item-1", "b.tif"), ("item-2", "c.tif")]
    scenes = collect_scenes(stac=path)  # "image"; item-2 falls back to "visual"
    assert [(s.name, s.path.name) for s in scenes] == [("item-1", "a.tif"), ("item-2", "c.tif")]


def test_stac_errors_name_the_item_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "search.json"
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": [_item("x", {"thumb": "t.png"})]})
    )
    with pytest.raises(InvalidInputError, match=r"item 'x' has no asset 'image'.*stac_asset="):
        read_stac(path)
    remote = tmp_path / "remote.json"
    remote.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    _item("r", {"image": "https://example.com/r.tif?X-Amz-Signature=abc"}),
                    _item("s", {"image": "s3://bucket/s.tif"}),
                ],
            }
        )
    )
    # remote assets are read where they are, their URLs kept whole
    assert read_stac(remote) == [
        ("r", "https://example.com/r.tif?X-Amz-Signature=abc"),
        ("s", "s3://bucket/s.tif"),
    ]
    ftp = tmp_path / "ftp.json"
    ftp.write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": [_item("f", {"image": "ftp://h/f.tif"})]}
        )
    )
    with pytest.raises(InvalidInputError, match="cannot read; give https://"):
        read_stac(ftp)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidInputError, match="not a STAC ItemCollection"):
        read_stac(bad)


def test_fingerprints(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1_000_000)
    import hashlib

    assert file_sha256(path) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()
    one = settings_fingerprint({"a": 1, "b": [1, 2], "c": None})
    assert one == settings_fingerprint({"b": [1, 2], "a": 1})
    assert one != settings_fingerprint({"a": 2, "b": [1, 2]})
    # speed-only options do not change the fingerprint; output options do
    cpu = InferenceOptions(device="cpu", tile_size=256)
    base = batch_settings(cpu, VectorOptions(), None, prob_cog=False)
    assert settings_fingerprint(base) == settings_fingerprint(
        batch_settings(
            replace(cpu, batch_size=8, block_size=1024, model="elsewhere/m.safetensors"),
            VectorOptions(vector_block_size=512),
            None,
            False,
        )
    )
    assert settings_fingerprint(base) != settings_fingerprint(
        batch_settings(cpu, VectorOptions(), None, prob_cog=True)
    )
    for changed in (
        (replace(cpu, overlap=48), VectorOptions(), None),
        (replace(cpu, bands=(3, 2, 1)), VectorOptions(), None),
        (cpu, VectorOptions(min_length_m=5.0), None),
        (cpu, VectorOptions(), 0.3),
    ):
        assert settings_fingerprint(base) != settings_fingerprint(
            batch_settings(*changed, prob_cog=False)
        ), changed
    # an option left at its default is the same as one given at its default
    assert base == batch_settings(
        InferenceOptions(device="cpu", tile_size=256, overlap=InferenceOptions.overlap),
        VectorOptions(hysteresis=VectorOptions.hysteresis),
        None,
        False,
    )


def test_record_appends_and_survives_a_line_cut_by_a_crash(tmp_path: Path) -> None:
    record = RunRecord(tmp_path)
    record.append(RecordEntry(scene="a", status="done", outputs={"a.gpkg": {"sha256": "x"}}))
    with open(record.path, "a") as handle:  # a crash in the middle of a line
        handle.write('{"scene": "b", "sta')
    record.append(RecordEntry(scene="c", status="failed", error="boom"))
    entries = record.entries()
    assert [(e.scene, e.status) for e in entries] == [("a", "done"), ("c", "failed")]
    assert record.last_done()["a"].outputs == {"a.gpkg": {"sha256": "x"}}
    assert record.known_scenes() == {"a", "c"}


def test_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path: Path) -> None:
    with BatchLock(tmp_path), pytest.raises(BatchLockedError, match="another batch is writing"):
        BatchLock(tmp_path).acquire()
    assert not (tmp_path / ".roadseg-batch.lock").exists()
    # a lock left by a process that has exited
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    import socket

    (tmp_path / ".roadseg-batch.lock").write_text(
        json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout), "since": 0})
    )
    lock = BatchLock(tmp_path)
    lock.acquire()
    assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    lock.release()


def test_summary_table_lists_every_scene_and_the_totals(tmp_path: Path) -> None:
    summary = BatchSummary(
        out_dir=tmp_path,
        record_path=tmp_path / "batch-record.jsonl",
        batch_id="b",
        entries=(
            RecordEntry(
                scene="a",
                status="done",
                attempt=1,
                duration_s=2.5,
                n_roads=3,
                total_length_m=1500.0,
            ),
            RecordEntry(scene="bb", status="skipped", n_roads=1, total_length_m=10.0),
            RecordEntry(
                scene="c", status="failed", attempt=3, error="InvalidInputError: " + "x" * 200
            ),
        ),
        seconds=4.0,
    )
    table = format_summary(summary)
    lines = table.splitlines()
    assert lines[0].split() == [
        "scene",
        "status",
        "tries",
        "seconds",
        "roads",
        "length",
        "km",
        "error",
    ]
    assert "1.50" in lines[2] and "2.5" in lines[2]
    assert lines[4].startswith("c ") and lines[4].endswith("…")
    assert "3 scenes: 1 done, 1 skipped, 1 failed" in lines[-1]


def test_local_cluster_is_sized_to_the_machine_and_the_scenes(monkeypatch) -> None:
    import roadseg.batch.local_cluster as cluster

    monkeypatch.setattr(cluster.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(cluster, "_cuda_count", lambda: 0)
    plan = cluster.plan_local_cluster(100, device="auto")
    assert (plan.n_workers, plan.torch_threads, plan.resources) == (8, 2, None)
    assert cluster.plan_local_cluster(3, device="cpu").n_workers == 3
    assert cluster.plan_local_cluster(100, workers=4, memory_limit="2GB").memory_limit == "2GB"
    with pytest.raises(DeviceError, match="device='cpu'"):
        cluster.plan_local_cluster(5, device="cuda")
    monkeypatch.setattr(cluster, "_cuda_count", lambda: 2)
    gpu = cluster.plan_local_cluster(100, device="cuda")
    assert (gpu.n_workers, gpu.torch_threads, gpu.resources) == (1, 16, {"GPU": 1})
    assert cluster.task_resources("cuda") == {"GPU": 1} and cluster.task_resources("auto") is None


def test_scene_names_are_safe_file_stems() -> None:
    from roadseg.batch.inputs import safe_name

    assert safe_name("S2A_MSIL2A_20261201") == "S2A_MSIL2A_20261201"
    assert safe_name("tile:31/U v2") == "tile_31_U_v2"
    assert safe_name("../x") == "_x"
    assert safe_name("") == "scene"
