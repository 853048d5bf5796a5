"""``roadseg run`` on the command line: success, and each bad input as one clear line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from inference_helpers import local_checkpoint, textured, write_scene

from roadseg.cli.main import cli
from roadseg.raster.probability import PROB_NODATA

FAST = ["--device", "cpu", "--no-progress", "--tile-size", "64", "--overlap", "16"]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    local_checkpoint(tmp_path / "m.safetensors")
    write_scene(tmp_path / "scene.tif", textured(90, 120))
    return tmp_path


def _run(workdir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["run", *args, "--model", str(workdir / "m.safetensors"), *FAST]
    )
    return result.exit_code, result.output


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_run_writes_the_probability_raster(workdir: Path) -> None:
    code, output = _run(workdir, str(workdir / "scene.tif"), "--prob-out", str(workdir / "p.tif"))
    assert code == 0, output
    with rasterio.open(workdir / "p.tif") as dst:
        stored = dst.read(1)
    assert stored.shape == (90, 120) and (stored != PROB_NODATA).all()
    assert _files(workdir) == ["m.safetensors", "p.tif", "scene.tif"]


def _one_line_error(code: int, output: str, *fragments: str) -> None:
    assert code != 0
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("Error:"), output
    for fragment in fragments:
        assert fragment in lines[0], output
    assert "Traceback" not in output


def test_missing_scene(workdir: Path) -> None:
    code, output = _run(workdir, str(workdir / "nope.tif"), "--prob-out", str(workdir / "p.tif"))
    _one_line_error(code, output, "nope.tif", "no such file")
    assert not (workdir / "p.tif").exists()


def test_not_a_raster(workdir: Path) -> None:
    (workdir / "notes.tif").write_text("this is not an image\n")
    code, output = _run(workdir, str(workdir / "notes.tif"), "--prob-out", str(workdir / "p.tif"))
    _one_line_error(code, output, "notes.tif", "not a raster")
    assert _files(workdir) == ["m.safetensors", "notes.tif", "scene.tif"]


def test_zero_bands(workdir: Path) -> None:
    # A netCDF file with two grids of different shapes: GDAL sees no bands, only
    # subdatasets.
    from scipy.io import netcdf_file

    with netcdf_file(workdir / "two.nc", "w") as nc:
        nc.createDimension("y", 10)
        nc.createDimension("x", 12)
        nc.createDimension("z", 5)
        nc.createVariable("a", "f4", ("y", "x"))[:] = np.ones((10, 12))
        nc.createVariable("b", "f4", ("z", "x"))[:] = np.ones((5, 12))
    code, output = _run(workdir, str(workdir / "two.nc"), "--prob-out", str(workdir / "p.tif"))
    _one_line_error(code, output, "no bands", "subdatasets")
    assert not (workdir / "p.tif").exists()


def test_unsupported_dtype(workdir: Path) -> None:
    data = (np.ones((3, 20, 20)) + 1j).astype(np.complex64)
    write_scene(workdir / "complex.tif", data)
    code, output = _run(workdir, str(workdir / "complex.tif"), "--prob-out", str(workdir / "p.tif"))
    _one_line_error(code, output, "unsupported pixel type complex64")
    assert not (workdir / "p.tif").exists()


def test_band_out_of_range(workdir: Path) -> None:
    code, output = _run(
        workdir,
        str(workdir / "scene.tif"),
        "--prob-out",
        str(workdir / "p.tif"),
        "--bands",
        "1,2,5",
    )
    _one_line_error(code, output, "band 5 is out of range", "3 band(s)")
    assert not (workdir / "p.tif").exists()


def test_bands_not_a_list(workdir: Path) -> None:
    code, output = _run(
        workdir,
        str(workdir / "scene.tif"),
        "--prob-out",
        str(workdir / "p.tif"),
        "--bands",
        "r,g,b",
    )
    assert code == 2 and "comma-separated list of integers" in output


def test_existing_output_without_overwrite(workdir: Path) -> None:
    (workdir / "p.tif").write_bytes(b"precious")
    code, output = _run(workdir, str(workdir / "scene.tif"), "--prob-out", str(workdir / "p.tif"))
    _one_line_error(code, output, "already exists", "--overwrite")
    assert (workdir / "p.tif").read_bytes() == b"precious"
    assert _files(workdir) == ["m.safetensors", "p.tif", "scene.tif"]
    code, output = _run(
        workdir, str(workdir / "scene.tif"), "--prob-out", str(workdir / "p.tif"), "--overwrite"
    )
    assert code == 0, output
    assert (workdir / "p.tif").read_bytes() != b"precious"


def test_no_output_asked_for(workdir: Path) -> None:
    code, output = _run(workdir, str(workdir / "scene.tif"))
    _one_line_error(code, output, "--out", "--prob-out")


@pytest.mark.parametrize("exc", [RuntimeError("model exploded"), KeyboardInterrupt()])
def test_failure_during_the_run_leaves_nothing_behind(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr("roadseg.inference.block_steps.get_predictor", boom)
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(workdir / "scene.tif"),
            "--prob-out",
            str(workdir / "p.tif"),
            "--model",
            str(workdir / "m.safetensors"),
            *FAST,
            "--block-size",
            "50",
        ],
    )
    assert result.exit_code != 0
    assert _files(workdir) == ["m.safetensors", "scene.tif"]
