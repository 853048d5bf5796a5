"""Raster reading, normalisation, tiling and writing."""
