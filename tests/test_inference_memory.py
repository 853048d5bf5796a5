"""Allocation discipline of the block hot path: reused buffers, identical values, flat
memory across block counts with the allocator left at its defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from inference_helpers import resunet_checkpoint, textured, write_scene
from rasterio.windows import Window

from roadseg.inference.block_dispatch import run_local
from roadseg.inference.block_steps import (
    BlockJob,
    blend_block,
    infer_block,
    process_block,
    read_block,
)
from roadseg.inference.layout import Layout
from roadseg.inference.predictor import ModelSpec
from roadseg.raster.buffers import Workspace, WorkspacePool, thread_workspace
from roadseg.raster.normalize import BandStats
from roadseg.raster.prepare import prepare_scene
from roadseg.raster.reader import RawWindow, model_input, model_input_into, read_window

TESTS_DIR = Path(__file__).resolve().parent


def test_workspace_reuses_memory_and_grows_only_when_asked_for_more() -> None:
    ws = Workspace()
    a = ws.array("x", (4, 5), np.float32)
    b = ws.array("x", (2, 3), np.float32)  # smaller: same memory, contiguous
    assert b.ctypes.data == a.ctypes.data and b.flags.c_contiguous
    assert ws.array("x", (20,), np.uint8).ctypes.data == a.ctypes.data
    held = ws.nbytes
    c = ws.array("x", (10, 10), np.float32)  # larger: a new buffer
    assert ws.nbytes > held and c.shape == (10, 10)
    assert ws.array("y", (3,), bool).ctypes.data != c.ctypes.data  # names never share
    np.testing.assert_array_equal(ws.zeros("z", (2, 2), np.int16), 0)


def test_thread_workspaces_and_the_pool() -> None:
    assert thread_workspace() is thread_workspace()
    pool = WorkspacePool()
    first, second = pool.acquire(), pool.acquire()
    assert first is not second and pool.created == 2
    pool.release(first)
    assert pool.acquire() is first and pool.created == 2


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "float32", "float64"])
def test_model_input_into_is_model_input_bit_for_bit(dtype: str) -> None:
    rng = np.random.default_rng(0)
    data = (rng.random((3, 31, 17)) * 3000 - 500).astype(dtype)
    if dtype == "uint8":
        data = (rng.random((3, 31, 17)) * 255).astype(dtype)
    valid = rng.random((31, 17)) > 0.2
    stats = BandStats((3.0, 10.5, 0.0), (200.0, 250.25, 180.0))
    for v in (valid, np.ones_like(valid)):
        raw = RawWindow(data, v)
        out = np.full(data.shape, np.nan, dtype=np.float32)
        scratch = np.empty(v.shape, dtype=bool)
        model_input_into(raw, stats, out, scratch)
        expected = model_input(raw, stats)
        assert out.tobytes() == expected.tobytes()
        # A view of a larger window, as process_block normalises each tile.
        tile = np.empty((3, 9, 7), dtype=np.float32)
        model_input_into(RawWindow(data[:, 5:14, 3:10], v[5:14, 3:10]), stats, tile)
        assert tile.tobytes() == expected[:, 5:14, 3:10].tobytes()


def test_read_window_into_a_workspace_is_the_plain_read(tmp_path: Path) -> None:
    scene = write_scene(tmp_path / "s.tif", textured(70, 90), nodata=0)
    _, spec = prepare_scene(scene, in_channels=3, model_gsd_m=1.0, normalization=None)
    ws = Workspace()
    with rasterio.open(scene) as src:
        for rows, cols in [((-12, 40), (-12, 50)), ((10, 50), (20, 60)), ((50, 86), (70, 101))]:
            window = Window.from_slices(rows, cols, boundless=True)
            args = (src, spec.grid, spec.bands, spec.stats, window)
            plain = read_window(*args)
            pooled = read_window(*args, workspace=ws)
            assert plain.image.tobytes() == pooled.image.tobytes()
            np.testing.assert_array_equal(plain.valid, pooled.valid)


@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_process_block_equals_the_read_infer_blend_tasks(tmp_path: Path, engine: str) -> None:
    """The fused local path and the three Dask tasks give the same sums, bit for bit."""
    if engine == "onnx":
        pytest.importorskip("onnxruntime")
    model = resunet_checkpoint(tmp_path / "m.safetensors")
    array = textured(157, 203)
    array[:, :20, :30] = 0  # some no-data
    scene = write_scene(tmp_path / "s.tif", array, nodata=0)
    _, spec = prepare_scene(scene, in_channels=3, model_gsd_m=1.0, normalization=None)
    layout = Layout.create(203, 157, tile_size=64, overlap=16, block_size=96, align=8)
    model_spec = ModelSpec(str(model), "cpu", 2, False, engine)
    out = Workspace()
    for index in layout.blocks():
        job = BlockJob.from_layout(layout, index)
        data = read_block(spec, job)
        expected = blend_block(job, data, infer_block(model_spec, job, data))
        fused = process_block(spec, model_spec, job, out)
        assert set(fused.seconds) == {"read", "infer", "blend"}
        assert fused.placement == expected.placement
        assert fused.placement.window == job.extent
        for name in ("weighted", "weight", "valid"):
            assert getattr(fused, name).tobytes() == getattr(expected, name).tobytes(), name


def test_local_blocks_reuse_a_fixed_set_of_result_buffers(tmp_path: Path) -> None:
    model = resunet_checkpoint(tmp_path / "m.safetensors")
    scene = write_scene(tmp_path / "s.tif", textured(300, 300))
    _, spec = prepare_scene(scene, in_channels=3, model_gsd_m=1.0, normalization=None)
    layout = Layout.create(300, 300, tile_size=64, overlap=16, block_size=48, align=8)
    jobs = [BlockJob.from_layout(layout, index) for index in layout.blocks()]
    pool = WorkspacePool()
    seen = {}
    for result, out in run_local(spec, ModelSpec(str(model), "cpu", 1), jobs, 2, pool):
        seen[result.index] = float(result.weighted.sum())
        assert result.weighted.base is not None  # a view into the pool's buffers
        assert out is not None
    assert len(seen) == len(jobs) > 20
    assert pool.created <= 3


_CHILD = """
import json, resource, sys
from roadseg.inference import InferenceOptions, predict_scene
import roadseg.inference.writer as W

peaks = []
add = W.ProbabilityWriter.add
def record(self, result):
    add(self, result)
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    peaks.append([int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")])
W.ProbabilityWriter.add = record
options = InferenceOptions(model=sys.argv[3], device="cpu", engine=sys.argv[4],
                           tile_size=256, overlap=32, block_size=448)
predict_scene(sys.argv[1], sys.argv[2], options, progress=False)
print(json.dumps(peaks))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_memory_is_flat_across_blocks_with_the_default_allocator(
    tmp_path: Path, engine: str
) -> None:
    """Resident memory and its peak after the 4th block and after the last (25 blocks
    of 448 px) differ by less than the scene's and the output's size (what GDAL's
    cache may come to hold), with glibc's allocator untouched: a fresh process, no
    mallopt, no malloc_trim."""
    if engine == "onnx":
        pytest.importorskip("onnxruntime")
    model = resunet_checkpoint(tmp_path / "m.safetensors")
    scene = write_scene(tmp_path / "s.tif", textured(2048, 2048))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ROADSEG_CACHE_DIR": str(tmp_path / "c")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR.parent), env.get("PYTHONPATH", "")])
    args = [str(scene), str(tmp_path / "p.tif"), str(model), engine]
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    rss, peak = np.array(json.loads(out.stdout.strip().splitlines()[-1])).T
    assert len(rss) == 25
    # 12 MB of scene and 4 MB of output could be cached; a block's result is 2.3 MB, so
    # keeping one per block (or growing any buffer per block) would add 48 MB.
    assert rss[-1] - rss[3] < 20, rss
    assert peak[-1] - peak[3] < 20, peak
