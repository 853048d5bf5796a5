"""Default inference settings, in a module light enough for the CLI to import at start."""

from __future__ import annotations

#: Defaults, chosen for CPUs: big enough tiles to amortise the overlap, small batches.
DEFAULT_TILE_SIZE = 512
DEFAULT_OVERLAP = 32
#: Tiles per forward pass: on a CPU one tile already keeps every core busy, and more
#: only add activation memory; a GPU wants more.
DEFAULT_BATCH_SIZE = {"cpu": 1, "cuda": 8}
DEFAULT_BLOCK_SIZE = 1536
#: Engines that run the model (see ``roadseg.inference.engine``).
ENGINE_CHOICES = ("auto", "torch", "onnx")
