"""The road GeoPackage: layers ``roads`` and ``junctions`` plus their QGIS styles; and
the formats of the vector stage's outputs."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pyogrio

from roadseg.io.atomic import OutputFormat
from roadseg.vector.style import write_layer_styles

#: The road GeoPackage, and the preview drawn of it.
ROADS_FORMAT = OutputFormat((".gpkg",), "a GeoPackage (layers roads and junctions)")
PREVIEW_FORMAT = OutputFormat((".png",), "a PNG image")

ROADS_LAYER = "roads"
JUNCTIONS_LAYER = "junctions"
#: QGIS looks a layer's default style up by table *and* geometry column name, so the
#: layers and their ``layer_styles`` rows must use the same name.
GEOMETRY_COLUMN = "geom"

#: GeoPackage version written. Recent GDAL writes 1.4 by default, which GDAL before
#: 3.7 (the GDAL of QGIS 3.22 / 3.28 on many systems) reports on every open as "may
#: only be partially supported"; the file uses nothing newer than 1.2.
GPKG_VERSION = "1.2"


#: Layer metadata key naming the model that found the roads.
MODEL_KEY = "ROADSEG_MODEL"


def write_geopackage(
    roads: gpd.GeoDataFrame,
    junctions: gpd.GeoDataFrame,
    path: Path,
    model: str | None = None,
) -> None:
    """Write both layers (spatial index on, empty layers allowed) and the styles; the
    ``roads`` layer's metadata names the ``model`` when it is known."""
    with warnings.catch_warnings():
        # A plain image's roads have no CRS on purpose; roadseg has said so already.
        warnings.filterwarnings("ignore", message=".*crs.*not provided", category=UserWarning)
        for i, (layer, gdf, gtype) in enumerate(
            ((ROADS_LAYER, roads, "LineString"), (JUNCTIONS_LAYER, junctions, "Point"))
        ):
            pyogrio.write_dataframe(
                gdf,
                path,
                layer=layer,
                driver="GPKG",
                geometry_type=gtype,
                promote_to_multi=False,
                append=False,
                layer_options={
                    "SPATIAL_INDEX": "YES",
                    "FID": "fid",
                    "GEOMETRY_NAME": GEOMETRY_COLUMN,
                },
                dataset_options={"VERSION": GPKG_VERSION} if i == 0 else None,
                layer_metadata={MODEL_KEY: model} if model and layer == ROADS_LAYER else None,
            )
    write_layer_styles(Path(path), geometry_column=GEOMETRY_COLUMN)
