"""roadseg: road extraction from aerial and satellite imagery."""

import os

# ONNX Runtime (1.29 and newer) carries a telemetry SDK that starts when the module is
# imported: it writes a session file (.ses) to the temporary folder and may upload
# events. A mapping tool sends nothing, so it is switched off here, before anything of
# roadseg can import onnxruntime (in this process and in every Dask worker that imports
# roadseg). A user's own setting of the variable is kept.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"

__all__ = ["__version__"]
