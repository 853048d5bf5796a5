"""What a training run is told: data sources and hyper-parameters.

A data source is written on the command line as ``KIND:PATH[,key=value...]``:

* ``pairs:FOLDER,gsd=1.0[,nodata=255][,val=STEM+STEM][,exclude=STEM+...][,weight=1]``:
  image/mask pairs (Massachusetts ``images/``+``masks/`` or ``sat/``+``map/`` with the
  same stems, or DeepGlobe ``*_sat.jpg`` + ``*_mask.png`` in one folder). They are not
  georeferenced, so ``gsd`` (metres per pixel) is required. ``nodata=255`` marks pixels
  whose bands all equal 255 (Massachusetts white areas) as no-data.
* ``scenes:FOLDER,vectors=FOLDER[,buffer=3.5][,layer=NAME][,bands=1+2+3][,val=...]``:
  GeoTIFF scenes with road lines (GeoJSON or GeoPackage, matched to each scene by the
  trailing ``_``-separated part of their names, e.g. ``..._img308``). Roads are
  rasterised with a buffer of ``buffer`` metres on each side; an empty file means no
  roads.

``val`` lists the stems held out for validation: they are never trained on.
``weight`` is the share of training crops drawn from the source (sources are drawn in
proportion to their weights, images within a source in proportion to valid area).
Paths may not contain commas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roadseg.errors import InvalidParameterError
from roadseg.models.metadata import DEFAULT_NORMALIZATION

SOURCE_KINDS = ("pairs", "scenes")
_SOURCE_KEYS = {
    "pairs": {"gsd", "nodata", "val", "exclude", "weight", "name"},
    "scenes": {"vectors", "buffer", "layer", "bands", "val", "exclude", "weight", "name"},
}


@dataclass(frozen=True)
class SourceSpec:
    """One labelled data source.

    Attributes:
        kind: ``pairs`` or ``scenes``.
        path: folder of images (pairs) or GeoTIFF scenes.
        name: short name used in metric reports (default: the folder name).
        gsd_m: metres per pixel of un-georeferenced pairs.
        nodata: value that, in all bands, marks a no-data pixel (pairs).
        vectors: folder of road vector files (scenes).
        buffer_m: half-width of the rasterised roads, metres (scenes).
        layer: layer of GeoPackage road files (scenes).
        bands: 1-based band indexes to read (scenes; default: the first three).
        val: stems held out for validation.
        exclude: stems ignored entirely.
        weight: share of training crops drawn from this source.
    """

    kind: str
    path: Path
    name: str
    gsd_m: float | None = None
    nodata: float | None = None
    vectors: Path | None = None
    buffer_m: float = 3.5
    layer: str | None = None
    bands: tuple[int, ...] | None = None
    val: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    weight: float = 1.0

    def to_spec(self) -> str:
        """The command-line form of this source (paths as given)."""
        parts = [f"{self.kind}:{self.path}"]
        if self.kind == "pairs":
            parts.append(f"gsd={self.gsd_m:g}")
            if self.nodata is not None:
                parts.append(f"nodata={self.nodata:g}")
        else:
            parts.append(f"vectors={self.vectors}")
            parts.append(f"buffer={self.buffer_m:g}")
            if self.layer:
                parts.append(f"layer={self.layer}")
            if self.bands:
                parts.append("bands=" + "+".join(str(b) for b in self.bands))
        if self.val:
            parts.append("val=" + "+".join(self.val))
        if self.exclude:
            parts.append("exclude=" + "+".join(self.exclude))
        if self.weight != 1.0:
            parts.append(f"weight={self.weight:g}")
        parts.append(f"name={self.name}")
        return ",".join(parts)


def parse_source_spec(text: str) -> SourceSpec:
    """Parse ``KIND:PATH[,key=value...]`` (see the module documentation).

    Raises:
        InvalidParameterError: unknown kind or key, missing ``gsd``/``vectors``, bad number.
    """
    kind, sep, rest = text.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in SOURCE_KINDS:
        raise InvalidParameterError(
            f"data source {text!r} must start with one of {', '.join(SOURCE_KINDS)} and a "
            "colon, e.g. pairs:data/massachusetts/train,gsd=1.0"
        )
    path_text, *items = rest.split(",")
    if not path_text:
        raise InvalidParameterError(f"data source {text!r} names no folder")
    options: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq or key not in _SOURCE_KEYS[kind]:
            raise InvalidParameterError(
                f"data source {text!r}: unknown option {item!r}; {kind} sources take "
                f"{', '.join(sorted(_SOURCE_KEYS[kind]))} as key=value"
            )
        options[key] = value.strip()
    path = Path(path_text)

    def number(key: str, default: float | None) -> float | None:
        if key not in options:
            return default
        try:
            return float(options[key])
        except ValueError:
            raise InvalidParameterError(
                f"data source {text!r}: {key}={options[key]!r} is not a number"
            ) from None

    def stems(key: str) -> tuple[str, ...]:
        return tuple(s for s in options.get(key, "").split("+") if s)

    gsd = number("gsd", None)
    if kind == "pairs" and (gsd is None or gsd <= 0):
        raise InvalidParameterError(
            f"data source {text!r}: image/mask pairs are not georeferenced; declare their "
            "pixel size in metres with gsd=, e.g. pairs:FOLDER,gsd=1.0"
        )
    vectors = Path(options["vectors"]) if "vectors" in options else None
    if kind == "scenes" and vectors is None:
        raise InvalidParameterError(
            f"data source {text!r}: scenes need their road vectors: add vectors=FOLDER"
        )
    bands = None
    if "bands" in options:
        try:
            bands = tuple(int(b) for b in options["bands"].split("+"))
        except ValueError:
            raise InvalidParameterError(
                f"data source {text!r}: bands={options['bands']!r} must look like 1+2+3"
            ) from None
    weight = number("weight", 1.0)
    buffer_m = number("buffer", 3.5)
    if weight is None or weight <= 0 or buffer_m is None or buffer_m <= 0:
        raise InvalidParameterError(f"data source {text!r}: weight and buffer must be > 0")
    return SourceSpec(
        kind=kind,
        path=path,
        name=options.get("name") or path.name or kind,
        gsd_m=gsd,
        nodata=number("nodata", None),
        vectors=vectors,
        buffer_m=buffer_m,
        layer=options.get("layer"),
        bands=bands,
        val=stems("val"),
        exclude=stems("exclude"),
        weight=weight,
    )


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run (all recorded in the checkpoint metadata).

    Attributes:
        sources: labelled data.
        out_dir: folder for checkpoints, the metrics log and the learning-curve plot.
        architecture: registry name of the network.
        base_channels: width of its first stage.
        gsd_m: metres per pixel everything is resampled to.
        band_names: names of the model's input bands.
        normalization: per-scene normalisation (see :mod:`roadseg.raster.normalize`).
        crop: side of the square training crops, pixels.
        batch_size: crops per step.
        steps: total optimisation steps (the cosine schedule spans them).
        warmup_steps: linear warm-up steps.
        lr: peak learning rate of AdamW.
        weight_decay: AdamW weight decay.
        dice_weight: weight of the Dice term added to the BCE.
        eval_every: steps between validations (an "epoch" here).
        max_minutes: wall-clock budget; the run stops cleanly when it is spent.
        seed: seed of every random generator.
        device: ``auto``, ``cpu`` or ``cuda``.
        threads: CPU threads for torch.
        min_valid: least fraction of valid pixels in a training crop.
        scale_jitter: crops are resampled by a factor in ``[1/(1+s), 1+s]``.
        colour_jitter: strength of the per-band gain/offset and contrast jitter.
        name: name written into the checkpoint metadata.
    """

    sources: tuple[SourceSpec, ...]
    out_dir: Path
    architecture: str = "resunet"
    base_channels: int = 16
    gsd_m: float = 1.0
    band_names: tuple[str, ...] = ("red", "green", "blue")
    normalization: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_NORMALIZATION))
    crop: int = 256
    batch_size: int = 4
    steps: int = 2000
    warmup_steps: int = 100
    lr: float = 2e-3
    weight_decay: float = 1e-4
    dice_weight: float = 1.0
    eval_every: int = 250
    max_minutes: float | None = None
    seed: int = 0
    device: str = "auto"
    threads: int = 2
    min_valid: float = 0.5
    scale_jitter: float = 0.25
    colour_jitter: float = 0.1
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.sources:
            raise InvalidParameterError("give at least one data source (--source)")
        for label, value in (
            ("crop", self.crop),
            ("batch_size", self.batch_size),
            ("steps", self.steps),
            ("eval_every", self.eval_every),
            ("base_channels", self.base_channels),
        ):
            if value < 1:
                raise InvalidParameterError(f"{label} must be >= 1, got {value}")
        if self.gsd_m <= 0 or self.lr <= 0:
            raise InvalidParameterError("gsd and learning rate must be > 0")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise InvalidParameterError(f"max_minutes must be > 0, got {self.max_minutes}")

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready summary for the checkpoint's training record."""
        return {
            "sources": [s.to_spec() for s in self.sources],
            "architecture": self.architecture,
            "base_channels": self.base_channels,
            "gsd_m": self.gsd_m,
            "crop": self.crop,
            "batch_size": self.batch_size,
            "steps": self.steps,
            "warmup_steps": self.warmup_steps,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "dice_weight": self.dice_weight,
            "eval_every": self.eval_every,
            "max_minutes": self.max_minutes,
            "seed": self.seed,
            "min_valid": self.min_valid,
            "scale_jitter": self.scale_jitter,
            "colour_jitter": self.colour_jitter,
        }
