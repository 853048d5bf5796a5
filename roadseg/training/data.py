"""What a run trains and validates on: every source read once, the crop sampler over
the training images, the held-out images and scenes."""

from __future__ import annotations

from dataclasses import dataclass

from roadseg.data import CropSampler, LabelledImage, load_source
from roadseg.evaluation.endtoend import SceneCase
from roadseg.training.config import TrainConfig


@dataclass(frozen=True)
class TrainingData:
    """The sampler over training images and what validation scores."""

    sampler: CropSampler
    val_images: list[LabelledImage]
    val_scenes: list[SceneCase]
    split: dict[str, dict[str, list[str]]]
    groups: list[list[LabelledImage]]


def load_training_data(config: TrainConfig) -> TrainingData:
    """Read every source, build the crop sampler, list the validation images and scenes."""
    band_count = len(config.band_names)
    groups, weights, val_images, val_scenes = [], [], [], []
    for spec in config.sources:
        train_images, held_out = load_source(
            spec,
            config.gsd_m,
            band_count,
            config.normalization,
            cache_dir=config.cache_dir,
            max_gsd_m=config.max_gsd_m,
        )
        groups.append(train_images)
        weights.append(spec.weight)
        val_images.extend(held_out)
        if spec.kind == "scenes":
            val_scenes.extend(SceneCase.of(i) for i in held_out)
    sampler = CropSampler(
        groups,
        weights,
        config.crop,
        seed=config.seed,
        min_valid=config.min_valid,
        scale_jitter=config.scale_jitter,
        colour_jitter=config.colour_jitter,
        grey=config.grey,
    )
    split = {
        spec.name: {
            "train": sorted(i.stem for i in g),
            "val": sorted(i.stem for i in val_images if i.dataset == spec.name),
        }
        for spec, g in zip(config.sources, groups, strict=True)
    }
    return TrainingData(sampler, val_images, val_scenes, split, groups)
