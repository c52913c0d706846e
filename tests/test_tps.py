"""The thin-plate-spline warp of Deformable Style Transfer: identity, interpolation, gradients, and why not kornia."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylelib.checks import InputError
from stylelib.models.tps import border_points, flow_field, tps_eval, tps_fit, warp


def _points(k: int = 6, seed: int = 0, h: int = 40, w: int = 52) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(k, 2, generator=g, dtype=torch.float64) * torch.tensor([h - 10.0, w - 10.0]) + 5


def test_zero_displacement_is_the_identity():
    p = _points()
    flow = flow_field(p, p, 40, 52)
    assert flow.abs().max() < 1e-5
    image = torch.rand(1, 3, 40, 52)
    assert torch.allclose(warp(image, flow.float()), image, atol=1e-5)


def test_each_destination_samples_its_source_and_the_border_stays():
    p = _points()
    d = p + torch.tensor([[3.0, -2.0]] * len(p), dtype=torch.float64) + _points(seed=1) * 0.05
    flow = flow_field(p, d, 40, 52)
    border = border_points(40, 52, 80)
    centres = torch.cat([d, border])
    values = torch.cat([d - p, torch.zeros_like(border)])
    w, a = tps_fit(centres, values)
    assert torch.allclose(tps_eval(centres, centres, w, a), values, atol=1e-8)  # interpolates every control point
    # x - flow(x) at each destination is its source: W(X)(d_i) = X(p_i)
    at_d = tps_eval(d, centres, w, a)
    assert torch.allclose(d - at_d, p, atol=1e-8)
    assert flow[:, 0, :].abs().max() < 1e-3 and flow[:, :, -1].abs().max() < 1e-3  # the frame stays (to 1e-3 px)


def test_matches_a_direct_numpy_solve_and_kornia_is_a_different_spline():
    c = _points(8, seed=3)
    f = torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    w, a = tps_fit(c, f)
    cn, fn = c.numpy(), f.numpy()
    r2 = ((cn[:, None] - cn[None]) ** 2).sum(-1)
    phi = np.where(r2 > 0, 0.5 * r2 * np.log(np.where(r2 > 0, r2, 1)), 0)
    P = np.c_[cn, np.ones(8)]
    L = np.block([[phi, P], [P.T, np.zeros((3, 3))]])
    sol = np.linalg.solve(L, np.r_[fn, np.zeros((3, 2))])
    assert np.allclose(w.numpy(), sol[:8], atol=1e-9) and np.allclose(a.numpy(), sol[8:], atol=1e-9)

    from kornia.geometry.transform import get_tps_transform, warp_points_tps

    src, dst = c[None], (c + f)[None]
    kw, aw = get_tps_transform(src, dst)
    q = _points(5, seed=9)
    ours = q + tps_eval(q, c, *tps_fit(c, f))
    theirs = warp_points_tps(q[None], dst, kw, aw)[0]  # interpolates at src with centres at dst
    assert (ours - theirs).abs().max() > 1e-3


def test_gradients_reach_the_image_and_the_displacements():
    p = _points().float()
    theta = torch.zeros_like(p, requires_grad=True)
    image = torch.rand(1, 3, 40, 52, requires_grad=True)
    flow = flow_field(p, p + theta + torch.tensor([1.5, 0.5]), 40, 52).float()
    out = warp(image, flow)
    (out * torch.linspace(0, 1, 52)).sum().backward()
    assert theta.grad is not None and theta.grad.abs().sum() > 0
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_nearest_warp_is_straight_through():
    image = torch.rand(1, 3, 12, 12, requires_grad=True)
    flow = torch.full((2, 12, 12), 0.4)
    hard = warp(image, flow, nearest=True)
    values = set(np.round(hard.detach().numpy().ravel(), 6)) <= set(np.round(image.detach().numpy().ravel(), 6))
    assert values  # nearest: every output value is an input value
    hard.sum().backward()
    assert image.grad.abs().sum() > 0


def test_errors():
    with pytest.raises(InputError, match="at least 3 control points"):
        tps_fit(torch.zeros(2, 2), torch.zeros(2, 2))
    with pytest.raises(InputError, match=r"flow must be \[2, 8, 8\]"):
        warp(torch.rand(1, 3, 8, 8), torch.zeros(2, 8, 9))


def test_a_strided_evaluation_stays_close_to_the_exact_flow():
    p = _points(8, seed=5)
    d = p + torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(6)) * 3
    exact = flow_field(p, d, 40, 52)
    coarse = flow_field(p, d, 40, 52, stride=4)
    assert coarse.shape == exact.shape
    assert (coarse - exact).abs().mean() < 0.05 * exact.abs().max()  # near the centres it is rougher
    assert torch.equal(flow_field(p, d, 40, 52, stride=1), exact)
