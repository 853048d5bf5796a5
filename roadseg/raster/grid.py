"""The working grid: the scene's footprint in square pixels of the model's resolution."""

from __future__ import annotations

import math
from dataclasses import dataclass

import rasterio
from affine import Affine
from rasterio import windows
from rasterio.windows import Window

from roadseg.errors import InvalidInputError, InvalidParameterError
from roadseg.io.pixels import PLAIN_IMAGE_TRANSFORM
from roadseg.io.urls import display_url
from roadseg.raster.gsd import pixel_size_m
from roadseg.raster.scene import SceneInfo
from roadseg.raster.windows import Placement

#: Largest working grid side accepted (guards against a wildly wrong --gsd).
MAX_GRID_SIDE = 1 << 20
#: A working grid with a side shorter than this gets a warning from ``roadseg run``:
#: the model sees little more than its own receptive field.
SMALL_GRID_SIDE = 96
#: Largest angle between a pixel's axes and a right angle that is still a rotation
#: (the transform has no shear worth resampling for).
MAX_SHEAR_DEG = 0.5


@dataclass(frozen=True)
class WorkingGrid:
    """The grid probabilities are computed and written on.

    It covers exactly the scene's footprint, in the scene's CRS, with square pixels of
    (very nearly) the model's ground sample distance: ``transform = scene.transform *
    scale(sx, sy)`` where ``sx = scene.width / width`` and ``sy = scene.height /
    height``. A scene with non-square pixels (2 m x 1 m) is resampled by a different
    factor along each axis.

    Attributes:
        width, height: size in pixels.
        transform: pixel-to-CRS transform; for a plain image, pixel coordinates of the
            scene with y = -row (see :data:`PLAIN_IMAGE_TRANSFORM`).
        crs: the scene's CRS, or ``None``.
        scale_x, scale_y: scene pixels per working pixel, along columns and rows.
        gsd_m: ground sample distance of a working pixel in metres (mean of both axes).
        res_m: size of a working pixel in metres along columns and rows.
    """

    width: int
    height: int
    transform: Affine
    crs: rasterio.crs.CRS | None
    scale_x: float
    scale_y: float
    gsd_m: float
    res_m: tuple[float, float] | None = None

    @property
    def resampled(self) -> bool:
        return self.scale_x != 1.0 or self.scale_y != 1.0

    @property
    def window(self) -> Window:
        """The whole grid as a window."""
        return Window(0, 0, self.width, self.height)

    def window_transform(self, window: Window) -> Affine:
        """The pixel-to-CRS transform of a window of the grid (it may run past the grid)."""
        return windows.transform(window, self.transform)

    def placement(self, window: Window) -> Placement:
        """Where ``window`` (it may run past the grid) lies: its transform, the grid's CRS."""
        return Placement(window, self.window_transform(window), self.crs)

    def scene_window(self, window: Window) -> Window:
        """The (fractional) scene window covering a working-grid window.

        The working grid is the scene's grid scaled by ``(scale_x, scale_y)``, so the
        window is scaled by the same factors. Going through the map instead
        (``windows.from_bounds(*windows.bounds(window, self.transform), scene
        transform)``) does not give the same window: the round trip through map
        coordinates moves it by up to ~1e-8 scene pixels (so a resampled read may round
        differently), and axis-aligned bounds cannot describe a window of a rotated grid.
        """
        return Window(
            window.col_off * self.scale_x,
            window.row_off * self.scale_y,
            window.width * self.scale_x,
            window.height * self.scale_y,
        )


def scene_pixel_size_m(scene: SceneInfo) -> tuple[float, float]:
    """A scene pixel's size in metres along columns and rows.

    The scene's ``gsd_m`` (declared with ``--gsd`` or measured) sets the mean; the file's
    transform sets the aspect, so a declared resolution keeps non-square pixels
    non-square. A plain image's pixels are square.
    """
    measured = (
        pixel_size_m(scene.crs, scene.transform, scene.width, scene.height)
        if scene.georeferenced
        else None
    )
    if not measured or not all(math.isfinite(v) and v > 0 for v in measured):
        return scene.gsd_m, scene.gsd_m
    k = scene.gsd_m / ((measured[0] + measured[1]) / 2)
    return measured[0] * k, measured[1] * k


def check_shear(scene: SceneInfo) -> None:
    """Refuse a transform whose pixel axes are not perpendicular (a sheared grid).

    Rotation is fine (the working grid is rotated with the scene); shear would make
    the model see slanted, non-square pixels.

    Raises:
        InvalidInputError: the axes are more than :data:`MAX_SHEAR_DEG` off square.
    """
    t = scene.transform
    norm = math.hypot(t.a, t.d) * math.hypot(t.b, t.e)
    if not norm:
        raise InvalidInputError(
            f"{display_url(scene.path)}: the geotransform is degenerate ({tuple(t)[:6]})"
        )
    off = math.degrees(math.asin(min(1.0, abs(t.a * t.b + t.d * t.e) / norm)))
    if off > MAX_SHEAR_DEG:
        raise InvalidInputError(
            f"{display_url(scene.path)}: the geotransform is sheared ({off:.1f} degrees off square); "
            "warp the scene to a north-up grid first (gdalwarp scene.tif north_up.tif)"
        )


def working_gsd(scene_gsd_m: float, model_gsd_m: float, max_gsd_m: float | None = None) -> float:
    """The resolution a scene is worked at, in metres per pixel.

    A model with one resolution (``max_gsd_m`` ``None``) works every scene at
    ``model_gsd_m``. A model with a range works a scene at its own resolution when that
    lies inside ``[model_gsd_m, max_gsd_m]``, and at the nearer end otherwise: finer
    scenes are downsampled to ``model_gsd_m``, coarser ones upsampled to ``max_gsd_m``
    (upsampling a 1 m scene to 0.5 m adds four times the pixels and no detail).

    Raises:
        InvalidParameterError: a resolution that is not positive, or a range upside down.
    """
    if not model_gsd_m > 0:
        raise InvalidParameterError(f"the model's gsd_m must be positive, got {model_gsd_m}")
    if max_gsd_m is None:
        return model_gsd_m
    if not max_gsd_m >= model_gsd_m:
        raise InvalidParameterError(
            f"the model's max_gsd_m ({max_gsd_m}) is finer than its gsd_m ({model_gsd_m}); "
            "it must be at least gsd_m"
        )
    return min(max(scene_gsd_m, model_gsd_m), max_gsd_m)


def resolutions_text(gsd_m: float, max_gsd_m: float | None = None) -> str:
    """A model's working resolutions as users read them: ``1`` or ``0.5-1`` (metres)."""
    return f"{gsd_m:g}" if max_gsd_m is None else f"{gsd_m:g}-{max_gsd_m:g}"


def working_grid(
    scene: SceneInfo, model_gsd_m: float, max_gsd_m: float | None = None
) -> WorkingGrid:
    """The grid of square pixels over the footprint of ``scene``, at the resolution
    :func:`working_gsd` chooses (``model_gsd_m`` for a model of one resolution).

    Each axis is resampled by its own factor (``scene pixel size / working GSD``);
    sizes are rounded to whole pixels and the transform is scaled so the footprint is
    the scene's exactly.

    Raises:
        InvalidParameterError: a bad model resolution, or a grid too large to be right.
        InvalidInputError: a sheared geotransform.
    """
    if scene.georeferenced:
        check_shear(scene)
    res_x, res_y = scene_pixel_size_m(scene)
    target = working_gsd((res_x + res_y) / 2, model_gsd_m, max_gsd_m)
    fx, fy = res_x / target, res_y / target
    if abs(fx - 1.0) < 1e-3 and abs(fy - 1.0) < 1e-3:
        fx = fy = 1.0
    width = max(1, round(scene.width * fx))
    height = max(1, round(scene.height * fy))
    if max(width, height) > MAX_GRID_SIDE:
        raise InvalidParameterError(
            f"resampling {res_x:g} x {res_y:g} m to the model's {target:g} m would make a "
            f"{width}x{height} grid; check the scene's resolution or give gsd=..."
        )
    sx, sy = scene.width / width, scene.height / height
    base = scene.transform if scene.georeferenced else PLAIN_IMAGE_TRANSFORM
    res = (res_x * sx, res_y * sy)
    return WorkingGrid(
        width=width,
        height=height,
        transform=base @ Affine.scale(sx, sy),
        crs=scene.crs,
        scale_x=sx,
        scale_y=sy,
        gsd_m=(res[0] + res[1]) / 2,
        res_m=res,
    )
