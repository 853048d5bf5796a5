"""A scene prepared for a model: checked, its working grid worked out, its bands chosen
and its statistics read once; what every block task of ``roadseg run`` and every
training image reads the scene by."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roadseg.io.quiet import quiet_raster_warnings
from roadseg.raster.grid import WorkingGrid, working_grid
from roadseg.raster.normalize import BandStats, scene_band_stats
from roadseg.raster.scene import SceneInfo, describe_scene, open_dataset


@dataclass(frozen=True)
class SceneSpec:
    """What a task needs to read the scene: its path, grid, bands and statistics.

    ``nodata`` is an extra no-data value (all bands equal to it), for files that do not
    declare theirs.
    """

    path: str
    grid: WorkingGrid
    bands: tuple[int, ...]
    stats: BandStats
    nodata: float | None = None


def prepare_scene(
    path: str | os.PathLike[str],
    *,
    in_channels: int,
    model_gsd_m: float,
    normalization: dict[str, Any] | None,
    bands: Sequence[int] | None = None,
    gsd: float | None = None,
    nodata: float | None = None,
    quiet: bool = False,
) -> tuple[SceneInfo, SceneSpec]:
    """Check a scene and work out how the model reads it: bands, working grid, statistics.

    ``roadseg run`` and training both call this, so they read a scene identically.

    Args:
        path: the raster.
        in_channels: bands the model takes.
        model_gsd_m: the model's ground sample distance.
        normalization: the model's normalisation.
        bands: 1-based bands; ``None`` picks them.
        gsd: declared ground sample distance of the scene.
        nodata: extra no-data value (all bands equal to it).
        quiet: do not warn about a plain image.
    """
    info = describe_scene(
        path, in_channels=in_channels, bands=bands, gsd=gsd, default_gsd=model_gsd_m, quiet=quiet
    )
    grid = working_grid(info, model_gsd_m)
    with quiet_raster_warnings(), open_dataset(path) as src:
        stats = scene_band_stats(src, info.bands, normalization, nodata=nodata)
    return info, SceneSpec(str(Path(path).resolve()), grid, info.bands, stats, nodata)
