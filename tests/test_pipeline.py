"""run_scene: outputs checked before any work, the vector stage called on the probabilities."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest
import rasterio
from inference_helpers import local_checkpoint, textured, write_scene

from roadseg.errors import InvalidParameterError, OutputExistsError
from roadseg.pipeline import run_scene

FAST = dict(device="cpu", tile_size=64, overlap=16)


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    local_checkpoint(tmp_path / "m.safetensors")
    return write_scene(tmp_path / "scene.tif", textured(80, 90))


@pytest.fixture
def vector_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stand in for the vector stage: record each call and what the raster held."""
    calls: list[dict[str, Any]] = []

    def vectorize(prob_path: Path, out: Path, **kwargs: Any) -> Any:
        with rasterio.open(prob_path) as src:  # it exists and is complete during the call
            kwargs["shape"] = src.shape
        kwargs.update(prob_path=Path(prob_path), out=Path(out))
        calls.append(kwargs)
        Path(out).write_text("roads")
        return types.SimpleNamespace(path=Path(out), n_roads=0, n_junctions=0, total_length_m=0.0)

    module = types.ModuleType("roadseg.vector")
    module.vectorize = vectorize  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "roadseg.vector", module)
    monkeypatch.setattr("roadseg.pipeline.vector_stage_available", lambda: True)
    return calls


def test_out_alone_uses_a_temporary_probability_raster_and_deletes_it(
    scene: Path, vector_calls: list[dict[str, Any]]
) -> None:
    folder = scene.parent
    result = run_scene(
        scene, folder / "roads.gpkg", model=folder / "m.safetensors", threshold=0.3, **FAST
    )
    (call,) = vector_calls
    assert call["shape"] == (80, 90)
    assert call["threshold"] == 0.3 and call["scene"] == scene and call["overwrite"] is False
    assert call["prob_path"].parent == folder and call["prob_path"].name.startswith(".")
    assert result.vectors.path == folder / "roads.gpkg"
    assert sorted(p.name for p in folder.iterdir()) == ["m.safetensors", "roads.gpkg", "scene.tif"]


def test_out_and_prob_out_keep_both(scene: Path, vector_calls: list[dict[str, Any]]) -> None:
    folder = scene.parent
    result = run_scene(
        scene,
        folder / "roads.gpkg",
        prob_out=folder / "p.tif",
        model=folder / "m.safetensors",
        vector_options={"min_length_m": 5.0},
        **FAST,
    )
    (call,) = vector_calls
    assert call["prob_path"] == folder / "p.tif" and call["min_length_m"] == 5.0
    assert result.prediction.path == folder / "p.tif" and (folder / "p.tif").exists()


def test_every_output_is_checked_before_any_work(
    scene: Path, vector_calls: list[dict[str, Any]]
) -> None:
    folder = scene.parent
    (folder / "roads.gpkg").write_text("old")
    with pytest.raises(OutputExistsError, match=r"roads\.gpkg"):
        run_scene(
            scene,
            folder / "roads.gpkg",
            prob_out=folder / "p.tif",
            model=folder / "m.safetensors",
            **FAST,
        )
    assert not (folder / "p.tif").exists() and not vector_calls


def test_options_for_vectors_need_out(scene: Path) -> None:
    with pytest.raises(InvalidParameterError, match="--out"):
        run_scene(scene, prob_out=scene.parent / "p.tif", preview=scene.parent / "x.png")
    with pytest.raises(InvalidParameterError, match="nothing to write"):
        run_scene(scene)
