"""The Processing algorithms: each builds a roadseg command line and runs it."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProject,
)

from .runner import CancelledError, RoadsegFailedError, find_roadseg, run_roadseg

DEVICES = ["auto", "cpu", "cuda"]
#: The road lines' options, as the CLI's defaults: (parameter, flag, label, default).
LINE_OPTIONS = (
    ("MIN_LENGTH", "--min-length", "Drop road pieces shorter than (m)", 20.0),
    ("GAP", "--gap", "Bridge gaps up to (m)", 15.0),
    ("SIMPLIFY", "--simplify", "Simplify lines by (m)", 1.0),
)
GPKG_FILTER = "GeoPackage (*.gpkg)"
TIF_FILTER = "GeoTIFF (*.tif *.tiff)"
REFERENCE_FILTER = (
    "Road networks (*.osm.pbf *.pbf *.osm *.osm.bz2 *.gpkg *.geojson *.json *.fgb "
    "*.parquet *.shp);;All files (*)"
)


class LoadStoredStyle(QgsProcessingLayerPostProcessorInterface):
    """Applies the style stored in the GeoPackage (its layer_styles table) to a layer
    that Processing loads: Processing itself opens outputs without their default style."""

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802
        message, loaded = layer.loadDefaultStyle()
        if not loaded:
            feedback.pushWarning(f"{layer.name()}: no stored style ({message})")
        layer.triggerRepaint()


#: Post-processors must outlive the algorithm run that registers them.
_POST_PROCESSORS: list[LoadStoredStyle] = []


def raster_path(layer) -> str:
    """The file (or GDAL path, /vsicurl/ included) behind a raster layer."""
    return layer.source().split("|")[0]


class _RoadsegAlgorithm(QgsProcessingAlgorithm):
    """Common parts: the command, progress and errors, loading outputs styled."""

    def group(self) -> str:
        return "Roads"

    def groupId(self) -> str:  # noqa: N802
        return "roads"

    def createInstance(self):  # noqa: N802
        return type(self)()

    def run_command(self, arguments: list[str], feedback: QgsProcessingFeedback) -> None:
        from .provider import configured_executable

        executable = find_roadseg(configured_executable())
        if executable is None:
            raise QgsProcessingException(
                "the roadseg command was not found: install roadseg in its own environment "
                "and set its path in Processing > Options > Providers > roadseg"
            )
        feedback.pushCommandInfo(" ".join([executable, *arguments]))

        def message(level: str, text: str) -> None:
            if level in ("WARNING", "ERROR", "CRITICAL"):
                feedback.pushWarning(text)
            else:
                feedback.pushInfo(text)

        try:
            run_roadseg(
                executable,
                arguments,
                on_progress=feedback.setProgress,
                on_message=message,
                is_cancelled=feedback.isCanceled,
            )
        except CancelledError as exc:
            raise QgsProcessingException(str(exc)) from None
        except RoadsegFailedError as exc:
            raise QgsProcessingException(str(exc)) from None

    def add_line_parameters(self, threshold_label: str) -> None:
        """The threshold and the road lines' options, as the CLI's."""
        self.addParameter(
            QgsProcessingParameterNumber(
                "THRESHOLD",
                threshold_label,
                QgsProcessingParameterNumber.Double,
                None,
                optional=True,
                minValue=0.01,
                maxValue=0.99,
            )
        )
        for key, _, label, default in LINE_OPTIONS:
            self.addParameter(
                QgsProcessingParameterNumber(
                    key, label, QgsProcessingParameterNumber.Double, default, minValue=0.0
                )
            )

    def line_arguments(self, parameters, context) -> list[str]:
        """The command-line flags of :meth:`add_line_parameters`' values."""
        args = []
        if parameters.get("THRESHOLD") not in (None, ""):
            args += ["--threshold", str(self.parameterAsDouble(parameters, "THRESHOLD", context))]
        for key, flag, _, _ in LINE_OPTIONS:
            args += [flag, str(self.parameterAsDouble(parameters, key, context))]
        return args

    def load_layers(self, context: QgsProcessingContext, gpkg: str, layers: list[str]) -> None:
        """Add the GeoPackage's layers to the project when the algorithm ends; QGIS
        applies each layer's default style from the file's layer_styles table."""
        for name in layers:
            details = QgsProcessingContext.LayerDetails(name, QgsProject.instance(), name)
            processor = LoadStoredStyle()
            _POST_PROCESSORS.append(processor)
            details.setPostProcessor(processor)
            context.addLayerToLoadOnCompletion(f"{gpkg}|layername={name}", details)


class ExtractRoads(_RoadsegAlgorithm):
    INPUT, OUTPUT, PROB_OUTPUT = "INPUT", "OUTPUT", "PROB_OUTPUT"

    def name(self) -> str:
        return "extractroads"

    def displayName(self) -> str:  # noqa: N802
        return "Extract roads"

    def shortHelpString(self) -> str:  # noqa: N802
        return (
            "Finds roads in a raster (any size, CRS and band depth) and writes their "
            "centrelines and junctions to a GeoPackage, styled. Runs 'roadseg run' in "
            "roadseg's own environment. With a reference network (an OpenStreetMap "
            "extract or any line layer), also the roads the reference lacks."
        )

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, "Scene"))
        self.addParameter(
            QgsProcessingParameterString(
                "MODEL",
                "Model (shipped name or .safetensors; empty: the default)",
                "",
                optional=True,
            )
        )
        self.addParameter(QgsProcessingParameterEnum("DEVICE", "Device", DEVICES, defaultValue=0))
        self.addParameter(
            QgsProcessingParameterNumber(
                "TILE_SIZE",
                "Tile size (px)",
                QgsProcessingParameterNumber.Integer,
                512,
                minValue=16,
            )
        )
        self.add_line_parameters("Threshold (empty: the model's)")
        self.addParameter(
            QgsProcessingParameterFile(
                "REFERENCE",
                "Reference road network (optional)",
                fileFilter=REFERENCE_FILTER,
                optional=True,
            )
        )
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT, "Roads", GPKG_FILTER))
        self.addParameter(
            QgsProcessingParameterFileDestination(
                self.PROB_OUTPUT,
                "Road probability (COG)",
                TIF_FILTER,
                optional=True,
                createByDefault=False,
            )
        )

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException("no scene: choose a raster layer or file")
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        prob = self.parameterAsFileOutput(parameters, self.PROB_OUTPUT, context)
        args = ["run", raster_path(layer), "--out", out, "--overwrite", "--progress"]
        if prob:
            args += ["--prob-out", prob]
        model = self.parameterAsString(parameters, "MODEL", context).strip()
        if model:
            args += ["--model", model]
        args += ["--device", DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)]]
        args += ["--tile-size", str(self.parameterAsInt(parameters, "TILE_SIZE", context))]
        args += self.line_arguments(parameters, context)
        reference = self.parameterAsFile(parameters, "REFERENCE", context)
        if reference:
            args += ["--reference", reference]
        self.run_command(args, feedback)
        layers = ["roads", "junctions"] + (["missing_roads"] if reference else [])
        self.load_layers(context, out, layers)
        return {self.OUTPUT: out, self.PROB_OUTPUT: prob or None}


class VectorizeProbabilities(_RoadsegAlgorithm):
    INPUT, OUTPUT = "INPUT", "OUTPUT"

    def name(self) -> str:
        return "vectorizeprobabilities"

    def displayName(self) -> str:  # noqa: N802
        return "Vectorize probabilities"

    def shortHelpString(self) -> str:  # noqa: N802
        return (
            "Turns a road probability raster (from Extract roads, or any 0-1, 0-255 or "
            "road-mask raster) into road centrelines and junctions ('roadseg vectorize')."
        )

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(
            QgsProcessingParameterRasterLayer(self.INPUT, "Probability raster or road mask")
        )
        self.add_line_parameters("Threshold (empty: the raster's)")
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT, "Roads", GPKG_FILTER))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException("no probability raster: choose a raster layer or file")
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        args = ["vectorize", raster_path(layer), "--out", out, "--overwrite", "--progress"]
        args += self.line_arguments(parameters, context)
        self.run_command(args, feedback)
        self.load_layers(context, out, ["roads", "junctions"])
        return {self.OUTPUT: out}


class ConflateRoads(_RoadsegAlgorithm):
    INPUT, OUTPUT = "INPUT", "OUTPUT"

    def name(self) -> str:
        return "missingroads"

    def displayName(self) -> str:  # noqa: N802
        return "Roads missing from a reference map"

    def shortHelpString(self) -> str:  # noqa: N802
        return (
            "Compares a roads GeoPackage from Extract roads with a reference network "
            "(OpenStreetMap .osm.pbf/.osm/.osm.bz2 or any line layer) and writes the roads "
            "the reference lacks ('roadseg conflate'), with recall and precision against "
            "the map in the log."
        )

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(
            QgsProcessingParameterFile(self.INPUT, "Roads GeoPackage", fileFilter=GPKG_FILTER)
        )
        self.addParameter(
            QgsProcessingParameterFile(
                "REFERENCE", "Reference road network", fileFilter=REFERENCE_FILTER
            )
        )
        self.addParameter(
            QgsProcessingParameterRasterLayer(
                "FOOTPRINT", "Scene or probability raster (bounds the comparison)", optional=True
            )
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                "TOLERANCE",
                "Match tolerance (m)",
                QgsProcessingParameterNumber.Double,
                12.0,
                minValue=0.1,
            )
        )
        self.addParameter(
            QgsProcessingParameterFileDestination(self.OUTPUT, "Missing roads", GPKG_FILTER)
        )

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        roads = self.parameterAsFile(parameters, self.INPUT, context)
        reference = self.parameterAsFile(parameters, "REFERENCE", context)
        out = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        args = ["conflate", roads, "--reference", reference, "--out", out, "--overwrite"]
        footprint = self.parameterAsRasterLayer(parameters, "FOOTPRINT", context)
        if footprint is not None:
            args += ["--footprint", raster_path(footprint)]
        args += ["--match-tolerance", str(self.parameterAsDouble(parameters, "TOLERANCE", context))]
        self.run_command(args, feedback)
        self.load_layers(context, out, ["missing_roads"])
        return {self.OUTPUT: out}
