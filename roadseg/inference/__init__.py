"""Scene inference: windowed reading, tiled blended prediction, Dask orchestration."""

from roadseg.inference.defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BLOCK_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_TILE_SIZE,
)
from roadseg.inference.options import InferenceOptions
from roadseg.inference.predict import PredictionResult, predict_scene

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE_SIZE",
    "InferenceOptions",
    "PredictionResult",
    "predict_scene",
]
