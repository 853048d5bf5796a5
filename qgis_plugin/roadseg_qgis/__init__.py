"""QGIS plugin: roadseg's Processing provider."""


def classFactory(iface):  # noqa: N802 - the name QGIS looks for
    from .plugin import RoadsegPlugin

    return RoadsegPlugin(iface)
