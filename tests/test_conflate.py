"""Roads missing from a reference map: the method on synthetic cases with known answers,
the reference readers on real OpenStreetMap extracts, the GeoPackage layer and the
commands."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import click
import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from real_data import SHARED_DATA
from synthetic_roads import UTM, write_prob_raster

from roadseg.cli.main import COMMANDS, cli
from roadseg.errors import InputNotFoundError, InvalidInputError, InvalidParameterError
from roadseg.vector import vectorize
from roadseg.vector.conflate import ConflateOptions, conflate
from roadseg.vector.missing import META_MAP_PRECISION, META_MAP_RECALL, META_REFERENCE
from roadseg.vector.reference import ReferenceSpec, read_reference

CRS = "EPSG:32611"
OSM = SHARED_DATA / "osm"
needs_osm = pytest.mark.skipif(not OSM.is_dir(), reason=f"{OSM} is absent (shared test data)")


def _frame(lines: list[list[tuple[float, float]]], **columns: object) -> gpd.GeoDataFrame:
    geoms = [shapely.LineString(line) for line in lines]
    data = {"id": np.arange(1, len(geoms) + 1), "mean_prob": np.full(len(geoms), 0.8)}
    return gpd.GeoDataFrame({**data, **columns}, geometry=geoms, crs=CRS)


# A street grid in metres: three east-west streets and two north-south ones.
X0, Y0 = 500_000.0, 4_000_000.0
GRID = [
    [(X0, Y0 + 100), (X0 + 400, Y0 + 100)],
    [(X0, Y0 + 200), (X0 + 400, Y0 + 200)],
    [(X0, Y0 + 300), (X0 + 400, Y0 + 300)],
    [(X0 + 100, Y0), (X0 + 100, Y0 + 400)],
    [(X0 + 300, Y0), (X0 + 300, Y0 + 400)],
]
FOOTPRINT = shapely.box(X0, Y0, X0 + 400, Y0 + 400)


def test_a_reference_without_one_road_reports_exactly_that_road() -> None:
    found = conflate(_frame(GRID), _frame(GRID[:1] + GRID[2:]), FOOTPRINT)
    assert len(found.missing) == 1
    missing = found.missing.geometry.iloc[0]
    assert missing.hausdorff_distance(shapely.LineString(GRID[1])) < 1.0
    assert found.missing.road_id.tolist() == [2]
    assert found.missing.length_m.iloc[0] == pytest.approx(400, abs=1)
    assert found.map_recall == pytest.approx(1.0)
    assert found.map_precision == pytest.approx(1 - 400 / 2000, abs=0.01)


def test_a_reference_shifted_within_the_tolerance_reports_nothing() -> None:
    shift = 0.8 * ConflateOptions().tolerance_m
    moved = [[(x + shift * 0.6, y + shift * 0.8) for x, y in line] for line in GRID]
    found = conflate(_frame(GRID), _frame(moved), FOOTPRINT)
    assert found.missing.empty
    assert found.map_recall > 0.97 and found.map_precision > 0.97


def test_a_parallel_service_road_beside_a_mapped_highway_is_reported() -> None:
    highway = [(X0, Y0 + 200), (X0 + 400, Y0 + 200)]
    service = [(X0 + 50, Y0 + 220), (X0 + 350, Y0 + 220)]  # 20 m beside it
    crossing = [(X0 + 200, Y0 + 100), (X0 + 200, Y0 + 300)]  # crosses the highway
    found = conflate(_frame([highway, service, crossing]), _frame([highway]), FOOTPRINT)
    assert sorted(found.missing.road_id) == [2, 3]  # the service road and the crossing
    service_found = found.missing[found.missing.road_id == 2].geometry.iloc[0]
    assert service_found.length == pytest.approx(300, abs=1)
    # The crossing passes within the tolerance of the highway, but across it.
    crossing_found = found.missing[found.missing.road_id == 3].geometry
    assert sum(g.length for g in crossing_found) == pytest.approx(200, abs=1)


def test_short_unmatched_stretches_are_not_reported_and_ids_are_stable() -> None:
    detected = _frame([[(X0, Y0 + 100), (X0 + 400, Y0 + 100)]])
    bent = _frame(
        [
            [
                (X0, Y0 + 100),
                (X0 + 200, Y0 + 100),
                (X0 + 210, Y0 + 130),
                (X0 + 220, Y0 + 100),
                (X0 + 400, Y0 + 100),
            ]
        ]
    )
    assert conflate(detected, bent, FOOTPRINT).missing.empty  # a 20 m detour
    first = conflate(_frame(GRID), _frame(GRID[1:]), FOOTPRINT).missing
    again = conflate(_frame(GRID[::-1]), _frame(GRID[1:]), FOOTPRINT).missing
    assert first.id.tolist() == again.id.tolist() and len(first.id.iloc[0]) == 16


def test_options_are_checked() -> None:
    with pytest.raises(InvalidParameterError, match="tolerance_m=0"):
        ConflateOptions(tolerance_m=0).validate()
    with pytest.raises(InvalidParameterError, match="max_angle_deg=120"):
        ConflateOptions(max_angle_deg=120).validate()
    with pytest.raises(InvalidParameterError, match="not both"):
        ReferenceSpec(Path("x.gpkg"), keep=("track",), drop=("path",)).validate()


# --- the reference readers on real OpenStreetMap extracts -------------------------


@needs_osm
@pytest.mark.realdata
def test_osm_pbf_is_read_filtered_and_clipped() -> None:
    path = OSM / "aguascalientes.osm.pbf"
    everything = pyogrio.read_dataframe(path, layer="lines", where="highway IS NOT NULL")
    bounds = everything.total_bounds
    half = shapely.box(bounds[0], bounds[1], (bounds[0] + bounds[2]) / 2, bounds[3])
    lines = read_reference(ReferenceSpec(path), half, gpd.GeoSeries([half], crs=4326).crs)
    assert 100 < len(lines) < len(everything)
    assert lines.geometry.within(half.buffer(1e-9)).all()  # clipped
    assert set(lines.highway) <= set(everything.highway)
    only = read_reference(ReferenceSpec(path, keep=("residential",)), half, lines.crs)
    assert set(only.highway) == {"residential"}
    dropped = read_reference(ReferenceSpec(path, drop=("residential", "service")), half, lines.crs)
    assert not {"residential", "service"} & set(dropped.highway)
    assert len(only) + len(dropped) <= len(lines) + 5  # pieces cut by the clip aside


@needs_osm
@pytest.mark.realdata
def test_osm_xml_and_bz2_are_read_in_a_utm_footprint(monkeypatch: pytest.MonkeyPatch) -> None:
    xml = OSM / "planet_10.068,48.135_10.071,48.137.osm"
    utm = gpd.GeoSeries([shapely.box(10.068, 48.135, 10.071, 48.137)], crs=4326).to_crs(32632)
    lines = read_reference(ReferenceSpec(xml), utm.iloc[0], utm.crs)
    assert len(lines) >= 14 and lines.crs.to_epsg() == 32632
    assert lines.total_bounds[0] >= utm.total_bounds[0] - 1e-6
    before = set(os.listdir(tempfile.gettempdir()))
    oakland = gpd.GeoSeries([shapely.box(-122.31, 37.80, -122.29, 37.82)], crs=4326)
    packed = read_reference(
        ReferenceSpec(OSM / "West-Oakland.osm.bz2"), oakland.iloc[0], oakland.crs
    )
    assert len(packed) > 5 and packed.geom_type.eq("LineString").all()
    assert set(os.listdir(tempfile.gettempdir())) == before  # the decompressed copy is gone


@needs_osm
@pytest.mark.realdata
def test_a_country_extract_outside_the_scene_gives_a_warning_and_no_roads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from roadseg.vector.missing import compare_with_reference

    liechtenstein = ReferenceSpec(OSM / "liechtenstein-2013-08-03.osm.pbf")
    with caplog.at_level("WARNING"):
        found = compare_with_reference(_frame(GRID), liechtenstein, FOOTPRINT, ConflateOptions())
    assert "has no roads within the scene" in caplog.text
    assert len(found.missing) == len(GRID) and found.map_recall is None


def test_bad_references_are_refused_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="reference network not found"):
        ReferenceSpec(tmp_path / "none.gpkg").check()
    garbage = tmp_path / "garbage.gpkg"
    garbage.write_text("not a geopackage")
    with pytest.raises(InvalidInputError, match="not a vector file GDAL can read"):
        ReferenceSpec(garbage).check()
    polygons = tmp_path / "polygons.gpkg"
    gpd.GeoDataFrame(geometry=[FOOTPRINT], crs=CRS).to_file(polygons, layer="areas")
    with pytest.raises(InvalidInputError, match="no line layer"):
        ReferenceSpec(polygons).check()
    with pytest.raises(InvalidInputError, match="no layer 'roads'"):
        ReferenceSpec(polygons, layer="roads").check()
    no_crs = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        pyogrio.write_dataframe(_frame(GRID).set_crs(None, allow_override=True), no_crs)
    with pytest.raises(InvalidInputError, match="has no CRS"):
        ReferenceSpec(no_crs).check()


# --- the GeoPackage layer and the commands ----------------------------------------


def _scene_probabilities(tmp_path: Path) -> Path:
    # Three roads on a 0.5 m grid, in pixels; road 2 is the one the map lacks.
    lines = [[(0, 60), (400, 60)], [(0, 200), (400, 200)], [(200, 0), (200, 400)]]
    return write_prob_raster(tmp_path / "p.tif", lines, (400, 400), UTM)


def _map_of(prob: Path, tmp_path: Path, rows: list[int]) -> Path:
    """The detections' own lines as a map in EPSG:4326, some of them removed."""
    truth = [[(0, 60), (400, 60)], [(0, 200), (400, 200)], [(200, 0), (200, 400)]]
    geoms = [shapely.LineString([UTM[1] @ p for p in truth[i]]) for i in rows]
    path = tmp_path / "map.geojson"
    frame = gpd.GeoDataFrame({"highway": ["residential"] * len(geoms)}, geometry=geoms, crs=CRS)
    frame.to_crs(4326).to_file(path)
    return path


def test_vectorize_with_a_reference_writes_a_styled_missing_layer(tmp_path: Path) -> None:
    prob = _scene_probabilities(tmp_path)
    reference = ReferenceSpec(_map_of(prob, tmp_path, [0, 2]))
    result = vectorize(prob, tmp_path / "r.gpkg", reference=reference)
    # The unmapped road, in its two halves either side of the junction with road 3.
    assert result.missing is not None and result.missing.n_missing == 2
    missing = gpd.read_file(tmp_path / "r.gpkg", layer="missing_roads")
    assert set(missing.columns) >= {"id", "road_id", "length_m", "mean_prob", "geometry"}
    assert missing.length_m.sum() == pytest.approx(200, abs=10)
    assert missing.road_id.nunique() == 2
    meta = pyogrio.read_info(tmp_path / "r.gpkg", layer="missing_roads")["layer_metadata"]
    assert meta[META_REFERENCE] == "map.geojson"
    assert float(meta[META_MAP_RECALL]) > 0.9 and 0.5 < float(meta[META_MAP_PRECISION]) < 0.8
    with sqlite3.connect(tmp_path / "r.gpkg") as con:
        styled = {r[0] for r in con.execute("SELECT f_table_name FROM layer_styles")}
    assert styled == {"roads", "junctions", "missing_roads"}
    if shutil.which("ogrinfo"):
        listing = subprocess.run(
            ["ogrinfo", "-so", str(tmp_path / "r.gpkg"), "missing_roads"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "Feature Count: 2" in listing and "ROADSEG_MAP_RECALL" in listing


def test_conflate_command_and_run_refuse_bad_references_before_any_work(tmp_path: Path) -> None:
    prob = _scene_probabilities(tmp_path)
    vectorize(prob, tmp_path / "roads.gpkg")
    ref = _map_of(prob, tmp_path, [0])
    runner = CliRunner()
    conflate_args = ["conflate", str(tmp_path / "roads.gpkg"), "--reference", str(ref)]
    conflate_args += ["--out", str(tmp_path / "missing.gpkg")]
    ok = runner.invoke(cli, [*conflate_args, "--footprint", str(prob)])
    assert ok.exit_code == 0, ok.output
    assert "4 road(s) missing from map.geojson" in ok.output  # two roads, cut at junctions
    again = runner.invoke(cli, conflate_args)
    assert again.exit_code != 0 and "exists" in again.output
    bad = runner.invoke(
        cli,
        [
            "run",
            str(prob),
            "--out",
            str(tmp_path / "x.gpkg"),
            "--reference",
            str(tmp_path / "none.osm.pbf"),
        ],
    )
    assert bad.exit_code != 0 and "none.osm.pbf: reference network not found" in bad.output
    assert not (tmp_path / "x.gpkg").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["map.geojson", "missing.gpkg", "p.tif", "roads.gpkg"]
    )


def test_no_two_options_of_a_command_share_a_name() -> None:
    for name in COMMANDS:
        command = cli.get_command(click.Context(cli), name)
        dests = [p.name for p in command.params]
        assert len(dests) == len(set(dests)), (name, sorted(d for d in dests if dests.count(d) > 1))


def test_batch_compares_every_scene_and_records_the_reference(tmp_path: Path) -> None:
    from batch_helpers import write_scene, write_tiny_checkpoint
    from distributed import Client, LocalCluster

    from roadseg.batch import collect_scenes, run_batch
    from roadseg.batch.record import RunRecord
    from roadseg.batch.task import process_with_run_scene
    from roadseg.inference import InferenceOptions

    scenes = tmp_path / "in"
    scenes.mkdir()
    for i in range(2):
        write_scene(scenes / f"s{i}.tif", seed=i)
    model = write_tiny_checkpoint(tmp_path / "tiny.safetensors")
    # A map with one road across both scenes' area (EPSG:32633, as the scenes).
    ref = tmp_path / "map.gpkg"
    line = shapely.LineString([(499_000, 3_999_970), (503_000, 3_999_970)])
    gpd.GeoDataFrame({"highway": ["primary"]}, geometry=[line], crs=32633).to_file(ref)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):

        def batch(reference: Path) -> object:
            return run_batch(
                collect_scenes([str(scenes)]),
                tmp_path / "out",
                inference=InferenceOptions(model=str(model)),
                reference=ReferenceSpec(reference),
                scheduler=client,
                process=process_with_run_scene,
            )

        assert batch(ref).n_done == 2
        for i in range(2):
            layers = [n for n, _ in pyogrio.list_layers(tmp_path / "out" / f"s{i}.gpkg")]
            assert "missing_roads" in layers
        done = [e for e in RunRecord(tmp_path / "out") if e.status == "done"]
        assert {e.reference for e in done} == {"map.gpkg"}
        assert batch(ref).n_skipped == 2
        other = tmp_path / "other.gpkg"
        shutil.copy(ref, other)
        assert batch(other).n_done == 2  # another reference redoes the scenes
        with pytest.raises(InputNotFoundError, match="reference network not found"):
            batch(tmp_path / "none.gpkg")


def test_multilines_and_degenerate_lines_are_cut_without_bridges() -> None:
    from roadseg.vector.conflate import segments_of

    multi = shapely.MultiLineString([[(0, 0), (4, 0)], [(100, 0), (104, 0)]])
    point_line = shapely.LineString([(5, 5), (5, 5)])
    segments = segments_of(np.array([multi, point_line], dtype=object), 4.0)
    assert segments.length.max() <= 4.0 + 1e-9  # no segment from (4, 0) to (100, 0)
    assert set(segments.line) == {0} and len(segments.line) == 2


def test_a_line_grazing_the_footprint_keeps_its_inside_part() -> None:
    from roadseg.vector.missing import compare_with_reference

    footprint = shapely.box(X0, Y0, X0 + 400, Y0 + 400)
    # Inside along y = 100, then out and back to touch the edge at one point.
    grazing = [(X0 + 10, Y0 + 100), (X0 + 390, Y0 + 100), (X0 + 450, Y0 + 200),
               (X0 + 400, Y0 + 300), (X0 + 450, Y0 + 350)]  # fmt: skip
    clipped = shapely.intersection(shapely.LineString(grazing), footprint)
    assert clipped.geom_type == "GeometryCollection"  # the case being tested
    reference = _frame([grazing])
    found = conflate(_frame(GRID[:1]), reference, footprint)
    assert found.missing.empty and found.map_precision == pytest.approx(1.0, abs=0.03)
    assert compare_with_reference is not None


def test_web_mercator_is_not_taken_for_metres() -> None:
    import pyproj

    from roadseg.vector.conflate import metric_crs

    area = shapely.box(1_000_000, 6_000_000, 1_001_000, 6_001_000)
    assert metric_crs(area, pyproj.CRS.from_epsg(3857)).to_epsg() != 3857
    assert metric_crs(area, pyproj.CRS.from_epsg(32633)).to_epsg() == 32633


def test_conflate_without_footprint_takes_a_straight_roads_extent(tmp_path: Path) -> None:
    from roadseg.vector.missing import conflate_geopackage

    roads = _frame(GRID[:1])
    roads.to_file(tmp_path / "roads.gpkg", layer="roads")
    ref = tmp_path / "ref.gpkg"
    _frame(GRID[:1]).to_file(ref)
    result = conflate_geopackage(tmp_path / "roads.gpkg", ReferenceSpec(ref), tmp_path / "m.gpkg")
    assert result.n_missing == 0 and result.map_recall == pytest.approx(1.0)
    plain = tmp_path / "plain.tif"
    import rasterio

    with rasterio.open(plain, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8") as d:
        d.write(np.ones((1, 8, 8), np.uint8))
    with pytest.raises(InvalidInputError, match="has no CRS"):
        conflate_geopackage(
            tmp_path / "roads.gpkg", ReferenceSpec(ref), tmp_path / "n.gpkg", footprint_from=plain
        )
