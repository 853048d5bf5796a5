"""Vector stage: join block pieces into one noded road graph and clean it.

Everything here works on vectors in the raster's pixel space (x = column, y = row,
pixel centres at .5), never on the raster, so it is cheap whatever the scene size.
Nodes are keyed by their pixel (row, col) while they sit on a skeleton pixel; joining
pieces is exact because both sides of a block border end on the very same pixel.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

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
        parent: dict[NodeKey, NodeKey] = {}

        def find(x: NodeKey) -> NodeKey:
            while parent.get(x, x) != x:
                x = parent[x]
            return x

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
        touched: list[NodeKey] = []
        for eid in short:
            e = self.edges[eid]
            touched += [e.u, e.v]
            ru, rv = find(e.u), find(e.v)
            if ru != rv:
                parent[rv] = ru
        groups: dict[NodeKey, set[NodeKey]] = {}
        for n in touched:
            groups.setdefault(find(n), set()).add(n)
        centres = {
            root: tuple(np.mean([self._pos_of(m) for m in members], axis=0))
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

    def _pos_of(self, n: NodeKey) -> tuple[float, float]:
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
        seen: set[NodeKey] = set()
        comps = []
        for start in list(self.incident):
            if start in seen:
                continue
            stack, eids = [start], set()
            seen.add(start)
            while stack:
                n = stack.pop()
                for eid in self.incident[n]:
                    eids.add(eid)
                    e = self.edges[eid]
                    for m in (e.u, e.v):
                        if m not in seen:
                            seen.add(m)
                            stack.append(m)
            comps.append(sorted(eids))
        return comps

    def drop_short_components(self, min_px: float) -> int:
        """Remove connected pieces of network whose total length is under ``min_px``."""
        n = 0
        for comp in self.components():
            if sum(self.edges[eid].length_px for eid in comp) < min_px:
                for eid in comp:
                    self.remove_edge(eid)
                n += 1
        return n

    def close_gaps(
        self,
        max_px: float,
        support: Callable[[np.ndarray, np.ndarray], float],
        min_support: float,
        max_angle_deg: float = 45.0,
    ) -> int:
        """Bridge short breaks: join a dead end to a node ahead of it.

        A bridge is added when the target node lies within ``max_px`` roughly in the
        direction the road was heading, the probability along the bridge
        (``support(p0, p1)``) is at least ``min_support``, and the bridge crosses no
        existing line. Shortest candidates first; each dead end is used once.
        """
        ends = [n for n, inc in self.incident.items() if len(inc) == 1]
        if not ends or max_px <= 0:
            return 0
        keys = list(self.incident)
        pts = np.array([self._pos_of(k) for k in keys])
        lines = [shapely.linestrings(e.xy) for e in self.edges.values()]
        tree = STRtree(lines) if lines else None
        cands = []
        for n in ends:
            eid = self.incident[n][0]
            e = self.edges[eid]
            xy = e.xy if e.v == n else e.xy[::-1]
            p = np.asarray(self._pos_of(n))
            back = xy[max(0, len(xy) - 4)] if len(xy) > 1 else p
            heading = p - back
            hn = np.hypot(*heading)
            if hn == 0:
                continue
            heading = heading / hn
            d = pts - p
            dist = np.hypot(d[:, 0], d[:, 1])
            for i in np.nonzero((dist > 0) & (dist <= max_px))[0]:
                m = keys[i]
                if m in (e.u, e.v):
                    continue
                cosang = float(d[i] @ heading) / dist[i]
                if cosang < np.cos(np.radians(max_angle_deg)):
                    continue
                cands.append((float(dist[i]), n, m))
        cands.sort(key=lambda t: t[0])
        used: set[NodeKey] = set()
        bridges: list[shapely.LineString] = []
        added = 0
        for dist, n, m in cands:
            if n in used or (self.degree(m) == 1 and m in used):
                continue
            if n not in self.incident or m not in self.incident:
                continue
            p0, p1 = np.asarray(self._pos_of(n)), np.asarray(self._pos_of(m))
            seg = shapely.linestrings([p0, p1])
            others = list(tree.query(seg, predicate="intersects")) if tree is not None else []
            if any(not _meets_only_at_ends(seg, g) for g in [lines[h] for h in others] + bridges):
                continue
            s = support(p0, p1)
            if s < min_support:
                continue
            self.add_edge(Edge(n, m, np.vstack([p0, p1]), dist, s * 2, 2, s))
            bridges.append(seg)
            used.update((n, m))
            added += 1
        return added

    def extend_to_border(
        self,
        width: int,
        height: int,
        max_px: float,
        support: Callable[[np.ndarray, np.ndarray], float],
        min_support: float,
        nodata_distance: Callable[[np.ndarray, np.ndarray, float], float | None] | None = None,
    ) -> int:
        """Prolong dead ends that stop just short of the raster's border or of no-data.

        A skeleton ends short of the border where a road leaves the scene (its last
        pixels hook towards a corner of the cut road). A dead end within ``max_px`` of
        the border, heading out of the raster, is continued straight to the border
        along the road's direction (measured over a long baseline; the hooked pixels
        are dropped) when the probability along the new piece (``support``) is at
        least ``min_support`` and it crosses no line. With ``nodata_distance(point,
        heading, length)`` (the distance along the ray to the first pixel without data,
        or None), a road running into no-data is continued to its edge the same way.
        """
        if max_px <= 0:
            return 0
        lines = {eid: shapely.linestrings(e.xy) for eid, e in self.edges.items()}
        tree_ids = list(lines)
        tree = STRtree([lines[i] for i in tree_ids]) if lines else None
        extensions: list[shapely.LineString] = []
        n_ext = 0
        for n in [k for k, inc in self.incident.items() if len(inc) == 1]:
            eid = self.incident[n][0]
            e = self.edges[eid]
            if e.u == e.v:
                continue
            at_end = e.v == n
            xy = e.xy if at_end else e.xy[::-1]
            p = xy[-1]
            if nodata_distance is None and min(p[0], width - p[0], p[1], height - p[1]) > max_px:
                continue
            line = lines[eid]
            base = min(line.length, max(10.0, 2 * max_px))
            if base < 4:
                continue
            # direction from the part of the line before its last third of ``base``
            # (a skeleton's last pixels hook towards a corner of the road's cut end)
            d_back, d_mid = line.length - base, line.length - base / 3
            if not at_end:
                d_back, d_mid = line.length - d_back, line.length - d_mid
            back = shapely.get_coordinates(line.interpolate(d_back))[0]
            heading = shapely.get_coordinates(line.interpolate(d_mid))[0] - back
            norm = float(np.hypot(*heading))
            if norm < 2:
                continue
            heading /= norm
            # where the ray from `back` along the heading leaves the raster
            ts = []
            for axis, limit in ((0, 0.0), (0, float(width)), (1, 0.0), (1, float(height))):
                if heading[axis] != 0:
                    t = (limit - back[axis]) / heading[axis]
                    if t > 0:
                        ts.append(t)
            t_exit = min(ts)
            target = back + t_exit * heading
            if nodata_distance is not None:
                t_p = float((p - back) @ heading)
                reach = min(t_exit - t_p, max_px)
                d = nodata_distance(back + t_p * heading, heading, reach) if reach > 0 else None
                if d is not None:
                    target = back + (t_p + d) * heading
            if float(np.hypot(*(target - p))) > max_px:
                continue
            # drop hooked end vertices that stray from the ray
            rel = xy - back
            off = np.abs(rel[:, 0] * heading[1] - rel[:, 1] * heading[0])
            k = len(xy) - 1
            while k > 0 and off[k] > 1.5:
                k -= 1
            start = xy[k]
            if float(np.hypot(*(target - start))) < 0.5:
                continue
            if support(start, target) < min_support:
                continue
            seg = shapely.linestrings([start, target])
            if tree is not None:
                hits = [tree_ids[h] for h in tree.query(seg, predicate="intersects")]
                if any(h != eid for h in hits):
                    continue
            if any(seg.intersects(x) for x in extensions):
                continue
            extensions.append(seg)
            new_xy = np.vstack([xy[: k + 1], target])
            dropped = (
                float(np.sum(np.hypot(*np.diff(xy[k:], axis=0).T))) if k < len(xy) - 1 else 0.0
            )
            e.xy = new_xy if at_end else new_xy[::-1]
            e.length_px += float(np.hypot(*(target - start))) - dropped
            self.pos[n] = (float(target[0]), float(target[1]))
            n_ext += 1
        return n_ext

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


def _meets_only_at_ends(seg: shapely.LineString, other: shapely.LineString) -> bool:
    """Whether ``seg`` and ``other`` are disjoint or touch only at an end of ``seg``."""
    inter = shapely.intersection(seg, other)
    if inter.is_empty:
        return True
    ends = shapely.multipoints(shapely.get_coordinates(seg)[[0, -1]])
    return bool(shapely.difference(inter, ends).is_empty)


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


def _geometry_key(e: Edge) -> tuple[float, ...]:
    """An order of edges by their end coordinates, the same whatever their ids."""
    a, b = tuple(np.round(e.xy[0], 3)), tuple(np.round(e.xy[-1], 3))
    return (*min(a, b), *max(a, b))


def _oriented(e: Edge, *, end_at: NodeKey | None = None, start_at: NodeKey | None = None) -> Edge:
    flip = (end_at is not None and e.v != end_at) or (start_at is not None and e.u != start_at)
    if not flip:
        return e
    return Edge(e.v, e.u, e.xy[::-1], e.length_px, e.prob_sum, e.prob_count, e.prob_min)
