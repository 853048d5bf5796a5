"""Vector stage: join block pieces into one noded road graph and clean it.

Everything here works on vectors in the raster's pixel space (x = column, y = row,
pixel centres at .5), never on the raster, so it is cheap whatever the scene size.
Nodes are keyed by their pixel (row, col) while they sit on a skeleton pixel; joining
pieces is exact because both sides of a block border end on the very same pixel.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import shapely
from shapely import STRtree

from roadseg.vector.skeleton import Piece

NodeKey = Hashable


@dataclass
class Edge:
    """A road line between two nodes, with probability statistics of its pixels."""

    u: NodeKey
    v: NodeKey
    xy: np.ndarray
    length_px: float
    prob_sum: float
    prob_count: int
    prob_min: float

    @property
    def mean_prob(self) -> float:
        return self.prob_sum / self.prob_count if self.prob_count else 0.0


@dataclass
class RoadGraph:
    """A multigraph of road lines; ``pos`` holds node positions in pixel space."""

    pos: dict[NodeKey, tuple[float, float]] = field(default_factory=dict)
    edges: dict[int, Edge] = field(default_factory=dict)
    incident: dict[NodeKey, list[int]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=itertools.count)

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_pieces(cls, pieces: Iterable[Piece]) -> RoadGraph:
        g = cls()
        for p in pieces:
            for key in (p.start, p.end):
                g.pos.setdefault(key, (key[1] + 0.5, key[0] + 0.5))
            g.add_edge(
                Edge(p.start, p.end, p.xy, p.length_px, p.prob_sum, p.prob_count, p.prob_min)
            )
        return g

    def add_edge(self, e: Edge) -> int:
        eid = next(self._ids)
        self.edges[eid] = e
        self.incident.setdefault(e.u, []).append(eid)
        self.incident.setdefault(e.v, []).append(eid)
        return eid

    def remove_edge(self, eid: int) -> Edge:
        e = self.edges.pop(eid)
        for n in (e.u, e.v):
            lst = self.incident[n]
            lst.remove(eid)
            if not lst:
                del self.incident[n]
                self.pos.pop(n, None)
        return e

    def degree(self, n: NodeKey) -> int:
        return len(self.incident.get(n, ()))  # a self-loop is listed twice

    # -- clean-up steps -------------------------------------------------------------
    def merge_degree_two(self) -> None:
        """Join the two lines at every node of degree two (stitches block borders)."""
        for n in list(self.incident):
            inc = self.incident.get(n)
            if inc is None or len(inc) != 2 or inc[0] == inc[1]:
                continue
            e1, e2 = self.edges[inc[0]], self.edges[inc[1]]
            a = _oriented(e1, end_at=n)
            b = _oriented(e2, start_at=n)
            i1, i2 = inc[0], inc[1]
            self.remove_edge(i1)
            self.remove_edge(i2)
            self.add_edge(
                Edge(
                    a.u,
                    b.v,
                    np.vstack([a.xy, b.xy[1:]]),
                    a.length_px + b.length_px,
                    a.prob_sum + b.prob_sum,
                    a.prob_count + b.prob_count,
                    min(a.prob_min, b.prob_min),
                )
            )
            if a.u == b.v and a.u not in self.pos:
                self.pos[a.u] = tuple(a.xy[0])

    def collapse_junction_clusters(self, max_px: float = 2.5) -> None:
        """Merge junction nodes joined by a line shorter than ``max_px`` into one node.

        Skeletons often split one crossing into two or three neighbouring junction
        pixels; the lines meeting there then share one node at the cluster's centre.
        """
        short = [
            eid
            for eid, e in self.edges.items()
            if e.u != e.v
            and e.length_px <= max_px
            and self.degree(e.u) >= 3
            and self.degree(e.v) >= 3
        ]
        if not short:
            return
        clusters = nx.Graph()
        clusters.add_edges_from((self.edges[eid].u, self.edges[eid].v) for eid in short)
        groups = {
            _first(members, clusters): members for members in nx.connected_components(clusters)
        }
        centres = {
            root: tuple(np.mean([self.position(m) for m in members], axis=0))
            for root, members in groups.items()
        }
        for eid in short:
            self.remove_edge(eid)
        for root, members in groups.items():
            centre, new = centres[root], ("j", root)
            for m in members:
                for eid in list(self.incident.get(m, ())):
                    if eid not in self.edges:
                        continue
                    e = self.remove_edge(eid)
                    u = new if e.u in members else e.u
                    v = new if e.v in members else e.v
                    xy = e.xy.copy()
                    if u == new:
                        xy[0] = centre
                    if v == new:
                        xy[-1] = centre
                    self.add_edge(Edge(u, v, xy, e.length_px, e.prob_sum, e.prob_count, e.prob_min))
            if new in self.incident:
                self.pos[new] = centre

    def position(self, n: NodeKey) -> tuple[float, float]:
        """Where node ``n`` is (a line's end vertex when it has no position of its own)."""
        if n in self.pos:
            return self.pos[n]
        eid = self.incident[n][0]
        e = self.edges[eid]
        return tuple(e.xy[0] if e.u == n else e.xy[-1])

    def prune_spurs(self, max_px: float) -> int:
        """Remove dead-end lines shorter than ``max_px`` that hang off a junction.

        Shortest first, re-checking degrees, so of two short branches at a road's end
        one survives as the road's continuation. Repeats until nothing changes.
        """
        removed = 0
        while True:
            # ties broken by position, not by edge id, so that the result does not
            # depend on how the raster was cut into blocks
            cand = sorted(
                (round(e.length_px, 6), _geometry_key(e), eid)
                for eid, e in self.edges.items()
                if e.length_px < max_px
                and e.u != e.v
                and (self.degree(e.u) == 1) != (self.degree(e.v) == 1)
            )
            n_before = removed
            for _, _, eid in cand:
                e = self.edges.get(eid)
                if e is None:
                    continue
                du, dv = self.degree(e.u), self.degree(e.v)
                if (du == 1 and dv >= 3) or (dv == 1 and du >= 3):
                    self.remove_edge(eid)
                    removed += 1
            self.merge_degree_two()
            if removed == n_before:
                return removed

    def components(self) -> list[list[int]]:
        """Edge ids of each connected component."""
        network = nx.MultiGraph()
        network.add_edges_from((e.u, e.v, eid) for eid, e in self.edges.items())
        return [
            sorted(k for _, _, k in network.subgraph(nodes).edges(keys=True))
            for nodes in nx.connected_components(network)
        ]

    def drop_short_components(self, min_px: float) -> int:
        """Remove connected pieces of network whose total length is under ``min_px``."""
        n = 0
        for comp in self.components():
            if sum(self.edges[eid].length_px for eid in comp) < min_px:
                for eid in comp:
                    self.remove_edge(eid)
                n += 1
        return n

    def simplify(self, tolerance_px: float) -> None:
        """Douglas-Peucker on every line; a line's end vertices (the nodes) stay put.

        A line whose simplified form would cross another line keeps its detailed form.
        """
        if tolerance_px <= 0 or not self.edges:
            return
        ids = list(self.edges)
        orig = np.array([shapely.linestrings(self.edges[i].xy) for i in ids], dtype=object)
        simp = shapely.simplify(orig, tolerance_px, preserve_topology=False)
        tree = STRtree(simp)
        for k, eid in enumerate(ids):
            g = simp[k]
            if _crosses_any(g, k, simp, tree):
                continue
            self.edges[eid].xy = shapely.get_coordinates(g)


def _crosses_any(g: shapely.LineString, k: int, geoms: np.ndarray, tree: STRtree) -> bool:
    """Whether line ``g`` meets another line anywhere but at a shared end vertex."""
    ends = shapely.multipoints(shapely.get_coordinates(g)[[0, -1]])
    for j in tree.query(g, predicate="intersects"):
        if j == k:
            continue
        inter = shapely.intersection(g, geoms[j])
        if inter.is_empty:
            continue
        if not shapely.difference(inter, ends).is_empty:
            return True
    return False


def _first(members: set[NodeKey], order: nx.Graph) -> NodeKey:
    """The member of a cluster that the graph met first (a deterministic name for it)."""
    return next(n for n in order.nodes if n in members)


def _geometry_key(e: Edge) -> tuple[float, ...]:
    """An order of edges by their end coordinates, the same whatever their ids."""
    a, b = tuple(np.round(e.xy[0], 3)), tuple(np.round(e.xy[-1], 3))
    return (*min(a, b), *max(a, b))


def _oriented(e: Edge, *, end_at: NodeKey | None = None, start_at: NodeKey | None = None) -> Edge:
    flip = (end_at is not None and e.v != end_at) or (start_at is not None and e.u != start_at)
    if not flip:
        return e
    return Edge(e.v, e.u, e.xy[::-1], e.length_px, e.prob_sum, e.prob_count, e.prob_min)
