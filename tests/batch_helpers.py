"""Helpers for the batch tests: tiny scenes, a tiny checkpoint, a real scene processor.

Worker processes import this module by name (tests/ is on ``sys.path`` under pytest
and is put on ``PYTHONPATH`` for subprocesses), so processors defined here travel to
dask workers by reference.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from affine import Affine
from rasterio.features import shapes
from shapely.geometry import shape

from roadseg.batch.task import SceneOutcome, SceneTask
from roadseg.errors import InvalidInputError
from roadseg.io.atomic import atomic_output
from roadseg.raster.probability import PROB_NODATA, encode_probability

TESTS_DIR = Path(__file__).resolve().parent


def write_scene(path: Path, seed: int, size: int = 64) -> Path:
    """A small 3-band uint8 UTM scene with a bright road-like cross."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 90, size=(3, size, size), dtype=np.uint8)
    row, col = rng.integers(size // 4, size - size // 4, size=2)
    data[:, row - 2 : row + 2, :] = 230
    data[:, :, col - 2 : col + 2] = 230
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": Affine(1.0, 0.0, 500_000 + 1000 * seed, 0.0, -1.0, 4_000_000),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def write_tiny_checkpoint(path: Path) -> Path:
    """A 4-channel-wide ResUNet checkpoint (untrained; enough to exercise the pipeline)."""
    from roadseg.models import ModelMetadata, build, save_checkpoint

    model = build("resunet", base_channels=4)
    meta = ModelMetadata(architecture="resunet", arch_kwargs={"base_channels": 4}, gsd_m=1.0)
    return save_checkpoint(model, meta, path)


@dataclass(frozen=True)
class BrightnessProcessor:
    """A small but real scene processor: the mean brightness as road probability.

    It reads the scene by windows, writes the probability raster and a GeoPackage of the
    bright regions atomically, like ``run_scene``. Optional faults for the tests:
    ``sleep`` seconds per scene; ``kill_scene``: the worker process running that scene
    kills itself the first time (a marker file in ``marker_dir`` remembers it);
    ``flaky_scene``: that scene raises a transient error on its first attempt;
    ``broken_scene``: that scene raises a transient error on every attempt;
    ``forget_scene``: that scene reports success without writing its GeoPackage;
    ``poison_scene``: the worker running that scene kills itself every time.
    """

    sleep: float = 0.0
    kill_scene: str | None = None
    flaky_scene: str | None = None
    broken_scene: str | None = None
    forget_scene: str | None = None
    poison_scene: str | None = None
    marker_dir: str | None = None

    def _first_time(self, what: str) -> bool:
        assert self.marker_dir is not None
        marker = Path(self.marker_dir) / what
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def __call__(self, task: SceneTask) -> SceneOutcome:
        if task.name == self.kill_scene and self._first_time(f"killed-{task.name}"):
            os.kill(os.getpid(), signal.SIGKILL)
        if task.name == self.poison_scene:
            os.kill(os.getpid(), signal.SIGKILL)
        if task.name == self.flaky_scene and self._first_time(f"flaky-{task.name}"):
            raise OSError(f"{task.scene}: simulated transient read error")
        if task.name == self.broken_scene:
            raise RuntimeError(f"{task.scene}: simulated crash in the model")
        if task.name == self.forget_scene:
            return SceneOutcome(outputs=(task.out,))
        time.sleep(self.sleep)
        try:
            src = rasterio.open(task.scene)
        except rasterio.errors.RasterioIOError as exc:
            raise InvalidInputError(f"{task.scene}: not a readable raster ({exc})") from None
        with src:
            profile = {
                "driver": "GTiff",
                "width": src.width,
                "height": src.height,
                "count": 1,
                "dtype": "uint8",
                "nodata": PROB_NODATA,
                "crs": src.crs,
                "transform": src.transform,
            }
            prob = np.zeros((src.height, src.width), dtype=np.uint8)
            for _, window in src.block_windows(1):
                block = src.read(window=window).astype(np.float32).mean(axis=0) / 255.0
                rows, cols = window.toslices()
                prob[rows, cols] = encode_probability(block)
            outputs = []
            if task.prob_out is not None:
                with (
                    atomic_output(task.prob_out, overwrite=True) as tmp,
                    rasterio.open(tmp, "w", **profile) as dst,
                ):
                    dst.write(prob, 1)
                outputs.append(task.prob_out)
            mask = (prob > 160).astype(np.uint8)
            geoms = [
                shape(g).boundary
                for g, v in shapes(mask, mask=mask.astype(bool), transform=src.transform)
                if v == 1
            ]
            frame = gpd.GeoDataFrame({"id": range(len(geoms))}, geometry=geoms, crs=src.crs)
            with atomic_output(task.out, overwrite=True) as tmp:
                frame.to_file(tmp, layer="roads", driver="GPKG")
            outputs.append(task.out)
            return SceneOutcome(
                outputs=tuple(outputs),
                n_roads=len(geoms),
                total_length_m=float(sum(g.length for g in geoms)),
                pixels=src.width * src.height,
                model_name="brightness",
            )


@dataclass(frozen=True)
class KillDuringRunScene:
    """The real ``run_scene``, except that the worker running ``scene`` is killed
    ``after_s`` seconds into it, the first time only (a marker file remembers)."""

    scene: str
    marker_dir: str
    after_s: float = 0.3

    def __call__(self, task: SceneTask) -> SceneOutcome:
        from roadseg.batch.task import process_with_run_scene

        marker = Path(self.marker_dir) / f"killed-{task.name}"
        if task.name == self.scene and not marker.exists():
            marker.touch()
            threading.Timer(self.after_s, os.kill, (os.getpid(), signal.SIGKILL)).start()
        return process_with_run_scene(task)


def main() -> None:
    """``python batch_helpers.py SLEEP ARGS...``: the batch CLI with BrightnessProcessor."""
    # Import this file under its module name, so workers can unpickle the processor.
    from batch_helpers import BrightnessProcessor as Processor

    import roadseg.batch.driver as runner
    from roadseg.cli.main import cli

    runner.process_with_run_scene = Processor(sleep=float(sys.argv[1]))
    cli.main(sys.argv[2:], prog_name="roadseg")


if __name__ == "__main__":
    main()
