"""Every bad input gives one clear line, a non-zero exit and leaves nothing behind.

The cases here are the table of ``docs/bad-inputs.md``; a test checks that the table
says what roadseg really says. After changing a message, regenerate the table with::

    .venv/bin/python tests/test_bad_inputs.py
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from inference_helpers import local_checkpoint, textured, write_scene

from roadseg.cli.main import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-inputs.md"
FAST = ["--device", "cpu", "--no-progress", "--tile-size", "64", "--overlap", "16"]


@dataclass(frozen=True)
class Case:
    """A bad input: what is given, the command line, a fragment the message must hold."""

    given: str
    args: list[str]
    fragment: str
    setup: Callable[[Path], None] | None = None
    model: bool = True


def _truncated(tiled: bool, bands: int = 3) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        path = folder / "cut.tif"
        extra = {"tiled": True, "blockxsize": 64, "blockysize": 64} if tiled else {}
        with rasterio.open(
            path, "w", driver="GTiff", width=256, height=256, count=bands, dtype="uint8",
            crs="EPSG:32633", transform=Affine(1, 0, 500000, 0, -1, 4100000), **extra,
        ) as dst:  # fmt: skip
            dst.write(textured(256, 256, bands=bands))
        os.truncate(path, path.stat().st_size // 2)

    return make


def _file(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(data)


def _raster(name: str, array: np.ndarray, **profile: object) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        options = dict(driver="GTiff", count=array.shape[0], height=array.shape[1])
        options.update(width=array.shape[2], dtype=array.dtype.name)
        options.update(crs="EPSG:32633", transform=Affine(1, 0, 500000, 0, -1, 4100000))
        options.update(profile)
        with rasterio.open(folder / name, "w", **options) as dst:
            dst.write(array)

    return make


def _lines(
    name: str, geometry: str = "line", crs: str | None = "EPSG:32633"
) -> Callable[[Path], None]:
    """A one-feature GeoPackage layer near the scene: a line, or a polygon."""

    def make(folder: Path) -> None:
        import geopandas as gpd
        import pyogrio
        import shapely

        shape = shapely.LineString([(500000, 4099968), (500064, 4099968)])
        if geometry == "polygon":
            shape = shape.buffer(3)
        frame = gpd.GeoDataFrame({"highway": ["track"]}, geometry=[shape], crs=crs)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 'crs was not provided': on purpose
            pyogrio.write_dataframe(frame, folder / name)

    return make


def _mkdir(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).mkdir()


RGB = np.stack([np.full((64, 64), 255, np.uint8)] * 3)
RUN = ["run"]

CASES: dict[str, Case] = {
    "missing-scene": Case("a scene that does not exist", [*RUN, "nope.tif", "--out", "r.gpkg"], "no such file"),
    "scene-folder": Case("a folder as the scene", [*RUN, "d", "--out", "r.gpkg"], "is a directory", _mkdir("d")),
    "text-scene": Case("a text file as the scene", [*RUN, "notes.tif", "--out", "r.gpkg"], "not a raster GDAL can read", _file("notes.tif", b"hello")),
    "empty-scene": Case("an empty (0-byte) .tif", [*RUN, "empty.tif", "--out", "r.gpkg"], "not a raster GDAL can read", _file("empty.tif", b"")),
    "truncated-striped": Case("a truncated striped GeoTIFF", [*RUN, "cut.tif", "--out", "r.gpkg"], "could not be read", _truncated(False)),
    "truncated-tiled": Case("a truncated tiled GeoTIFF", [*RUN, "cut.tif", "--out", "r.gpkg"], "could not be read", _truncated(True)),
    "out-is-scene": Case("--out naming the scene, with --overwrite", [*RUN, "scene.tif", "--out", "scene.tif", "--overwrite"], "is the input"),
    "prob-out-is-scene": Case("--prob-out naming the scene, with --overwrite", [*RUN, "scene.tif", "--prob-out", "scene.tif", "--overwrite"], "is the input"),
    "prob-out-is-scene-other-path": Case("--prob-out naming the scene by another path", [*RUN, "scene.tif", "--prob-out", "d/../scene.tif"], "is the input", _mkdir("d")),
    "preview-is-scene": Case("--preview naming the scene", [*RUN, "scene.tif", "--out", "r.gpkg", "--preview", "scene.tif"], "is the input"),
    "out-equals-prob-out": Case("--out and --prob-out the same file", [*RUN, "scene.tif", "--out", "x.gpkg", "--prob-out", "x.gpkg"], "given as both"),
    "out-shp": Case("--out with a .shp name", [*RUN, "scene.tif", "--out", "g.shp"], "name the file g.gpkg"),
    "out-geojson": Case("--out with a .geojson name", [*RUN, "scene.tif", "--out", "g.geojson"], "writes a GeoPackage"),
    "prob-out-png": Case("--prob-out with a .png name", [*RUN, "scene.tif", "--prob-out", "g.png"], "name the file g.tif"),
    "preview-jpg": Case("--preview with a .jpg name", [*RUN, "scene.tif", "--out", "r.gpkg", "--preview", "p.jpg"], "name the file p.png"),
    "out-exists": Case("--out exists, no --overwrite", [*RUN, "scene.tif", "--out", "old.gpkg"], "already exists", _file("old.gpkg", b"x")),
    "prob-out-exists": Case("--prob-out exists, no --overwrite", [*RUN, "scene.tif", "--prob-out", "old.tif"], "already exists", _file("old.tif", b"x")),
    "out-folder-missing": Case("--out in a folder that does not exist", [*RUN, "scene.tif", "--out", "no/r.gpkg"], "does not exist"),
    "out-parent-is-file": Case("--out under a file", [*RUN, "scene.tif", "--out", "f/r.gpkg"], "is a file", _file("f", b"x")),
    "out-is-folder": Case("--out naming a folder", [*RUN, "scene.tif", "--out", "d.gpkg"], "is a directory", _mkdir("d.gpkg")),
    "no-output": Case("no output asked for", [*RUN, "scene.tif"], "nothing to write"),
    "preview-without-out": Case("--preview without --out", [*RUN, "scene.tif", "--prob-out", "p.tif", "--preview", "p.png"], "give --out"),
    "tuning-without-out": Case("a road-line option without --out", [*RUN, "scene.tif", "--prob-out", "p.tif", "--min-length", "5"], "give --out"),
    "band-out-of-range": Case("--bands 5 on a 3-band scene", [*RUN, "scene.tif", "--out", "r.gpkg", "--bands", "5,2,1"], "out of range"),
    "band-count": Case("--bands naming 2 bands for a 3-band model", [*RUN, "scene.tif", "--out", "r.gpkg", "--bands", "1,2"], "give 3"),
    "band-text": Case("--bands abc", [*RUN, "scene.tif", "--out", "r.gpkg", "--bands", "abc"], "not a comma-separated list"),
    "gsd-zero": Case("--gsd 0", [*RUN, "scene.tif", "--out", "r.gpkg", "--gsd", "0"], "--gsd"),
    "gsd-huge": Case("--gsd so large the grid would be huge", [*RUN, "scene.tif", "--out", "r.gpkg", "--gsd", "20000"], "give --gsd"),
    "tile-size-small": Case("--tile-size 8", [*RUN, "scene.tif", "--out", "r.gpkg", "--tile-size", "8"], "--tile-size"),
    "threshold-range": Case("--threshold 1.5", [*RUN, "scene.tif", "--out", "r.gpkg", "--threshold", "1.5"], "--threshold"),
    "device-bogus": Case("--device tpu", [*RUN, "scene.tif", "--out", "r.gpkg", "--device", "tpu"], "--device"),
    "model-missing": Case("--model naming nothing", ["run", "scene.tif", "--out", "r.gpkg", "--model", "nope"], "no such checkpoint", model=False),
    "model-corrupt": Case("--model a file that is not a checkpoint", ["run", "scene.tif", "--out", "r.gpkg", "--model", "bad.safetensors"], "bad.safetensors", _file("bad.safetensors", b"not a checkpoint"), model=False),
    "two-band-scene": Case("a 2-band scene for an RGB model", [*RUN, "two.tif", "--out", "r.gpkg"], "choose bands with --bands", _raster("two.tif", np.zeros((2, 32, 32), np.uint8))),
    "complex-scene": Case("a complex-valued scene", [*RUN, "c.tif", "--out", "r.gpkg"], "unsupported pixel type", _raster("c.tif", np.zeros((3, 32, 32), np.complex64))),
    "sheared-scene": Case("a scene with a sheared geotransform", [*RUN, "shear.tif", "--out", "r.gpkg"], "sheared", _raster("shear.tif", RGB, transform=Affine(1, 0.5, 500000, 0, -1, 4100000))),
    "vectorize-colour": Case("vectorize on a colour image", ["vectorize", "scene.tif", "-o", "r.gpkg"], "has 3 bands", model=False),
    "vectorize-percent": Case("vectorize on 0-100 floats", ["vectorize", "pct.tif", "-o", "r.gpkg"], "not probabilities", _raster("pct.tif", np.full((1, 32, 32), 80.0, np.float32)), model=False),
    "vectorize-uint16": Case("vectorize on uint16 values", ["vectorize", "u16.tif", "-o", "r.gpkg"], "not probabilities", _raster("u16.tif", np.full((1, 32, 32), 900, np.uint16)), model=False),
    "vectorize-text": Case("vectorize on a text file", ["vectorize", "notes.tif", "-o", "r.gpkg"], "not a raster GDAL can read", _file("notes.tif", b"hello"), model=False),
    "vectorize-truncated": Case("vectorize on a truncated GeoTIFF", ["vectorize", "cut.tif", "-o", "r.gpkg"], "could not be read", _truncated(True, bands=1), model=False),
    "vectorize-out-is-input": Case("vectorize --out naming its input", ["vectorize", "p.tif", "-o", "p.tif", "--overwrite"], "is the input", _raster("p.tif", np.zeros((1, 32, 32), np.float32)), model=False),
    "vectorize-out-shp": Case("vectorize --out g.shp", ["vectorize", "p.tif", "-o", "g.shp"], "name the file g.gpkg", _raster("p.tif", np.zeros((1, 32, 32), np.float32)), model=False),
    "vectorize-missing": Case("vectorize on a missing file", ["vectorize", "nope.tif", "-o", "r.gpkg"], "does not exist", model=False),
    "batch-missing-input": Case("batch on a path that does not exist", ["batch", "nope", "--out-dir", "out"], "no such file, folder or pattern", model=False),
    "batch-empty-folder": Case("batch on a folder with no rasters", ["batch", "d", "--out-dir", "out"], "no scenes to process", _mkdir("d"), model=False),
    "batch-out-dir-file": Case("batch --out-dir naming a file", ["batch", "scene.tif", "--out-dir", "f"], "is a file", _file("f", b"x"), model=False),
    "evaluate-one-file": Case("evaluate with one file", ["evaluate", "scene.tif"], "expected two files", model=False),
    "evaluate-out-is-input": Case("evaluate --out naming an input", ["evaluate", "scene.tif", "t.geojson", "-o", "scene.tif", "--overwrite"], "is the input", _file("t.geojson", b'{"type": "FeatureCollection", "features": []}'), model=False),
    "evaluate-nothing": Case("evaluate with nothing to evaluate", ["evaluate"], "nothing to evaluate", model=False),
    "reference-missing": Case("--reference that does not exist", [*RUN, "scene.tif", "--out", "r.gpkg", "--reference", "none.osm.pbf"], "reference network not found"),
    "reference-not-vector": Case("--reference that GDAL cannot read", [*RUN, "scene.tif", "--out", "r.gpkg", "--reference", "ref.gpkg"], "not a vector file GDAL can read", _file("ref.gpkg", b"hello")),
    "reference-no-lines": Case("--reference without a line layer", [*RUN, "scene.tif", "--out", "r.gpkg", "--reference", "areas.gpkg"], "no line layer", _lines("areas.gpkg", "polygon")),
    "reference-no-crs": Case("--reference whose layer has no CRS", [*RUN, "scene.tif", "--out", "r.gpkg", "--reference", "nocrs.gpkg"], "has no CRS", _lines("nocrs.gpkg", crs=None)),
    "reference-without-out": Case("--reference without --out", [*RUN, "scene.tif", "--prob-out", "p.tif", "--reference", "ref.gpkg"], "give --out", _lines("ref.gpkg")),
    "conflate-not-roads": Case("conflate on a GeoPackage without roads", ["conflate", "ref.gpkg", "--reference", "ref.gpkg", "--out", "m.gpkg"], "no 'roads' layer", _lines("ref.gpkg"), model=False),
}  # fmt: skip


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def run_case(case: Case, folder: Path) -> tuple[int, str, list[str], list[str]]:
    """Run a case in ``folder``; return exit code, output, files before and after."""
    local_checkpoint(folder / "m.safetensors")
    write_scene(folder / "scene.tif", textured(64, 64))
    if case.setup is not None:
        case.setup(folder)
    before = _listing(folder)
    args = list(case.args)
    if args[0] == "run":
        if case.model:
            args += ["--model", "m.safetensors"]
        args += [a for a in FAST if a not in args and not _overridden(a, args)]
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(cli, args)
    finally:
        os.chdir(cwd)
    return result.exit_code, result.output, before, _listing(folder)


def _overridden(flag_or_value: str, args: list[str]) -> bool:
    # --tile-size/--device given by the case win over the fast defaults.
    i = FAST.index(flag_or_value)
    flag = FAST[i] if flag_or_value.startswith("--") else FAST[i - 1]
    return flag in args and flag in ("--tile-size", "--device")


def message(output: str) -> str:
    """The error line, without the usage lines click prints before usage errors."""
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    return errors[-1] if errors else ""


def _doc_rows() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([\w-]+)` \| (.+?) \| `(.+)` \|$", line)
        if m:
            rows[m[1]] = (m[2], m[3].replace("\\|", "|"))
    return rows


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_clear_line_and_leaves_nothing(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    code, output, before, after = run_case(case, tmp_path)
    assert code != 0, output
    assert "Traceback" not in output, output
    line = message(output)
    assert line, output
    assert case.fragment in line, output
    other = [
        x
        for x in output.splitlines()
        if x and not x.startswith(("Error:", "Usage:", "Try ", "INFO:", "WARNING:"))
    ]
    assert not other, output  # one message, nothing else
    assert after == before, f"left behind: {sorted(set(after) - set(before))}"
    assert ".partial" not in output


def test_the_docs_table_says_what_roadseg_says(tmp_path: Path) -> None:
    rows = _doc_rows()
    assert len(rows) >= 40
    assert set(rows) == set(CASES), "regenerate docs/bad-inputs.md (see this module)"
    for name, case in CASES.items():
        folder = tmp_path / name
        folder.mkdir()
        _, output, _, _ = run_case(case, folder)
        assert rows[name] == (case.given, message(output)), name


def write_doc() -> None:
    lines = [
        "# Bad input: what roadseg says",
        "",
        "Each row is a test (`tests/test_bad_inputs.py`): the command exits non-zero, prints",
        "the one line shown (after click's usage lines for a malformed option), writes no",
        "traceback and leaves no file behind. Commands run in a folder holding `scene.tif`",
        "(3 bands, 64x64 px at 1 m, UTM) and a model `m.safetensors`.",
        "",
        "| case | input | what roadseg says |",
        "| --- | --- | --- |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in CASES.items():
            folder = Path(tmp) / name
            folder.mkdir()
            _, output, _, _ = run_case(case, folder)
            text = message(output).replace("|", "\\|")
            lines.append(f"| `{name}` | {case.given} | `{text}` |")
    DOC.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {DOC} ({len(CASES)} cases)")


if __name__ == "__main__":
    write_doc()
