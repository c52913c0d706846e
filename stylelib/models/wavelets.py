"""Haar wavelet pooling and unpooling of WCT2.

"Photorealistic Style Transfer via Wavelet Transforms", J. Yoo, Y. Uh, S. Chun,
B. Kang, J.-W. Ha, ICCV 2019.  WCT2 replaces VGG's max-pooling by
the 2-D Haar transform: a stride-2 depthwise convolution with four 2x2
filters built from the 1-D low- and high-pass filters
``L = [1, 1] / sqrt(2)`` and ``H = [-1, 1] / sqrt(2)``::

    LL = L^T L = 1/2 [[ 1,  1],      LH = L^T H = 1/2 [[-1,  1],
                      [ 1,  1]]                        [-1,  1]]

    HL = H^T L = 1/2 [[-1, -1],      HH = H^T H = 1/2 [[ 1, -1],
                      [ 1,  1]]                        [-1,  1]]

(rows are the vertical axis).  LL is the low-frequency band that the encoder
carries on; LH, HL and HH (horizontal, vertical and diagonal detail) skip to
the decoder.  The four filters are an orthonormal basis of the 2x2 block, so
the transposed convolution with the same filters, summed over the bands
(WCT2's unpooling), reconstructs the input exactly: that is ``mode="sum"``.  With
this normalisation the LL band of a constant image ``c`` is ``2 c`` (the
filter sums to 2) and its high bands are zero.

``mode="cat"`` concatenates the four unpooled bands along the channels
instead (``[N, 4C, 2h, 2w]``, in the order LL, LH, HL, HH), optionally followed
by a skip tensor: the authors' released decoder feeds its convolutions this
concatenation together with the encoder feature from before the pooling
(their ``cat5`` option), leaving the summation to the learned layers.

Both modules are parameter-free and work for any number of channels (each
channel is transformed on its own, as a depthwise convolution would).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_features

__all__ = ["HaarBands", "HaarPool", "HaarUnpool", "haar_filters"]

BANDS = ("LL", "LH", "HL", "HH")


def haar_filters(dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """The four 2x2 Haar filters LL, LH, HL, HH as a tensor ``[4, 2, 2]`` (each has unit norm)."""
    low = torch.tensor([1.0, 1.0], dtype=torch.float64)  # times 1/sqrt(2), applied once below as 1/2
    high = torch.tensor([-1.0, 1.0], dtype=torch.float64)
    f = torch.stack([torch.outer(low, low), torch.outer(low, high), torch.outer(high, low), torch.outer(high, high)])
    return (0.5 * f).to(dtype=dtype, device=device)  # entries exactly +-1/2


class HaarBands(NamedTuple):
    """The four bands of a Haar pooling, each ``[N, C, H/2, W/2]``; unpacks as ``ll, lh, hl, hh``."""

    ll: torch.Tensor
    lh: torch.Tensor
    hl: torch.Tensor
    hh: torch.Tensor


class HaarPool(nn.Module):
    """Stride-2 Haar analysis: ``[N, C, H, W]`` (H, W even) -> :class:`HaarBands` ``(LL, LH, HL, HH)``."""

    def __init__(self):
        super().__init__()
        self.register_buffer("filters", haar_filters()[:, None], persistent=False)  # [4, 1, 2, 2]

    def forward(self, x: torch.Tensor) -> HaarBands:
        check_features(x, "HaarPool")
        n, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"HaarPool: height and width must be even, got {h}x{w}")
        out = F.conv2d(x.reshape(n * c, 1, h, w), self.filters.to(x.dtype), stride=2)  # [N*C, 4, h/2, w/2]
        out = out.reshape(n, c, 4, h // 2, w // 2)
        return HaarBands(*out.unbind(2))


class HaarUnpool(nn.Module):
    """Stride-2 Haar synthesis (the transposed convolution with the same filters).

    ``mode="sum"`` (WCT2's unpooling) returns ``[N, C, 2h, 2w]``, the exact inverse of
    :class:`HaarPool`; ``mode="cat"`` returns the four unpooled bands concatenated,
    ``[N, 4C, 2h, 2w]``, with ``skip`` (``[N, C', 2h, 2w]``) appended when given.
    """

    def __init__(self, mode: str = "sum"):
        super().__init__()
        if mode not in ("sum", "cat"):
            raise ValueError(f"HaarUnpool: mode must be 'sum' or 'cat', got {mode!r}")
        self.mode = mode
        self.register_buffer("filters", haar_filters()[:, None], persistent=False)  # [4, 1, 2, 2]

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"

    def forward(self, ll: torch.Tensor, lh: torch.Tensor, hl: torch.Tensor, hh: torch.Tensor,
                skip: torch.Tensor | None = None) -> torch.Tensor:
        for name, t in zip(BANDS, (ll, lh, hl, hh)):
            check_features(t, f"HaarUnpool ({name})")
        if not (ll.shape == lh.shape == hl.shape == hh.shape):
            raise ValueError(f"HaarUnpool: the four bands must have the same shape, got "
                             f"{[tuple(t.shape) for t in (ll, lh, hl, hh)]}")
        n, c, h, w = ll.shape
        bands = torch.stack([ll, lh, hl, hh], 2).reshape(n * c, 4, h, w)
        weight = self.filters.to(ll.dtype)
        if self.mode == "sum":
            if skip is not None:
                raise ValueError("HaarUnpool: a skip tensor is only concatenated in mode 'cat'")
            return F.conv_transpose2d(bands, weight, stride=2).reshape(n, c, 2 * h, 2 * w)
        up = F.conv_transpose2d(bands, weight, stride=2, groups=4)  # [N*C, 4, 2h, 2w], one band per group
        up = up.reshape(n, c, 4, 2 * h, 2 * w).transpose(1, 2).reshape(n, 4 * c, 2 * h, 2 * w)
        if skip is None:
            return up
        check_features(skip, "HaarUnpool (skip)")
        if skip.shape[0] != n or skip.shape[2:] != up.shape[2:]:
            raise ValueError(f"HaarUnpool: skip must be [{n}, C', {2 * h}, {2 * w}], got {tuple(skip.shape)}")
        return torch.cat([up, skip], 1)
