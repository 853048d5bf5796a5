"""Metres in a CRS: the one place that knows a CRS's linear unit and a local metric CRS."""

from __future__ import annotations

import math

from pyproj import CRS
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from roadseg.errors import InvalidInputError


def metres_per_unit(crs: CRS | object) -> float:
    """Metres in one unit of ``crs``'s first axis (1 for metres, 0.3048 for feet).

    Raises:
        InvalidInputError: the CRS has no usable linear unit.
    """
    crs = CRS.from_user_input(crs)
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    if not factor or not math.isfinite(factor):
        raise InvalidInputError(f"CRS {crs.to_string()} has no usable linear unit")
    return float(factor)


def local_metric_crs(crs: CRS | str, bounds: tuple[float, float, float, float]) -> CRS:
    """``crs`` itself when it is projected, else the UTM zone of ``bounds`` (lon/lat).

    Raises:
        InvalidInputError: no UTM zone covers the bounds.
    """
    crs = CRS.from_user_input(crs)
    if crs.is_projected:
        return crs
    west, south, east, north = bounds
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(west, south, east, north),
    )
    if not infos:
        raise InvalidInputError(f"no UTM zone covers the bounds {bounds}")
    return CRS.from_epsg(int(infos[0].code))
