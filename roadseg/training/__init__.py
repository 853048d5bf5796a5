"""Training road-segmentation networks: the loop, its loss and its records.

Data sources and crops live in :mod:`roadseg.data`.
"""

from roadseg.data.spec import SourceSpec, parse_source_spec
from roadseg.training.config import TrainConfig
from roadseg.training.loop import TrainResult, train

__all__ = ["SourceSpec", "TrainConfig", "TrainResult", "parse_source_spec", "train"]
