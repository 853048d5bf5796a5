"""Roads missing from a reference map: detected centrelines compared with a reference
network (OpenStreetMap or any line layer) in a local metric CRS.

Both networks are cut into short segments (``step_m``). A segment is *covered* by the
other network when a segment of it lies within ``tolerance_m`` of its midpoint and runs
in nearly the same direction (within ``max_angle_deg``, either way along): a road
crossing a mapped one, or running parallel to it farther than the tolerance, is not
covered by it. A detected road's consecutive uncovered segments of at least
``min_missing_m`` together are a *missing* road. Two figures per scene compare the
networks: the share of the reference's length that the detections cover (recall
against the map) and the share of the detected length that the map covers (precision
against the map). The defaults are measured (``benchmarks/conflation_defaults.py``,
see ``docs/conflate.md``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from roadseg.errors import InvalidParameterError


@dataclass(frozen=True)
class ConflateOptions:
    """How detections are matched to the reference; lengths in metres on the ground.

    Attributes:
        tolerance_m: farthest a reference road may lie from a detected one and still
            be the same road (the map's and the model's offsets together).
        max_angle_deg: largest difference of direction between matched segments.
        min_missing_m: shortest stretch of unmatched detection reported as missing.
        step_m: length of the segments compared.
    """

    tolerance_m: float = 12.0
    max_angle_deg: float = 30.0
    min_missing_m: float = 30.0
    step_m: float = 4.0

    def validate(self) -> ConflateOptions:
        """Check every value; return ``self``.

        Raises:
            InvalidParameterError: a value is out of range.
        """
        for name in ("tolerance_m", "min_missing_m", "step_m"):
            value = getattr(self, name)
            if not value > 0:
                raise InvalidParameterError(
                    f"{name}={value!r}: must be a positive length in metres"
                )
        if not 0 < self.max_angle_deg <= 90:
            raise InvalidParameterError(
                f"max_angle_deg={self.max_angle_deg!r}: must be in (0, 90] degrees"
            )
        return self


@dataclass(frozen=True)
class Segments:
    """Straight pieces of a set of lines: their ends, the line each belongs to and its
    position along that line."""

    start: np.ndarray  # (n, 2)
    end: np.ndarray  # (n, 2)
    line: np.ndarray  # (n,) index of the source line
    order: np.ndarray  # (n,) position along it

    @property
    def length(self) -> np.ndarray:
        return np.hypot(*(self.end - self.start).T)

    @property
    def angle(self) -> np.ndarray:
        """Direction in degrees, modulo 180 (a road has no way along)."""
        d = self.end - self.start
        return np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 180.0

    def geometries(self) -> np.ndarray:
        return shapely.linestrings(np.stack([self.start, self.end], axis=1))


def segments_of(lines: np.ndarray, step_m: float) -> Segments:
    """Cut ``lines`` (LineStrings or MultiLineStrings in a metric CRS) into segments at
    most ``step_m`` long; ``line`` is the index of the input each comes from."""
    parts, owner = shapely.get_parts(np.asarray(lines, dtype=object), return_index=True)
    usable = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 0)
    parts, owner = parts[usable], owner[usable]
    dense = shapely.segmentize(parts, step_m)
    coords, part = shapely.get_coordinates(dense, return_index=True)
    if len(coords) < 2:
        empty = np.zeros((0, 2))
        return Segments(empty, empty, np.zeros(0, int), np.zeros(0, int))
    same = part[1:] == part[:-1]  # never join the end of one part to the next
    starts = np.flatnonzero(same)
    start, end = coords[starts], coords[starts + 1]
    keep = np.hypot(*(end - start).T) > 0
    part_of = part[starts][keep]
    # Position along each part: a running count that restarts with every part, so that
    # consecutive positions are always joined on the ground.
    first = np.r_[0, np.flatnonzero(np.diff(part_of)) + 1]
    order = np.arange(len(part_of)) - np.repeat(first, np.diff(np.r_[first, len(part_of)]))
    return Segments(start[keep], end[keep], owner[part_of], order)


def covered(segments: Segments, other: Segments, options: ConflateOptions) -> np.ndarray:
    """Whether each of ``segments`` is matched by a segment of ``other``: one within the
    tolerance of its midpoint, in nearly the same direction."""
    result = np.zeros(len(segments.line), dtype=bool)
    if not len(result) or not len(other.line):
        return result
    tree = shapely.STRtree(other.geometries())
    mids = shapely.points((segments.start + segments.end) / 2)
    pairs = tree.query(mids, predicate="dwithin", distance=options.tolerance_m)
    if not pairs.size:
        return result
    diff = np.abs(segments.angle[pairs[0]] - other.angle[pairs[1]])
    diff = np.minimum(diff, 180.0 - diff)
    result[pairs[0][diff <= options.max_angle_deg]] = True
    return result


@dataclass(frozen=True)
class Conflation:
    """What the comparison found.

    Attributes:
        missing: the missing roads (``id``, ``road_id``, ``length_m``, ``mean_prob``),
            in the detections' CRS.
        map_recall: share of the reference's length the detections cover (``None``
            without reference roads in the footprint).
        map_precision: share of the detected length the reference covers (``None``
            without detections).
        reference_length_m: length of the reference within the footprint.
        detected_length_m: length of the detections.
    """

    missing: gpd.GeoDataFrame
    map_recall: float | None
    map_precision: float | None
    reference_length_m: float
    detected_length_m: float

    @property
    def missing_length_m(self) -> float:
        return float(self.missing["length_m"].sum()) if len(self.missing) else 0.0


def metric_crs(footprint: shapely.Geometry, crs: CRS) -> CRS:
    """A CRS in metres for the footprint: its own when projected in metres, else the
    UTM zone of its centre."""
    # A projected CRS in metres measures lengths as they are on the ground, unless it is
    # a Mercator (Web Mercator's metres grow by 1 / cos(latitude)).
    method = crs.coordinate_operation.method_name.lower() if crs.coordinate_operation else ""
    if (
        crs.is_projected
        and crs.axis_info[0].unit_name in ("metre", "meter")
        and ("mercator" not in method or "transverse" in method)
    ):
        return crs
    utm = gpd.GeoSeries([footprint], crs=crs).estimate_utm_crs()
    if utm is None:  # pragma: no cover - only outside the UTM range of latitudes
        raise InvalidParameterError(f"no UTM zone for the footprint {footprint.bounds}")
    return utm


def conflate(
    detected: gpd.GeoDataFrame,
    reference: gpd.GeoDataFrame,
    footprint: shapely.Geometry,
    options: ConflateOptions | None = None,
) -> Conflation:
    """Compare detected roads with a reference network within ``footprint``.

    Args:
        detected: the ``roads`` layer (LineStrings with ``id`` and ``mean_prob``), in a
            CRS; the footprint is in the same CRS.
        reference: the reference lines, in the detections' CRS, clipped to the
            footprint (:func:`roadseg.vector.reference.read_reference`).
        footprint: the valid area of the scene.
        options: the matching (:class:`ConflateOptions`), validated where it was given
            (``vectorize``, ``run_scene``, ``conflate_geopackage``); ``None``: the
            defaults.
    """
    options = options or ConflateOptions()
    crs = detected.crs
    if footprint.is_empty:
        raise InvalidParameterError(
            "the scene has no valid area to compare the roads in (all no-data, or no roads "
            "to take the extent of); give a footprint raster with data"
        )
    local = metric_crs(footprint, CRS.from_user_input(crs))
    det_lines = detected.geometry.to_crs(local).to_numpy()
    ref_lines = reference.geometry.to_crs(local).to_numpy() if len(reference) else np.array([])
    det = segments_of(det_lines, options.step_m)
    ref = segments_of(ref_lines, options.step_m)
    det_covered = covered(det, ref, options)
    ref_covered = covered(ref, det, options)
    det_length, ref_length = det.length, ref.length
    missing = _missing_runs(det, ~det_covered, options.min_missing_m)
    rows = [
        {
            "id": _stable_id(geom),
            "road_id": int(detected["id"].iloc[line]) if "id" in detected else int(line) + 1,
            "length_m": round(float(geom.length), 3),
            "mean_prob": float(detected["mean_prob"].iloc[line])
            if "mean_prob" in detected
            else None,
            "geometry": geom,
        }
        for line, geom in missing
    ]
    frame = gpd.GeoDataFrame(
        rows,
        columns=["id", "road_id", "length_m", "mean_prob", "geometry"],
        geometry="geometry",
        crs=local,
    ).to_crs(crs)
    total_det, total_ref = float(det_length.sum()), float(ref_length.sum())
    return Conflation(
        missing=frame,
        map_recall=float(ref_length[ref_covered].sum() / total_ref) if total_ref else None,
        map_precision=float(det_length[det_covered].sum() / total_det) if total_det else None,
        reference_length_m=total_ref,
        detected_length_m=total_det,
    )


def _missing_runs(
    segments: Segments, uncovered: np.ndarray, min_missing_m: float
) -> list[tuple[int, shapely.LineString]]:
    """Runs of consecutive uncovered segments of one line, at least ``min_missing_m``."""
    runs = []
    n = len(uncovered)
    i = 0
    while i < n:
        if not uncovered[i]:
            i += 1
            continue
        j = i
        while (
            j + 1 < n
            and uncovered[j + 1]
            and segments.line[j + 1] == segments.line[i]
            and segments.order[j + 1] == segments.order[j] + 1
        ):
            j += 1
        coords = np.vstack([segments.start[i : j + 1], segments.end[j][None]])
        geom = shapely.linestrings(coords)
        if geom.length >= min_missing_m:
            runs.append((int(segments.line[i]), geom))
        i = j + 1
    return runs


def _stable_id(geom: shapely.LineString) -> str:
    """An id that the same piece of road gets again in another run: a digest of its
    coordinates rounded to a decimetre, independent of its direction."""
    coords = np.round(shapely.get_coordinates(geom), 1)
    if tuple(coords[-1]) < tuple(coords[0]):
        coords = coords[::-1]
    return hashlib.sha1(coords.tobytes()).hexdigest()[:16]
