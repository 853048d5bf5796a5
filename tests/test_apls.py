"""APLS: definition checks on small graphs and the Vegas reference pairs."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import LineString

from roadseg.evaluation.apls import apls, evaluate_vector_files
from roadseg.evaluation.apls_graph import build_graph, control_distances

UTM = "EPSG:32611"
X0, Y0 = 500_000.0, 4_000_000.0


def _grid(n: int = 3, step: float = 100.0) -> list[LineString]:
    """A street grid of n x n blocks, lines split at every crossing (shared vertices)."""
    lines = []
    for i in range(n + 1):
        for j in range(n):
            lines.append(
                LineString([(X0 + j * step, Y0 + i * step), (X0 + (j + 1) * step, Y0 + i * step)])
            )
            lines.append(
                LineString([(X0 + i * step, Y0 + j * step), (X0 + i * step, Y0 + (j + 1) * step)])
            )
    return lines


def test_identical_graphs_score_one() -> None:
    r = apls(_grid(), _grid(), UTM)
    assert r.apls == pytest.approx(1.0)
    assert r.gt_to_prop == pytest.approx(1.0) and r.prop_to_gt == pytest.approx(1.0)
    assert r.n_truth_edges == r.n_pred_edges == 20  # corners (degree 2) join two segments
    assert r.truth_length_m == pytest.approx(2400.0)


def test_against_empty_scores_zero() -> None:
    assert apls(_grid(), [], UTM).apls == 0.0
    assert apls([], _grid(), UTM).apls == 0.0
    assert apls([], [], UTM).apls == 1.0


def test_small_offset_within_snapping_keeps_score_high() -> None:
    shifted = [LineString([(x + 2.0, y + 1.0) for x, y in g.coords]) for g in _grid()]
    assert apls(_grid(), shifted, UTM).apls > 0.97


def test_a_cut_road_lowers_the_score() -> None:
    truth = _grid()
    broken = truth[:]
    cut = broken.pop(7)  # remove one inner street segment
    assert cut.length == 100
    r = apls(truth, broken, UTM)
    assert 0.5 < r.apls < 0.99
    assert r.prop_to_gt > r.gt_to_prop - 0.2


def test_lines_connect_only_at_shared_vertices() -> None:
    # two lines crossing without a shared vertex are not connected
    a = LineString([(X0, Y0), (X0 + 200, Y0)])
    b = LineString([(X0 + 100, Y0 - 100), (X0 + 100, Y0 + 100)])
    g = build_graph([a.coords, b.coords])
    assert len(g.edges) == 2
    # with a shared vertex they meet in a node of degree 4
    a2 = LineString([(X0, Y0), (X0 + 100, Y0), (X0 + 200, Y0)])
    b2 = LineString([(X0 + 100, Y0 - 100), (X0 + 100, Y0), (X0 + 100, Y0 + 100)])
    import numpy as np

    g2 = build_graph([np.asarray(a2.coords), np.asarray(b2.coords)])
    assert len(g2.edges) == 4
    # two lines continuing each other are one edge
    c = LineString([(X0 + 200, Y0), (X0 + 300, Y0)])
    assert len(build_graph([np.asarray(a.coords), np.asarray(c.coords)]).edges) == 1


def test_control_points_every_50_m() -> None:
    assert control_distances(LineString([(0, 0), (30, 0)]), 50) == []
    assert control_distances(LineString([(0, 0), (40, 0)]), 50) == [20.0]
    assert control_distances(LineString([(0, 0), (150, 0)]), 50) == [50.0, 100.0]
    d = control_distances(LineString([(0, 0), (120, 0)]), 50)
    assert d == pytest.approx([40.0, 80.0])


def test_geographic_input_is_measured_in_metres() -> None:
    geo = gpd.GeoSeries(_grid(), crs=UTM).to_crs("EPSG:4326")
    r = apls(list(geo), list(geo), "EPSG:4326")
    assert r.apls == pytest.approx(1.0)
    assert r.truth_length_m == pytest.approx(2400.0, rel=1e-3)


def test_evaluate_vector_files_and_empty_file(tmp_path: Path) -> None:
    truth = tmp_path / "truth.geojson"
    gpd.GeoDataFrame(geometry=_grid(), crs=UTM).to_crs("EPSG:4326").to_file(truth)
    pred = tmp_path / "pred.gpkg"
    gpd.GeoDataFrame(geometry=_grid(), crs=UTM).to_file(pred, layer="roads")
    m = evaluate_vector_files(pred, truth)
    assert m["apls"] == pytest.approx(1.0, abs=1e-6)
    assert set(m) >= {
        "apls",
        "apls_gt_to_prop",
        "apls_prop_to_gt",
        "n_truth_edges",
        "n_pred_edges",
        "truth_length_m",
        "pred_length_m",
    }
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    assert evaluate_vector_files(empty, truth)["apls"] == 0.0
    assert evaluate_vector_files(empty, empty)["apls"] == 1.0


@pytest.mark.realdata
def test_vegas_pairs_match_reference_values(shared_data: Path) -> None:
    base = shared_data / "apls_pairs"
    with open(base / "expected_apls.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7
    for row in rows:
        pair = row["pair"]
        m = evaluate_vector_files(
            base / "AOI_2_Vegas" / "osm" / f"{pair}.geojson",
            base / "AOI_2_Vegas" / "spacenetroads" / f"{pair}.geojson",
        )
        assert m["apls"] == pytest.approx(float(row["apls"]), abs=0.012), pair
        assert m["apls_gt_to_prop"] == pytest.approx(float(row["apls_gt_onto_prop"]), abs=0.012)
        assert m["apls_prop_to_gt"] == pytest.approx(float(row["apls_prop_onto_gt"]), abs=0.012)


def test_large_graphs_use_a_fixed_sample_of_control_points() -> None:
    truth = _grid(6)
    broken = truth[:]
    broken.pop(20)
    full = apls(truth, broken, UTM)
    sampled = apls(truth, broken, UTM, max_points=40)
    assert full.n_truth_control > 40
    assert sampled.apls == pytest.approx(full.apls, abs=0.08)
    assert apls(truth, broken, UTM, max_points=40).apls == sampled.apls  # deterministic
    assert apls(truth, truth, UTM, max_points=40).apls == pytest.approx(1.0)
