"""Centreline extraction on synthetic probability rasters with known centrelines."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from PIL import Image
from synthetic_roads import GEO, UTM, pixel_lines_to_map, write_prob_raster

from roadseg.cli.main import cli
from roadseg.errors import InputNotFoundError, InvalidParameterError, OutputExistsError
from roadseg.vector import VectorOptions, vectorize

CROSS = [[(8, 60), (112, 60)], [(60, 8), (60, 112)]]
T_SHAPE = [[(8, 40), (112, 40)], [(60, 40), (60, 112)]]


def _curve() -> list[tuple[float, float]]:
    t = np.linspace(np.pi * 0.1, np.pi * 0.9, 60)
    return [(float(64 + 50 * np.cos(a)), float(20 + 80 * np.sin(a))) for a in t]


def _read(path: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    return gpd.read_file(path, layer="roads"), gpd.read_file(path, layer="junctions")


def _max_distance_px(roads: gpd.GeoDataFrame, truth: list, px: float) -> float:
    """Largest distance (pixels) from any output vertex to the true centrelines."""
    union = shapely.union_all(truth)
    pts = shapely.points(shapely.get_coordinates(roads.geometry.values))
    return float(shapely.distance(pts, union).max() / px)


def _assert_noded(roads: gpd.GeoDataFrame) -> None:
    """Lines meet only at shared end vertices: no crossings, no touching interiors."""
    geoms = np.asarray(roads.geometry.values)
    ends = [{tuple(c) for c in shapely.get_coordinates(g)[[0, -1]]} for g in geoms]
    pairs = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    for i, j in pairs.T:
        if i >= j:
            continue
        for c in shapely.get_coordinates(geoms[i].intersection(geoms[j])):
            assert tuple(c) in ends[i] and tuple(c) in ends[j], f"lines meet off a node at {c}"


@pytest.mark.parametrize("grid", [UTM, GEO], ids=["utm", "epsg4326"])
def test_cross_is_four_roads_meeting_at_one_junction(tmp_path: Path, grid) -> None:
    prob = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), grid)
    result = vectorize(prob, tmp_path / "r.gpkg")
    roads, junctions = _read(result.path)
    assert result.n_roads == len(roads) == 4
    assert result.n_junctions == len(junctions) == 1
    assert junctions.degree.tolist() == [4]
    assert roads.crs.to_epsg() == int(grid[0].split(":")[1])
    truth = pixel_lines_to_map(CROSS, grid[1])
    px = abs(grid[1].a)
    assert _max_distance_px(roads, truth, px) <= 2.0
    centre = shapely.points(grid[1] @ (60, 60))
    assert junctions.geometry.iloc[0].distance(centre) / px <= 2.0
    # the junction is the end vertex of all four lines, exactly
    j = tuple(shapely.get_coordinates(junctions.geometry.iloc[0])[0])
    ends = [tuple(c) for g in roads.geometry for c in shapely.get_coordinates(g)[[0, -1]]]
    assert ends.count(j) == 4
    _assert_noded(roads)
    # total length: four arms of about 50 px each, minus the rounded ends
    expected = 4 * 50 * 0.5
    assert result.total_length_m == pytest.approx(expected, rel=0.12)


def test_t_junction_in_epsg4326(tmp_path: Path) -> None:
    prob = write_prob_raster(tmp_path / "p.tif", T_SHAPE, (120, 120), GEO)
    result = vectorize(prob, tmp_path / "r.gpkg")
    roads, junctions = _read(result.path)
    assert len(roads) == 3
    assert junctions.degree.tolist() == [3]
    x, y = junctions.geometry.iloc[0].x, junctions.geometry.iloc[0].y
    tx, ty = GEO[1] @ (60, 40)
    assert abs(x - tx) / GEO[1].a <= 2.0 and abs(y - ty) / GEO[1].a <= 2.5
    assert -115.3 < x < -115.1 and 36.1 < y < 36.3  # degrees, not metres or pixels
    _assert_noded(roads)
    # geodesic lengths in metres (pixels are about 0.4-0.5 m here)
    assert 25 < roads.length_m.max() < 45


def test_curve_follows_the_arc(tmp_path: Path) -> None:
    curve = _curve()
    prob = write_prob_raster(tmp_path / "p.tif", [curve], (128, 128), UTM)
    roads, junctions = _read(vectorize(prob, tmp_path / "r.gpkg").path)
    assert len(roads) == 1 and len(junctions) == 0
    assert _max_distance_px(roads, pixel_lines_to_map([curve], UTM[1]), 0.5) <= 2.0
    # and it covers the arc except the rounded ends
    truth = pixel_lines_to_map([curve], UTM[1])[0]
    assert roads.geometry.iloc[0].length > 0.9 * truth.length


def test_road_across_block_borders_is_one_line(tmp_path: Path) -> None:
    line = [[(14, 30), (60, 70), (114, 90)]]  # ends 14 px from the borders: not extended
    prob = write_prob_raster(tmp_path / "p.tif", line, (128, 128), UTM)
    one = vectorize(prob, tmp_path / "one.gpkg")
    many = vectorize(
        prob, tmp_path / "many.gpkg", options=VectorOptions(vector_block_size=32, halo=24)
    )
    assert one.n_blocks == 1 and many.n_blocks == 16
    r1, _ = _read(one.path)
    rm, _ = _read(many.path)
    assert len(r1) == len(rm) == 1
    g1, gm = r1.geometry.iloc[0], rm.geometry.iloc[0]
    assert g1.hausdorff_distance(gm) < 0.5 * 0.5  # well under a pixel
    assert gm.length == pytest.approx(g1.length, rel=0.01)
    # no kink: every vertex of the stitched line lies within a pixel of the truth
    assert _max_distance_px(rm, pixel_lines_to_map(line, UTM[1]), 0.5) <= 2.0


def test_grid_same_with_one_block_and_many(tmp_path: Path) -> None:
    lines = [[(8, y), (248, y)] for y in (40, 130, 215)] + [[(x, 8), (x, 248)] for x in (50, 170)]
    prob = write_prob_raster(tmp_path / "p.tif", lines, (256, 256), UTM)
    one = vectorize(prob, tmp_path / "one.gpkg")
    many = vectorize(
        prob, tmp_path / "many.gpkg", options=VectorOptions(vector_block_size=40, halo=20)
    )
    assert many.n_blocks == 49
    assert (one.n_roads, one.n_junctions) == (many.n_roads, many.n_junctions) == (17, 6)
    r1, _ = _read(one.path)
    rm, _ = _read(many.path)
    assert shapely.union_all(r1.geometry).hausdorff_distance(shapely.union_all(rm.geometry)) < 0.5
    assert many.total_length_m == pytest.approx(one.total_length_m, rel=0.005)
    _assert_noded(rm)


def test_road_along_the_scene_edge(tmp_path: Path) -> None:
    line = [[(6, 3.5), (120, 3.5)]]
    prob = write_prob_raster(tmp_path / "p.tif", line, (64, 128), UTM, half_width_px=3)
    roads, _ = _read(
        vectorize(
            prob, tmp_path / "r.gpkg", options=VectorOptions(vector_block_size=32, halo=16)
        ).path
    )
    assert len(roads) == 1
    assert _max_distance_px(roads, pixel_lines_to_map(line, UTM[1]), 0.5) <= 2.0
    assert roads.length_m.iloc[0] > 0.9 * 114 * 0.5


def test_no_roads_gives_valid_empty_layers(tmp_path: Path) -> None:
    prob = write_prob_raster(tmp_path / "p.tif", [], (64, 64), UTM)
    result = vectorize(prob, tmp_path / "r.gpkg")
    assert (result.n_roads, result.n_junctions, result.total_length_m) == (0, 0, 0.0)
    roads, junctions = _read(result.path)
    assert len(roads) == 0 and len(junctions) == 0
    assert roads.crs.to_epsg() == 32611
    assert {"length_m", "mean_prob", "min_prob"} <= set(roads.columns)


def test_short_fragments_and_spurs_are_removed(tmp_path: Path) -> None:
    lines = [[(10, 60), (150, 60)], [(80, 60), (80, 68)], [(20, 20), (30, 20)]]
    prob = write_prob_raster(tmp_path / "p.tif", lines, (120, 160), UTM, half_width_px=3)
    roads, junctions = _read(vectorize(prob, tmp_path / "r.gpkg").path)
    # the 4 m spur and the 5 m fragment go; the 70 m road stays whole
    assert len(roads) == 1 and len(junctions) == 0
    assert roads.length_m.iloc[0] > 60


def test_gap_closing_uses_the_probability(tmp_path: Path) -> None:
    line = [[(8, 40), (150, 40)]]
    prob = write_prob_raster(tmp_path / "p.tif", line, (80, 160), UTM)
    import rasterio

    with rasterio.open(prob, "r+") as ds:
        data = ds.read(1)
        data[:, 76:86] = np.minimum(data[:, 76:86], 90)  # a 5 m break, p <= 0.35
        ds.write(data, 1)
    closed = vectorize(prob, tmp_path / "a.gpkg", options=VectorOptions(hysteresis=1.0, gap_m=12))
    assert closed.n_roads == 1
    kept = vectorize(prob, tmp_path / "b.gpkg", options=VectorOptions(hysteresis=1.0, gap_m=0))
    assert kept.n_roads == 2
    unsupported = vectorize(
        prob,
        tmp_path / "c.gpkg",
        options=VectorOptions(hysteresis=1.0, gap_m=12, gap_min_prob=0.75),
    )
    assert unsupported.n_roads == 2
    hyst = vectorize(prob, tmp_path / "d.gpkg", options=VectorOptions(hysteresis=0.4, gap_m=0))
    assert hyst.n_roads == 1


def test_threshold_from_tag_and_override(tmp_path: Path) -> None:
    prob = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), UTM, threshold=0.97)
    assert vectorize(prob, tmp_path / "a.gpkg").n_roads == 0  # nothing reaches 0.97
    result = vectorize(prob, tmp_path / "b.gpkg", threshold=0.5)
    assert result.threshold == 0.5 and result.n_roads == 4
    untagged = write_prob_raster(tmp_path / "u.tif", CROSS, (120, 120), UTM, threshold=None)
    assert vectorize(untagged, tmp_path / "c.gpkg").threshold == 0.5


def test_probability_attributes(tmp_path: Path) -> None:
    prob = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), UTM)
    roads, _ = _read(vectorize(prob, tmp_path / "r.gpkg").path)
    assert (roads.mean_prob > 0.85).all() and (roads.mean_prob <= 1).all()
    assert (roads.min_prob <= roads.mean_prob).all() and (roads.min_prob > 0.5).all()
    assert roads.id.tolist() == [1, 2, 3, 4]
    assert roads.geometry.is_valid.all()


def test_refuses_to_overwrite_and_bad_inputs(tmp_path: Path) -> None:
    prob = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), UTM)
    out = tmp_path / "r.gpkg"
    vectorize(prob, out)
    with pytest.raises(OutputExistsError, match="overwrite"):
        vectorize(prob, out)
    vectorize(prob, out, overwrite=True)
    with pytest.raises(InputNotFoundError):
        vectorize(tmp_path / "missing.tif", tmp_path / "x.gpkg")
    with pytest.raises(InvalidParameterError, match="threshold"):
        vectorize(prob, tmp_path / "x.gpkg", threshold=1.5)
    with pytest.raises(InvalidParameterError, match="spur_length_m"):
        vectorize(prob, tmp_path / "x.gpkg", options=VectorOptions(spur_length_m=-1))
    assert not (tmp_path / "x.gpkg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.tif", "r.gpkg"]


def test_layer_styles_table_as_qgis_writes_it(tmp_path: Path) -> None:
    prob = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), UTM)
    out = vectorize(prob, tmp_path / "r.gpkg").path
    with sqlite3.connect(out) as con:
        cols = [r[1] for r in con.execute("PRAGMA table_info(layer_styles)")]
        rows = con.execute(
            "SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles"
        ).fetchall()
        geom_cols = con.execute(
            "SELECT table_name, column_name FROM gpkg_geometry_columns"
        ).fetchall()
        rtree = con.execute(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'rtree_roads_geom%'"
        ).fetchone()[0]
    assert cols == [
        "id",
        "f_table_catalog",
        "f_table_schema",
        "f_table_name",
        "f_geometry_column",
        "styleName",
        "styleQML",
        "styleSLD",
        "useAsDefault",
        "description",
        "owner",
        "ui",
        "update_time",
    ]
    assert sorted(r[0] for r in rows) == ["junctions", "roads"]
    # QGIS only applies a style row whose geometry column is the layer's.
    assert {r[0]: r[1] for r in rows} == dict(geom_cols)
    assert all(r[1] == "geom" and r[2] == 1 and r[3].startswith("<!DOCTYPE qgis") for r in rows)
    import xml.etree.ElementTree as ET

    for name, _, _, qml in rows:
        root = ET.fromstring(qml)
        symbol = root.find("renderer-v2/symbols/symbol")
        assert root.tag == "qgis" and symbol is not None
        assert symbol.get("type") == ("line" if name == "roads" else "marker")
    roads_qml = next(r[3] for r in rows if r[0] == "roads")
    assert "mean_prob" in roads_qml  # width by probability
    assert rtree > 0  # spatial index


def test_geopackage_version_readable_by_older_gdal(tmp_path: Path) -> None:
    # GDAL before 3.7 (QGIS 3.22 / 3.28 builds) warns "may only be partially
    # supported" on every open of a GeoPackage 1.4, which recent GDAL writes by default.
    prob = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), UTM)
    out = vectorize(prob, tmp_path / "r.gpkg").path
    with sqlite3.connect(out) as con:
        application_id = con.execute("PRAGMA application_id").fetchone()[0]
        user_version = con.execute("PRAGMA user_version").fetchone()[0]
    assert application_id == 0x47504B47  # "GPKG"
    assert user_version == 10200
    assert len(gpd.read_file(out, layer="roads")) == 4  # the cross: four arms


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is not installed")
def test_ogrinfo_reads_the_geopackage(tmp_path: Path) -> None:
    prob = write_prob_raster(tmp_path / "p.tif", T_SHAPE, (120, 120), GEO)
    out = vectorize(prob, tmp_path / "r.gpkg").path
    info = subprocess.run(
        ["ogrinfo", "-al", "-so", str(out)], capture_output=True, text=True, check=True
    ).stdout
    roads, junctions = (
        info.split("Layer name: junctions")[0],
        info.split("Layer name: junctions")[1],
    )
    assert "Layer name: roads" in roads and "Geometry: Line String" in roads
    assert "Feature Count: 3" in roads and 'ID["EPSG",4326]' in roads
    assert "Geometry: Point" in junctions and "Feature Count: 1" in junctions
    for field in ("length_m: Real", "mean_prob: Real", "min_prob: Real", "degree: Integer"):
        assert field in info
    listing = subprocess.run(["ogrinfo", str(out)], capture_output=True, text=True).stdout
    assert "layer_styles" in listing


def test_preview_is_written_and_bounded(tmp_path: Path) -> None:
    prob = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), UTM)
    result = vectorize(prob, tmp_path / "r.gpkg", preview=tmp_path / "r.png")
    img = np.asarray(Image.open(result.preview))
    assert img.shape == (120, 120, 3)
    red = (img[..., 0] > 200) & (img[..., 1] < 120)
    assert red[60, 20:100].mean() > 0.8 or red[59:62, 20:100].any(axis=0).mean() > 0.8
    assert red.mean() < 0.2


def test_cli_vectorize(tmp_path: Path) -> None:
    prob = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), UTM)
    out = tmp_path / "r.gpkg"
    args = ["vectorize", str(prob), "--out", str(out), "--vector-block-size", "48", "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "4 roads, 1 junction," in result.output
    again = CliRunner().invoke(cli, args)
    assert again.exit_code != 0 and "overwrite" in again.output
    # tuning options reach the library: no network is 1 km long
    tuned = CliRunner().invoke(cli, [*args, "--overwrite", "--min-length", "1000"])
    assert tuned.exit_code == 0 and "0 roads, 0 junctions" in tuned.output
    bad = CliRunner().invoke(cli, [*args, "--overwrite", "--hysteresis", "0"])
    assert bad.exit_code != 0 and "hysteresis" in bad.output


def test_distributed_client_gives_the_same_network(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    prob = write_prob_raster(tmp_path / "p.tif", T_SHAPE, (120, 120), UTM)
    local = vectorize(prob, tmp_path / "a.gpkg", options=VectorOptions(vector_block_size=48))
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2) as client:
        remote = vectorize(
            prob, tmp_path / "b.gpkg", options=VectorOptions(vector_block_size=48), scheduler=client
        )
    assert (remote.n_roads, remote.n_junctions) == (local.n_roads, local.n_junctions) == (3, 1)
    assert remote.total_length_m == pytest.approx(local.total_length_m)
    with pytest.raises(InvalidParameterError, match="scheduler"):
        vectorize(prob, tmp_path / "c.gpkg", scheduler=42)


def test_preview_over_the_scene_is_downsampled(tmp_path: Path) -> None:
    import rasterio

    prob = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), UTM)
    scene = tmp_path / "scene.tif"
    rng = np.random.default_rng(0)
    with rasterio.open(
        scene,
        "w",
        driver="GTiff",
        width=120,
        height=120,
        count=3,
        dtype="uint16",
        crs=UTM[0],
        transform=UTM[1],
    ) as dst:
        dst.write(rng.integers(0, 60, (3, 120, 120), dtype=np.uint16))
    from roadseg.vector.preview import write_preview

    out = write_preview(
        [np.array([UTM[1] @ (8, 60), UTM[1] @ (112, 60)])],
        None,
        scene,
        tmp_path / "s.png",
        max_side=60,
    )
    img = np.asarray(Image.open(out))
    assert img.shape == (60, 60, 3)  # never more than max_side pixels on a side
    assert (img[29:31, 10:50, 0] > 200).any(axis=0).all()  # the road, in red, at half scale
    result = vectorize(prob, tmp_path / "r.gpkg", preview=tmp_path / "r.png", scene=scene)
    assert np.asarray(Image.open(result.preview)).shape == (120, 120, 3)


def test_road_leaving_the_scene_reaches_its_border(tmp_path: Path) -> None:
    line = [[(30, 40), (100, 140)]]  # runs out of the bottom edge obliquely
    prob = write_prob_raster(tmp_path / "p.tif", line, (128, 128), UTM)
    roads, _ = _read(
        vectorize(
            prob, tmp_path / "r.gpkg", options=VectorOptions(vector_block_size=48, halo=24)
        ).path
    )
    assert len(roads) == 1
    coords = shapely.get_coordinates(roads.geometry.iloc[0])
    cols, rows = ~UTM[1] @ (coords[:, 0], coords[:, 1])
    assert rows.max() == pytest.approx(128.0)  # ends exactly on the raster's edge
    bottom = int(np.argmax(rows))
    assert cols[bottom] == pytest.approx(30 + 70 * (128 - 40) / 100, abs=1.5)
    off, _ = _read(vectorize(prob, tmp_path / "o.gpkg", options=VectorOptions(border_m=0)).path)
    _, rows_off = ~UTM[1] @ tuple(shapely.get_coordinates(off.geometry.iloc[0]).T)
    assert rows_off.max() < 128.0


def test_noisy_network_is_noded_and_block_independent(tmp_path: Path) -> None:
    """A tangle of soft, noisy ridges (like a model's output) cut into 36 blocks."""
    import rasterio
    from scipy import ndimage

    from roadseg.raster.probability import encode_probability

    rng = np.random.default_rng(3)
    n = 200
    field = ndimage.gaussian_filter(rng.random((n, n)), 4)
    field = (field - field.min()) / (field.max() - field.min())
    prob = np.clip(
        np.clip(1 - np.abs(field - 0.5) * 12, 0, 1) * 0.95 + rng.random((n, n)) * 0.1, 0, 1
    )
    path = tmp_path / "p.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=n,
        height=n,
        count=1,
        dtype="uint8",
        crs=UTM[0],
        transform=UTM[1],
        nodata=255,
    ) as dst:
        dst.write(encode_probability(prob), 1)
    one = vectorize(path, tmp_path / "one.gpkg")
    many = vectorize(
        path, tmp_path / "many.gpkg", options=VectorOptions(vector_block_size=34, halo=40)
    )
    assert many.n_blocks == 36 and one.n_roads > 30
    assert (many.n_roads, many.n_junctions) == (one.n_roads, one.n_junctions)
    assert many.total_length_m == pytest.approx(one.total_length_m, rel=0.005)
    for result in (one, many):
        roads, junctions = _read(result.path)
        assert roads.geometry.is_valid.all() and (roads.length_m > 0).all()
        _assert_noded(roads)
        # every junction is the end vertex of exactly `degree` lines
        ends = [tuple(c) for g in roads.geometry for c in shapely.get_coordinates(g)[[0, -1]]]
        for pt, degree in zip(junctions.geometry, junctions.degree, strict=True):
            assert ends.count((pt.x, pt.y)) == degree


def test_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    import dask

    prob = write_prob_raster(tmp_path / "p.tif", [], (32, 32), UTM)
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(InvalidParameterError, match="cannot connect"),
    ):
        vectorize(prob, tmp_path / "r.gpkg", scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "r.gpkg").exists()


def test_road_running_into_nodata_reaches_its_edge(tmp_path: Path) -> None:
    line = [[(60, 120), (70, 0)]]  # from inside up into a no-data collar (rows < 40)
    prob = write_prob_raster(tmp_path / "p.tif", line, (128, 128), UTM, nodata_rows=slice(0, 40))
    roads, _ = _read(vectorize(prob, tmp_path / "r.gpkg").path)
    assert len(roads) == 1
    coords = shapely.get_coordinates(roads.geometry.iloc[0])
    _, rows = ~UTM[1] @ (coords[:, 0], coords[:, 1])
    assert rows.min() == pytest.approx(40.0, abs=1.0)  # at the edge of the valid data
    off, _ = _read(vectorize(prob, tmp_path / "o.gpkg", options=VectorOptions(border_m=0)).path)
    _, rows_off = ~UTM[1] @ tuple(shapely.get_coordinates(off.geometry.iloc[0]).T)
    assert rows_off.min() > 41.0


def test_raster_without_crs_uses_the_declared_gsd(tmp_path: Path) -> None:
    import rasterio
    from affine import Affine

    from roadseg.raster.probability import TAG_GSD

    src = write_prob_raster(tmp_path / "p.tif", CROSS, (120, 120), UTM)
    with rasterio.open(src) as ds:
        data, profile = ds.read(1), ds.profile
    profile.update(crs=None, transform=Affine.identity())
    bare = tmp_path / "bare.tif"
    with rasterio.open(bare, "w", **profile) as dst:
        dst.write(data, 1)
        dst.update_tags(**{TAG_GSD: "0.5"})
    result = vectorize(bare, tmp_path / "r.gpkg")
    reference = vectorize(src, tmp_path / "ref.gpkg")
    assert result.crs is None and result.n_roads == 4
    assert result.total_length_m == pytest.approx(reference.total_length_m, rel=1e-6)


def test_preview_of_a_scene_without_overviews_leaks_no_warning(tmp_path: Path) -> None:
    import warnings

    big = (1200, 1200)  # rio-tiler warns of missing overviews on rasters this size
    prob = write_prob_raster(tmp_path / "p.tif", [[(10, 10), (1000, 1000)]], big, UTM)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vectorize(prob, tmp_path / "r.gpkg", preview=tmp_path / "r.png")
    assert (tmp_path / "r.png").is_file()
    assert not [w for w in caught if "rio_tiler" in (w.filename or "")], [
        str(w.message) for w in caught
    ]
