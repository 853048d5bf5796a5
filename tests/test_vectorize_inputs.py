"""``roadseg vectorize`` on rasters not written by roadseg: foreign probabilities and
road masks are read with their own nodata and scale; colour images and rasters that
are not probabilities are refused."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from roadseg.cli.main import cli
from roadseg.errors import InvalidInputError
from roadseg.vector import VectorOptions, vectorize
from roadseg.vector.source import detect_encoding

UTM = dict(crs="EPSG:32633", transform=Affine(1.0, 0, 500_000.0, 0, -1.0, 4_100_000.0))


def _cross(size: int = 120) -> np.ndarray:
    """A road cross, 1 inside the roads, 0 elsewhere."""
    m = np.zeros((size, size), dtype=np.float32)
    c = size // 2
    m[c - 3 : c + 4, 10:-10] = 1
    m[10:-10, c - 3 : c + 4] = 1
    return m


def _write(path: Path, data: np.ndarray, **profile: object) -> Path:
    data = data if data.ndim == 3 else data[None]
    options = dict(driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0])
    options.update(dtype=data.dtype.name, **UTM)
    options.update(profile)
    with rasterio.open(path, "w", **options) as dst:
        dst.write(data)
    return path


def _roads(tmp_path: Path, raster: Path) -> int:
    result = vectorize(
        raster, tmp_path / f"{raster.stem}.gpkg", options=VectorOptions(min_length_m=5)
    )
    return result.n_roads


@pytest.mark.parametrize(
    ("name", "data", "profile"),
    [
        ("mask255", (_cross() * 255).astype(np.uint8), {}),
        ("mask01", _cross().astype(np.uint8), {}),
        ("float01", _cross() * 0.9 + 0.02, {}),
        ("uint8prob", (_cross() * 230 + 10).astype(np.uint8), {}),
    ],
)
def test_foreign_probability_rasters_and_masks_give_the_cross(
    tmp_path: Path, name: str, data: np.ndarray, profile: dict
) -> None:
    raster = _write(tmp_path / f"{name}.tif", data, **profile)
    assert _roads(tmp_path, raster) == 4


def test_a_plain_0_255_mask_is_not_taken_as_no_data(tmp_path: Path) -> None:
    raster = _write(tmp_path / "m.tif", (_cross() * 255).astype(np.uint8))
    with rasterio.open(raster) as src:
        enc = detect_encoding(src, raster)
    assert enc.kind == "binary" and enc.nodata is None
    stored = enc.to_stored(np.array([0, 255], dtype=np.uint8))
    assert stored.tolist() == [0, 254]


def test_the_files_own_nodata_is_honoured(tmp_path: Path) -> None:
    data = (_cross() * 200).astype(np.uint8)
    data[:, :30] = 7  # a no-data strip, marked as such by the file
    raster = _write(tmp_path / "n.tif", data, nodata=7)
    with rasterio.open(raster) as src:
        enc = detect_encoding(src, raster)
    assert enc.nodata == 7
    assert enc.to_stored(np.array([7, 0, 255], dtype=np.uint8)).tolist() == [255, 0, 254]
    assert _roads(tmp_path, raster) >= 3


def test_the_band_scale_is_honoured(tmp_path: Path) -> None:
    raster = _write(tmp_path / "s.tif", (_cross() * 100).astype(np.uint8))
    with rasterio.open(raster, "r+") as dst:
        dst.scales = (0.01,)
    with rasterio.open(raster) as src:
        enc = detect_encoding(src, raster)
    assert enc.scale == pytest.approx(0.01)
    assert _roads(tmp_path, raster) == 4


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("colour", np.stack([(_cross() * 255).astype(np.uint8)] * 3), "has 3 bands"),
        ("percent", _cross() * 100, "are not probabilities"),
        ("uint16", (_cross() * 1000).astype(np.uint16), "are not probabilities"),
        ("negative", _cross() - 0.5, "are not probabilities"),
    ],
)
def test_rasters_that_are_not_probabilities_are_refused(
    tmp_path: Path, name: str, data: np.ndarray, fragment: str
) -> None:
    raster = _write(tmp_path / f"{name}.tif", data)
    with pytest.raises(InvalidInputError, match=fragment):
        vectorize(raster, tmp_path / "r.gpkg")
    assert not (tmp_path / "r.gpkg").exists()


def test_the_cli_refuses_a_colour_image_in_one_line(tmp_path: Path) -> None:
    raster = _write(tmp_path / "rgb.tif", np.stack([(_cross() * 255).astype(np.uint8)] * 3))
    result = CliRunner().invoke(cli, ["vectorize", str(raster), "-o", str(tmp_path / "r.gpkg")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert "has 3 bands" in result.output and "roadseg run" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rgb.tif"]


def test_no_third_party_warning_for_a_raster_without_crs(tmp_path: Path) -> None:
    raster = tmp_path / "plain.tif"
    with rasterio.open(
        raster, "w", driver="GTiff", width=120, height=120, count=1, dtype="uint8"
    ) as dst:
        dst.write((_cross() * 255).astype(np.uint8)[None])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = vectorize(raster, tmp_path / "r.gpkg", options=VectorOptions(min_length_m=5))
    assert result.n_roads == 4
    leaked = [str(w.message) for w in caught if "roadseg" not in str(w.filename)]
    assert not [m for m in leaked if "crs" in m.lower() or "georeferenc" in m.lower()], leaked
