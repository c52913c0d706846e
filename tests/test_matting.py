"""The matting Laplacian (Levin, Lischinski & Weiss, TPAMI 2008): sparse matrix, matrix-free product, affinity."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import torch

from stylelib.kernels.matting import (
    MattingLaplacian,
    matting_affinity,
    matting_laplacian,
    matting_laplacian_apply,
)


def _image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def dense_reference(image: torch.Tensor, eps: float = 1e-7, radius: int = 1) -> np.ndarray:
    """Levin et al.'s L_ij summed window by window with plain loops (full windows only)."""
    img = image.numpy()
    _, h, w = img.shape
    d = 2 * radius + 1
    m = d * d
    L = np.zeros((h * w, h * w))
    for ky in range(radius, h - radius):
        for kx in range(radius, w - radius):
            pix = [(y, x) for y in range(ky - radius, ky + radius + 1) for x in range(kx - radius, kx + radius + 1)]
            colours = np.array([img[:, y, x] for y, x in pix])  # [m, 3]
            mu = colours.mean(0)
            sigma = (colours - mu).T @ (colours - mu) / m
            inv = np.linalg.inv(sigma + eps / m * np.eye(3))
            for a, (ya, xa) in enumerate(pix):
                for b, (yb, xb) in enumerate(pix):
                    i, j = ya * w + xa, yb * w + xb
                    L[i, j] += (i == j) - (1 + (colours[a] - mu) @ inv @ (colours[b] - mu)) / m
    return L


class TestSparseLaplacian:
    def test_matches_the_dense_reference(self):
        img = _image(6, 7)
        L = matting_laplacian(img)
        ref = dense_reference(img)
        assert isinstance(L, scipy.sparse.csr_matrix) and L.shape == (42, 42)
        assert np.abs(L.toarray() - ref).max() <= 1e-8 * np.abs(ref).max()

    def test_radius_two_and_another_eps(self):
        img = _image(7, 6, seed=1)
        ref = dense_reference(img, eps=1e-4, radius=2)
        assert np.abs(matting_laplacian(img, eps=1e-4, radius=2).toarray() - ref).max() <= 1e-8 * np.abs(ref).max()

    def test_symmetric_with_the_constant_vector_in_its_null_space(self):
        L = matting_laplacian(_image(9, 11, seed=2))
        assert abs(L - L.T).max() == 0.0
        assert np.abs(L @ np.ones(99)).max() < 1e-8

    def test_positive_semi_definite_and_locally_linear_colours_cost_nothing(self):
        img = _image(8, 8, seed=3)
        L = matting_laplacian(img).toarray()
        assert np.linalg.eigvalsh(L).min() > -1e-10
        # a linear function of the colours is in the null space up to the eps regulariser
        alpha = (0.2 * img[0] - 0.5 * img[1] + 0.7 * img[2] + 0.1).numpy().ravel()
        assert alpha @ L @ alpha < 1e-6 * (alpha @ alpha)

    def test_batched_input_and_arrays(self):
        img = _image(5, 6, seed=4)
        a = matting_laplacian(img[None]).toarray()
        b = matting_laplacian(img.numpy()).toarray()
        assert np.array_equal(a, matting_laplacian(img).toarray()) and np.array_equal(a, b)

    def test_sparsity_of_a_3x3_window_laplacian(self):
        # pixels interact when they share a window: up to 5x5 neighbours in the interior
        L = matting_laplacian(_image(10, 10, seed=5))
        assert L.getnnz(axis=1).max() == 25


class TestAffinity:
    def test_laplacian_is_degree_minus_affinity(self):
        img = _image(6, 8, seed=6)
        op = MattingLaplacian(img)
        W = matting_affinity(img)
        assert np.allclose(np.asarray(W.sum(axis=1)).ravel(), op.degree(), atol=1e-10)
        assert abs(scipy.sparse.diags(op.degree()) - W - op.matrix()).max() < 1e-14

    def test_degree_counts_the_windows(self):
        # 5x6 image, 3x3 windows: corner pixel in 1 window, interior pixel (2, 2) in 9
        deg = MattingLaplacian(_image(5, 6, seed=7)).degree().reshape(5, 6)
        assert deg[0, 0] == 1 and deg[0, 1] == 2 and deg[1, 1] == 4 and deg[2, 2] == 9 and deg.sum() == 9 * 3 * 4

    def test_affinity_is_positive_semi_definite(self):
        W = matting_affinity(_image(7, 7, seed=8)).toarray()
        assert np.linalg.eigvalsh(W).min() > -1e-10


class TestMatrixFree:
    def test_equals_the_sparse_product(self):
        img = _image(12, 10, seed=9)
        x = torch.randn(3, 12, 10, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
        L = matting_laplacian(img)
        ref = np.stack([L @ x[c].numpy().ravel() for c in range(3)]).reshape(3, 12, 10)
        got = matting_laplacian_apply(img, x).numpy()
        assert np.abs(got - ref).max() <= 1e-6 * np.abs(ref).max()

    def test_float32_and_batched_x_keep_their_dtype_and_shape(self):
        img = _image(8, 9, seed=11)
        op = MattingLaplacian(img)
        x = torch.rand(1, 2, 8, 9, generator=torch.Generator().manual_seed(12))
        out = op(x)
        assert out.shape == x.shape and out.dtype == torch.float32
        ref = op(x[0].double())
        assert (out[0].double() - ref).abs().max() <= 1e-5 * ref.abs().max()

    def test_gradient_flows_and_is_twice_L_x(self):
        img = _image(9, 9, seed=13)
        op = MattingLaplacian(img)
        x = torch.randn(3, 9, 9, generator=torch.Generator().manual_seed(14), dtype=torch.float64,
                        requires_grad=True)
        loss = op.quadratic(x)
        loss.backward()
        assert x.grad is not None and torch.allclose(x.grad, 2 * op(x.detach()), rtol=1e-9, atol=1e-12)
        L = op.matrix()
        ref = sum(x[c].detach().numpy().ravel() @ L @ x[c].detach().numpy().ravel() for c in range(3))
        assert abs(loss.item() - ref) <= 1e-9 * abs(ref)
        small = MattingLaplacian(_image(4, 5, seed=16))
        assert torch.autograd.gradcheck(small.apply, (torch.rand(1, 4, 5, dtype=torch.float64, requires_grad=True),))

    def test_constant_and_colour_linear_images_have_zero_loss(self):
        img = _image(10, 10, seed=15)
        op = MattingLaplacian(img)
        assert op(torch.full((3, 10, 10), 0.4, dtype=torch.float64)).abs().max() < 1e-10
        # a stylisation that is an affine colour transform of the content is photorealistic: loss ~ 0
        out = torch.einsum("ij,jhw->ihw", torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.5, 0.1], [0.0, 0.3, 0.8]],
                                                       dtype=torch.float64), img) + 0.05
        assert op.quadratic(out) < 1e-6 * (out ** 2).sum()


class TestErrors:
    def test_not_rgb(self):
        with pytest.raises(ValueError, match=r"the RGB image: expected \[3, H, W\] or \[1, 3, H, W\], got \(1, 6, 6\)"):
            matting_laplacian(torch.rand(1, 6, 6))
        with pytest.raises(ValueError, match="RGB image"):
            matting_laplacian(torch.rand(2, 3, 6, 6))
        with pytest.raises(ValueError, match="RGB image"):
            matting_laplacian(torch.rand(6, 6, 3))

    def test_smaller_than_a_window(self):
        with pytest.raises(ValueError, match=r"\(2x7 pixels\) is smaller than one 3x3 window"):
            matting_laplacian(torch.rand(3, 2, 7))
        with pytest.raises(ValueError, match="smaller than one 5x5 window"):
            matting_laplacian(torch.rand(3, 4, 7), radius=2)

    def test_bad_parameters_and_x(self):
        with pytest.raises(ValueError, match="eps must be positive"):
            matting_laplacian(torch.rand(3, 5, 5), eps=0)
        with pytest.raises(ValueError, match="radius must be an integer"):
            matting_laplacian(torch.rand(3, 5, 5), radius=0)
        with pytest.raises(ValueError, match="non-finite"):
            matting_laplacian(torch.full((3, 5, 5), float("nan")))
        with pytest.raises(ValueError, match=r"x must be \[C, 5, 5\]"):
            matting_laplacian_apply(torch.rand(3, 5, 5), torch.rand(3, 5, 6))


class TestQuadraticPaths:
    """``quadratic``: the sparse (scipy CSR) and matrix-free paths agree in value and gradient."""

    def test_sparse_and_matrix_free_agree(self):
        img = _image(9, 11, seed=3)
        lap = MattingLaplacian(img)
        x1 = torch.rand(3, 9, 11, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
        x1.requires_grad_(True)
        x2 = x1.detach().clone().requires_grad_(True)
        q1, q2 = lap.quadratic(x1, method="matrix_free"), lap.quadratic(x2, method="sparse")
        q1.backward()
        q2.backward()
        assert abs(float(q1) - float(q2)) <= 1e-10 * abs(float(q1))
        assert torch.allclose(x1.grad, x2.grad, rtol=1e-9, atol=1e-12)
        # the gradient of x^T L x is 2 L x
        assert torch.allclose(x2.grad, 2 * lap.apply(x1.detach()), rtol=1e-9, atol=1e-12)

    def test_sparse_quadratic_is_zero_for_an_affine_recolouring(self):
        img = _image(8, 8, seed=5)
        lap = MattingLaplacian(img)
        a = torch.tensor([[0.5, 0.2, 0.0], [0.1, 0.9, 0.3], [0.0, 0.4, 0.7]], dtype=torch.float64)
        recoloured = torch.einsum("ij,jhw->ihw", a, img) + 0.1
        noisy = recoloured + 0.05 * torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
        assert float(lap.quadratic(recoloured, method="sparse")) < 1e-4
        assert float(lap.quadratic(noisy, method="sparse")) > 100 * float(lap.quadratic(recoloured, method="sparse"))

    def test_unknown_method_is_refused(self):
        lap = MattingLaplacian(_image(5, 5))
        with pytest.raises(ValueError, match="method must be"):
            lap.quadratic(torch.zeros(3, 5, 5), method="dense")
