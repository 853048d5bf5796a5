"""The plugin object: registers the Processing provider (no GUI of its own)."""

from __future__ import annotations

from qgis.core import QgsApplication

from .provider import RoadsegProvider


class RoadsegPlugin:
    """Adds the roadseg provider to the Processing toolbox."""

    def __init__(self, iface: object = None) -> None:
        self.iface = iface
        self.provider: RoadsegProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS's name
        """Called by QGIS (also by qgis_process, without a GUI)."""
        self.provider = RoadsegProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS's name
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
