"""Check with QGIS itself that a roadseg GeoPackage opens styled, with no clicks.

Runs under a Python that has the QGIS bindings (the system ``python3`` of a QGIS
install, not the project environment), headless:

    QT_QPA_PLATFORM=offscreen python3 scripts/check_qgis.py roads.gpkg \\
        --raster probs.tif --scene sample.tif --png out.png

It opens the ``roads`` and ``junctions`` layers the way QGIS does when you drag the
file in (OGR provider, default options, so QGIS loads each layer's default style from
the ``layer_styles`` table), and checks that they are valid, in the CRS and with the
feature counts the GeoPackage declares, and that the style QGIS applied is the one
stored in the file (renderer, colour, width, the data-defined width by ``mean_prob``).
With ``--raster`` it checks the probability raster (CRS, nodata 255, scale 1/254);
with ``--png`` it renders roads and junctions over ``--scene`` (or the raster).

Exits 1 when a check fails, 2 when QGIS cannot be imported.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sqlite3
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

try:
    from qgis.core import (
        Qgis,
        QgsApplication,
        QgsExpression,
        QgsExpressionContext,
        QgsExpressionContextUtils,
        QgsMapRendererSequentialJob,
        QgsMapSettings,
        QgsRasterBandStats,
        QgsRasterLayer,
        QgsRectangle,
        QgsSymbolLayer,
        QgsUnitTypes,
        QgsVectorLayer,
        QgsWkbTypes,
    )
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor, QImage
except ImportError as exc:  # pragma: no cover - depends on the machine
    sys.stderr.write(f"QGIS Python bindings not importable ({exc}); use QGIS's python3\n")
    sys.exit(2)

LAYERS = {"roads": QgsWkbTypes.LineGeometry, "junctions": QgsWkbTypes.PointGeometry}
FIELDS = {"roads": ["id", "length_m", "mean_prob", "min_prob"], "junctions": ["id", "degree"]}


class Checks:
    """Collects pass/fail lines for the report."""

    def __init__(self) -> None:
        self.failed = 0

    def check(self, ok: bool, what: str, detail: object = "") -> bool:
        self.failed += not ok
        print(f"  [{'ok' if ok else 'FAIL'}] {what}{f': {detail}' if detail != '' else ''}")
        return ok


def _stored(gpkg: Path, layer: str) -> dict:
    """What the file itself declares for a layer, read with sqlite3 (not QGIS)."""
    con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
    try:
        geom_col, srs_id = con.execute(
            "SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?",
            (layer,),
        ).fetchone()
        org, code = con.execute(
            "SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys "
            "WHERE srs_id = ?",
            (srs_id,),
        ).fetchone()
        count = con.execute(f'SELECT COUNT(*) FROM "{layer}"').fetchone()[0]
        styles = con.execute(
            "SELECT f_table_catalog, f_table_schema, f_geometry_column, styleName, styleQML "
            "FROM layer_styles WHERE f_table_name = ? AND useAsDefault",
            (layer,),
        ).fetchall()
    finally:
        con.close()
    return {
        "geom_col": geom_col,
        "authid": f"{org.upper()}:{code}",
        "count": count,
        "styles": styles,
    }


def _qml_expectation(qml: str) -> dict:
    """The symbol the stored QML describes: type, opacity, layer options, dd properties."""
    root = ET.fromstring(qml)
    renderer = root.find("renderer-v2")
    symbol = renderer.find("symbols/symbol")
    sl = symbol.find("layer")
    options = {o.get("name"): o.get("value") for o in sl.findall("Option/Option")}
    dd = {}
    for prop in sl.findall("data_defined_properties/Option/Option[@name='properties']/Option"):
        values = {o.get("name"): o.get("value") for o in prop.findall("Option")}
        dd[prop.get("name")] = values
    return {
        "renderer": renderer.get("type"),
        "symbol_type": symbol.get("type"),
        "alpha": float(symbol.get("alpha")),
        "class": sl.get("class"),
        "options": options,
        "dd": dd,
    }


def sl_color(want: dict) -> QColor:
    """The colour of the stored symbol layer."""
    return _color(want["options"].get("line_color") or want["options"]["color"])


def _color(value: str) -> QColor:
    r, g, b, a = (int(v) for v in value.split(","))
    return QColor(r, g, b, a)


def check_layer(gpkg: Path, name: str, checks: Checks) -> QgsVectorLayer:
    """Open one layer as QGIS does on drag and drop, check it and its applied style."""
    print(f"layer {name}:")
    stored = _stored(gpkg, name)
    layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
    if not checks.check(layer.isValid(), "valid"):
        return layer
    checks.check(layer.geometryType() == LAYERS[name], "geometry type", layer.geometryType())
    checks.check(
        layer.crs().authid() == stored["authid"],
        "CRS",
        f"{layer.crs().authid()} (file declares {stored['authid']})",
    )
    checks.check(
        layer.featureCount() == stored["count"],
        "feature count",
        f"{layer.featureCount()} (table holds {stored['count']})",
    )
    names = layer.fields().names()
    checks.check(all(f in names for f in FIELDS[name]), "fields", names)

    # The style row must match what QGIS looks up: the layer's geometry column.
    checks.check(
        len(stored["styles"]) == 1, "one default style row in layer_styles", len(stored["styles"])
    )
    if not stored["styles"]:
        return layer
    _catalog, _schema, geom_col, style_name, qml = stored["styles"][0]
    checks.check(
        geom_col == stored["geom_col"],
        "layer_styles.f_geometry_column is the layer's geometry column",
        f"{geom_col!r} vs {stored['geom_col']!r}",
    )
    count, _ids, style_names, _desc, err = layer.listStylesInDatabase()
    checks.check(
        count >= 1 and style_name in style_names,
        "QGIS lists the style as related to the layer",
        f"{style_names[:count]} {err}".strip(),
    )
    try:
        want = _qml_expectation(qml)
    except (ET.ParseError, AttributeError, TypeError, ValueError) as exc:
        checks.check(False, "stored QML parses", exc)
        return layer

    # Control: without the default style QGIS would draw a random colour; so the
    # colour checked below can only come from the file.
    options = QgsVectorLayer.LayerOptions()
    options.loadDefaultStyle = False
    plain = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr", options)
    plain_color = plain.renderer().symbol().color()
    checks.check(
        plain_color != sl_color(want),
        "control: opened without its default style it looks different",
        plain_color.name(),
    )

    renderer = layer.renderer()
    checks.check(renderer.type() == want["renderer"], "renderer", renderer.type())
    symbol = renderer.symbol()
    sym_type = {Qgis.SymbolType.Line: "line", Qgis.SymbolType.Marker: "marker"}.get(
        symbol.type(), str(symbol.type())
    )
    checks.check(sym_type == want["symbol_type"], "symbol type", sym_type)
    checks.check(math.isclose(symbol.opacity(), want["alpha"]), "symbol opacity", symbol.opacity())
    sl = symbol.symbolLayer(0)
    checks.check(sl.layerType() == want["class"], "symbol layer", sl.layerType())
    opts = want["options"]
    mm = QgsUnitTypes.RenderMillimeters
    if name == "roads":
        color = _color(opts["line_color"])
        checks.check(sl.color() == color, "line colour", sl.color().name())
        checks.check(math.isclose(sl.width(), float(opts["line_width"])), "line width", sl.width())
        checks.check(sl.widthUnit() == mm, "line width unit is mm", sl.widthUnit())
        prop = sl.dataDefinedProperties().property(QgsSymbolLayer.PropertyStrokeWidth)
        want_expr = want["dd"]["outlineWidth"]["expression"]
        checks.check(
            prop.isActive() and prop.expressionString() == want_expr,
            "data-defined stroke width active",
            prop.expressionString(),
        )
        widths = _evaluate(layer, want_expr)
        if widths:
            checks.check(
                0.3 <= min(widths) <= max(widths) <= 1.8 and max(widths) > min(widths),
                "per-road width (mm) varies with mean_prob",
                f"{min(widths):.2f}-{max(widths):.2f} over {len(widths)} roads",
            )
    else:
        color = _color(opts["color"])
        checks.check(sl.color() == color, "marker colour", sl.color().name())
        checks.check(math.isclose(sl.size(), float(opts["size"])), "marker size", sl.size())
        checks.check(sl.sizeUnit() == mm, "marker size unit is mm", sl.sizeUnit())
    return layer


def _evaluate(layer: QgsVectorLayer, expression: str) -> list[float]:
    expr = QgsExpression(expression)
    context = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
    expr.prepare(context)
    values = []
    for feature in layer.getFeatures():
        context.setFeature(feature)
        values.append(float(expr.evaluate(context)))
    return values


def check_raster(path: Path, crs: str, checks: Checks) -> QgsRasterLayer:
    """Probability raster: CRS, nodata 255, scale 1/254 as QGIS reads them."""
    print(f"raster {path.name}:")
    layer = QgsRasterLayer(str(path), path.stem, "gdal")
    if not checks.check(layer.isValid(), "valid"):
        return layer
    checks.check(layer.crs().authid() == crs, "CRS", layer.crs().authid())
    dp = layer.dataProvider()
    checks.check(
        dp.sourceHasNoDataValue(1) and dp.sourceNoDataValue(1) == 255,
        "nodata 255",
        dp.sourceNoDataValue(1),
    )
    checks.check(dp.useSourceNoDataValue(1), "source nodata in use", dp.useSourceNoDataValue(1))
    checks.check(
        math.isclose(dp.bandScale(1), 1 / 254, rel_tol=1e-6) and dp.bandOffset(1) == 0,
        "band scale 1/254, offset 0",
        f"{dp.bandScale(1):.7f}, {dp.bandOffset(1)}",
    )
    stats = dp.bandStatistics(1, QgsRasterBandStats.Min | QgsRasterBandStats.Max)
    # Scaled values are probabilities in [0, 1]; a 255 read as data would give 1.004.
    checks.check(
        stats.maximumValue <= 1.0 + 1e-9 and stats.minimumValue >= 0.0,
        "values QGIS reads are probabilities in [0, 1] (nodata excluded)",
        f"{stats.minimumValue:.4f}-{stats.maximumValue:.4f}",
    )
    w, h = layer.width(), layer.height()
    if w * h <= 2048 * 2048:
        block = dp.block(1, layer.extent(), w, h)
        seen = sum(block.isNoData(r, c) for r in range(h) for c in range(w))
        raw = _raw_255(path)
        checks.check(
            seen == raw,
            "QGIS's nodata pixels are exactly the raw 255 pixels",
            f"{seen} nodata, {raw} raw 255",
        )
    return layer


def _raw_255(path: Path) -> int:
    """Raw 255 pixels: the raster read again with its nodata switched off."""
    layer = QgsRasterLayer(str(path), "raw", "gdal")
    dp = layer.dataProvider()
    dp.setUseSourceNoDataValue(1, False)
    w, h = layer.width(), layer.height()
    block = dp.block(1, layer.extent(), w, h)
    scale, offset = dp.bandScale(1), dp.bandOffset(1)
    raw = [
        round((block.value(r, c) - offset) / scale) if scale else block.value(r, c)
        for r in range(h)
        for c in range(w)
    ]
    return sum(v == 255 for v in raw)


def render(layers: list, extent: QgsRectangle, crs, png: Path, checks: Checks) -> None:
    """Render layers (first on top) to a PNG and check roads were drawn in orange."""
    print(f"render {png}:")
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(crs)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(1024, 1024))
    settings.setOutputDpi(96)
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    errors = [f"{e.layerID}: {e.message}" for e in job.errors()]
    checks.check(not errors, "rendered without errors", "; ".join(errors))
    checks.check(image.save(str(png)), "PNG written", png)
    checks.check(_orange_pixels(image) > 1000, "roads drawn in orange", _orange_pixels(image))


def _orange_pixels(image: QImage) -> int:
    """Pixels close to the roads' orange (255, 140, 0) at alpha 0.9."""
    n = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            c = image.pixelColor(x, y)
            if c.red() > 200 and 100 < c.green() < 170 and c.blue() < 80:
                n += 1
    return n * 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gpkg", type=Path)
    parser.add_argument("--raster", type=Path, help="probability GeoTIFF to check")
    parser.add_argument("--scene", type=Path, help="background for the rendering")
    parser.add_argument("--png", type=Path, help="render roads and junctions to this PNG")
    args = parser.parse_args(argv)

    app = QgsApplication([], False)
    app.initQgis()
    print(f"QGIS {Qgis.version()} ({Qgis.QGIS_VERSION_INT})")
    try:
        failed = _run(args)
    finally:
        gc.collect()  # layers must go before QGIS exits, else it crashes on exit
        app.exitQgis()
    print(f"FAILED: {failed} check(s)" if failed else "all checks passed")
    return 1 if failed else 0


def _run(args: argparse.Namespace) -> int:
    checks = Checks()
    roads = check_layer(args.gpkg, "roads", checks)
    junctions = check_layer(args.gpkg, "junctions", checks)
    crs = roads.crs()
    layers = [junctions, roads]
    if args.raster:
        layers.append(check_raster(args.raster, crs.authid(), checks))
    if args.scene:
        scene = QgsRasterLayer(str(args.scene), args.scene.stem, "gdal")
        checks.check(scene.isValid(), f"scene {args.scene.name} valid")
        layers = [junctions, roads, scene]
    if args.png:
        extent = layers[-1].extent() if len(layers) > 2 else roads.extent()
        render(layers, extent, crs, args.png, checks)
    return checks.failed


if __name__ == "__main__":
    sys.exit(main())
