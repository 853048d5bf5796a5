"""roadseg: road extraction from aerial and satellite imagery."""

__version__ = "0.1.0"

__all__ = ["__version__"]
