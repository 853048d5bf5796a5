"""Block stage: probabilities in one window -> road mask -> skeleton -> pixel-path pieces.

Each block reads its core window plus a halo, so the mask and its skeleton near the
core's border are the same as they would be for the whole raster. The block then
keeps only the skeleton *links* (pairs of 8-neighbouring skeleton pixels) that it owns:
a link belongs to the block whose core holds the link's first pixel in raster order.
Every link of the whole raster is therefore emitted by exactly one block, and a path
that leaves a block ends on a pixel that the neighbouring block's piece also ends on;
the vector stage (:mod:`roadseg.vector.graph`) joins the pieces on those exact pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from rasterio.windows import Window
from scipy import sparse
from skimage.filters import apply_hysteresis_threshold
from skimage.morphology import remove_small_holes, skeletonize

from roadseg.raster.probability import PROB_MAX, PROB_NODATA
from roadseg.raster.windows import array_slices, grown
from roadseg.vector.source import ProbabilityEncoding, open_probability, read_stored

#: Forward neighbour offsets (row, col): each unordered 8-neighbour pair appears once,
#: with its first pixel earlier in raster order.
_OFFSETS = ((0, 1), (1, -1), (1, 0), (1, 1))


@dataclass(frozen=True)
class MaskParams:
    """How a block's probabilities become a road mask, in stored (0..254) units."""

    high: float
    low: float
    hole_px: int
    #: Coordinates of pieces are simplified by this many pixels (removes the
    #: 8-connected staircase; endpoints are always kept).
    pixel_tolerance: float = 0.5
    #: How the raster's values map to probability (``None``: roadseg's own).
    encoding: ProbabilityEncoding | None = None


@dataclass(frozen=True)
class Piece:
    """A skeleton path between two break pixels, in global pixel coordinates.

    ``start`` and ``end`` are (row, col) of the end pixels; ``xy`` holds the path's
    vertices as (col + 0.5, row + 0.5), i.e. pixel centres in the raster's pixel space.
    """

    start: tuple[int, int]
    end: tuple[int, int]
    xy: np.ndarray
    length_px: float
    prob_sum: float
    prob_count: int
    prob_min: float


def road_mask(stored: np.ndarray, params: MaskParams) -> np.ndarray:
    """Hysteresis threshold and hole filling of stored probabilities (nodata = 0)."""
    prob = np.where(stored == PROB_NODATA, 0, stored).astype(np.float32)
    if params.low < params.high:
        mask = apply_hysteresis_threshold(prob, params.low, params.high)
    else:
        mask = prob >= params.high
    if params.hole_px > 0 and mask.any():
        mask = remove_small_holes(mask, max_size=params.hole_px)
    return mask


def _links(skel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All links of the skeleton as pairs of flat indices (first earlier in raster order).

    A diagonal link is dropped when the two pixels also touch through a common
    4-neighbour, so no two links cross and corners do not form triangles.
    """
    w = skel.shape[1]
    pad = np.pad(skel, 1)
    rows, cols = np.nonzero(skel)
    a_list, b_list = [], []
    for dr, dc in _OFFSETS:
        nb = pad[rows + 1 + dr, cols + 1 + dc]
        if dr == 1 and dc != 0:
            # common 4-neighbours: (r, c+dc) and (r+1, c)
            nb = nb & ~pad[rows + 1, cols + 1 + dc] & ~pad[rows + 2, cols + 1]
        keep = nb
        a_list.append(rows[keep] * w + cols[keep])
        b_list.append((rows[keep] + dr) * w + cols[keep] + dc)
    return np.concatenate(a_list), np.concatenate(b_list)


def trace_pieces(
    skel: np.ndarray,
    stored: np.ndarray,
    core: tuple[int, int, int, int],
    origin: tuple[int, int],
    pixel_tolerance: float = 0.5,
) -> list[Piece]:
    """Trace the owned skeleton links of a window into pieces.

    Args:
        skel: skeleton of the (halo) window.
        stored: stored probabilities of the same window.
        core: (row0, row1, col0, col1) of the owned core, in window pixel indices.
        origin: (row, col) of the window's top-left pixel in the whole raster.
        pixel_tolerance: Douglas-Peucker tolerance in pixels for the piece vertices.
    """
    h, w = skel.shape
    a, b = _links(skel)
    if a.size == 0:
        return []
    n = h * w
    full_deg = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    ar, ac = np.divmod(a, w)
    r0, r1, c0, c1 = core
    owned = (ar >= r0) & (ar < r1) & (ac >= c0) & (ac < c1)
    a, b = a[owned], b[owned]
    if a.size == 0:
        return []
    own_deg = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    is_break = (own_deg != 2) | (own_deg != full_deg)

    m = a.size
    link_ids = np.arange(m)
    adj = sparse.csr_matrix(
        (
            np.concatenate([link_ids, link_ids]) + 1,
            (np.concatenate([a, b]), np.concatenate([b, a])),
        ),
        shape=(n, n),
    )
    indptr, indices, data = adj.indptr, adj.indices, adj.data - 1
    used = np.zeros(m, dtype=bool)
    prob = np.where(stored == PROB_NODATA, 0, stored).astype(np.float64) / PROB_MAX
    oy, ox = origin

    def walk(start: int, link: int, nxt: int) -> list[int]:
        path = [start]
        cur, via = nxt, link
        used[via] = True
        while True:
            path.append(cur)
            if is_break[cur] or cur == start:
                return path
            lo, hi = indptr[cur], indptr[cur + 1]
            step = None
            for k in range(lo, hi):
                if data[k] != via and not used[data[k]]:
                    step = k
                    break
            if step is None:  # closed loop back to its start through a used link
                return path
            via = data[step]
            used[via] = True
            cur = int(indices[step])

    pieces: list[Piece] = []
    starts = np.nonzero(is_break & (own_deg > 0))[0]
    for s in starts:
        for k in range(indptr[s], indptr[s + 1]):
            if not used[data[k]]:
                pieces.append(
                    _piece(
                        walk(int(s), int(data[k]), int(indices[k])),
                        w,
                        prob,
                        oy,
                        ox,
                        pixel_tolerance,
                    )
                )
    # Loops with no break pixel at all.
    while not used.all():
        k0 = int(np.argmin(used))
        s = int(a[k0])
        pieces.append(_piece(walk(s, k0, int(b[k0])), w, prob, oy, ox, pixel_tolerance))
    return pieces


def _piece(path: list[int], w: int, prob: np.ndarray, oy: int, ox: int, tolerance: float) -> Piece:
    idx = np.asarray(path)
    rr, cc = np.divmod(idx, w)
    steps = np.hypot(np.diff(rr), np.diff(cc))
    xy = np.column_stack([cc + ox + 0.5, rr + oy + 0.5]).astype(np.float64)
    if tolerance > 0 and len(xy) > 2:
        xy = shapely.get_coordinates(shapely.simplify(shapely.linestrings(xy), tolerance))
    p = prob[rr, cc]
    return Piece(
        start=(int(rr[0] + oy), int(cc[0] + ox)),
        end=(int(rr[-1] + oy), int(cc[-1] + ox)),
        xy=xy,
        length_px=float(steps.sum()),
        prob_sum=float(p.sum()),
        prob_count=int(p.size),
        prob_min=float(p.min()),
    )


def block_pieces(prob_path: str, core: Window, halo: int, params: MaskParams) -> list[Piece]:
    """The whole block stage for one core window of the probability raster."""
    with open_probability(Path(prob_path)) as src:
        outer = grown(core, halo).intersection(Window(0, 0, src.width, src.height))
        stored = read_stored(src, outer, params.encoding)
    mask = road_mask(stored, params)
    if not mask.any():
        return []
    skel = skeletonize(mask)
    rows, cols = array_slices(core, outer)
    return trace_pieces(
        skel,
        stored,
        (rows.start, rows.stop, cols.start, cols.stop),
        (int(outer.row_off), int(outer.col_off)),
        params.pixel_tolerance,
    )
