"""The road network as GeoDataFrames: the graph's edges and junctions mapped to the
raster's CRS, with each road's length, probabilities and width."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from roadseg.vector.geometry import line_lengths_m, pixel_to_map
from roadseg.vector.graph import RoadGraph


@dataclass(frozen=True)
class RoadNetwork:
    """Roads and junctions in the raster's CRS, ready to be written."""

    roads: gpd.GeoDataFrame
    junctions: gpd.GeoDataFrame
    crs: CRS | None
    threshold: float
    gsd_m: float
    model: str | None = None


def to_network(
    graph: RoadGraph,
    transform: Any,
    crs: CRS | None,
    thr: float,
    gsd: float,
    width_px: dict[Any, float],
) -> RoadNetwork:
    eids = sorted(graph.edges, key=lambda i: tuple(graph.edges[i].xy[0]))
    map_xy = [pixel_to_map(graph.edges[i].xy, transform) for i in eids]
    geoms = np.array([shapely.linestrings(xy) for xy in map_xy], dtype=object)
    if crs is not None:
        lengths = line_lengths_m(geoms, crs)
    else:  # no CRS: pixel lengths at the declared ground sample distance
        lengths = np.array(
            [shapely.length(shapely.linestrings(graph.edges[i].xy)) * gsd for i in eids]
        )
    roads = gpd.GeoDataFrame(
        {
            "id": np.arange(1, len(eids) + 1, dtype=np.int64),
            "length_m": np.round(lengths, 3),
            "mean_prob": np.array(
                [round(graph.edges[i].mean_prob, 4) for i in eids], dtype=np.float64
            ),
            "min_prob": np.array(
                [round(graph.edges[i].prob_min, 4) for i in eids], dtype=np.float64
            ),
            "width_m": np.round(np.array([width_px[i] for i in eids], dtype=np.float64) * gsd, 2),
        },
        geometry=gpd.GeoSeries(list(geoms), crs=crs),
    )
    nodes = [n for n in graph.incident if graph.degree(n) >= 3]
    node_xy = np.array([graph.position(n) for n in nodes], dtype=np.float64).reshape(-1, 2)
    order = np.lexsort((node_xy[:, 0], node_xy[:, 1])) if len(nodes) else np.array([], dtype=int)
    node_map = pixel_to_map(node_xy[order], transform) if len(nodes) else np.zeros((0, 2))
    junctions = gpd.GeoDataFrame(
        {
            "id": np.arange(1, len(nodes) + 1, dtype=np.int64),
            "degree": np.array([graph.degree(nodes[i]) for i in order], dtype=np.int64),
        },
        geometry=gpd.GeoSeries(list(shapely.points(node_map)) if len(nodes) else [], crs=crs),
    )
    roads = roads[roads.geometry.is_valid & ~roads.geometry.is_empty].reset_index(drop=True)
    return RoadNetwork(roads=roads, junctions=junctions, crs=crs, threshold=thr, gsd_m=gsd)
