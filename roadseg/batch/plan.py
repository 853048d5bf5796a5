"""Planning a batch: which scenes are done, which must run, what each writes.

The run record decides: a scene done before with the same input checksum, model and
settings, whose outputs are intact, is skipped; any other becomes a
:class:`~roadseg.batch.task.SceneTask`. Temporary files of killed runs are cleared
first, and a probability COG an earlier batch wrote but this one will not is removed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import rasterio

from roadseg import __version__
from roadseg.batch.fingerprint import file_sha256, file_stat_key, matches_facts
from roadseg.batch.inputs import SceneInput
from roadseg.batch.record import DONE, FAILED, SKIPPED, RecordEntry, RunRecord
from roadseg.batch.task import SceneTask
from roadseg.errors import RoadsegError
from roadseg.inference.options import InferenceOptions
from roadseg.io.atomic import parse_temporary
from roadseg.io.remote import display_url, fresh_reads, is_remote, network_env, with_retries
from roadseg.log import get_logger, plural
from roadseg.raster.prepare import remote_fingerprint
from roadseg.raster.scene import open_dataset
from roadseg.vector.conflate import ConflateOptions
from roadseg.vector.line_options import VectorOptions
from roadseg.vector.reference import ReferenceSpec

log = get_logger(__name__)

#: Options that change speed or memory but not the outputs; they are left out of the
#: settings fingerprint, so changing them does not redo finished scenes. The model is
#: left out too: the record compares its SHA-256, whatever path or name it was given by.
NEUTRAL_OPTIONS = frozenset({"model", "batch_size", "block_size", "vector_block_size"})

VECTOR_SUFFIX = ".gpkg"
PROB_SUFFIX = ".prob.tif"


@dataclass
class BatchContext:
    """What every scene of one batch shares: the folder, record, model and settings."""

    out_dir: Path
    record: RunRecord
    batch_id: str
    model: str
    model_path: str
    model_sha256: str
    settings: str
    base: dict[str, Any] = field(default_factory=dict)  # per-scene input facts
    reference: str | None = None

    def entry(self, task: SceneTask, status: str, **values: Any) -> RecordEntry:
        fields: dict[str, Any] = {
            "scene": task.name,
            "status": status,
            "input": display_url(task.scene),
            "batch_id": self.batch_id,
            "attempt": task.attempt,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "roadseg_version": __version__,
            "settings": self.settings,
            "reference": self.reference,
            **self.base.get(task.name, {}),
        }
        fields.update(values)
        return RecordEntry(**fields)


def batch_settings(
    inference: InferenceOptions,
    vector: VectorOptions,
    threshold: float | None,
    prob_cog: bool,
    reference: ReferenceSpec | None = None,
    conflate: ConflateOptions | None = None,
) -> dict[str, Any]:
    """The settings that decide a scene's outputs (hashed into the fingerprint): every
    field of the options objects (``dataclasses.asdict``) but the neutral ones, so a
    changed option redoes the scenes and an option left at its default is the same
    whether it was given or not."""

    def kept(options: Any) -> dict[str, Any]:
        return {k: v for k, v in asdict(options).items() if k not in NEUTRAL_OPTIONS}

    settings = {
        **kept(inference),
        "threshold": threshold,
        "vector": kept(vector),
        "prob_cog": prob_cog,
    }
    if reference is not None:  # a changed reference file or matching redoes the scenes
        stat = reference.path.stat()
        settings["reference"] = {
            "file": reference.label,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "layer": reference.layer,
            "keep": list(reference.keep),
            "drop": list(reference.drop),
            "match": asdict(conflate or ConflateOptions()),
        }
    return settings


def scene_outputs(out_dir: Path, name: str, prob_cog: bool) -> tuple[Path, Path | None]:
    """The GeoPackage and (optional) probability COG of a scene."""
    return out_dir / f"{name}{VECTOR_SUFFIX}", (
        out_dir / f"{name}{PROB_SUFFIX}" if prob_cog else None
    )


def resolve_batch_model(model: str | os.PathLike[str] | None, device: str) -> tuple[str, str, str]:
    """``(label, what workers load, SHA-256 of the checkpoint file)``.

    A checkpoint file is passed to workers as an absolute path; shipped weights by name,
    so that each worker loads them from its own installation.
    """
    from roadseg.models import resolve_model

    path = resolve_model(model, device).absolute()
    if model is not None and Path(model).is_file():
        return str(model), str(path), file_sha256(path)
    name = str(model) if model is not None else path.stem
    return name, name, file_sha256(path)


def outputs_intact(out_dir: Path, outputs: Mapping[str, Any], verify: bool) -> bool:
    if not outputs:
        return False
    return all(
        isinstance(facts, Mapping) and matches_facts(out_dir / name, facts, verify)
        for name, facts in outputs.items()
    )


def clear_partials(out_dir: Path) -> None:
    """Remove every temporary file in the folder: the batch holds its lock, so they are
    all left by runs that were killed (reported by their outputs' names)."""
    removed: set[str] = set()
    for leftover in out_dir.iterdir():
        parsed = parse_temporary(leftover)
        if parsed is None:
            continue
        leftover.unlink(missing_ok=True)
        removed.add(parsed.final_name)
    for name in sorted(removed):
        log.warning("removed what an interrupted run left of %s", name)


def remove_stale_probability(ctx: BatchContext, name: str, entries: Sequence[RecordEntry]) -> None:
    """A scene redone without ``prob_cog``: remove the probability COG an earlier batch
    wrote for it, which would no longer match the new GeoPackage. A file no batch wrote
    is left alone."""
    stale = ctx.out_dir / f"{name}{PROB_SUFFIX}"
    if stale.is_file() and any(e.scene == name and stale.name in e.outputs for e in entries):
        stale.unlink()
        log.info("%s: removed %s of an earlier batch run with prob_cog=True", name, stale.name)


def input_facts(scene: SceneInput, known: Mapping[str, RecordEntry]) -> dict[str, Any]:
    """What says a scene is the one a finished run read: the SHA-256 of a local file
    (re-read only when its size or time changed); for a remote scene, a digest of its
    URL (without credentials) and its header's fingerprint, which costs a few requests
    instead of a download."""
    if is_remote(scene.path):
        return remote_input_facts(scene.path)
    path = Path(scene.path)
    size, mtime_ns = file_stat_key(path)
    previous = known.get(str(path))
    if (
        previous is not None
        and previous.input_sha256
        and (previous.input_size, previous.input_mtime_ns) == (size, mtime_ns)
    ):
        digest = previous.input_sha256
    else:
        digest = file_sha256(path)
    return {"input_sha256": digest, "input_size": size, "input_mtime_ns": mtime_ns}


def remote_input_facts(url: str | os.PathLike[str]) -> dict[str, Any]:
    """:func:`input_facts` of a remote scene (see there): its header's fingerprint and
    what the server says of the file's version, asked past GDAL's cache, with the
    retries of any remote read."""

    def ask() -> tuple[object, ...]:
        with rasterio.Env(**fresh_reads(url)), open_dataset(url) as src:
            return (display_url(url), remote_fingerprint(url, src))

    with network_env():
        facts = with_retries(ask, url)
    digest = hashlib.sha256(repr(facts).encode()).hexdigest()
    return {"input_sha256": digest, "input_size": None, "input_mtime_ns": None}


def plan_scenes(
    scenes: Sequence[SceneInput],
    ctx: BatchContext,
    template: SceneTask,
    prob_cog: bool,
    overwrite: bool,
    verify: bool,
    final: dict[str, RecordEntry],
) -> list[SceneTask]:
    entries = ctx.record.entries()
    last_done = {e.scene: e for e in entries if e.status == DONE}
    by_input = {e.input: e for e in entries if e.input_sha256}
    known = {e.scene for e in entries}
    todo = []
    for scene in scenes:
        out, prob_out = scene_outputs(ctx.out_dir, scene.name, prob_cog)
        task = replace(template, name=scene.name, scene=scene.path, out=out, prob_out=prob_out)
        try:
            ctx.base[scene.name] = input_facts(scene, by_input)
        except (OSError, RoadsegError) as exc:
            error = (
                f"{type(exc).__name__}: {exc}"
                if isinstance(exc, RoadsegError)
                else f"InputNotFoundError: {scene.path}: cannot read the scene "
                f"({exc.strerror or exc})"
            )
            entry = ctx.entry(task, FAILED, attempt=0, error=error)
            ctx.record.append(entry)
            final[scene.name] = entry
            continue
        previous = last_done.get(scene.name)
        if (
            not overwrite
            and previous is not None
            and previous.input_sha256 == ctx.base[scene.name]["input_sha256"]
            and previous.model_sha256 == ctx.model_sha256
            and previous.settings == ctx.settings
            and outputs_intact(ctx.out_dir, previous.outputs, verify)
        ):
            entry = ctx.entry(
                task,
                SKIPPED,
                attempt=0,
                n_roads=previous.n_roads,
                total_length_m=previous.total_length_m,
                pixels=previous.pixels,
                outputs=previous.outputs,
            )
            ctx.record.append(entry)
            final[scene.name] = entry
            continue
        clash = [p for p in (out, prob_out) if p is not None and p.exists()]
        if clash and not overwrite and scene.name not in known:
            entry = ctx.entry(
                task,
                FAILED,
                attempt=0,
                error=f"OutputExistsError: {clash[0]} exists and no batch in this folder "
                "wrote it; pass overwrite=True to replace it",
            )
            ctx.record.append(entry)
            final[scene.name] = entry
            continue
        if not prob_cog:
            remove_stale_probability(ctx, scene.name, entries)
        todo.append(task)
    n_skipped = sum(1 for e in final.values() if e.status == SKIPPED)
    if n_skipped:
        log.info(
            "%s already done with the same input, model and settings: skipped",
            plural(n_skipped, "scene"),
        )
    return todo
