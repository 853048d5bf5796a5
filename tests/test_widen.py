"""Widening a trained ResUNet keeps what it computes (roadseg.models.widen)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from synthetic_roads import write_road_scene

from roadseg.data import parse_source_spec
from roadseg.errors import InvalidParameterError
from roadseg.models import ResUNet, build, save_checkpoint
from roadseg.models.metadata import ModelMetadata
from roadseg.models.widen import widen_resunet
from roadseg.training import TrainConfig
from roadseg.training.network import build_network


def _trained_like(in_channels: int = 3, base_channels: int = 4, seed: int = 0) -> ResUNet:
    """A narrow ResUNet with non-trivial weights and batch-norm statistics."""
    torch.manual_seed(seed)
    model = ResUNet(in_channels, 1, base_channels)
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if "running_var" in name:
                value.uniform_(0.5, 2.0)
            elif "running_mean" in name or name.endswith("bias"):
                value.normal_(0, 0.3)
    model.train()
    for _ in range(2):  # batch-norm updates in train mode
        model(torch.randn(2, in_channels, 32, 32))
    return model.eval()


@pytest.mark.parametrize(("in_channels", "wide"), [(3, 6), (1, 8), (4, 5)])
def test_the_wide_network_computes_the_same_function(in_channels: int, wide: int) -> None:
    narrow = _trained_like(in_channels)
    widened = widen_resunet(narrow, wide, noise=0.0).eval()
    assert widened.base_channels == wide
    assert sum(p.numel() for p in widened.parameters()) > sum(
        p.numel() for p in narrow.parameters()
    )
    x = torch.randn(2, in_channels, 40, 40)
    with torch.no_grad():
        expected, got = narrow(x), widened(x)
    assert torch.allclose(got, expected, atol=1e-4 * float(expected.abs().max()))
    # In train mode too: a copied channel has its original's batch statistics.
    narrow.train()
    widened = widen_resunet(narrow, wide, noise=0.0)
    assert widened.training
    with torch.no_grad():
        assert torch.allclose(widened(x), narrow(x), atol=1e-4 * float(expected.abs().max()))


def test_noise_breaks_the_symmetry_of_copies_but_stays_close() -> None:
    narrow = _trained_like()
    widened = widen_resunet(narrow, 8, noise=0.01, seed=1).eval()
    weight = widened.encoder.stem.body[0].weight  # 8 filters, 4 of them copies
    copies = weight[4:]
    originals = weight[:4]
    assert torch.equal(originals, narrow.encoder.stem.body[0].weight)
    assert not any(torch.equal(c, o) for c in copies for o in originals)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected, got = narrow(x), widened(x)
    assert not torch.equal(got, expected)
    assert float((got - expected).abs().max()) < 0.2 * float(expected.abs().max())
    again = widen_resunet(narrow, 8, noise=0.01, seed=1)
    assert torch.equal(again.encoder.stem.body[0].weight, weight)


def test_refuses_a_narrower_width_and_other_architectures() -> None:
    with pytest.raises(InvalidParameterError, match="base_channels=2: narrower"):
        widen_resunet(_trained_like(), 2)
    with pytest.raises(InvalidParameterError, match="residual encoder, not UNet"):
        widen_resunet(build("unet", in_channels=3, num_classes=1, base_channels=4), 8)
    mobile = build("resunet", base_channels=4, encoder="mobilenet_v2")
    with pytest.raises(InvalidParameterError, match=r"not ResUNet \(mobilenet_v2\)"):
        widen_resunet(mobile, 8)


def test_a_warm_start_from_a_narrower_checkpoint_is_widened(tmp_path: Path) -> None:
    scene, truth = write_road_scene(tmp_path / "scenes")
    spec = parse_source_spec(f"scenes:{scene.parent},vectors={truth.parent},bands=3+2+1")
    narrow = _trained_like()
    start = tmp_path / "narrow.safetensors"
    meta = ModelMetadata(
        architecture="resunet",
        arch_kwargs={"in_channels": 3, "num_classes": 1, "base_channels": 4},
    )
    save_checkpoint(narrow, meta, start)
    common = dict(sources=(spec,), crop=32, device="cpu", init=start, out_dir=tmp_path / "r")
    model, arch_kwargs = build_network(
        TrainConfig(base_channels=6, **common), torch.device("cpu"), None
    )
    assert arch_kwargs["base_channels"] == 6
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected, got = narrow(x), model.eval()(x)
    assert float((got - expected).abs().max()) < 0.2 * float(expected.abs().max())
    # Another architecture, or a narrower run, is still refused with the options named.
    with pytest.raises(InvalidParameterError, match="use the same model options"):
        build_network(TrainConfig(base_channels=2, **common), torch.device("cpu"), None)
