"""Checkpoint format: safetensors + metadata, no pickle, tamper-evident."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from roadseg.errors import CheckpointError, InputNotFoundError, OutputExistsError
from roadseg.models import ModelMetadata, build, load, read_metadata, save_checkpoint


def _trained_model(name: str = "resunet"):
    model = build(name, in_channels=4, num_classes=1, base_channels=4)
    # Non-trivial batch-norm statistics, so the round trip covers buffers too.
    model.train()
    with torch.no_grad():
        model(torch.rand(2, 4, 32, 32))
    return model.eval()


def _metadata(name: str = "resunet") -> ModelMetadata:
    return ModelMetadata(
        architecture=name,
        arch_kwargs={"in_channels": 4, "num_classes": 1, "base_channels": 4},
        band_names=("red", "green", "blue", "nir"),
        gsd_m=0.5,
        threshold=0.4,
        training={"data": "synthetic"},
        metrics={"iou": 0.5},
    )


@pytest.mark.parametrize("name", ["unet", "resunet", "resunetpp"])
def test_round_trip_gives_identical_outputs(tmp_path: Path, name: str) -> None:
    model = _trained_model(name)
    path = save_checkpoint(model, _metadata(name), tmp_path / "m.safetensors")
    loaded, meta = load(path)
    x = torch.rand(1, 4, 40, 56)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert meta == _metadata(name)
    assert not loaded.training


def test_half_precision_is_close_and_smaller(tmp_path: Path) -> None:
    model = _trained_model()
    full = save_checkpoint(model, _metadata(), tmp_path / "full.safetensors")
    half = save_checkpoint(model, _metadata(), tmp_path / "half.safetensors", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded, _ = load(half)
    x = torch.rand(1, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), loaded(x), atol=5e-2, rtol=5e-2)


def test_tampered_weights_are_rejected(tmp_path: Path) -> None:
    path = save_checkpoint(_trained_model(), _metadata(), tmp_path / "m.safetensors")
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # flip bits inside the last tensor
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        load(path)


def test_truncated_file_is_rejected(tmp_path: Path) -> None:
    path = save_checkpoint(_trained_model(), _metadata(), tmp_path / "m.safetensors")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"m\.safetensors"):
        load(path)


def test_not_a_checkpoint_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "junk.safetensors"
    path.write_text("this is not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.safetensors"):
        load(path)


def test_plain_safetensors_without_metadata_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(CheckpointError, match="without roadseg metadata"):
        load(path)


def test_mismatched_architecture_is_rejected(tmp_path: Path) -> None:
    model = _trained_model("resunet")
    wrong = ModelMetadata(
        architecture="resunet",
        arch_kwargs={"in_channels": 4, "num_classes": 1, "base_channels": 8},
    )
    path = save_checkpoint(model, wrong, tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match="do not match architecture"):
        load(path)


def test_missing_checkpoint_names_the_file() -> None:
    with pytest.raises(InputNotFoundError, match=r"nope\.safetensors"):
        load("nope.safetensors")


def test_save_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_checkpoint(_trained_model(), _metadata(), path)
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        save_checkpoint(_trained_model(), _metadata(), path, overwrite=False)


def test_metadata_is_plain_json_in_the_header(tmp_path: Path) -> None:
    path = save_checkpoint(_trained_model(), _metadata(), tmp_path / "m.safetensors")
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    header = json.loads(path.read_bytes()[8 : 8 + header_len])
    record = json.loads(header["__metadata__"]["metadata"])
    assert record["gsd_m"] == 0.5
    assert read_metadata(path).band_names == ("red", "green", "blue", "nir")


def test_default_weights_follow_device_and_fall_back(tmp_path, monkeypatch):
    from roadseg.models import checkpoint

    meta = ModelMetadata(architecture="resunet", arch_kwargs={"base_channels": 4})
    model = build("resunet", base_channels=4)
    monkeypatch.setattr(checkpoint, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(InputNotFoundError, match="no shipped weights"):
        checkpoint.default_weights_name(torch.device("cpu"))
    save_checkpoint(model, meta, tmp_path / "resunet-lite.safetensors")
    assert checkpoint.default_weights_name(torch.device("cpu")) == "resunet-lite"
    # no full-width weights installed: a GPU falls back to the fast ones
    assert checkpoint.default_weights_name(torch.device("cuda")) == "resunet-lite"
    save_checkpoint(model, meta, tmp_path / "resunet.safetensors")
    assert checkpoint.default_weights_name(torch.device("cuda")) == "resunet"
    assert checkpoint.default_weights_name(torch.device("cpu")) == "resunet-lite"


def test_resolve_model_is_the_model_or_the_default_for_the_device(tmp_path, monkeypatch):
    from roadseg.models import checkpoint, resolve_model

    meta = ModelMetadata(architecture="resunet", arch_kwargs={"base_channels": 4})
    model = build("resunet", base_channels=4)
    monkeypatch.setattr(checkpoint, "WEIGHTS_DIR", tmp_path)
    lite = save_checkpoint(model, meta, tmp_path / "resunet-lite.safetensors")
    full = save_checkpoint(model, meta, tmp_path / "resunet.safetensors")
    mine = save_checkpoint(model, meta, tmp_path / "mine.safetensors")
    assert resolve_model(mine, "cuda") == mine  # a file wins whatever the device
    assert resolve_model("resunet", "cpu") == full  # so does a shipped name
    assert resolve_model(None, "cpu") == lite
    # only the kind of device matters, and it need not be present here
    assert resolve_model(None, "cuda:1") == resolve_model(None, torch.device("cuda")) == full
    expected = full if torch.cuda.is_available() else lite
    assert resolve_model(None, "auto") == expected
    with pytest.raises(InputNotFoundError, match="nope"):
        resolve_model("nope", "cpu")
