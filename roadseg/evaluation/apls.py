"""APLS, the Average Path Length Similarity of SpaceNet, written from its definition.

For a ground-truth road graph G and a proposal P (Van Etten et al., "SpaceNet: A
Remote Sensing Dataset and Challenge Series", 2018):

1. Each set of lines becomes a graph: nodes where lines end or share a vertex
   exactly, edges the lines between them (lengths in metres; a geographic CRS is
   measured in its local UTM zone).
2. Control points are added along every edge every 50 m.
3. Every control point of G is snapped onto P: to the nearest point of P's lines if
   it is within 4 m (the line is split there), else it is *missing*.
4. For every pair (a, b) of G's control points joined in G, with path length L_G,
   the proposal's path length L_P between their snapped points gives the penalty
   ``min(1, |L_G - L_P| / L_G)``; a missing point or no path costs 1.
   ``C(G -> P) = 1 - mean(penalties)``.
5. The same with the roles swapped gives ``C(P -> G)``; APLS is their harmonic mean.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
from pyproj import CRS

from roadseg.errors import InputNotFoundError, InvalidInputError
from roadseg.evaluation.apls_graph import (
    CONTROL_INTERVAL_M,
    CURVED_EPS,
    SNAP_DISTANCE_M,
    _Graph,
    _lines_of,
    add_control_points,
    build_graph,
    inject_points,
)
from roadseg.io.remote import vector_network_env
from roadseg.io.urls import display_url, gdal_path, is_remote, redact, scene_file_name
from roadseg.log import get_logger
from roadseg.raster.crs import local_metric_crs, metres_per_unit

log = get_logger(__name__)

#: Paths shorter than this (m) are not compared.
MIN_PATH_M = 10.0
#: Above this many control points in a graph, a fixed random sample of them is used.
MAX_POINTS = 1500


@dataclass(frozen=True)
class AplsResult:
    """APLS and its two directions, with the sizes of the graphs compared."""

    apls: float
    gt_to_prop: float
    prop_to_gt: float
    n_truth_edges: int
    n_pred_edges: int
    truth_length_m: float
    pred_length_m: float
    n_truth_control: int
    n_pred_control: int


def _direction_score(
    a_cp: _Graph, b: _Graph, snap: float, min_path_m: float, max_points: int | None = None
) -> float:
    """C(A -> B): control points of A snapped onto B, path lengths compared.

    Every ordered pair (s, t) of A's control points joined in A counts once. When s
    did not snap onto B, every such pair costs 1; otherwise pairs with an A path
    shorter than ``min_path_m`` are skipped and the rest cost
    ``min(1, |L_A - L_B| / L_A)``, or 1 when t did not snap or B has no path.
    With more than ``max_points`` control points, the pairs among a fixed random
    sample of that many are used (all-pairs paths grow with its square).
    """
    control = list(a_cp.pos)
    sample: set[int] | None = None
    if max_points is not None and len(control) > max_points:
        control = sorted(random.Random(0).sample(control, max_points))
        sample = set(control)
    b_prime, mapping = inject_points(b, a_cp.pos, snap)
    ga, gb = a_cp.nx(), b_prime.nx()
    penalties: list[float] = []
    for s in control:
        la = nx.single_source_dijkstra_path_length(ga, s, weight="weight")
        if sample is not None:
            la = {t: d for t, d in la.items() if t in sample}
        if s not in mapping:
            penalties.extend(1.0 for t in la if t != s)
            continue
        lb = nx.single_source_dijkstra_path_length(gb, mapping[s], weight="weight")
        for t, length_a in la.items():
            if length_a < min_path_m or length_a <= 0:
                continue
            mt = mapping.get(t)
            if mt is None or mt not in lb:
                penalties.append(1.0)
            else:
                penalties.append(min(1.0, abs(length_a - lb[mt]) / length_a))
    if not penalties:
        return 0.0
    return 1.0 - float(np.mean(penalties))


def _to_metric(gdf: gpd.GeoDataFrame, crs: CRS | None) -> tuple[list[np.ndarray], float]:
    """Lines in a metric CRS (the local UTM zone for a geographic CRS)."""
    if len(gdf) == 0:
        return [], 1.0
    if crs is not None and crs.is_geographic:
        gdf = gdf.set_crs(crs, allow_override=True)
        gdf = gdf.to_crs(local_metric_crs(crs, tuple(gdf.total_bounds)))
        factor = 1.0
    else:
        factor = 1.0 if crs is None else metres_per_unit(crs)
    return [xy * factor for xy in _lines_of(gdf.geometry)], factor


def apls(
    truth_lines: Iterable[object] | gpd.GeoSeries,
    proposal_lines: Iterable[object] | gpd.GeoSeries,
    crs: object | None,
    *,
    control_interval_m: float = CONTROL_INTERVAL_M,
    snap_m: float = SNAP_DISTANCE_M,
    min_path_m: float = MIN_PATH_M,
    curved_eps: float = CURVED_EPS,
    max_points: int | None = MAX_POINTS,
) -> AplsResult:
    """APLS of proposal lines against truth lines, both in ``crs``.

    Lines connect only where they share a vertex exactly. Two empty sets score 1;
    one empty set against a non-empty one scores 0.
    """
    crs_obj = CRS.from_user_input(crs) if crs is not None else None
    t_gdf = gpd.GeoDataFrame(geometry=list(truth_lines), crs=crs_obj)
    p_gdf = gpd.GeoDataFrame(geometry=list(proposal_lines), crs=crs_obj)
    # one shared UTM zone for both, chosen from the truth (or the proposal)
    if crs_obj is not None and crs_obj.is_geographic:
        both = t_gdf if len(t_gdf) else p_gdf
        target = local_metric_crs(crs_obj, tuple(both.total_bounds)) if len(both) else None
        t_lines = _lines_of(t_gdf.to_crs(target).geometry) if target and len(t_gdf) else []
        p_lines = _lines_of(p_gdf.to_crs(target).geometry) if target and len(p_gdf) else []
    else:
        t_lines, _ = _to_metric(t_gdf, crs_obj)
        p_lines, _ = _to_metric(p_gdf, crs_obj)
    gt, gp = build_graph(t_lines), build_graph(p_lines)
    if not gt.edges and not gp.edges:
        return AplsResult(1.0, 1.0, 1.0, 0, 0, 0.0, 0.0, 0, 0)
    gt_cp = add_control_points(gt, control_interval_m, curved_eps)
    gp_cp = add_control_points(gp, control_interval_m, curved_eps)
    if not gt.edges or not gp.edges:
        c1 = c2 = 0.0
    else:
        if max_points is not None and max(len(gt_cp.pos), len(gp_cp.pos)) > max_points:
            log.warning(
                "APLS on a sample of %d of %d/%d control points (large graphs)",
                max_points,
                len(gt_cp.pos),
                len(gp_cp.pos),
            )
        c1 = _direction_score(gt_cp, gp, snap_m, min_path_m, max_points)
        c2 = _direction_score(gp_cp, gt, snap_m, min_path_m, max_points)
    score = 0.0 if c1 <= 0 or c2 <= 0 else 2 * c1 * c2 / (c1 + c2)
    return AplsResult(
        apls=score,
        gt_to_prop=c1,
        prop_to_gt=c2,
        n_truth_edges=len(gt.edges),
        n_pred_edges=len(gp.edges),
        truth_length_m=gt.length,
        pred_length_m=gp.length,
        n_truth_control=len(gt_cp.pos),
        n_pred_control=len(gp_cp.pos),
    )


def read_lines(path: str | os.PathLike[str], layer: str | None = None) -> gpd.GeoDataFrame:
    """Road lines from a GeoJSON/GeoPackage (a file or a URL); an empty (0-byte) file
    means no roads."""
    remote = is_remote(path)
    p: str | Path = gdal_path(path) if remote else Path(path)
    if not remote:
        assert isinstance(p, Path)
        if not p.is_file():
            raise InputNotFoundError(f"{p}: road vector file not found")
        if p.stat().st_size == 0:
            return gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    settings = vector_network_env() if remote else contextlib.nullcontext()
    try:
        with settings:
            if layer is None and scene_file_name(path).lower().endswith(".gpkg"):
                import pyogrio

                names = [name for name, _ in pyogrio.list_layers(p)]
                layer = "roads" if "roads" in names else None
            gdf = gpd.read_file(p, layer=layer)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InvalidInputError(
            f"{display_url(path)}: cannot read road lines ({redact(str(exc))})"
        ) from None
    return gdf[gdf.geometry.notna()]


def evaluate_vector_files(
    pred_path: str | os.PathLike[str],
    truth_path: str | os.PathLike[str],
    layer: str | None = None,
) -> dict[str, float]:
    """APLS of a predicted road file against a ground-truth road file.

    ``layer`` names the prediction's layer (default: ``roads`` in a GeoPackage). The
    prediction is reprojected to the truth's CRS. Keys: ``apls``, ``apls_gt_to_prop``,
    ``apls_prop_to_gt``, ``n_truth_edges``, ``n_pred_edges``, ``truth_length_m``,
    ``pred_length_m``.
    """
    pred = read_lines(pred_path, layer)
    truth = read_lines(truth_path)
    crs = truth.crs or pred.crs
    if crs is not None and pred.crs is not None and len(pred) and pred.crs != crs:
        pred = pred.to_crs(crs)
    r = apls(truth.geometry, pred.geometry, crs)
    return {
        "apls": r.apls,
        "apls_gt_to_prop": r.gt_to_prop,
        "apls_prop_to_gt": r.prop_to_gt,
        "n_truth_edges": float(r.n_truth_edges),
        "n_pred_edges": float(r.n_pred_edges),
        "truth_length_m": r.truth_length_m,
        "pred_length_m": r.pred_length_m,
    }


__all__ = ["AplsResult", "apls", "evaluate_vector_files", "read_lines"]
