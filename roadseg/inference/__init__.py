"""Scene inference: windowed reading, tiled blended prediction, Dask orchestration."""

from roadseg.inference.predict import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BLOCK_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_TILE_SIZE,
    PredictionResult,
    predict_scene,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE_SIZE",
    "PredictionResult",
    "predict_scene",
]
