"""A scene prepared for a model: checked, its working grid worked out, its bands chosen
and its statistics read once; what every block task of ``roadseg run`` and every
training image reads the scene by."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import rasterio

from roadseg.errors import RemoteUnavailableError
from roadseg.io.quiet import quiet_raster_warnings
from roadseg.io.remote import (
    display_url,
    fresh_reads,
    is_remote,
    network_env,
    network_settings,
    web_validators,
    with_retries,
)
from roadseg.log import get_logger
from roadseg.raster.grid import WorkingGrid, working_grid
from roadseg.raster.normalize import (
    STATS_WINDOW,
    STATS_WINDOWED_PIXELS,
    STATS_WINDOWS,
    BandStats,
    scene_band_stats,
)
from roadseg.raster.scene import SceneInfo, describe_dataset, open_dataset, scene_fingerprint

log = get_logger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class SceneSpec:
    """What a task needs to read the scene: its path, grid, bands and statistics.

    ``nodata`` is an extra no-data value (all bands equal to it), for files that do not
    declare theirs. A remote scene also carries the GDAL network settings (to workers,
    which do not inherit the client's environment) and its header's fingerprint (to
    notice a file replaced on the server during the run).
    """

    path: str
    grid: WorkingGrid
    bands: tuple[int, ...]
    stats: BandStats
    nodata: float | None = None
    network: tuple[tuple[str, str], ...] = ()
    fingerprint: tuple[object, ...] | None = None

    def __repr__(self) -> str:
        # Dask logs a failed task's arguments: never a URL's credentials.
        return (
            f"SceneSpec(path={display_url(self.path)!r}, grid={self.grid!r}, "
            f"bands={self.bands!r}, stats={self.stats!r}, nodata={self.nodata!r})"
        )

    @property
    def remote(self) -> bool:
        """Whether the scene is read over the network."""
        return is_remote(self.path)


@contextlib.contextmanager
def scene_env(path: str | os.PathLike[str], network: tuple[tuple[str, str], ...] = ()):
    """GDAL's network settings around reads of a remote scene; nothing for a local one."""
    if is_remote(path):
        with network_env(network or None):
            yield
    else:
        yield


def read_scene(spec: SceneSpec, read: Callable[[rasterio.io.DatasetReader], T]) -> T:
    """Open the scene, apply ``read`` to it and close it; a remote scene is read under
    its network settings, a failure a retry can fix is retried, and a file that changed
    on the server is reported as such (see :func:`roadseg.io.remote.with_retries`)."""

    def attempt() -> T:
        with scene_env(spec.path, spec.network), open_dataset(spec.path) as src:
            return read(src)

    return with_retries(
        attempt, spec.path, fingerprint=lambda: fingerprint_of(spec), expected=spec.fingerprint
    )


def fingerprint_of(spec: SceneSpec) -> tuple[object, ...]:
    """The remote scene's fingerprint as it is now (see :func:`remote_fingerprint`)."""
    with scene_env(spec.path, spec.network), open_dataset(spec.path) as src:
        asked = spec.fingerprint is not None and spec.fingerprint[1] is not None
        return remote_fingerprint(spec.path, src, ask_server=asked)


def remote_fingerprint(
    path: str | os.PathLike[str], src: rasterio.io.DatasetReader, *, ask_server: bool = True
) -> tuple[object, ...]:
    """What changes when a remote scene is replaced: its header's facts
    (:func:`~roadseg.raster.scene.scene_fingerprint`) and, from a web server, the file's
    ETag, time and size (:func:`~roadseg.io.remote.web_validators`; ``None`` when the
    server would not tell at the start, and then never compared)."""
    validators = None
    if ask_server:
        try:
            validators = web_validators(path)
        except RemoteUnavailableError as exc:
            log.debug("%s", exc)
    return (scene_fingerprint(src), validators)


def _announce_stats_read(src: rasterio.io.DatasetReader, name: str) -> None:
    """Say what the statistics read will cost before it starts (minutes for a huge
    scene without overviews)."""
    overviews = src.overviews(1) if src.count else []
    log.info(
        "%s: reading band statistics from a sample of the scene (%s)",
        name,
        f"{len(overviews)} overview level(s)" if overviews else "no overviews",
    )
    if not overviews and src.width * src.height > STATS_WINDOWED_PIXELS:
        log.info(
            "%s: %dx%d px and no overviews: statistics from %d windows of %d px across it "
            "(overviews would let them cover every pixel: gdaladdo -r average %s)",
            name,
            src.width,
            src.height,
            STATS_WINDOWS**2,
            STATS_WINDOW,
            name,
        )


def prepare_scene(
    path: str | os.PathLike[str],
    *,
    in_channels: int,
    model_gsd_m: float,
    normalization: dict[str, Any] | None,
    max_gsd_m: float | None = None,
    bands: Sequence[int] | None = None,
    gsd: float | None = None,
    nodata: float | None = None,
    quiet: bool = False,
    announce: bool = False,
) -> tuple[SceneInfo, SceneSpec]:
    """Check a scene and work out how the model reads it: bands, working grid, statistics.

    ``roadseg run`` and training both call this, so they read a scene identically.

    Args:
        path: the raster.
        in_channels: bands the model takes.
        model_gsd_m: the model's ground sample distance (the finest of its range).
        normalization: the model's normalisation.
        max_gsd_m: the coarsest of the model's range (see
            :func:`roadseg.raster.grid.working_gsd`); ``None``: one resolution.
        bands: 1-based bands; ``None`` picks them.
        gsd: declared ground sample distance of the scene.
        nodata: extra no-data value (all bands equal to it).
        quiet: do not warn about a plain image.
        announce: log what the statistics read will cost before it starts.
    """
    remote = is_remote(path)
    network = network_settings() if remote else ()
    where = str(path) if remote else str(Path(path).resolve())
    # The scene is opened once here: its header, bands, grid, fingerprint and statistics.
    # A remote one past GDAL's cache, which may hold an earlier version of the file (or
    # an earlier "not found") from a run before in this process.
    with (
        scene_env(path, network),
        rasterio.Env(**(fresh_reads(path) if remote else {})),
        quiet_raster_warnings(),
        open_dataset(path) as src,
    ):
        info = describe_dataset(
            src,
            path,
            in_channels=in_channels,
            bands=bands,
            gsd=gsd,
            default_gsd=model_gsd_m,
            quiet=quiet,
        )
        grid = working_grid(info, model_gsd_m, max_gsd_m)
        fingerprint = remote_fingerprint(path, src) if remote else None
        if announce:
            _announce_stats_read(src, info.name)
        spec = SceneSpec(where, grid, info.bands, BandStats((), ()), nodata, network, fingerprint)
        first_try = [src]

        def band_stats() -> BandStats:
            # A retry reopens the scene: the failed handle may hold a broken transfer.
            if first_try:
                return scene_band_stats(first_try.pop(), info.bands, normalization, nodata=nodata)
            with open_dataset(path) as again:
                return scene_band_stats(again, info.bands, normalization, nodata=nodata)

        stats = with_retries(
            band_stats, path, fingerprint=lambda: fingerprint_of(spec), expected=fingerprint
        )
    return info, SceneSpec(where, grid, info.bands, stats, nodata, network, fingerprint)
