"""Pictures for docs/qgis.md, taken from a real QGIS window under a virtual screen.

    xvfb-run -a -s "-screen 0 1600x1000x24" qgis --nologo --noversioncheck \\
        --code scripts/qgis_screenshots.py

Environment: ROADSEG (the roadseg command), SCENE (a raster), OUT_DIR (where the PNGs
go; default docs/images). It loads the plugin from this checkout, opens the *Extract
roads* dialog on SCENE and saves it, runs the algorithm through Processing (roadseg
in its own environment), lets QGIS add the styled layers over the scene, saves the
main window, and quits.
"""

import os
import sys
from pathlib import Path

from qgis.core import QgsProject, QgsRasterLayer, QgsRectangle
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface, loadPlugin, startPlugin

ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(ROOT / "qgis_plugin"))
sys.path.insert(0, "/usr/share/qgis/python/plugins")
OUT = Path(os.environ.get("OUT_DIR", ROOT / "docs" / "images"))
SCENE = os.environ["SCENE"]
ROADS = str(OUT / "qgis-roads.gpkg") if "ROADS_OUT" not in os.environ else os.environ["ROADS_OUT"]

loadPlugin("roadseg_qgis")
startPlugin("roadseg_qgis")

import processing  # noqa: E402
from processing.core.ProcessingConfig import ProcessingConfig  # noqa: E402

ProcessingConfig.setSettingValue("ROADSEG_EXECUTABLE", os.environ["ROADSEG"])
scene = QgsRasterLayer(SCENE, Path(SCENE).stem)
QgsProject.instance().addMapLayer(scene)
window = iface.mainWindow()
window.resize(1600, 1000)


def dialog_shot() -> None:
    dialog = processing.createAlgorithmDialog("roadseg:extractroads", {"INPUT": scene.id()})
    dialog.resize(820, 900)
    dialog.show()
    QTimer.singleShot(
        1500, lambda: (dialog.grab().save(str(OUT / "qgis-dialog.png")), dialog.close(), run())
    )


def run() -> None:
    processing.runAndLoadResults(
        "roadseg:extractroads",
        {"INPUT": scene.id(), "OUTPUT": ROADS, "REFERENCE": os.environ.get("REFERENCE", "")},
    )
    extent = os.environ.get("EXTENT")
    if extent:
        iface.mapCanvas().setExtent(QgsRectangle(*map(float, extent.split(","))))
    iface.mapCanvas().refresh()
    QTimer.singleShot(6000, result_shot)


def result_shot() -> None:
    window.grab().save(str(OUT / "qgis-result.png"))
    QTimer.singleShot(500, lambda: os._exit(0))


QTimer.singleShot(3000, dialog_shot)
