"""Random training crops with augmentation, drawn from in-memory labelled images.

A source is picked in proportion to its weight, an image within it in proportion to
its valid area, then a crop position; crops with too little valid data are redrawn.
Each crop is scale-jittered (resampled by a random factor), flipped, rotated by a
multiple of 90 degrees and colour-jittered (per-band gain and offset, global
contrast), after the per-image normalisation. A share of the crops is turned to grey
(the mean of the bands, in every band), so that the model also works on one-band
scenes, whose single band ``roadseg run`` repeats for each input. With ``hard`` points
(an image's hard negatives, e.g. the starting model's false positives), a share
``hard_share`` of the crops of a source is centred on one of them instead.

The crop's model input is :meth:`~roadseg.data.labelled.LabelledImage.model_input`:
before augmentation it is exactly what ``roadseg run`` feeds the model there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from roadseg.data.labelled import LabelledImage
from roadseg.errors import InvalidParameterError

#: Attempts at finding a crop with enough valid pixels before accepting any.
MAX_TRIES = 20


@dataclass(frozen=True)
class Batch:
    """Model input ``(N, C, H, W)`` float32, road target and valid mask ``(N, 1, H, W)``."""

    image: torch.Tensor
    target: torch.Tensor
    valid: torch.Tensor


class CropSampler:
    """Draws augmented batches of square crops.

    Args:
        groups: training images, one list per source.
        weights: share of crops drawn from each group.
        crop: side of the crops, pixels.
        seed: seed of the sampler's own generator (deterministic batches).
        min_valid: least share of valid pixels in a crop.
        scale_jitter: resampling factor drawn log-uniformly in ``[1/(1+s), 1+s]``.
        colour_jitter: strength of the gain/offset/contrast jitter (0 disables it).
        grey: share of crops turned to grey.
        hard: per group, per image, ``(n, 2)`` (row, column) points to centre crops on,
            or ``None``; ``None`` for none at all.
        hard_share: share of a group's crops centred on a hard point (of the group's
            images that have some, in proportion to their points).
    """

    def __init__(
        self,
        groups: Sequence[Sequence[LabelledImage]],
        weights: Sequence[float],
        crop: int,
        seed: int = 0,
        min_valid: float = 0.5,
        scale_jitter: float = 0.25,
        colour_jitter: float = 0.1,
        grey: float = 0.0,
        hard: Sequence[Sequence[np.ndarray | None]] | None = None,
        hard_share: float = 0.0,
    ) -> None:
        self._group_sizes = [len(g) for g in groups]
        self.set_hard(hard, hard_share)
        kept = [(list(g), w) for g, w in zip(groups, weights, strict=True) if g]
        if not kept:
            raise InvalidParameterError("no training images: every source is empty or held out")
        self.groups = [g for g, _ in kept]
        total = sum(w for _, w in kept)
        self.group_p = np.array([w / total for _, w in kept])
        self.image_p = []
        for group in self.groups:
            area = np.array([max(1.0, float(i.valid.sum())) for i in group])
            self.image_p.append(area / area.sum())
        self.crop = crop
        self.min_valid = min_valid
        self.scale_jitter = scale_jitter
        self.colour_jitter = colour_jitter
        if not 0.0 <= grey <= 1.0:
            raise InvalidParameterError(f"grey share must be between 0 and 1, got {grey}")
        self.grey = grey
        self.rng = np.random.default_rng(seed)

    def set_hard(
        self, hard: Sequence[Sequence[np.ndarray | None]] | None, hard_share: float
    ) -> None:
        """Set the hard points (per group, per image, as given to the constructor)."""
        if hard is not None and [len(h) for h in hard] != self._group_sizes:
            raise InvalidParameterError(
                f"hard points for groups of {[len(h) for h in hard]} images, but the "
                f"groups hold {self._group_sizes}: give them per group and per image"
            )
        if not 0.0 <= hard_share <= 1.0:
            raise InvalidParameterError(f"hard_share must be between 0 and 1, got {hard_share}")
        points = hard if hard is not None else [[None] * n for n in self._group_sizes]
        self.hard = [list(h) for n, h in zip(self._group_sizes, points, strict=True) if n]
        self.hard_share = hard_share
        # Per group: the chance of each image for a hard crop (its share of the points).
        self._hard_p: list[np.ndarray | None] = []
        for group in self.hard:
            counts = np.array([0 if p is None else len(p) for p in group], float)
            self._hard_p.append(counts / counts.sum() if counts.sum() else None)

    def state(self) -> dict[str, object]:
        """The generator state, JSON-ready (for resuming)."""
        return self.rng.bit_generator.state  # type: ignore[return-value]

    def set_state(self, state: dict[str, object]) -> None:
        self.rng.bit_generator.state = state

    def batch(self, size: int) -> Batch:
        """Draw ``size`` augmented crops."""
        crops = [self._sample() for _ in range(size)]
        return Batch(
            image=torch.stack([c[0] for c in crops]),
            target=torch.stack([c[1] for c in crops]),
            valid=torch.stack([c[2] for c in crops]),
        )

    def _hard_pick(self, g: int) -> tuple[int, np.ndarray] | None:
        """An image of group ``g`` and one of its hard points, for a share of crops."""
        # No draw at all without hard points: the batches stay those of earlier versions.
        chances = self._hard_p[g]
        if self.hard_share <= 0 or chances is None or self.rng.random() >= self.hard_share:
            return None
        i = int(self.rng.choice(len(chances), p=chances))
        points = self.hard[g][i]
        assert points is not None
        return i, points[int(self.rng.integers(0, len(points)))]

    def _sample(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = self.rng
        g = int(rng.choice(len(self.groups), p=self.group_p))
        hard = self._hard_pick(g)
        if hard is None:
            image = self.groups[g][int(rng.choice(len(self.groups[g]), p=self.image_p[g]))]
        else:
            image = self.groups[g][hard[0]]
        scale = float(np.exp(rng.uniform(-1, 1) * np.log1p(self.scale_jitter)))
        side = max(8, round(self.crop * scale))
        height, width = image.shape
        if hard is not None:
            top, left = crop_origin(hard[1], side, (height, width), rng)
        else:
            best = None
            for _ in range(MAX_TRIES):
                top = int(rng.integers(0, max(1, height - side + 1)))
                left = int(rng.integers(0, max(1, width - side + 1)))
                share = float(image.valid[top : top + side, left : left + side].mean())
                if best is None or share > best[0]:
                    best = (share, top, left)
                if share >= self.min_valid:
                    break
            assert best is not None
            _, top, left = best
        window = (slice(top, top + side), slice(left, left + side))
        x = torch.from_numpy(image.model_input(*window))
        y = torch.from_numpy(image.label[window].astype(np.float32))[None]
        v = torch.from_numpy(image.valid[window].astype(np.float32))[None]
        # Pad crops of images smaller than the crop side (padding is not valid).
        pad_h, pad_w = side - x.shape[1], side - x.shape[2]
        if pad_h > 0 or pad_w > 0:
            x = F.pad(x, (0, max(0, pad_w), 0, max(0, pad_h)))
            y = F.pad(y, (0, max(0, pad_w), 0, max(0, pad_h)))
            v = F.pad(v, (0, max(0, pad_w), 0, max(0, pad_h)))
        if side != self.crop:
            size = (self.crop, self.crop)
            x = F.interpolate(x[None], size=size, mode="bilinear", align_corners=False)[0]
            y = F.interpolate(y[None], size=size, mode="bilinear", align_corners=False)[0] >= 0.5
            v = F.interpolate(v[None], size=size, mode="bilinear", align_corners=False)[0] >= 0.5
            y, v = y.float(), v.float()
        x, y, v = _flip_rotate(rng, x, y, v)
        if self.colour_jitter > 0:
            x = _colour_jitter(rng, x, self.colour_jitter)
        if self.grey > 0 and rng.random() < self.grey:
            x = x.mean(dim=0, keepdim=True).expand_as(x)
        return x.contiguous(), y.contiguous(), v.contiguous()


def crop_origin(
    point: np.ndarray, side: int, shape: tuple[int, int], rng: np.random.Generator
) -> tuple[int, int]:
    """Top-left corner of a ``side`` crop of an image of ``shape`` that holds ``point``
    (row, column), placed at random around it (the point is not always the centre, so
    the network does not learn where mistakes sit in a crop)."""
    out = []
    for coordinate, size in zip((int(point[0]), int(point[1])), shape, strict=True):
        low = max(0, coordinate - side + 1)
        high = min(coordinate, max(0, size - side))
        out.append(int(rng.integers(low, high + 1)) if high >= low else max(0, size - side))
    return out[0], out[1]


def _flip_rotate(rng: np.random.Generator, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    k = int(rng.integers(0, 4))
    flip = bool(rng.integers(0, 2))
    out = []
    for t in tensors:
        if flip:
            t = torch.flip(t, dims=(-1,))
        out.append(torch.rot90(t, k, dims=(-2, -1)))
    return tuple(out)


def _colour_jitter(rng: np.random.Generator, x: torch.Tensor, strength: float) -> torch.Tensor:
    bands = x.shape[0]
    gain = torch.from_numpy(rng.uniform(1 - strength, 1 + strength, bands).astype(np.float32))
    offset = torch.from_numpy(rng.uniform(-strength, strength, bands).astype(np.float32) / 2)
    contrast = float(rng.uniform(1 - strength, 1 + strength))
    x = x * gain[:, None, None] + offset[:, None, None]
    mean = x.mean()
    x = (x - mean) * contrast + mean
    return x.clamp_(0.0, 1.0)
