"""The roadseg Processing provider and its one setting: where the roadseg command is."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider

from .algorithms import ConflateRoads, ExtractRoads, VectorizeProbabilities

#: Processing setting: the path of the roadseg command (empty: found on PATH).
EXECUTABLE_SETTING = "ROADSEG_EXECUTABLE"


def _settings():
    """processing's settings module (absent in bare test set-ups without the plugin)."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig, Setting
    except ImportError:  # pragma: no cover - QGIS always ships the processing plugin
        return None, None
    return ProcessingConfig, Setting


class RoadsegProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "roadseg"

    def name(self) -> str:
        return "roadseg"

    def longName(self) -> str:  # noqa: N802
        return "roadseg: road networks from imagery"

    def load(self) -> bool:
        config, setting = _settings()
        if config is not None:
            config.settingIcons[self.name()] = self.icon()
            config.addSetting(
                setting(
                    self.name(),
                    EXECUTABLE_SETTING,
                    "Path of the roadseg command (empty: 'roadseg' on PATH)",
                    "",
                    valuetype=setting.FILE,
                )
            )
            config.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        config, _ = _settings()
        if config is not None:
            config.removeSetting(EXECUTABLE_SETTING)

    def loadAlgorithms(self) -> None:  # noqa: N802
        for algorithm in (ExtractRoads(), VectorizeProbabilities(), ConflateRoads()):
            self.addAlgorithm(algorithm)


def configured_executable() -> str | None:
    """The roadseg command set in Processing's options, if any."""
    config, _ = _settings()
    if config is None:
        return None
    value = config.getSetting(EXECUTABLE_SETTING)
    return str(value) if value else None
