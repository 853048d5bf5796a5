"""What a checkpoint says about the model it holds."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from roadseg import __version__
from roadseg.errors import CheckpointError

#: Normalisation used by default: a per-band 2-98 % percentile stretch computed once
#: per scene (see :mod:`roadseg.raster.normalize`).
DEFAULT_NORMALIZATION: dict[str, Any] = {"method": "percentile", "low": 2.0, "high": 98.0}


@dataclass(frozen=True)
class ModelMetadata:
    """Everything needed to use a trained model correctly on new imagery.

    Attributes:
        architecture: registry name (``unet``, ``resunet``, ``resunetpp``).
        arch_kwargs: keyword arguments of the architecture (``in_channels``,
            ``num_classes``, ``base_channels``, ...).
        band_names: names of the input bands in model order, e.g. ``("red", "green",
            "blue")``; their count equals ``in_channels``.
        normalization: how raw pixel values become model input; see
            :func:`roadseg.raster.normalize.normalize`.
        gsd_m: ground sample distance the model was trained at, metres per pixel; the
            finest it works at when it has a range.
        max_gsd_m: the coarsest ground sample distance the model works at: scenes
            between ``gsd_m`` and this are worked at their own resolution (see
            :func:`roadseg.raster.grid.working_gsd`); ``None``: every scene at ``gsd_m``.
        threshold: decision threshold on the road probability.
        name: short name of shipped weights (``None`` for user checkpoints).
        training: data, command, hardware and duration of the training run.
        metrics: validation metrics, e.g. ``{"relaxed_breakeven": 0.8}``.
        roadseg_version: version that wrote the checkpoint.
    """

    architecture: str
    arch_kwargs: dict[str, Any]
    band_names: tuple[str, ...] = ("red", "green", "blue")
    normalization: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_NORMALIZATION))
    gsd_m: float = 1.0
    max_gsd_m: float | None = None
    threshold: float = 0.5
    name: str | None = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    roadseg_version: str = __version__

    @property
    def in_channels(self) -> int:
        return int(self.arch_kwargs.get("in_channels", len(self.band_names)))

    @property
    def num_classes(self) -> int:
        return int(self.arch_kwargs.get("num_classes", 1))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "checkpoint") -> ModelMetadata:
        """Parse metadata written by :meth:`to_json`.

        Raises:
            CheckpointError: the text is not valid metadata.
        """
        try:
            raw = json.loads(text)
            known = {f.name for f in fields(cls)}
            missing = {"architecture", "arch_kwargs"} - set(raw)
            if missing:
                raise ValueError(f"missing fields {sorted(missing)}")
            values = {k: v for k, v in raw.items() if k in known}
            values["band_names"] = tuple(values.get("band_names", ()))
            return cls(**values)
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"{source}: invalid roadseg metadata ({exc})") from None
