"""The ONNX Runtime engine: equal to eager PyTorch, exported once per weights, chosen by
``--engine``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from click.testing import CliRunner
from inference_helpers import resunet_checkpoint, textured, write_scene

from roadseg.cli.main import cli
from roadseg.errors import InvalidParameterError
from roadseg.inference import InferenceOptions, predict_scene
from roadseg.inference import engine as E
from roadseg.inference.predictor import ModelSpec, clear_model_cache, predict_tiles
from roadseg.models import load, resolve_checkpoint

pytest.importorskip("onnxruntime")

#: Tile shapes: multiples of the output stride (8) and odd ones (padded like eager).
SHAPES = [(1, 3, 64, 64), (2, 3, 40, 72), (1, 3, 37, 101), (3, 3, 5, 9), (1, 3, 1, 1)]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty export cache and no sessions or models held from earlier tests."""
    monkeypatch.setenv("ROADSEG_CACHE_DIR", str(tmp_path / "cache"))
    clear_model_cache()
    yield tmp_path / "cache" / "onnx"
    clear_model_cache()


@pytest.mark.parametrize("checkpoint", ["untrained", "resunet-lite"])
@pytest.mark.parametrize("tta", [False, True])
def test_onnx_equals_eager_on_odd_sizes(
    tmp_path: Path, cache: Path, checkpoint: str, tta: bool
) -> None:
    path = (
        str(resunet_checkpoint(tmp_path / "m.safetensors"))
        if checkpoint == "untrained"
        else str(resolve_checkpoint(checkpoint))
    )
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        tiles = rng.random(shape, dtype=np.float32)
        eager = predict_tiles(ModelSpec(path, "cpu", 2, tta, "torch"), tiles)
        onnx = predict_tiles(ModelSpec(path, "cpu", 2, tta, "onnx"), tiles)
        assert onnx.shape == eager.shape == (shape[0], *shape[-2:])
        np.testing.assert_allclose(onnx, eager, rtol=0, atol=1e-4)


def test_eager_channels_last_equals_the_plain_model(tmp_path: Path, cache: Path) -> None:
    path = str(resunet_checkpoint(tmp_path / "m.safetensors"))
    model, _ = load(path)
    tiles = np.random.default_rng(1).random((2, 3, 48, 56), dtype=np.float32)
    with torch.inference_mode():
        plain = torch.sigmoid(model(torch.from_numpy(tiles)))[:, 0].numpy()
    out = np.full((2, 48, 56), np.nan, dtype=np.float32)
    predict_tiles(ModelSpec(path, "cpu", 1, False, "torch"), tiles, out)
    np.testing.assert_allclose(out, plain, rtol=0, atol=1e-5)


def test_scene_through_either_engine(tmp_path: Path, cache: Path) -> None:
    """An odd-sized scene, several blocks: the stored probabilities agree to one level."""
    model = resunet_checkpoint(tmp_path / "m.safetensors")
    scene = write_scene(tmp_path / "scene.tif", textured(157, 203))
    common = dict(model=model, device="cpu", tile_size=64, overlap=16, block_size=96)
    results = {
        name: predict_scene(
            scene, tmp_path / f"{name}.tif", InferenceOptions(engine=name, **common)
        )
        for name in ("torch", "onnx")
    }
    assert results["onnx"].engine == "onnx" and results["torch"].engine == "torch"
    assert results["onnx"].blocks > 4
    stored = {}
    for name in results:
        with rasterio.open(tmp_path / f"{name}.tif") as src:
            stored[name] = src.read(1).astype(int)
    diff = np.abs(stored["onnx"] - stored["torch"])
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99


def test_the_export_is_cached_by_weight_hash(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = resunet_checkpoint(tmp_path / "a.safetensors")
    tiles = np.random.default_rng(2).random((1, 3, 32, 32), dtype=np.float32)
    predict_tiles(ModelSpec(str(first), "cpu", 1, False, "onnx"), tiles)
    (exported,) = cache.iterdir()
    assert exported.name.startswith(E.weights_sha256(first))
    session = E.onnx_engine(first, None, load(first)[1]).session
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["roadseg_weights_sha256"] == E.weights_sha256(first)
    assert {"threshold", "gsd_m", "normalization", "roadseg_metadata"} <= set(meta)

    # A new process (no sessions held) reuses the file: no second export.
    clear_model_cache()

    def no_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(E, "export_onnx", no_export)
    predict_tiles(ModelSpec(str(first), "cpu", 1, False, "onnx"), tiles)
    monkeypatch.undo()
    monkeypatch.setenv("ROADSEG_CACHE_DIR", str(cache.parent))

    # The same weights under another name share the export; other weights get their own.
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(first.read_bytes())
    predict_tiles(ModelSpec(str(copy), "cpu", 1, False, "onnx"), tiles)
    assert len(list(cache.iterdir())) == 1
    torch.manual_seed(5)
    other = resunet_checkpoint(tmp_path / "b.safetensors")
    with torch.no_grad():
        model, meta = load(other)
        model.head.bias.add_(1.0)
    from roadseg.models import save_checkpoint

    save_checkpoint(model, meta, other)
    predict_tiles(ModelSpec(str(other), "cpu", 1, False, "onnx"), tiles)
    names = sorted(p.name for p in cache.iterdir())
    assert len(names) == 2 and not any("partial" in n for n in names)


def test_a_damaged_export_is_replaced(tmp_path: Path, cache: Path) -> None:
    model = resunet_checkpoint(tmp_path / "m.safetensors")
    tiles = np.random.default_rng(3).random((1, 3, 16, 16), dtype=np.float32)
    spec = ModelSpec(str(model), "cpu", 1, False, "onnx")
    expected = predict_tiles(spec, tiles)
    (exported,) = cache.iterdir()
    exported.write_bytes(b"not an onnx file")
    clear_model_cache()
    np.testing.assert_array_equal(predict_tiles(spec, tiles), expected)
    assert exported.stat().st_size > 1000


def test_resolve_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert E.resolve_engine("auto", cpu) == "onnx"
    assert E.resolve_engine("AUTO", cuda) == "torch"
    assert E.resolve_engine("torch", cpu) == "torch"
    with pytest.raises(InvalidParameterError, match="device='cpu'"):
        E.resolve_engine("onnx", cuda)
    with pytest.raises(InvalidParameterError, match=r"'tensorrt'.*auto, torch, onnx"):
        E.resolve_engine("tensorrt", cpu)
    monkeypatch.setattr(E, "onnxruntime_available", lambda: False)
    assert E.resolve_engine("auto", cpu) == "torch"
    with pytest.raises(InvalidParameterError, match="pip install onnxruntime"):
        E.resolve_engine("onnx", cpu)


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADSEG_CACHE_DIR", "/somewhere")
    assert E.cache_dir() == Path("/somewhere/onnx")
    monkeypatch.delenv("ROADSEG_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert E.cache_dir() == Path("/xdg/roadseg/onnx")


def test_cli_engine_option(tmp_path: Path, cache: Path) -> None:
    model = resunet_checkpoint(tmp_path / "m.safetensors")
    scene = write_scene(tmp_path / "scene.tif", textured(70, 90))
    args = ["run", str(scene), "--model", str(model), "--device", "cpu", "--no-progress"]
    args += ["--tile-size", "64", "--overlap", "16"]
    ok = CliRunner().invoke(cli, [*args, "--prob-out", str(tmp_path / "p.tif"), "--engine", "onnx"])
    assert ok.exit_code == 0, ok.output
    assert len(list(cache.iterdir())) == 1
    bad = CliRunner().invoke(cli, [*args, "--prob-out", str(tmp_path / "q.tif"), "--engine", "x"])
    assert bad.exit_code == 2 and "--engine" in bad.output
    assert not os.path.exists(tmp_path / "q.tif")


def test_run_and_batch_pass_the_engine_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict] = []

    def record(*args: object, **kwargs: object) -> None:
        seen.append(kwargs)
        raise SystemExit(0)

    monkeypatch.setattr("roadseg.pipeline.run_scene", record)
    monkeypatch.setattr("roadseg.batch.run_batch", record)
    monkeypatch.setattr("roadseg.batch.collect_scenes", lambda *a, **k: ["scene"])
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["run", "s.tif", "--out", "r.gpkg", "--engine", "ONNX"]).exit_code == 0
    )
    assert runner.invoke(cli, ["batch", "x", "--out-dir", str(tmp_path)]).exit_code == 0
    assert seen[0]["inference"].engine == "onnx" and seen[1]["inference"].engine == "auto"
