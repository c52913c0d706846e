"""PhotoWCT's photorealistic smoothing (Li et al., ECCV 2018): closed form (Eq. 6) and the guided-filter version."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylelib.kernels.box import box_count, box_mean, box_sum
from stylelib.kernels.matting import matting_affinity
from stylelib.losses import tv_loss
from stylelib.smoothing import FAST_EPS, FAST_RADIUS, LAMBDA, guided_filter, smooth_closed_form, smooth_fast


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def smooth_scene(size: int = 48) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A smooth content photo (gentle gradients plus low-frequency sinusoids), a clean "stylisation" of it
    (per-channel tone curves and a channel mix) and that stylisation with Gaussian noise (sigma 0.05)."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size, dtype=torch.float64),
                            torch.linspace(0, 1, size, dtype=torch.float64), indexing="ij")
    content = torch.stack([0.2 + 0.5 * xx,
                           0.4 + 0.15 * torch.sin(2 * math.pi * yy) + 0.1 * xx,
                           0.3 + 0.3 * yy + 0.1 * torch.cos(math.pi * xx)])
    clean = torch.stack([0.9 * content[1] ** 1.2, 0.6 * content[0] + 0.2 * content[2], 0.1 + 0.7 * content[2] ** 0.8])
    noisy = clean + 0.05 * torch.randn(3, size, size, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return content, clean, noisy


def dense_smoothing(y: torch.Tensor, content: torch.Tensor, lam: float, normalisation: str) -> torch.Tensor:
    """Eq. 6 with dense matrices: (1 - alpha) (I - alpha S)^{-1} Y, S = D^{-1/2} W D^{-1/2} or D^{-1} W."""
    W = matting_affinity(content).toarray()
    d = W.sum(1)
    S = W / np.sqrt(np.outer(d, d)) if normalisation == "symmetric" else W / d[:, None]
    alpha = 1 / (1 + lam)
    n = W.shape[0]
    r = (1 - alpha) * np.linalg.solve(np.eye(n) - alpha * S, y.numpy().reshape(y.shape[0], -1).T)
    return torch.from_numpy(r.T.reshape(y.shape))


class TestBoxFilter:
    def test_sums_and_means_against_loops(self):
        x = rand(2, 7, 9, seed=1)
        for r in (0, 1, 3, 12):
            ref = torch.zeros_like(x)
            for i in range(7):
                for j in range(9):
                    ref[:, i, j] = x[:, max(i - r, 0):i + r + 1, max(j - r, 0):j + r + 1].sum((1, 2))
            assert torch.allclose(box_sum(x, r), ref, atol=1e-12)
            assert torch.allclose(box_mean(x, r), ref / box_count(7, 9, r), atol=1e-12)

    def test_counts_and_float32(self):
        assert box_count(5, 4, 1)[0, 0] == 4 and box_count(5, 4, 1)[2, 1] == 9 and box_count(5, 4, 10)[0, 0] == 20
        x = torch.rand(3, 6, 6)
        assert box_mean(x, 2).dtype == torch.float32
        assert torch.allclose(box_mean(torch.full((6, 6), 0.7), 2), torch.full((6, 6), 0.7))

    def test_bad_radius(self):
        with pytest.raises(ValueError, match="radius must be a non-negative integer"):
            box_mean(torch.rand(4, 4), -1)


def guided_reference(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al. (TPAMI 2013), colour guide, with loops: per-window ridge fits, averaged over the windows of a pixel."""
    g, h, w = guide.shape
    c = src.shape[0]
    a = np.zeros((h, w, c, g))
    b = np.zeros((h, w, c))
    for i in range(h):
        for j in range(w):
            win = (slice(max(i - r, 0), i + r + 1), slice(max(j - r, 0), j + r + 1))
            gi = guide[(slice(None),) + win].reshape(g, -1)
            pi = src[(slice(None),) + win].reshape(c, -1)
            mg, mp = gi.mean(1), pi.mean(1)
            cov_gg = (gi - mg[:, None]) @ (gi - mg[:, None]).T / gi.shape[1]
            cov_pg = (pi - mp[:, None]) @ (gi - mg[:, None]).T / gi.shape[1]
            a[i, j] = cov_pg @ np.linalg.inv(cov_gg + eps * np.eye(g))
            b[i, j] = mp - a[i, j] @ mg
    q = np.zeros_like(src)
    for i in range(h):
        for j in range(w):
            win = (slice(max(i - r, 0), i + r + 1), slice(max(j - r, 0), j + r + 1))
            q[:, i, j] = a[win].mean((0, 1)) @ guide[:, i, j] + b[win].mean((0, 1))
    return q


class TestGuidedFilter:
    @pytest.mark.parametrize("channels", [1, 3])
    def test_matches_the_papers_equations(self, channels):
        guide, src = rand(channels, 7, 8, seed=2), rand(2, 7, 8, seed=3)
        for r, eps in ((1, 1e-3), (2, 1e-2)):
            ref = guided_reference(guide.numpy(), src.numpy(), r, eps)
            assert np.abs(guided_filter(guide, src, r, eps).numpy() - ref).max() < 1e-10

    def test_constant_source_stays_constant(self):
        guide = rand(3, 20, 17, seed=4)
        for r, eps in ((2, 1e-2), (35, FAST_EPS)):
            out = guided_filter(guide, torch.full((3, 20, 17), 0.37, dtype=torch.float64), r, eps)
            assert (out - 0.37).abs().max() < 1e-12

    def test_self_guided_with_tiny_eps_is_the_identity(self):
        x = rand(3, 16, 16, seed=5)
        assert (guided_filter(x, x, 2, 1e-8) - x).abs().max() < 1e-5
        grey = x[:1]
        assert (guided_filter(grey, grey, 2, 1e-8) - grey).abs().max() < 1e-5
        # a large eps smooths instead: a -> 0, b -> the window mean, so q -> the box mean of the box mean
        assert (guided_filter(grey, grey, 2, 1e3) - box_mean(box_mean(grey, 2), 2)).abs().max() < 1e-4

    def test_colour_linear_source_is_reproduced(self):
        guide = rand(3, 12, 12, seed=6)
        src = torch.einsum("ij,jhw->ihw", torch.tensor([[0.5, -0.2, 0.1], [0.0, 0.9, 0.3]], dtype=torch.float64),
                           guide) + 0.2
        assert (guided_filter(guide, src, 3, 1e-10) - src).abs().max() < 1e-6

    def test_batches_dtype_and_gradient(self):
        guide, src = rand(2, 3, 10, 9, seed=7), rand(2, 3, 10, 9, seed=8).float().requires_grad_()
        out = guided_filter(guide, src, 2, 1e-2)
        assert out.shape == src.shape and out.dtype == torch.float32
        assert torch.allclose(out[1], guided_filter(guide[1], src[1].detach(), 2, 1e-2), atol=1e-6)
        out.sum().backward()
        assert src.grad is not None and src.grad.abs().sum() > 0

    def test_errors(self):
        with pytest.raises(ValueError, match="must have the same batch size, height and width"):
            guided_filter(rand(3, 10, 10), rand(3, 10, 11), 2, 1e-2)
        with pytest.raises(ValueError, match="eps must be positive"):
            guided_filter(rand(3, 10, 10), rand(3, 10, 10), 2, 0.0)
        with pytest.raises(ValueError, match="radius must be a non-negative integer"):
            guided_filter(rand(3, 10, 10), rand(3, 10, 10), 1.5, 1e-2)
        with pytest.raises(ValueError, match=r"src must be a tensor \[C, H, W\]"):
            guided_filter(rand(3, 10, 10), rand(10, 10), 2, 1e-2)


class TestClosedForm:
    def test_constant_image_is_unchanged(self):
        content = smooth_scene(32)[0] * 0.5 + 0.5 * rand(3, 32, 32, seed=9)  # textured content
        y = torch.full((3, 32, 32), 0.5, dtype=torch.float64)
        assert (smooth_closed_form(y, content) - 0.5).abs().max() < 1e-6
        assert (smooth_closed_form(y, content, solver="cg") - 0.5).abs().max() < 1e-6

    def test_equals_eq6_with_dense_matrices(self):
        content, y = rand(3, 8, 9, seed=10), rand(3, 8, 9, seed=11)
        for norm in ("symmetric", "random_walk"):
            for lam in (LAMBDA, 0.1):
                ref = dense_smoothing(y, content, lam, norm)
                got = smooth_closed_form(y, content, lam, normalisation=norm)
                assert (got - ref).abs().max() < 1e-8 * ref.abs().max()

    def test_random_walk_and_symmetric_forms_are_related_by_the_degree(self):
        content, y = rand(3, 10, 9, seed=12), rand(3, 10, 9, seed=13)
        sqrt_d = torch.from_numpy(np.sqrt(matting_affinity(content).sum(1).A.ravel())).reshape(10, 9)
        rw = smooth_closed_form(y, content)
        sym = smooth_closed_form(y * sqrt_d, content, normalisation="symmetric") / sqrt_d
        assert (rw - sym).abs().max() < 1e-9

    def test_the_printed_eq6_darkens_the_border_of_a_constant_image(self):
        # why random_walk is the default: with the paper's S the fixed point is sqrt(degree), not a constant
        content = smooth_scene(48)[0]
        y = torch.full((3, 48, 48), 0.5, dtype=torch.float64)
        sym = smooth_closed_form(y, content, normalisation="symmetric")
        assert 0.15 < sym[0, 0, 0] < 0.3  # corner pixel: 1 window of 9; measured 0.221
        assert abs(sym[0, 24, 24] - 0.5) > 1e-3  # measured 0.4965

    def test_direct_and_cg_agree(self):
        content, y = rand(3, 12, 12, seed=14), rand(3, 12, 12, seed=15)
        a = smooth_closed_form(y, content, 1e-2)
        b = smooth_closed_form(y, content, 1e-2, solver="cg", tol=1e-12)
        assert (a - b).abs().max() < 1e-6

    def test_colour_linear_stylisation_is_kept(self):
        # an affine colour transform of the content is (up to eps) in the smoothing's null space
        content = rand(3, 16, 16, seed=16)
        y = torch.einsum("ij,jhw->ihw", torch.tensor([[0.8, 0.1, 0.0], [0.1, 0.6, 0.2], [0.0, 0.2, 0.7]],
                                                     dtype=torch.float64), content) + 0.1
        assert (smooth_closed_form(y, content) - y).abs().max() < 1e-3

    def test_shape_and_dtype_follow_the_stylised_image(self):
        content, y = rand(1, 3, 9, 10, seed=17), rand(1, 3, 9, 10, seed=18).float()
        out = smooth_closed_form(y, content)
        assert out.shape == (1, 3, 9, 10) and out.dtype == torch.float32

    def test_errors(self):
        with pytest.raises(ValueError, match="stylised image is 3x8 but the content image is 8x8"):
            smooth_closed_form(rand(3, 3, 8), rand(3, 8, 8))
        with pytest.raises(ValueError, match="content image must be RGB"):
            smooth_closed_form(rand(3, 8, 8), rand(1, 8, 8))
        with pytest.raises(ValueError, match="lambda must be positive"):
            smooth_closed_form(rand(3, 8, 8), rand(3, 8, 8), 0.0)
        with pytest.raises(ValueError, match="normalisation must be"):
            smooth_closed_form(rand(3, 8, 8), rand(3, 8, 8), normalisation="sym")
        with pytest.raises(ValueError, match="smaller than one 3x3 window"):
            smooth_closed_form(rand(3, 2, 8), rand(3, 2, 8))


class TestFastVersusClosedForm:
    def test_defaults_are_the_authors_fast_mode(self):
        assert FAST_RADIUS == 35 and FAST_EPS == pytest.approx(1.5378700499807768e-08)

    def test_fast_is_close_to_the_closed_form_on_a_smooth_photo(self):
        content, clean, noisy = smooth_scene(48)
        for y, bound in ((clean, 0.004), (noisy, 0.006)):  # measured 0.0019 (clean) and 0.0031 (noisy)
            exact, fast = smooth_closed_form(y, content), smooth_fast(y, content)
            assert (exact - fast).abs().mean() < bound
            assert (exact - fast).abs().max() < 0.03  # measured 0.012 and 0.016

    def test_both_remove_high_frequency_noise(self):
        content, clean, noisy = smooth_scene(48)
        tv = lambda t: tv_loss(t[None]).item()
        exact, fast = smooth_closed_form(noisy, content), smooth_fast(noisy, content)
        # measured: TV 0.113 (noisy) -> 0.0092 (both); clean stylisation 0.0092
        assert tv(exact) < 0.2 * tv(noisy) and tv(fast) < 0.2 * tv(noisy)
        # and both land near the clean stylisation: mean error 0.040 -> 0.0036 (exact), 0.0022 (fast)
        assert (exact - clean).abs().mean() < 0.2 * (noisy - clean).abs().mean()
        assert (fast - clean).abs().mean() < 0.2 * (noisy - clean).abs().mean()

    def test_fast_shape_dtype_and_errors(self):
        content, y = rand(1, 3, 12, 10, seed=19).float(), rand(1, 3, 12, 10, seed=20).float()
        out = smooth_fast(y, content)
        assert out.shape == y.shape and out.dtype == torch.float32
        with pytest.raises(ValueError, match="stylised image is 12x9 but the content image is 12x10"):
            smooth_fast(y[..., :9], content)
