"""APLS graphs: road lines to a graph in metres, control points, snapping.

Steps 1-3 of :mod:`roadseg.evaluation.apls`: nodes where lines end or share a vertex
exactly, control points every ``CONTROL_INTERVAL_M`` along the edges, and the snapping
of one graph's control points onto the other's lines.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import shapely
from shapely import LineString, STRtree

#: SpaceNet's settings.
CONTROL_INTERVAL_M = 50.0
SNAP_DISTANCE_M = 4.0
#: Edges straighter than this (relative length excess) get no control points.
CURVED_EPS = -1.0


@dataclass
class _Graph:
    """Road graph in metres: node positions and edges (u, v, line) between them."""

    pos: dict[int, tuple[float, float]]
    edges: list[tuple[int, int, LineString]]

    def nx(self) -> nx.Graph:
        g = nx.Graph()
        g.add_nodes_from(self.pos)
        for u, v, line in self.edges:
            w = line.length
            if u == v:
                continue
            if not g.has_edge(u, v) or g[u][v]["weight"] > w:
                g.add_edge(u, v, weight=w)
        return g

    @property
    def length(self) -> float:
        return float(sum(line.length for _, _, line in self.edges))


def _lines_of(geoms: Iterable[object]) -> list[np.ndarray]:
    out = []
    for g in geoms:
        if g is None or shapely.is_empty(g):
            continue
        for part in shapely.get_parts(g):
            if part.geom_type == "LineString":
                xy = shapely.get_coordinates(part)
                if len(xy) >= 2:
                    out.append(xy)
            elif part.geom_type in ("MultiLineString", "GeometryCollection"):
                out.extend(_lines_of(shapely.get_parts(part)))
    return out


def build_graph(lines: Sequence[np.ndarray]) -> _Graph:
    """Graph of lines in metric coordinates; nodes where lines end or share a vertex.

    Vertices are matched exactly. A vertex with other than two distinct neighbours is
    a node (a dead end, or where lines meet or cross on a shared vertex); chains of
    two-neighbour vertices become the edges' geometry, so two lines that merely
    continue each other form one edge. A ring without any node gets one.
    """
    keys: dict[tuple[float, float], int] = {}
    nbrs: dict[int, set[int]] = {}
    for xy in lines:
        prev = None
        for x, y in xy:
            k = keys.setdefault((float(x), float(y)), len(keys))
            nbrs.setdefault(k, set())
            if prev is not None and prev != k:
                nbrs[prev].add(k)
                nbrs[k].add(prev)
            prev = k
    coords = {k: xy for xy, k in keys.items()}
    is_node = {k for k, n in nbrs.items() if len(n) != 2}
    seen: set[tuple[int, int]] = set()
    edges: list[tuple[int, int, LineString]] = []

    def walk(start: int, first: int) -> None:
        path = [start, first]
        seen.add((min(start, first), max(start, first)))
        while path[-1] not in is_node:
            cur, back = path[-1], path[-2]
            nxt = next(iter(nbrs[cur] - {back}))
            seen.add((min(cur, nxt), max(cur, nxt)))
            path.append(nxt)
            if nxt == start:
                break
        edges.append((path[0], path[-1], LineString([coords[k] for k in path])))

    for k in sorted(is_node):
        for m in sorted(nbrs[k]):
            if (min(k, m), max(k, m)) not in seen:
                walk(k, m)
    for k in sorted(nbrs):  # rings with no node
        for m in sorted(nbrs[k]):
            if (min(k, m), max(k, m)) not in seen:
                is_node.add(k)
                walk(k, m)
    used = {u for u, _, _ in edges} | {v for _, v, _ in edges}
    return _Graph(pos={k: coords[k] for k in used}, edges=edges)


def control_distances(
    line: LineString, interval: float, curved_eps: float = CURVED_EPS
) -> list[float]:
    """Where control points go along one edge, as SpaceNet places them.

    Edges shorter than 3/4 of the interval get none; so do nearly straight edges (their
    bounding-box diagonal within ``curved_eps`` of their length), whose end nodes
    already pin them; an edge up to one interval long gets its midpoint; a longer one
    gets evenly spaced points no more than ``interval`` apart.
    """
    length = line.length
    if length < 0.75 * interval or length == 0:
        return []
    minx, miny, maxx, maxy = line.bounds
    if curved_eps >= 0 and abs(math.hypot(maxx - minx, maxy - miny) - length) / length < curved_eps:
        return []
    if length <= interval:
        return [length / 2]
    n = math.ceil(length / interval) + 1
    return [float(d) for d in np.linspace(0, length, n)[1:-1]]


def add_control_points(
    g: _Graph, interval: float = CONTROL_INTERVAL_M, curved_eps: float = CURVED_EPS
) -> _Graph:
    """Split edges at their control points (:func:`control_distances`); a new graph."""
    pos = dict(g.pos)
    nxt = max(pos, default=-1) + 1
    edges = []
    for u, v, line in g.edges:
        cuts = control_distances(line, interval, curved_eps)
        if not cuts:
            edges.append((u, v, line))
            continue
        prev, prev_d = u, 0.0
        for d in cuts:
            pos[nxt] = tuple(shapely.get_coordinates(line.interpolate(d))[0])
            edges.append((prev, nxt, _substring(line, prev_d, d)))
            prev, prev_d = nxt, d
            nxt += 1
        edges.append((prev, v, _substring(line, prev_d, line.length)))
    return _Graph(pos=pos, edges=edges)


def _substring(line: LineString, d0: float, d1: float) -> LineString:
    """The part of ``line`` between distances d0 < d1 along it."""
    xy = shapely.get_coordinates(line)
    seg = np.hypot(*np.diff(xy, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    inner = xy[(cum > d0) & (cum < d1)]
    a = shapely.get_coordinates(line.interpolate(d0))
    b = shapely.get_coordinates(line.interpolate(d1))
    return LineString(np.vstack([a, inner, b]))


def inject_points(
    g: _Graph, points: dict[int, tuple[float, float]], snap: float = SNAP_DISTANCE_M
) -> tuple[_Graph, dict[int, int]]:
    """Snap points onto the graph's lines (within ``snap`` m), splitting lines there.

    Returns the new graph and, for each point that snapped, its node in that graph.
    """
    if not g.edges or not points:
        return g, {}
    lines = [line for _, _, line in g.edges]
    tree = STRtree(lines)
    ids = list(points)
    pts = shapely.points(np.array([points[i] for i in ids]))
    idx_pt, idx_line = tree.query_nearest(pts, max_distance=snap, all_matches=False)
    pos = dict(g.pos)
    nxt = max(pos, default=-1) + 1
    mapping: dict[int, int] = {}
    cuts: dict[int, list[tuple[float, int]]] = {}
    for ip, il in zip(idx_pt.tolist(), idx_line.tolist(), strict=True):
        u, v, line = g.edges[il]
        d = float(line.project(pts[ip]))
        if d <= 1e-6:
            mapping[ids[ip]] = u
        elif d >= line.length - 1e-6:
            mapping[ids[ip]] = v
        else:
            cuts.setdefault(il, []).append((d, ids[ip]))
    edges = []
    for il, (u, v, line) in enumerate(g.edges):
        if il not in cuts:
            edges.append((u, v, line))
            continue
        prev, prev_d = u, 0.0
        for d, pid in sorted(cuts[il]):
            if d - prev_d <= 1e-6 and prev != u:
                mapping[pid] = prev
                continue
            if d - prev_d <= 1e-6:
                mapping[pid] = u
                continue
            pos[nxt] = tuple(shapely.get_coordinates(line.interpolate(d))[0])
            edges.append((prev, nxt, _substring(line, prev_d, d)))
            mapping[pid] = nxt
            prev, prev_d = nxt, d
            nxt += 1
        edges.append((prev, v, _substring(line, prev_d, line.length)))
    return _Graph(pos=pos, edges=edges), mapping
