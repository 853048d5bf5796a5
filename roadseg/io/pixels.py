"""Map coordinates of the outputs of a plain (not georeferenced) image."""

from __future__ import annotations

from affine import Affine

#: x = column, y = -row, in the image's pixel units. GIS software shows a raster
#: without georeferencing with y going down from 0 (QGIS does), so outputs in these
#: coordinates lie on the image the right way up; y = +row would show them upside down.
PLAIN_IMAGE_TRANSFORM = Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
