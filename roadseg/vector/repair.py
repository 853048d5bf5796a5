"""Repairs of the road graph where the skeleton falls short: gaps and cut road ends.

Both work on a :class:`~roadseg.vector.graph.RoadGraph` in pixel space and add or
prolong lines only where the probability raster supports it (``support``) and no
existing line is crossed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shapely
from shapely import STRtree

from roadseg.vector.graph import Edge, NodeKey, RoadGraph


def close_gaps(
    graph: RoadGraph,
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
    ends = [n for n, inc in graph.incident.items() if len(inc) == 1]
    if not ends or max_px <= 0:
        return 0
    keys = list(graph.incident)
    pts = np.array([graph.position(k) for k in keys])
    lines = [shapely.linestrings(e.xy) for e in graph.edges.values()]
    tree = STRtree(lines) if lines else None
    cands = []
    for n in ends:
        eid = graph.incident[n][0]
        e = graph.edges[eid]
        xy = e.xy if e.v == n else e.xy[::-1]
        p = np.asarray(graph.position(n))
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
        if n in used or (graph.degree(m) == 1 and m in used):
            continue
        if n not in graph.incident or m not in graph.incident:
            continue
        p0, p1 = np.asarray(graph.position(n)), np.asarray(graph.position(m))
        seg = shapely.linestrings([p0, p1])
        others = list(tree.query(seg, predicate="intersects")) if tree is not None else []
        if any(not _meets_only_at_ends(seg, g) for g in [lines[h] for h in others] + bridges):
            continue
        s = support(p0, p1)
        if s < min_support:
            continue
        graph.add_edge(Edge(n, m, np.vstack([p0, p1]), dist, s * 2, 2, s))
        bridges.append(seg)
        used.update((n, m))
        added += 1
    return added


def extend_to_border(
    graph: RoadGraph,
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
    lines = {eid: shapely.linestrings(e.xy) for eid, e in graph.edges.items()}
    tree_ids = list(lines)
    tree = STRtree([lines[i] for i in tree_ids]) if lines else None
    extensions: list[shapely.LineString] = []
    n_ext = 0
    for n in [k for k, inc in graph.incident.items() if len(inc) == 1]:
        eid = graph.incident[n][0]
        e = graph.edges[eid]
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
        dropped = float(np.sum(np.hypot(*np.diff(xy[k:], axis=0).T))) if k < len(xy) - 1 else 0.0
        e.xy = new_xy if at_end else new_xy[::-1]
        e.length_px += float(np.hypot(*(target - start))) - dropped
        graph.pos[n] = (float(target[0]), float(target[1]))
        n_ext += 1
    return n_ext


def _meets_only_at_ends(seg: shapely.LineString, other: shapely.LineString) -> bool:
    """Whether ``seg`` and ``other`` are disjoint or touch only at an end of ``seg``."""
    inter = shapely.intersection(seg, other)
    if inter.is_empty:
        return True
    ends = shapely.multipoints(shapely.get_coordinates(seg)[[0, -1]])
    return bool(shapely.difference(inter, ends).is_empty)
