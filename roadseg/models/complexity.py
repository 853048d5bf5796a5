"""Arithmetic cost of a network: floating-point operations per input pixel."""

from __future__ import annotations

import torch
from torch import nn

from roadseg.models.base import SegmentationModel


def flops_per_pixel(model: SegmentationModel, side: int = 256) -> float:
    """Floating-point operations (a multiply-add counts two) of one forward pass over a
    ``side`` x ``side`` input, per input pixel; convolutions and linear layers only, the
    rest (batch norm, activations, upsampling) is a few per element.

    ``side`` is rounded up to the model's output stride, so no padding is counted.
    """
    stride = int(model.output_stride)
    side = -(-side // stride) * stride
    total = 0

    def count(module: nn.Module, _: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            per_output = kernel * module.in_channels // module.groups
            total += 2 * per_output * output.numel()
        elif isinstance(module, nn.Linear):
            total += 2 * module.in_features * output.numel()

    hooks = [
        m.register_forward_hook(count)
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    ]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, model.in_channels, side, side))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total / (side * side)
