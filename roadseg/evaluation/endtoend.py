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
        bands: the scene's bands fed to the model, 1-based (``None``: as ``roadseg run``
            picks them).
    """

    group: str
    stem: str
    scene: Path
    truth: Path
    bands: tuple[int, ...] | None = None

    @classmethod
    def of(cls, image: LabelledImage) -> SceneCase:
        """The case of a held-out scene, grouped by its source (a city), read with the
        bands its source named (``bands=``), as its pixels were scored."""
        return cls(image.dataset, image.stem, image.path, image.truth, image.scene_spec.bands)


def score_scenes(
    model: str | os.PathLike[str],
    cases: Sequence[SceneCase],
    device: str = "cpu",
    keep_dir: str | os.PathLike[str] | None = None,
    previews: bool = False,
    engine: str = "auto",
    thresholds: Sequence[float] = (),
    tta: bool = False,
) -> dict[str, Any]:
    """Run ``model`` on every case and score the networks.

    Args:
        model: shipped weights name or checkpoint path.
        cases: the scenes.
        device: where the model runs.
        keep_dir: folder to keep each ``GROUP-STEM.gpkg`` in; ``None`` deletes them.
        previews: also draw ``GROUP-STEM.png`` (roads over the scene) in ``keep_dir``.
        engine: inference engine, as for ``roadseg run``.
        thresholds: more decision thresholds to score besides the model's: each
            scene's probabilities are computed once and vectorised at every one.
        tta: run as ``roadseg run --tta`` (the mean over the four flips of each tile).

    Returns:
        ``{"scenes": {stem: {...}}, "groups": {group: mean APLS}, "mean_apls": ...,
        "threshold": the model's}``; ``mean_apls`` is the mean over groups of scenes
        with roads. With ``thresholds``, also ``"by_threshold": {threshold: {"groups",
        "mean_apls", "scenes"}}``, the model's threshold included.
    """
    from roadseg.inference import InferenceOptions
    from roadseg.pipeline import run_scene
    from roadseg.vector import vectorize

    scenes: dict[str, dict[str, Any]] = {}
    extra: dict[float, dict[str, dict[str, Any]]] = {}
    model_threshold: float | None = None
    with tempfile.TemporaryDirectory(prefix="roadseg-e2e-") as tmp:
        folder = Path(keep_dir) if keep_dir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for case in cases:
            out = folder / f"{case.group}-{case.stem}.gpkg"
            preview = out.with_suffix(".png") if previews and keep_dir is not None else None
            result = run_scene(
                case.scene,
                out,
                prob_out=Path(tmp) / f"{case.group}-{case.stem}-prob.tif",
                inference=InferenceOptions(
                    model=model, device=device, engine=engine, tta=tta, bands=case.bands
                ),
                overwrite=True,
                preview=preview,
            )
            assert result.vectors is not None
            model_threshold = result.prediction.threshold
            no_roads = read_lines(case.truth).empty
            scenes[case.stem] = _score(case, out, result.vectors.total_length_m, no_roads)
            for threshold in thresholds:
                if threshold == model_threshold:
                    continue
                other = Path(tmp) / f"{case.group}-{case.stem}-{threshold:g}.gpkg"
                vectors = vectorize(result.prediction, other, threshold=threshold, overwrite=True)
                extra.setdefault(float(threshold), {})[case.stem] = _score(
                    case, other, vectors.total_length_m, no_roads
                )
            log.debug("%s/%s: %s", case.group, case.stem, scenes[case.stem])
    summary: dict[str, Any] = {**_summarise(scenes, cases), "threshold": model_threshold}
    if thresholds and model_threshold is not None:
        summary["by_threshold"] = {
            float(model_threshold): {**_summarise(scenes, cases), "scenes": scenes},
            **{t: {**_summarise(s, cases), "scenes": s} for t, s in sorted(extra.items())},
        }
    return {"scenes": scenes, **summary}


def best_threshold(result: dict[str, Any]) -> float | None:
    """The threshold of :func:`score_scenes`' result with the highest mean APLS (the
    model's own on a tie); ``None`` when no scene could be scored."""
    options = result.get("by_threshold") or {
        result.get("threshold"): {"mean_apls": result.get("mean_apls")}
    }
    scored = [(v["mean_apls"], t) for t, v in options.items() if v["mean_apls"] is not None]
    if not scored or result.get("threshold") is None:
        return None
    own = result["threshold"]
    best_apls = max(a for a, _ in scored)
    # Prefer the model's threshold on a tie, then the threshold nearest to it.
    return min((abs(t - own), t) for a, t in scored if a == best_apls)[1]


def at_threshold(result: dict[str, Any], threshold: float) -> dict[str, Any]:
    """:func:`score_scenes`' result as if the model's threshold were ``threshold``."""
    if threshold == result.get("threshold") or "by_threshold" not in result:
        return result
    chosen = result["by_threshold"][threshold]
    return {**result, **chosen, "threshold": threshold}


def _score(case: SceneCase, out: Path, length_m: float, no_roads: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"group": case.group, "pred_length_m": float(length_m)}
    if no_roads:
        entry["apls"] = None
    else:
        entry.update(evaluate_vector_files(out, case.truth))
    return entry


def _summarise(scenes: dict[str, dict[str, Any]], cases: Sequence[SceneCase]) -> dict[str, Any]:
    groups: dict[str, float] = {}
    for group in sorted({c.group for c in cases}):
        values = [
            e["apls"] for e in scenes.values() if e["group"] == group and e["apls"] is not None
        ]
        if values:
            groups[group] = float(np.mean(values))
    return {
        "groups": groups,
        "mean_apls": float(np.mean(list(groups.values()))) if groups else None,
    }
