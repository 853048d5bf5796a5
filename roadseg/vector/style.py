"""Default QGIS styles stored in the GeoPackage's ``layer_styles`` table.

QGIS reads the row with ``useAsDefault`` = 1 for a layer and applies it when the layer
is opened, so the roads appear styled without any clicks. The table has exactly the
columns QGIS itself creates when you "Save as default" into a GeoPackage.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

_ROADS_QML = """<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28.0" styleCategories="Symbology">
  <renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">
    <symbols>
      <symbol type="line" name="0" alpha="0.9" clip_to_extent="1" force_rhr="0">
        <data_defined_properties>
          <Option type="Map">
            <Option type="QString" name="name" value=""/>
            <Option name="properties"/>
            <Option type="QString" name="type" value="collection"/>
          </Option>
        </data_defined_properties>
        <layer class="SimpleLine" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="capstyle" value="round"/>
            <Option type="QString" name="joinstyle" value="round"/>
            <Option type="QString" name="line_color" value="255,140,0,255"/>
            <Option type="QString" name="line_style" value="solid"/>
            <Option type="QString" name="line_width" value="0.8"/>
            <Option type="QString" name="line_width_unit" value="MM"/>
          </Option>
          <data_defined_properties>
            <Option type="Map">
              <Option type="QString" name="name" value=""/>
              <Option type="Map" name="properties">
                <Option type="Map" name="outlineWidth">
                  <Option type="bool" name="active" value="true"/>
                  <Option type="QString" name="expression" value="0.3 + 1.5 * coalesce(&quot;mean_prob&quot;, 0.5)"/>
                  <Option type="int" name="type" value="3"/>
                </Option>
              </Option>
              <Option type="QString" name="type" value="collection"/>
            </Option>
          </data_defined_properties>
        </layer>
      </symbol>
    </symbols>
    <rotation/>
    <sizescale/>
  </renderer-v2>
  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerGeometryType>1</layerGeometryType>
</qgis>
"""

_JUNCTIONS_QML = """<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28.0" styleCategories="Symbology">
  <renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">
    <symbols>
      <symbol type="marker" name="0" alpha="0.7" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleMarker" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="90,90,90,255"/>
            <Option type="QString" name="name" value="circle"/>
            <Option type="QString" name="outline_style" value="no"/>
            <Option type="QString" name="size" value="1.2"/>
            <Option type="QString" name="size_unit" value="MM"/>
          </Option>
        </layer>
      </symbol>
    </symbols>
    <rotation/>
    <sizescale/>
  </renderer-v2>
  <blendMode>0</blendMode>
  <featureBlendMode>0</featureBlendMode>
  <layerGeometryType>0</layerGeometryType>
</qgis>
"""

_ROADS_SLD = """<?xml version="1.0" encoding="UTF-8"?>
<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" xmlns:se="http://www.opengis.net/se" version="1.1.0">
  <NamedLayer><se:Name>roads</se:Name><UserStyle><se:Name>roads</se:Name><se:FeatureTypeStyle><se:Rule>
    <se:Name>roads</se:Name>
    <se:LineSymbolizer><se:Stroke>
      <se:SvgParameter name="stroke">#ff8c00</se:SvgParameter>
      <se:SvgParameter name="stroke-width">3</se:SvgParameter>
      <se:SvgParameter name="stroke-linecap">round</se:SvgParameter>
    </se:Stroke></se:LineSymbolizer>
  </se:Rule></se:FeatureTypeStyle></UserStyle></NamedLayer>
</StyledLayerDescriptor>
"""

_JUNCTIONS_SLD = """<?xml version="1.0" encoding="UTF-8"?>
<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" xmlns:se="http://www.opengis.net/se" version="1.1.0">
  <NamedLayer><se:Name>junctions</se:Name><UserStyle><se:Name>junctions</se:Name><se:FeatureTypeStyle><se:Rule>
    <se:Name>junctions</se:Name>
    <se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>circle</se:WellKnownName>
      <se:Fill><se:SvgParameter name="fill">#5a5a5a</se:SvgParameter></se:Fill></se:Mark>
      <se:Size>4</se:Size></se:Graphic></se:PointSymbolizer>
  </se:Rule></se:FeatureTypeStyle></UserStyle></NamedLayer>
</StyledLayerDescriptor>
"""

#: Roads missing from the reference map: thick magenta, drawn to stand out over the
#: roads and the imagery.
_MISSING_QML = (
    _ROADS_QML.replace("255,140,0,255", "230,0,126,255")
    .replace('value="0.8"', 'value="1.6"')
    .replace(
        "0.3 + 1.5 * coalesce(&quot;mean_prob&quot;, 0.5)",
        "1.2 + 1.2 * coalesce(&quot;mean_prob&quot;, 0.5)",
    )
)
_MISSING_SLD = """<?xml version="1.0" encoding="UTF-8"?>
<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" xmlns:se="http://www.opengis.net/se" version="1.1.0">
  <NamedLayer><se:Name>missing_roads</se:Name><UserStyle><se:Name>missing_roads</se:Name><se:FeatureTypeStyle><se:Rule>
    <se:Name>missing_roads</se:Name>
    <se:LineSymbolizer><se:Stroke><se:SvgParameter name="stroke">#e6007e</se:SvgParameter>
      <se:SvgParameter name="stroke-width">6</se:SvgParameter></se:Stroke></se:LineSymbolizer>
  </se:Rule></se:FeatureTypeStyle></UserStyle></NamedLayer>
</StyledLayerDescriptor>
"""

#: layer name -> (QML, SLD, description)
STYLES: dict[str, tuple[str, str, str]] = {
    "roads": (_ROADS_QML, _ROADS_SLD, "Road centrelines, width by mean probability"),
    "junctions": (_JUNCTIONS_QML, _JUNCTIONS_SLD, "Road junctions, small grey dots"),
    "missing_roads": (_MISSING_QML, _MISSING_SLD, "Roads missing from the reference, magenta"),
}

_CREATE = """CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  f_table_catalog TEXT(256),
  f_table_schema TEXT(256),
  f_table_name TEXT(256),
  f_geometry_column TEXT(256),
  styleName TEXT(30),
  styleQML TEXT,
  styleSLD TEXT,
  useAsDefault BOOLEAN,
  description TEXT,
  owner TEXT(30),
  ui TEXT(30),
  update_time DATETIME DEFAULT CURRENT_TIMESTAMP
)"""


def write_layer_styles(gpkg: Path, geometry_column: str = "geom") -> None:
    """Add (or replace) the default style of each of roadseg's layers in ``gpkg``."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with sqlite3.connect(gpkg) as con:
        con.execute(_CREATE)
        con.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, "
            "description, last_change) VALUES ('layer_styles', 'attributes', "
            "'layer_styles', '', ?)",
            (now,),
        )
        present = {row[0] for row in con.execute("SELECT table_name FROM gpkg_contents")}
        for layer, (qml, sld, desc) in STYLES.items():
            if layer not in present:
                continue
            con.execute("DELETE FROM layer_styles WHERE f_table_name = ?", (layer,))
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                "owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', NULL, ?)",
                (layer, geometry_column, layer, qml, sld, desc, now),
            )
