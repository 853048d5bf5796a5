"""Scoring a model as users see it: ``roadseg run`` on held-out scenes, then APLS.

Each scene goes through :func:`roadseg.pipeline.run_scene` (the streaming prediction,
the vector stage and the GeoPackage) and the network it wrote is compared with the
scene's road lines by APLS. A scene whose truth has no roads is scored by the length
of road the model invents there instead (APLS is undefined without roads).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from roadseg.evaluation.apls import evaluate_vector_files, read_lines
from roadseg.log import get_logger

if TYPE_CHECKING:
    from roadseg.data import LabelledImage

log = get_logger(__name__)


@dataclass(frozen=True)
class SceneCase:
    """A scene to run and the road lines to compare with.

    Attributes:
        group: what the score is averaged over (a city, a sensor).
        stem: the scene's identifier.
        scene: the raster ``roadseg run`` reads.
        truth: its road lines (an empty file: no roads).
    """

    group: str
    stem: str
    scene: Path
    truth: Path

    @classmethod
    def of(cls, image: LabelledImage) -> SceneCase:
        """The case of a held-out scene, grouped by its source (a city)."""
        return cls(image.dataset, image.stem, image.path, image.truth)


def score_scenes(
    model: str | os.PathLike[str],
    cases: Sequence[SceneCase],
    device: str = "cpu",
    keep_dir: str | os.PathLike[str] | None = None,
    previews: bool = False,
    engine: str = "auto",
) -> dict[str, Any]:
    """Run ``model`` on every case and score the networks.

    Args:
        model: shipped weights name or checkpoint path.
        cases: the scenes.
        device: where the model runs.
        keep_dir: folder to keep each ``GROUP-STEM.gpkg`` in; ``None`` deletes them.
        previews: also draw ``GROUP-STEM.png`` (roads over the scene) in ``keep_dir``.
        engine: inference engine, as for ``roadseg run``.

    Returns:
        ``{"scenes": {stem: {...}}, "groups": {group: mean APLS}, "mean_apls": ...}``;
        ``mean_apls`` is the mean over groups of scenes with roads.
    """
    from roadseg.inference import InferenceOptions
    from roadseg.pipeline import run_scene

    scenes: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="roadseg-e2e-") as tmp:
        folder = Path(keep_dir) if keep_dir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for case in cases:
            out = folder / f"{case.group}-{case.stem}.gpkg"
            preview = out.with_suffix(".png") if previews and keep_dir is not None else None
            result = run_scene(
                case.scene,
                out,
                inference=InferenceOptions(model=model, device=device, engine=engine),
                overwrite=True,
                preview=preview,
            )
            assert result.vectors is not None
            entry: dict[str, Any] = {
                "group": case.group,
                "pred_length_m": float(result.vectors.total_length_m),
            }
            if read_lines(case.truth).empty:
                entry["apls"] = None
            else:
                entry.update(evaluate_vector_files(out, case.truth))
            scenes[case.stem] = entry
            log.debug("%s/%s: %s", case.group, case.stem, entry)
    groups: dict[str, float] = {}
    for group in sorted({c.group for c in cases}):
        values = [
            e["apls"] for e in scenes.values() if e["group"] == group and e["apls"] is not None
        ]
        if values:
            groups[group] = float(np.mean(values))
    return {
        "scenes": scenes,
        "groups": groups,
        "mean_apls": float(np.mean(list(groups.values()))) if groups else None,
    }
