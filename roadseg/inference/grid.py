"""The working grid: the scene's footprint at the model's resolution."""

from __future__ import annotations

from dataclasses import dataclass

import rasterio
from affine import Affine
from rasterio.windows import Window

from roadseg.errors import InvalidParameterError
from roadseg.raster.gsd import pixel_size_m
from roadseg.raster.scene import SceneInfo

#: Largest working grid side accepted (guards against a wildly wrong --gsd).
MAX_GRID_SIDE = 1 << 20


@dataclass(frozen=True)
class WorkingGrid:
    """The grid probabilities are computed and written on.

    It covers exactly the scene's footprint, in the scene's CRS, with pixels of the
    model's ground sample distance: ``transform = scene.transform * scale(sx, sy)``
    where ``sx = scene.width / width`` and ``sy = scene.height / height``.

    Attributes:
        width, height: size in pixels.
        transform: pixel-to-CRS transform (pixel coordinates of the scene for a plain
            image).
        crs: the scene's CRS, or ``None``.
        scale_x, scale_y: scene pixels per working pixel.
        gsd_m: ground sample distance of a working pixel in metres.
    """

    width: int
    height: int
    transform: Affine
    crs: rasterio.crs.CRS | None
    scale_x: float
    scale_y: float
    gsd_m: float

    @property
    def resampled(self) -> bool:
        return self.scale_x != 1.0 or self.scale_y != 1.0

    def scene_window(self, window: Window) -> Window:
        """The (fractional) scene window covering a working-grid window."""
        return Window(
            window.col_off * self.scale_x,
            window.row_off * self.scale_y,
            window.width * self.scale_x,
            window.height * self.scale_y,
        )


def working_grid(scene: SceneInfo, model_gsd_m: float) -> WorkingGrid:
    """The grid at ``model_gsd_m`` over the footprint of ``scene``.

    Pixels are square on the ground: each axis is resampled by its own factor, the
    pixel's width (height) in metres over ``model_gsd_m``, so a scene with 2 m x 1 m
    pixels, or a lon/lat scene away from the equator, is not distorted. A declared
    ``scene.gsd_m`` rescales both axes and keeps their ratio. Sizes are rounded to
    whole pixels and the transform is scaled so the footprint is the scene's exactly.
    """
    if not model_gsd_m > 0:
        raise InvalidParameterError(f"the model's gsd_m must be positive, got {model_gsd_m}")
    measured = (
        pixel_size_m(scene.crs, scene.transform, scene.width, scene.height)
        if scene.georeferenced
        else None
    )
    if measured is None:
        px_w = px_h = scene.gsd_m
    else:
        ratio = scene.gsd_m / ((measured[0] + measured[1]) / 2)
        px_w, px_h = measured[0] * ratio, measured[1] * ratio
    factor_x, factor_y = px_w / model_gsd_m, px_h / model_gsd_m
    if abs(factor_x - 1.0) < 1e-3 and abs(factor_y - 1.0) < 1e-3:
        factor_x = factor_y = 1.0
    width = max(1, round(scene.width * factor_x))
    height = max(1, round(scene.height * factor_y))
    if max(width, height) > MAX_GRID_SIDE:
        raise InvalidParameterError(
            f"resampling {scene.gsd_m:g} m to the model's {model_gsd_m:g} m would make a "
            f"{width}x{height} grid; check --gsd"
        )
    sx, sy = scene.width / width, scene.height / height
    return WorkingGrid(
        width=width,
        height=height,
        transform=scene.transform @ Affine.scale(sx, sy),
        crs=scene.crs,
        scale_x=sx,
        scale_y=sy,
        gsd_m=(px_w * sx + px_h * sy) / 2,
    )
