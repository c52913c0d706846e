"""Box filters: sums and means over ``(2r+1) x (2r+1)`` windows, in O(1) per pixel.

The guided image filter (He, Sun & Tang, "Guided Image Filtering", ECCV 2010 /
TPAMI 35(6) 2013, Algorithm 1) is a handful of box means; its
cost must not grow with the radius (PhotoWCT's fast smoothing uses r = 35).
Each filter here is two cumulative sums (a summed-area table) and one
difference per axis, whatever the radius.

Windows are *truncated* at the border, as in He et al.'s reference code
(``boxfilter`` divided by ``boxfilter(ones)``): the mean at a pixel near the
edge averages only the pixels that exist, so a constant image stays constant.
The sums accumulate in float64 (then return the input's dtype), so large
images lose no precision to the running totals.  Everything is plain torch,
hence differentiable.
"""

from __future__ import annotations

import torch

from ..checks import InputError, check_int

__all__ = ["box_count", "box_mean", "box_sum"]


def _check(x: torch.Tensor, radius: int) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise InputError(f"box filter: expected a tensor [..., H, W], got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    check_int(radius, "box filter", "radius")


def _window_sum_1d(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Sum over ``[i - r, i + r]`` (clipped to the axis) along ``dim``."""
    n = x.shape[dim]
    zero = torch.zeros_like(x.narrow(dim, 0, 1))
    table = torch.cat([zero, x.cumsum(dim)], dim)  # table[j] = sum of the first j entries
    i = torch.arange(n, device=x.device)
    hi = (i + radius + 1).clamp(max=n)
    lo = (i - radius).clamp(min=0)
    return table.index_select(dim, hi) - table.index_select(dim, lo)


def box_sum(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Sum of ``x`` ``[..., H, W]`` over the ``(2r+1)^2`` window around each pixel, truncated at the border."""
    _check(x, radius)
    s = x.to(torch.float64) if x.dtype != torch.float64 else x
    s = _window_sum_1d(_window_sum_1d(s, radius, -2), radius, -1)
    return s.to(x.dtype)


def box_count(height: int, width: int, radius: int, *, dtype: torch.dtype = torch.float64,
              device: torch.device | str | None = None) -> torch.Tensor:
    """Number of image pixels in each truncated window: ``[H, W]``."""
    def per_axis(n: int) -> torch.Tensor:
        i = torch.arange(n, device=device)
        return ((i + radius).clamp(max=n - 1) - (i - radius).clamp(min=0) + 1).to(dtype)

    if height < 1 or width < 1:
        raise InputError(f"box filter: image of {height}x{width} pixels is empty")
    return per_axis(height)[:, None] * per_axis(width)[None, :]


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean of ``x`` ``[..., H, W]`` over the window around each pixel (truncated windows)."""
    _check(x, radius)
    h, w = x.shape[-2:]
    s = box_sum(x.to(torch.float64), radius) / box_count(h, w, radius, device=x.device)
    return s.to(x.dtype)
