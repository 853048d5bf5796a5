"""Road centrelines from probability rasters: a noded road graph in a GeoPackage."""

from roadseg.vector.vectorize import (
    RoadNetwork,
    VectorOptions,
    VectorResult,
    extract_network,
    vectorize,
)

__all__ = ["RoadNetwork", "VectorOptions", "VectorResult", "extract_network", "vectorize"]
