"""The road GeoPackage: layers ``roads`` and ``junctions`` plus their QGIS styles."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio

from roadseg.vector.style import write_layer_styles

ROADS_LAYER = "roads"
JUNCTIONS_LAYER = "junctions"


def write_geopackage(roads: gpd.GeoDataFrame, junctions: gpd.GeoDataFrame, path: Path) -> None:
    """Write both layers (spatial index on, empty layers allowed) and the styles."""
    for layer, gdf, gtype in (
        (ROADS_LAYER, roads, "LineString"),
        (JUNCTIONS_LAYER, junctions, "Point"),
    ):
        pyogrio.write_dataframe(
            gdf,
            path,
            layer=layer,
            driver="GPKG",
            geometry_type=gtype,
            promote_to_multi=False,
            append=False,
            layer_options={"SPATIAL_INDEX": "YES", "FID": "fid", "GEOMETRY_NAME": "geom"},
        )
    write_layer_styles(Path(path))
