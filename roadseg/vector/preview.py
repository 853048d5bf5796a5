"""A quick-look PNG of the roads over a downsampled view of the scene."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from affine import Affine
from PIL import Image, ImageDraw
from pyproj import CRS, Transformer
from rio_tiler.io import Reader

from roadseg.io.atomic import atomic_output
from roadseg.io.pixels import PLAIN_IMAGE_TRANSFORM
from roadseg.io.quiet import quiet_raster_warnings
from roadseg.io.remote import gdal_path, network_env
from roadseg.raster.probability import PROB_MAX, PROB_NODATA, TAG_THRESHOLD

#: The longest side of the preview, in pixels; the background read never exceeds
#: (this)^2 pixels per band.
MAX_PREVIEW_SIDE = 1600
#: Colours of the roads and of the roads missing from a reference map (as in QGIS).
ROAD_COLOUR = (255, 60, 0)
MISSING_COLOUR = (230, 0, 126)
#: Preview pixels per pixel of line width (lines stay visible on large previews).
PIXELS_PER_LINE_WIDTH = 500
#: Brightness kept of a probability raster drawn under the roads, so they stand out.
PROBABILITY_BRIGHTNESS = 0.6
#: Percentiles of the stretch of imagery deeper than 8 bits.
STRETCH_PERCENTILES = (2, 98)


def _background(
    path: str | os.PathLike[str], max_side: int
) -> tuple[np.ndarray, Affine, CRS | None]:
    # rio-tiler's decimated preview (overviews when the file has them, masks applied);
    # a remote scene's overviews are read by ranges, under the network settings.
    with network_env(), quiet_raster_warnings():  # a plain image, or no overviews
        reader = Reader(gdal_path(path))
    with network_env(), reader:
        src = reader.dataset
        bands = (1, 2, 3) if src.count >= 3 else (1,)
        with quiet_raster_warnings():
            image = reader.preview(indexes=bands, max_size=max_side, resampling_method="average")
        data = image.array
        h, w = data.shape[1:]
        crs = CRS.from_user_input(src.crs) if src.crs else None
        base = src.transform
        if crs is None and base.is_identity:
            base = PLAIN_IMAGE_TRANSFORM  # as the lines of a plain image are
        transform = base @ Affine.scale(src.width / w, src.height / h)
        is_prob = src.tags().get(TAG_THRESHOLD) is not None or (
            src.count == 1 and src.dtypes[0] == "uint8" and src.nodata == PROB_NODATA
        )
    rgb = np.zeros((h, w, 3), dtype=np.uint8)
    filled = data.astype(np.float32).filled(np.nan)
    # One stretch for all bands keeps the hues a user sees in a GIS; 8-bit imagery is
    # shown as it is, deeper imagery (e.g. 11-bit) is stretched to its 2-98 % range.
    if is_prob:
        lo, hi = 0.0, float(PROB_MAX)
    elif data.dtype == np.uint8:
        lo, hi = 0.0, 255.0
    else:
        finite = filled[np.isfinite(filled)]
        lo, hi = np.percentile(finite, STRETCH_PERCENTILES) if finite.size else (0.0, 1.0)
    for i in range(3):
        band = filled[min(i, len(bands) - 1)]
        scaled = np.clip((band - lo) / max(hi - lo, 1e-6), 0, 1) * 255
        rgb[..., i] = np.nan_to_num(scaled, nan=0).astype(np.uint8)
    if is_prob:
        rgb = (rgb * PROBABILITY_BRIGHTNESS).astype(np.uint8)
    return rgb, transform, crs


def write_preview(
    lines: list[np.ndarray],
    lines_crs: CRS | None,
    background: str | os.PathLike[str],
    out: Path,
    *,
    overwrite: bool = False,
    max_side: int = MAX_PREVIEW_SIDE,
    highlight: Sequence[np.ndarray] = (),
) -> Path:
    """Draw map-coordinate lines over ``background`` (a scene or probability raster);
    ``highlight`` lines (roads missing from a reference map) thicker, in magenta."""
    rgb, transform, bg_crs = _background(background, max_side)
    to_bg = None
    if lines_crs is not None and bg_crs is not None and lines_crs != bg_crs:
        to_bg = Transformer.from_crs(lines_crs, bg_crs, always_xy=True)
    img = Image.fromarray(rgb, "RGB")
    draw = ImageDraw.Draw(img)
    inv = ~transform
    width = max(1, round(max(img.size) / PIXELS_PER_LINE_WIDTH))
    for group, colour, line_width in (
        (lines, ROAD_COLOUR, width),
        (highlight, MISSING_COLOUR, 2 * width + 1),
    ):
        for xy in group:
            xs, ys = xy[:, 0], xy[:, 1]
            if to_bg is not None:
                xs, ys = to_bg.transform(xs, ys)
            cols, rows = inv @ (np.asarray(xs), np.asarray(ys))
            points = list(zip(cols.tolist(), rows.tolist(), strict=True))
            draw.line(points, fill=colour, width=line_width)
    with atomic_output(out, overwrite=overwrite) as tmp:
        img.save(tmp, format="PNG")
    return Path(out)
