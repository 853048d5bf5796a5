"""Drives roadseg's Processing provider inside a real QGIS, for tests/test_qgis_plugin.py.

Runs under a Python with the QGIS bindings (the system ``python3``), headless:

    QT_QPA_PLATFORM=offscreen python3 tests/qgis_harness.py ACTION ROADSEG [ARGS...]

ACTION is ``register``, ``extract SCENE OUT [PROB]``, ``cancel SCENE OUT`` or
``vectorize PROBS OUT``; ROADSEG is the roadseg command to configure. A SCENE that is a
GDAL virtual path (``/vsicurl/...``) is first added to the project as a layer, as a
user's "Add Raster Layer" from a URL does. Prints one JSON object: what the test checks.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, "/usr/share/qgis/python/plugins")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "qgis_plugin"))

from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)

APP = QgsApplication([], False)
APP.initQgis()

import processing  # noqa: E402
from processing.core.Processing import Processing  # noqa: E402
from processing.core.ProcessingConfig import ProcessingConfig  # noqa: E402

Processing.initialize()

from roadseg_qgis.plugin import RoadsegPlugin  # noqa: E402
from roadseg_qgis.provider import EXECUTABLE_SETTING  # noqa: E402


class CancelAfterProgress(QgsProcessingFeedback):
    """Presses Cancel once the run has made some progress."""

    def __init__(self, after: float) -> None:
        super().__init__()
        self.after = after
        self.seen: list[float] = []
        self.progressChanged.connect(self._progress)

    def _progress(self, value: float) -> None:
        self.seen.append(value)
        if value >= self.after and not self.isCanceled():
            self.cancel()


class Recorder(QgsProcessingFeedback):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []
        self.infos: list[str] = []
        self.progressChanged.connect(self.seen.append)

    def pushInfo(self, info: str) -> None:
        self.infos.append(info)
        super().pushInfo(info)


def layer_facts(gpkg: str, name: str) -> dict:
    layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
    facts = {"valid": layer.isValid(), "count": layer.featureCount()}
    if layer.isValid():
        symbol = layer.renderer().symbol() if hasattr(layer.renderer(), "symbol") else None
        facts["colour"] = symbol.color().name() if symbol is not None else None
        facts["crs"] = layer.crs().authid()
    return facts


def main() -> None:
    action, roadseg = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    plugin = RoadsegPlugin(None)
    plugin.initProcessing()
    ProcessingConfig.setSettingValue(EXECUTABLE_SETTING, roadseg)
    registry = QgsApplication.processingRegistry()
    result: dict = {}
    if action == "register":
        provider = registry.providerById("roadseg")
        result["algorithms"] = sorted(a.id() for a in provider.algorithms())
    elif action in ("extract", "cancel"):
        scene, out = args[0], args[1]
        if scene.startswith("/vsi"):
            layer = QgsRasterLayer(scene, "remote scene", "gdal")
            assert layer.isValid(), f"QGIS cannot open {scene}"
            QgsProject.instance().addMapLayer(layer)
            scene = layer.id()
        params = {"INPUT": scene, "OUTPUT": out}
        if len(args) > 2:
            params["PROB_OUTPUT"] = args[2]
        feedback = CancelAfterProgress(5.0) if action == "cancel" else Recorder()
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
        start = time.perf_counter()
        try:
            processing.run("roadseg:extractroads", params, feedback=feedback, context=context)
            result["ok"] = True
        except QgsProcessingException as exc:
            result["ok"] = False
            result["error"] = str(exc)
        result["seconds"] = time.perf_counter() - start
        result["progress"] = feedback.seen
        result["to_load"] = sorted(d.name for d in context.layersToLoadOnCompletion().values())
        if result["ok"]:
            result["roads"] = layer_facts(out, "roads")
            result["junctions"] = layer_facts(out, "junctions")
    elif action == "vectorize":
        probs, out = args
        processing.run("roadseg:vectorizeprobabilities", {"INPUT": probs, "OUTPUT": out})
        result["roads"] = layer_facts(out, "roads")
    print(json.dumps(result))
    plugin.unload()


if __name__ == "__main__":
    main()
    APP.exitQgis()
