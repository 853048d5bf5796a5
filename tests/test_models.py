"""The three architectures: shapes, parameter counts, training signal."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from roadseg.errors import InvalidParameterError, UnknownNameError
from roadseg.models import ResUNet, ResUNetPlusPlus, UNet, build, count_parameters

ARCHS = ["unet", "resunet", "resunetpp"]

# Parameter counts of the article configurations (3 bands in, 1 class out), recorded
# from these implementations and checked by hand against the articles' layer tables.
# ResUNet: Zhang et al. report 7.8 M for their variant; with 1x1-conv+BN shortcuts in
# every unit the article's 64/128/256/512 layout gives about 8.2 M.
ARTICLE_PARAMETERS = {
    "unet": 31_037_633,
    "resunet": 8_223_809,
    "resunetpp": 4_057_887,
}


@pytest.mark.parametrize("name", ARCHS)
def test_article_parameter_counts(name: str) -> None:
    assert count_parameters(build(name)) == ARTICLE_PARAMETERS[name]


def test_resunet_is_about_8_2_million() -> None:
    assert 8.1e6 < count_parameters(build("resunet")) < 8.3e6


@pytest.mark.parametrize("name", ARCHS)
@pytest.mark.parametrize(("height", "width"), [(250, 333), (17, 9), (64, 64)])
def test_any_input_size_gives_same_size_logits(name: str, height: int, width: int) -> None:
    model = build(name, in_channels=3, num_classes=1, base_channels=8).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, height, width))
    assert out.shape == (2, 1, height, width)


@pytest.mark.parametrize("name", ARCHS)
def test_article_width_odd_size(name: str) -> None:
    model = build(name).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 250, 333))
    assert out.shape == (1, 1, 250, 333)


@pytest.mark.parametrize("name", ARCHS)
def test_channels_are_configurable(name: str) -> None:
    model = build(name, in_channels=8, num_classes=2, base_channels=4).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 8, 40, 40))
    assert out.shape == (1, 2, 40, 40)


@pytest.mark.parametrize("name", ARCHS)
def test_returns_logits_not_probabilities(name: str) -> None:
    model = build(name, base_channels=4)
    model.train()
    out = model(torch.rand(2, 3, 32, 32) * 4)
    assert out.min() < 0 or out.max() > 1  # a sigmoid output would lie in [0, 1]


def test_wrong_channel_count_is_a_clear_error() -> None:
    model = build("resunet", in_channels=4, base_channels=4)
    with pytest.raises(ValueError, match=r"\(N, 4, H, W\)"):
        model(torch.rand(1, 3, 16, 16))


def test_registry_names_and_aliases() -> None:
    assert isinstance(build("UNet", base_channels=4), UNet)
    assert isinstance(build("resunet", base_channels=4), ResUNet)
    assert isinstance(build("resunet++", base_channels=4), ResUNetPlusPlus)
    with pytest.raises(UnknownNameError, match="choose one of"):
        build("segformer")
    with pytest.raises(InvalidParameterError):
        build("resunet", base_channels=0)


def test_resunet_article_structure() -> None:
    model = build("resunet")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    strides = [m.stride[0] for m in convs if m.kernel_size == (3, 3)]
    assert strides.count(2) == 3  # encoder 2, encoder 3 and the bridge
    assert model.encoder.stages[2].body[0][2].out_channels == 512
    assert model.head.kernel_size == (1, 1)


def test_resunetpp_article_structure() -> None:
    model = build("resunetpp")
    dilations = sorted({m.dilation[0] for m in model.bridge.modules() if isinstance(m, nn.Conv2d)})
    assert dilations == [1, 6, 12, 18]
    assert model.bridge.project.out_channels == 256
    se = [m for m in model.modules() if type(m).__name__ == "SqueezeExcitation"]
    assert len(se) == 4
    assert se[0].gate[1].out_channels == 16 // 8


@pytest.mark.parametrize("name", ARCHS)
def test_overfits_one_synthetic_image(name: str) -> None:
    """A few dozen steps on one image with a road drive the loss well down."""
    torch.manual_seed(0)
    image = torch.rand(1, 3, 48, 48) * 0.3
    target = torch.zeros(1, 1, 48, 48)
    target[..., 20:27, :] = 1.0  # a horizontal road
    target[..., :, 30:35] = 1.0  # and a vertical one
    image[:, :, target[0, 0] > 0] += 0.5
    model = build(name, base_channels=8)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.BCEWithLogitsLoss()
    losses = []
    for _ in range(40):
        optimiser.zero_grad()
        loss = loss_fn(model(image), target)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
