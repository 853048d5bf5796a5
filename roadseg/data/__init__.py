"""Labelled data: sources, reading them as inference does, and training crops."""

from roadseg.data.discover import find_pairs, find_scenes
from roadseg.data.labelled import LabelledImage, load_image, load_source, load_source_for_model
from roadseg.data.sampler import Batch, CropSampler
from roadseg.data.spec import SourceSpec, parse_source_spec, read_recipe

__all__ = [
    "Batch",
    "CropSampler",
    "LabelledImage",
    "SourceSpec",
    "find_pairs",
    "find_scenes",
    "load_image",
    "load_source",
    "load_source_for_model",
    "parse_source_spec",
    "read_recipe",
]
