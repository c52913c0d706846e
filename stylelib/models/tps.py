"""Thin-plate-spline warps, differentiable in the image and in the control points.

The form Deformable Style Transfer uses (Kim et al., ECCV 2020; the
authors' warp.py): a polyharmonic spline of order 2 with centres ``c`` (the
destinations) and values ``f`` (destination minus source)::

    [[K, P], [P^T, 0]] [w; v] = [f; 0],   K_ij = phi(|c_i - c_j|^2),  phi(r) = r log(r) / 2,  P = [c, 1]
    flow(x) = sum_i w_i phi(|x - c_i|^2) + v^T [x; 1]
    W(X)(x) = X(x - flow(x))            so that W(X)(c_i) = X(source_i)

Coordinates are ``(row, col)`` pixels of the image being warped.  Border
control points (the four corners and evenly spaced points on each side) have
zero flow, so the frame stays put.

Why not kornia's thin-plate spline: ``kornia.geometry.transform.get_tps_transform``
(0.9) builds its kernel matrix from the distances *between* the two point sets
rather than among the centres, so its spline is not this one (it interpolates
at one set with centres at the other); ``tests/test_tps.py`` shows the
difference against a direct solve of the system above.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..checks import InputError, check_features


def _phi(r2: torch.Tensor) -> torch.Tensor:
    """``r log(r) / 2`` of squared distances, 0 at 0 (its limit)."""
    return 0.5 * r2 * torch.log(r2.clamp_min(1e-20))


def border_points(height: int, width: int, per_side: int = 80) -> torch.Tensor:
    """The 4 corners and ``per_side`` evenly spaced points inside each side, ``[4 + 4 per_side, 2]`` (row, col)."""
    h, w = float(height - 1), float(width - 1)
    t = torch.linspace(0, 1, per_side + 2, dtype=torch.float64)[1:-1]
    corners = torch.tensor([[0, 0], [0, w], [h, 0], [h, w]], dtype=torch.float64)
    sides = [torch.stack([torch.zeros_like(t), t * w], 1), torch.stack([torch.full_like(t, h), t * w], 1),
             torch.stack([t * h, torch.zeros_like(t)], 1), torch.stack([t * h, torch.full_like(t, w)], 1)]
    return torch.cat([corners, *sides])


def tps_fit(centres: torch.Tensor, values: torch.Tensor, regularisation: float = 0.0
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """The spline through ``values`` ``[k, 2]`` at ``centres`` ``[k, 2]``: kernel weights ``[k, 2]``, affine ``[3, 2]``.

    Solved in float64 (``regularisation * I`` added to K when given).
    """
    c = centres.to(torch.float64)
    k = len(c)
    if k < 3:
        raise InputError(f"tps_fit: needs at least 3 control points, got {k}")
    kernel = _phi((c[:, None] - c[None]).pow(2).sum(-1))
    if regularisation:
        kernel = kernel + regularisation * torch.eye(k, dtype=c.dtype)
    p = torch.cat([c, torch.ones(k, 1, dtype=c.dtype)], 1)
    top = torch.cat([kernel, p], 1)
    bottom = torch.cat([p.T, torch.zeros(3, 3, dtype=c.dtype)], 1)
    rhs = torch.cat([values.to(torch.float64), torch.zeros(3, 2, dtype=c.dtype)])
    sol = torch.linalg.solve(torch.cat([top, bottom]), rhs)
    return sol[:k], sol[k:]


def tps_eval(points: torch.Tensor, centres: torch.Tensor, weights: torch.Tensor, affine: torch.Tensor
             ) -> torch.Tensor:
    """The spline of :func:`tps_fit` at ``points`` ``[n, 2]`` (float64)."""
    x = points.to(torch.float64)
    c = centres.to(torch.float64)
    r2 = (x.pow(2).sum(1, keepdim=True) + c.pow(2).sum(1)[None] - 2 * x @ c.T).clamp_min(0)
    return _phi(r2) @ weights + x @ affine[:2] + affine[2]


def flow_field(sources: torch.Tensor, destinations: torch.Tensor, height: int, width: int,
               border_per_side: int = 80, stride: int = 1) -> torch.Tensor:
    """The TPS flow ``[2, height, width]`` (row, col pixels) that moves ``sources`` to ``destinations`` ``[k, 2]``.

    Border control points of zero flow are added; the flow at each
    destination is ``destination - source``.  With ``stride > 1`` the spline
    is evaluated on every ``stride``-th row and column (and the last ones)
    and interpolated bilinearly in between: the spline is smooth, and the
    evaluation is most of the warp's cost.
    """
    border = border_points(height, width, border_per_side).to(destinations.device)
    centres = torch.cat([destinations.to(torch.float64), border])
    values = torch.cat([(destinations - sources).to(torch.float64), torch.zeros_like(border)])
    weights, affine = tps_fit(centres, values)
    rows = _samples(height, stride)
    cols = _samples(width, stride)
    grid = torch.cartesian_prod(rows, cols)
    coarse = tps_eval(grid, centres, weights, affine).T.reshape(2, len(rows), len(cols))
    if stride == 1:
        return coarse
    return F.interpolate(coarse[None], size=(height, width), mode="bilinear", align_corners=True)[0]


def _samples(n: int, stride: int) -> torch.Tensor:
    """Every ``stride``-th index of ``0 .. n-1``, with the last one, as float64 (evenly spaced when it divides)."""
    k = max(2, math.ceil((n - 1) / stride) + 1)
    return torch.linspace(0, n - 1, k, dtype=torch.float64)


def warp(image: torch.Tensor, flow: torch.Tensor, *, nearest: bool = False) -> torch.Tensor:
    """``W(X)(x) = X(x - flow(x))``: ``image`` ``[N, C, H, W]`` sampled bilinearly (edges replicated).

    ``nearest``: nearest-neighbour values with the bilinear gradient
    (straight-through), for the final output.
    """
    check_features(image, "tps warp")
    h, w = image.shape[-2:]
    if tuple(flow.shape) != (2, h, w):
        raise InputError(f"tps warp: flow must be [2, {h}, {w}], got {tuple(flow.shape)}")
    rows = torch.arange(h, dtype=flow.dtype, device=flow.device)[:, None] - flow[0]
    cols = torch.arange(w, dtype=flow.dtype, device=flow.device)[None, :] - flow[1]
    grid = torch.stack([2 * cols / max(w - 1, 1) - 1, 2 * rows / max(h - 1, 1) - 1], -1)[None]
    grid = grid.to(image.dtype).expand(image.shape[0], -1, -1, -1)
    soft = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)
    if not nearest:
        return soft
    hard = F.grid_sample(image, grid, mode="nearest", padding_mode="border", align_corners=True)
    return soft + (hard - soft).detach()
