"""Call ``predict_scene`` and ``vectorize`` of whichever roadseg is imported.

The benchmarks measure "before" in older checkouts too: those take the settings as
keywords (and may lack ``engine``); this version takes ``InferenceOptions`` and
``VectorOptions``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any


def predict(scene: str | Path, out: str | Path, *, overwrite: bool = True, **settings: Any) -> Any:
    """``predict_scene(scene, out)`` with the inference ``settings`` (keyword names of
    ``InferenceOptions``; ``engine`` is dropped where the code has none)."""
    import roadseg.inference as inference

    if hasattr(inference, "InferenceOptions"):
        options = inference.InferenceOptions(**settings)
        return inference.predict_scene(scene, out, options, overwrite=overwrite)
    if "engine" not in inspect.signature(inference.predict_scene).parameters:
        settings.pop("engine", None)
    return inference.predict_scene(scene, out, overwrite=overwrite, **settings)


def vectorize(prob: Any, out: str | Path, *, overwrite: bool = True, **settings: Any) -> Any:
    """``vectorize(prob, out)`` with the vector ``settings`` (keyword names of
    ``VectorOptions``; ``scene`` and ``threshold`` passed as they are)."""
    from roadseg import vector

    passed = {k: settings.pop(k) for k in ("scene", "threshold", "preview") if k in settings}
    if (
        hasattr(vector, "VectorOptions")
        and "options" in inspect.signature(vector.vectorize).parameters
    ):
        return vector.vectorize(
            prob, out, options=vector.VectorOptions(**settings), overwrite=overwrite, **passed
        )
    if "vector_block_size" in settings:
        settings["block_size"] = settings.pop("vector_block_size")
    path = getattr(prob, "path", prob)
    return vector.vectorize(path, out, overwrite=overwrite, **passed, **settings)
