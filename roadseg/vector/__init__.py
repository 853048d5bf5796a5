"""Road centrelines from probability rasters: a noded road graph in a GeoPackage."""

from roadseg.vector.line_options import VectorOptions, check_threshold
from roadseg.vector.vectorize import (
    GeoreferencedProbabilities,
    RoadNetwork,
    VectorResult,
    extract_network,
    vectorize,
)

__all__ = [
    "GeoreferencedProbabilities",
    "RoadNetwork",
    "VectorOptions",
    "VectorResult",
    "check_threshold",
    "extract_network",
    "vectorize",
]
