"""Choosing the compute device: ``auto`` means the GPU when there is one."""

from __future__ import annotations

import torch

from roadseg.errors import DeviceError, InvalidParameterError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``auto``/``cpu``/``cuda``/``cuda:N`` into a usable :class:`torch.device`.

    Raises:
        DeviceError: CUDA was asked for and is not available.
        InvalidParameterError: the name is not a device.
    """
    if isinstance(device, torch.device):
        return device
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device={device!r}: CUDA is not available on this machine; "
                "use device='cpu' or device='auto'"
            )
        return torch.device(name)
    raise InvalidParameterError(
        f"device={device!r}: unknown device; choose one of {', '.join(DEVICE_CHOICES)} (or cuda:N)"
    )
