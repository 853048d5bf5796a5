"""Function-preserving widening of a trained ResUNet (Net2WiderNet, Chen, Goodfellow &
Shlens 2016), so that a wider network can start from a narrower one's weights instead
of from scratch.

Every channel of the narrow network keeps its place; each new channel copies an
existing one of the same width level, and the convolutions that read copied channels
share their weights among the copies, so the wide network computes the same function.
A little noise on the copies' incoming weights breaks the symmetry between them (they
would otherwise learn identically).
"""

from __future__ import annotations

import torch

from roadseg.errors import InvalidParameterError
from roadseg.models.resunet import ResUNet


def _mapping(old: int, new: int, generator: torch.Generator) -> torch.Tensor:
    """Where each of ``new`` channels comes from among ``old``: itself, then random."""
    extra = torch.randint(0, old, (new - old,), generator=generator)
    return torch.cat([torch.arange(old), extra])


def widen_resunet(
    model: ResUNet, base_channels: int, noise: float = 0.01, seed: int = 0
) -> ResUNet:
    """A ResUNet ``base_channels`` wide that computes what ``model`` computes.

    Args:
        model: the trained network (any state; it is not changed).
        base_channels: filters of the wide network's first unit; at least ``model``'s.
        noise: standard deviation of the noise added to the new channels' incoming
            weights, relative to each weight tensor's own standard deviation (0: the
            wide network's output equals ``model``'s up to rounding).
        seed: seed of the channel choice and of the noise.

    Raises:
        InvalidParameterError: ``model`` is not a ResUNet, or ``base_channels`` is
            narrower than it.
    """
    if not isinstance(model, ResUNet) or model.encoder_name != "residual":
        raise InvalidParameterError(
            f"widening a warm start is implemented for resunet's residual encoder, not "
            f"{type(model).__name__} ({getattr(model, 'encoder_name', '-')}); "
            "start that architecture from scratch or from a checkpoint of its own width"
        )
    old_width = model.base_channels
    if base_channels < old_width:
        raise InvalidParameterError(
            f"base_channels={base_channels}: narrower than the starting weights' "
            f"{old_width}; use base_channels >= {old_width}"
        )
    wide = ResUNet(model.in_channels, model.num_classes, base_channels)
    generator = torch.Generator().manual_seed(seed)
    levels = [old_width * 2**i for i in range(4)]
    maps = {w: _mapping(w, w * base_channels // old_width, generator) for w in levels}
    # The decoder concatenates the upsampled deeper feature, then the encoder's (the
    # order of ResUNet.forward_padded); these sums are unique among the channel counts.
    concat = {deep + skip: (deep, skip) for deep, skip in zip(levels[1:], levels[:-1], strict=True)}
    # The image bands (the stem's input) and the logits (the head's output) keep their
    # count; every other channel dimension is a width level or a concatenation of two.
    fixed_input = ("encoder.stem.body.0.", "encoder.stem.shortcut.0.")

    def index(size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Source index of each wide channel and how many wide channels share it."""
        parts, offset = [], 0
        for width in concat.get(size, (size,)):
            parts.append(maps[width] + offset)
            offset += width
        source = torch.cat(parts)
        return source, torch.bincount(source, minlength=size)[source]

    state = model.state_dict()
    wide_state = {}
    for name, target in wide.state_dict().items():
        value = state[name].detach().clone().float()
        if value.dim() == 0:  # batch norm's num_batches_tracked
            wide_state[name] = state[name].clone()
            continue
        out = None if name.startswith("head.") else index(value.shape[0])
        if out is not None:
            value = value[out[0]]
        if value.dim() == 4 and not name.startswith(fixed_input):
            inp = index(value.shape[1])
            value = value[:, inp[0]] / inp[1].view(1, -1, 1, 1).float()
        if value.dim() == 4 and out is not None and noise > 0:
            copies = torch.arange(value.shape[0]) >= state[name].shape[0]
            scale = noise * float(state[name].float().std())
            shape = (int(copies.sum()), *value.shape[1:])
            value[copies] += scale * torch.randn(shape, generator=generator)
        if value.shape != target.shape:  # a layout this function does not know
            raise InvalidParameterError(
                f"cannot widen {name}: {tuple(state[name].shape)} -> {tuple(target.shape)}"
            )
        wide_state[name] = value.to(target.dtype)
    wide.load_state_dict(wide_state)
    return wide.train(model.training)
