"""ONNX exports of a checkpoint: roadseg's own (dynamic tiles), or one that the QGIS
plugin Deepness (PUTvision/qgis-plugin-deepness) loads as it is.

Deepness reads a model's tile size off its input ``[B, C, H, W]`` (a dynamic batch, a
square static tile), its settings from JSON-encoded ``metadata_props``, and feeds each
tile as ``(x / 255 - mean) / std`` with no per-scene stretch. roadseg's models take each
scene stretched to [0, 1] between its 2nd and 98th percentiles; a fixed stretch between
``low`` and ``high`` (0-255 values) is exactly Deepness's standardisation with
``mean = low / 255`` and ``std = (high - low) / 255``, so the graph takes Deepness's
input as it is. Which fixed stretch costs least against roadseg's own is measured by
``benchmarks/deepness_normalization.py`` (see ``docs/qgis.md``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from roadseg.errors import InvalidParameterError
from roadseg.inference.engine import export_onnx, weights_sha256
from roadseg.io.atomic import OutputFormat, check_outputs
from roadseg.log import get_logger
from roadseg.models import ModelMetadata, load, resolve_model
from roadseg.raster.grid import resolutions_text, working_gsd

log = get_logger(__name__)

#: The fixed stretch of 8-bit imagery that costs the shipped model least against its
#: per-scene stretch on the 38 held-out images (``benchmarks/deepness_normalization.py``):
#: none, the values / 255 as they are (mean relaxed breakeven 0.800 against 0.799 per
#: scene; the medians of the training images' 2nd and 98th percentiles gave 0.788).
DEEPNESS_LOW = (0.0, 0.0, 0.0)
DEEPNESS_HIGH = (255.0, 255.0, 255.0)
#: Overlap of Deepness's tiles, percent: roads crossing a tile's edge need context.
DEEPNESS_OVERLAP_PCT = 10
#: Deepness's median filter on the class map (0: off): thin roads would not survive it.
DEEPNESS_SMALL_SEGMENT = 0
#: The exported model as an output.
ONNX_FORMAT = OutputFormat((".onnx",), "an ONNX model")


@dataclass(frozen=True)
class FixedStretch:
    """A per-band linear stretch of 8-bit values to the model's [0, 1]."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    def mean_std(self) -> tuple[list[float], list[float]]:
        """Deepness's ``standardization_mean`` and ``standardization_std``."""
        mean = [round(lo / 255.0, 6) for lo in self.low]
        std = [round((hi - lo) / 255.0, 6) for lo, hi in zip(self.low, self.high, strict=True)]
        return mean, std


def deepness_resolution(meta: ModelMetadata, resolution_m: float | None = None) -> float:
    """The one ground sample distance (metres) Deepness resamples every scene to.

    A model trained at one resolution has only that one. A range model (``max_gsd_m``)
    works each scene in ``[gsd_m, max_gsd_m]``, which Deepness cannot do: it takes
    ``resolution_m`` from that range, by default the finest end, where ``roadseg run``
    works imagery finer than the range.

    Raises:
        InvalidParameterError: ``resolution_m`` outside what the model was trained at.
    """
    if resolution_m is None:
        return meta.gsd_m
    # In the range when the model would work a scene of that resolution as it is (to
    # the millimetre, so that "0.5" matches 0.5 after float rounding).
    worked_at = working_gsd(resolution_m, meta.gsd_m, meta.max_gsd_m)
    if not math.isclose(worked_at, resolution_m, rel_tol=0, abs_tol=1e-3):
        trained = resolutions_text(meta.gsd_m, meta.max_gsd_m)
        raise InvalidParameterError(
            f"resolution_m={resolution_m:g}: the model was trained at {trained} m; give a "
            f"resolution in that range (or leave it out for {meta.gsd_m:g} m)"
        )
    return float(resolution_m)


def deepness_metadata(
    meta: ModelMetadata, tile_size: int, stretch: FixedStretch, resolution_m: float | None = None
) -> dict[str, str]:
    """The ``metadata_props`` Deepness reads, JSON-encoded as it parses them."""
    mean, std = stretch.mean_std()
    values = {
        "model_type": "Segmentor",
        # One sigmoid output is two classes for Deepness: background and road.
        "class_names": {"0": "background", "1": "road"},
        "resolution": round(deepness_resolution(meta, resolution_m) * 100.0, 3),
        # Deepness's code reads tile_size; its documentation says tiles_size.
        "tile_size": tile_size,
        "tiles_size": tile_size,
        "tiles_overlap": DEEPNESS_OVERLAP_PCT,
        "standardization_mean": mean,
        "standardization_std": std,
        "seg_thresh": round(float(meta.threshold), 4),
        "seg_small_segment": DEEPNESS_SMALL_SEGMENT,
    }
    return {key: json.dumps(value) for key, value in values.items()}


def export_model(
    out: str | os.PathLike[str],
    model: str | os.PathLike[str] | None = None,
    *,
    deepness: bool = False,
    tile_size: int = 512,
    stretch: FixedStretch | None = None,
    resolution_m: float | None = None,
    overwrite: bool = False,
) -> Path:
    """Export a checkpoint to ONNX: probabilities ``(N, 1, H, W)``, the sigmoid inside.

    Args:
        out: the ``.onnx`` file.
        model: shipped weights name or checkpoint (default: the CPU default).
        deepness: a fixed square tile of ``tile_size`` and Deepness's metadata (else
            dynamic tile sizes, multiples of the model's output stride).
        tile_size: the tile side of a Deepness export, a multiple of the output stride.
        stretch: the fixed stretch Deepness's standardisation stands for (default: the
            measured one, :data:`DEEPNESS_LOW` and :data:`DEEPNESS_HIGH`).
        resolution_m: the ground sample distance Deepness resamples scenes to, in the
            model's range (see :func:`deepness_resolution`; default: its finest).
        overwrite: replace an existing ``out``.

    Raises:
        InvalidParameterError: a tile size the model cannot take, a stretch that does
            not fit its bands, a resolution outside the model's, or a resolution
            without ``deepness``.
    """
    if resolution_m is not None and not deepness:
        raise InvalidParameterError(
            f"resolution_m={resolution_m:g} applies to Deepness exports only; pass "
            "deepness=True, or leave it out (roadseg's own export works each scene at the "
            "model's resolutions)"
        )
    target = check_outputs({"out": (out, ONNX_FORMAT)}, [], overwrite)["out"]
    checkpoint = resolve_model(model, "cpu")
    network, meta = load(checkpoint)
    stride = int(network.output_stride)
    extra: dict[str, str] = {}
    if deepness:
        if tile_size < stride or tile_size % stride:
            raise InvalidParameterError(
                f"tile_size={tile_size}: must be a multiple of the model's output stride "
                f"({stride}), e.g. {max(stride, round(tile_size / stride) * stride)}"
            )
        stretch = stretch or FixedStretch(
            DEEPNESS_LOW[:1] * meta.in_channels if meta.in_channels != 3 else DEEPNESS_LOW,
            DEEPNESS_HIGH[:1] * meta.in_channels if meta.in_channels != 3 else DEEPNESS_HIGH,
        )
        _check_bands(stretch.low, meta.in_channels)
        extra = deepness_metadata(meta, tile_size, stretch, resolution_m)
    export_onnx(
        network,
        meta,
        target,
        weights_sha256(checkpoint),
        tile_size=tile_size if deepness else None,
        extra_metadata=extra,
        overwrite=overwrite,
    )
    log.info(
        "wrote %s (%s, %s)",
        target,
        checkpoint.name,
        f"Deepness, {tile_size} px tiles" if deepness else "dynamic tile sizes",
    )
    return target


def _check_bands(values: Sequence[float], bands: int) -> None:
    if len(values) != bands:
        raise InvalidParameterError(
            f"the fixed stretch has {len(values)} bands, the model takes {bands}; give one "
            "low and high value per model band"
        )
