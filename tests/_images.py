"""Test images shared by the model tests: scikit-image photos as RGB batches."""

from __future__ import annotations

import numpy as np
import torch


def square_photo(arr: np.ndarray, size: int) -> torch.Tensor:
    """An ``[H, W, 3]`` uint8 array as a ``[1, 3, size, size]`` float batch in [0, 1] (antialiased resize)."""
    t = torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255
    return torch.nn.functional.interpolate(t, size=(size, size), mode="bilinear", antialias=True).clamp(0, 1)
