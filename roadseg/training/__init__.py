"""Training road-segmentation networks: data sources, crops, loss, loop, export."""

from roadseg.training.config import SourceSpec, TrainConfig, parse_source_spec
from roadseg.training.loop import TrainResult, train

__all__ = ["SourceSpec", "TrainConfig", "TrainResult", "parse_source_spec", "train"]
