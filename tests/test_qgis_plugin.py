"""The QGIS plugin against a real QGIS (Debian's python3-qgis, which .ci/run installs),
and the Deepness export against Deepness's own preprocessing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from real_data import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
DATA = SHARED_DATA
SWELLENDAM = DATA / "swellendam" / "3420B_2010_328_RGB_LATLNG.tif"
ROADSEG = str(Path(sys.executable).with_name("roadseg"))
SYSTEM_PYTHON = "/usr/bin/python3"

sys.path.insert(0, str(ROOT / "qgis_plugin"))
from roadseg_qgis.runner import child_environment  # noqa: E402


def _qgis_available() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, env=_env(), check=False
    )
    return probe.returncode == 0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


needs_qgis = pytest.mark.skipif(
    not _qgis_available(), reason="QGIS's Python bindings (python3-qgis) are not installed"
)
needs_data = pytest.mark.skipif(not SWELLENDAM.is_file(), reason=f"{SWELLENDAM} is absent")


def harness(*args: str) -> dict:
    done = subprocess.run(
        [SYSTEM_PYTHON, str(ROOT / "tests" / "qgis_harness.py"), args[0], ROADSEG, *args[1:]],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _crop(path: Path, window: Window) -> Path:
    with rasterio.open(SWELLENDAM) as src:
        profile = src.profile
        profile.update(
            width=window.width,
            height=window.height,
            transform=src.window_transform(window),
            tiled=False,
        )
        for key in ("blockxsize", "blockysize"):
            profile.pop(key, None)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(src.read(window=window))
    return path


@needs_qgis
def test_the_provider_registers_its_algorithms() -> None:
    assert harness("register")["algorithms"] == [
        "roadseg:extractroads",
        "roadseg:missingroads",
        "roadseg:vectorizeprobabilities",
    ]


@needs_qgis
@needs_data
@pytest.mark.realdata
def test_extract_roads_writes_a_styled_geopackage(tmp_path: Path) -> None:
    scene = _crop(tmp_path / "scene.tif", Window(300, 1900, 300, 300))
    out = tmp_path / "roads.gpkg"
    result = harness("extract", str(scene), str(out), str(tmp_path / "probs.tif"))
    assert result["ok"], result
    assert result["roads"]["valid"] and result["roads"]["count"] > 0
    assert result["roads"]["colour"] == "#ff8c00"  # the style stored in the GeoPackage
    assert result["junctions"]["valid"] and result["roads"]["crs"] == "EPSG:4326"
    assert result["to_load"] == ["junctions", "roads"]
    assert result["progress"][-1] == 100.0
    assert (tmp_path / "probs.tif").is_file()
    again = harness("vectorize", str(tmp_path / "probs.tif"), str(tmp_path / "again.gpkg"))
    assert again["roads"]["count"] == result["roads"]["count"]


@needs_qgis
def test_extract_roads_from_a_remote_layer(tmp_path: Path) -> None:
    # A layer QGIS opened from a URL: its /vsicurl/ source goes to roadseg as it is, and
    # roadseg reads the scene over HTTP itself (the plugin makes no local copy). The
    # quick start's synthetic scene, so that this runs without the real data.
    from loopback_http import LoopbackServer

    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "sample_scene.py"), str(served / "scene.tif")],
        check=True,
        capture_output=True,
    )
    out = tmp_path / "roads.gpkg"
    with LoopbackServer(served) as server:
        result = harness("extract", f"/vsicurl/{server.url('scene.tif')}", str(out))
    assert result["ok"], result
    assert result["roads"]["valid"] and result["roads"]["count"] > 0


@needs_qgis
@needs_data
@pytest.mark.realdata
def test_cancel_stops_roadseg_and_leaves_nothing(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = harness("cancel", str(SWELLENDAM), str(out_dir / "roads.gpkg"))
    assert not result["ok"] and "cancelled" in result["error"]
    assert result["progress"] and result["progress"][-1] < 85  # stopped during inference
    assert list(out_dir.iterdir()) == []


@needs_qgis
def test_a_bad_scene_reports_roadsegs_own_message(tmp_path: Path) -> None:
    sheared = tmp_path / "shear.tif"
    with rasterio.open(
        sheared,
        "w",
        driver="GTiff",
        width=64,
        height=64,
        count=3,
        dtype="uint8",
        crs="EPSG:32633",
        transform=Affine(1.0, 0.5, 500_000.0, 0.0, -1.0, 4_000_000.0),
    ) as dst:
        dst.write(np.full((3, 64, 64), 90, np.uint8))
    result = harness("extract", str(sheared), str(tmp_path / "roads.gpkg"))
    assert not result["ok"]
    assert result["error"].startswith(f"{sheared}: the geotransform is sheared")
    assert "Traceback" not in result["error"]
    assert not (tmp_path / "roads.gpkg").exists()


def test_the_child_environment_leaves_qgis_settings_out() -> None:
    base = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "PYTHONPATH": "/usr/share/qgis/python",
        "PYTHONHOME": "/x",
        "GDAL_DATA": "/usr/share/gdal",
        "PROJ_LIB": "/usr/share/proj",
        "QGIS_PREFIX_PATH": "/usr",
        "QT_PLUGIN_PATH": "/q",
        "LD_LIBRARY_PATH": "/l",
        "TMPDIR": "/tmp",
    }
    assert child_environment(base) == {"PATH": "/usr/bin", "HOME": "/root", "TMPDIR": "/tmp"}


def test_the_plugin_zip_installs_as_qgis_expects(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_qgis_plugin.py"),
            "--out-dir",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    (archive,) = tmp_path.glob("roadseg_qgis-*.zip")
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        metadata = zf.read("roadseg_qgis/metadata.txt").decode()
    assert {"roadseg_qgis/__init__.py", "roadseg_qgis/provider.py"} <= set(names)
    assert all(n.startswith("roadseg_qgis/") and "__pycache__" not in n for n in names)
    assert "hasProcessingProvider=yes" in metadata


# --- the Deepness export ---------------------------------------------------------


VEGAS = DATA / "spacenet" / "vegas" / "RGB-PanSharpen" / "RGB-PanSharpen_AOI_2_Vegas_img699.tif"


def _deepness_mask(onnx_path: Path, scene: Path, grid: rasterio.DatasetReader) -> np.ndarray:
    """Deepness's processing of ``scene`` on ``grid``: bilinear resampling to the model's
    resolution, zero-padded square tiles, x / 255, (x - mean) / std, threshold."""
    import onnx
    import onnxruntime as ort

    props = {
        p.key: json.loads(p.value)
        for p in onnx.load(str(onnx_path)).metadata_props
        if p.key in ("tile_size", "standardization_mean", "standardization_std", "seg_thresh")
    }
    tile = props["tile_size"]
    with (
        rasterio.open(scene) as src,
        WarpedVRT(
            src,
            crs=grid.crs,
            transform=grid.transform,
            width=grid.width,
            height=grid.height,
            resampling=Resampling.bilinear,
        ) as vrt,
    ):
        image = vrt.read((1, 2, 3)).astype(np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    mean = np.asarray(props["standardization_mean"], np.float32)[:, None, None]
    std = np.asarray(props["standardization_std"], np.float32)[:, None, None]
    prob = np.zeros(image.shape[1:], np.float32)
    for r in range(0, image.shape[1], tile):
        for c in range(0, image.shape[2], tile):
            part = image[:, r : r + tile, c : c + tile]
            padded = np.zeros((3, tile, tile), np.float32)
            padded[:, : part.shape[1], : part.shape[2]] = part
            x = ((padded / 255.0 - mean) / std)[None]
            out = session.run(None, {session.get_inputs()[0].name: x})[0][0, 0]
            prob[r : r + tile, c : c + tile] = out[: part.shape[1], : part.shape[2]]
    return prob >= props["seg_thresh"]


@pytest.mark.realdata
@pytest.mark.skipif(not VEGAS.is_file(), reason=f"{VEGAS} is absent")
def test_deepness_preprocessing_on_the_export_agrees_with_roadseg_run(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from roadseg.cli.main import cli

    runner = CliRunner()
    exported = runner.invoke(cli, ["export", "-o", str(tmp_path / "m.onnx"), "--deepness"])
    assert exported.exit_code == 0, exported.output
    ran = runner.invoke(cli, ["run", str(VEGAS), "--prob-out", str(tmp_path / "p.tif")])
    assert ran.exit_code == 0, ran.output
    with rasterio.open(tmp_path / "p.tif") as grid:
        stored = grid.read(1)
        threshold = float(grid.tags()["ROADSEG_THRESHOLD"])
        valid = stored != 255
        ours = (stored / 254.0 >= threshold) & valid
        theirs = _deepness_mask(tmp_path / "m.onnx", VEGAS, grid) & valid
    iou = (ours & theirs).sum() / max((ours | theirs).sum(), 1)
    print(f"Deepness vs roadseg run road mask IoU on {VEGAS.name}: {iou:.3f}")
    assert ours.sum() > 1000 and iou > 0.7, iou


def test_the_deepness_export_carries_what_deepness_reads(tmp_path: Path) -> None:
    import onnx

    from roadseg.errors import InvalidParameterError
    from roadseg.inference.deepness import export_model

    path = export_model(tmp_path / "m.onnx", "resunet-lite", deepness=True, tile_size=256)
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["model_type"]) == "Segmentor"
    assert json.loads(props["class_names"]) == {"0": "background", "1": "road"}
    assert json.loads(props["tile_size"]) == json.loads(props["tiles_size"]) == 256
    assert json.loads(props["resolution"]) == 100.0
    assert len(json.loads(props["standardization_mean"])) == 3
    assert 0 < json.loads(props["seg_thresh"]) < 1
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 256, 256]
    with pytest.raises(InvalidParameterError, match="multiple of the model's output stride"):
        export_model(tmp_path / "n.onnx", "resunet-lite", deepness=True, tile_size=250)
    shutil.rmtree(tmp_path)


def _resolution(path: Path) -> float:
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    return json.loads(props["resolution"])


def test_a_range_model_is_exported_for_deepness_at_one_resolution_of_its_range(
    tmp_path: Path,
) -> None:
    """Deepness resamples every scene to one resolution: the finest of a 0.5-1 m model's
    range by default (where roadseg run works fine imagery), or one the user picks in it."""
    from click.testing import CliRunner

    from roadseg.cli.main import cli
    from roadseg.errors import InvalidParameterError
    from roadseg.inference.deepness import export_model

    model = "resunet-mobilenetv2"
    assert _resolution(export_model(tmp_path / "a.onnx", model, deepness=True)) == 50.0
    picked = export_model(tmp_path / "b.onnx", model, deepness=True, resolution_m=1.0)
    assert _resolution(picked) == 100.0
    with pytest.raises(InvalidParameterError, match=r"resolution_m=2: .*trained at 0\.5-1 m"):
        export_model(tmp_path / "c.onnx", model, deepness=True, resolution_m=2.0)
    with pytest.raises(InvalidParameterError, match="Deepness exports only"):
        export_model(tmp_path / "d.onnx", model, resolution_m=1.0)
    assert not (tmp_path / "c.onnx").exists() and not (tmp_path / "d.onnx").exists()
    result = CliRunner().invoke(
        cli,
        [
            "export",
            "--deepness",
            "--model",
            "resunet-lite",
            "--resolution",
            "0.5",
            "-o",
            str(tmp_path / "e.onnx"),
        ],
    )
    assert result.exit_code != 0
    assert "--resolution 0.5: the model was trained at 1 m" in result.output
    assert not (tmp_path / "e.onnx").exists()
