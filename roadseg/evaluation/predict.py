"""Road probabilities of an in-memory normalised image, tile by tile.

For evaluation of labelled images (a few megapixels); scenes go through
``roadseg run``'s streaming pipeline instead.
"""

from __future__ import annotations

import numpy as np
import torch

from roadseg.models.base import SegmentationModel


@torch.no_grad()
def predict_array(
    model: SegmentationModel,
    image: np.ndarray,
    device: torch.device | str = "cpu",
    tile: int = 512,
    margin: int = 32,
) -> np.ndarray:
    """Probabilities ``(H, W)`` float32 for a normalised ``(C, H, W)`` image.

    Tiles of ``tile`` pixels overlap by ``2 * margin``; only each tile's interior is
    kept, so tile borders do not show.
    """
    model.eval()
    _, height, width = image.shape
    out = np.zeros((height, width), dtype=np.float32)
    step = max(1, tile - 2 * margin)
    for top in range(0, height, step):
        for left in range(0, width, step):
            y0, x0 = max(0, top - margin), max(0, left - margin)
            y1, x1 = min(height, top + step + margin), min(width, left + step + margin)
            x = torch.from_numpy(np.ascontiguousarray(image[:, y0:y1, x0:x1]))[None].to(device)
            prob = torch.sigmoid(model(x).float())[0, 0].cpu().numpy()
            ty1, tx1 = min(height, top + step), min(width, left + step)
            out[top:ty1, left:tx1] = prob[top - y0 : ty1 - y0, left - x0 : tx1 - x0]
    return out
