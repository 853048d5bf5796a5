"""What a run needs beside its data: the learning-rate schedule, seeds, a hardware record."""

from __future__ import annotations

import math
import os
import platform
import random
from pathlib import Path

import numpy as np
import torch


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up to 1, then cosine decay to 0 at ``total`` steps."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def channels_last_trains(model: torch.nn.Module, device: torch.device) -> bool:
    """Whether ``model`` can train channels-last on ``device``.

    On AVX2 CPUs (no AVX-512) oneDNN's backward pass of a strided 1x1 convolution in
    channels-last crashes the process (segmentation fault, torch 2.13) when its input
    channels are not a multiple of 8: the shortcuts of a ResUNet with ``base_channels``
    4 or 6, say. Such models train in the default layout on a CPU.
    """
    if device.type != "cpu":
        return True
    return not any(
        isinstance(m, torch.nn.Conv2d)
        and m.kernel_size == (1, 1)
        and m.stride != (1, 1)
        and m.in_channels % 8
        for m in model.modules()
    )


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(device: torch.device) -> str:
    """The device a run trains on, in words, for the training record."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA)"
    threads = torch.get_num_threads()
    return f"CPU {_cpu_name()}, {os.cpu_count()} cores, {threads} torch thread{'s' * (threads > 1)}"
