"""The working grid: the scene's footprint at the model's resolution."""

from __future__ import annotations

from dataclasses import dataclass

import rasterio
from affine import Affine
from rasterio.windows import Window

from roadseg.errors import InvalidParameterError
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

    The factor is ``scene.gsd_m / model_gsd_m``; sizes are rounded to whole pixels and
    the transform is scaled so the footprint is the scene's exactly.
    """
    if not model_gsd_m > 0:
        raise InvalidParameterError(f"the model's gsd_m must be positive, got {model_gsd_m}")
    factor = scene.gsd_m / model_gsd_m
    if abs(factor - 1.0) < 1e-3:
        factor = 1.0
    width = max(1, round(scene.width * factor))
    height = max(1, round(scene.height * factor))
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
        gsd_m=scene.gsd_m * (sx + sy) / 2,
    )
