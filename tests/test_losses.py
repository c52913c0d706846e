"""Tests for stylelib.losses: content, Gram and mean/std style losses, total variation."""

from __future__ import annotations

import math

import pytest
import torch

from stylelib.losses import (
    content_loss,
    gram_matrix,
    gram_style_loss,
    mean_std,
    mean_std_style_loss,
    tv_loss,
)


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def shuffle_positions(f: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """The same feature vectors at randomly permuted spatial positions."""
    n, c, h, w = f.shape
    perm = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed))
    return f.reshape(n, c, h * w)[:, :, perm].reshape(n, c, h, w)


# Hand-computed example: 2 channels at 1x2 positions, F = [[1, 2], [3, 4]].
# F F^T = [[5, 11], [11, 25]]; divided by h*w = 2.
SMALL = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]], dtype=torch.float64)
SMALL_GRAM = torch.tensor([[[2.5, 5.5], [5.5, 12.5]]], dtype=torch.float64)


# --------------------------------------------------------------------------- #
# content_loss
# --------------------------------------------------------------------------- #

class TestContentLoss:
    def test_mean_is_mse(self):
        f, t = randn(2, 8, 5, 7, seed=0), randn(2, 8, 5, 7, seed=1)
        expected = ((f - t) ** 2).mean()
        assert content_loss(f, t).item() == pytest.approx(expected.item(), rel=1e-12)
        assert content_loss(f, t, reduction="mean").item() == pytest.approx(expected.item(), rel=1e-12)

    def test_paper_is_half_sum(self):
        f, t = randn(2, 8, 5, 7, seed=0), randn(2, 8, 5, 7, seed=1)
        expected = 0.5 * ((f - t) ** 2).sum()
        assert content_loss(f, t, reduction="paper").item() == pytest.approx(expected.item(), rel=1e-12)

    def test_hand_computed(self):
        f = torch.zeros(1, 1, 2, 2)
        t = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        assert content_loss(f, t).item() == 7.5  # (1 + 4 + 9 + 16) / 4
        assert content_loss(f, t, reduction="paper").item() == 15.0

    def test_zero_for_equal_features(self):
        f = randn(1, 4, 3, 3)
        assert content_loss(f, f.clone()).item() == 0.0

    def test_gradient(self):
        f = randn(1, 2, 3, 3, seed=0).requires_grad_(True)
        t = randn(1, 2, 3, 3, seed=1)
        content_loss(f, t).backward()
        assert torch.allclose(f.grad, 2 * (f.detach() - t) / f.numel(), atol=1e-12)

    @pytest.mark.parametrize(
        "f, t",
        [
            (torch.zeros(2, 3, 4), torch.zeros(2, 3, 4)),  # not 4-D
            (torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5)),  # shapes differ
            (torch.zeros(1, 3, 4, 4), torch.zeros(2, 3, 4, 4)),  # no broadcasting
        ],
    )
    def test_bad_shapes(self, f, t):
        with pytest.raises(ValueError):
            content_loss(f, t)

    def test_bad_reduction(self):
        with pytest.raises(ValueError) as info:
            content_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), reduction="sum")
        assert "'sum'" in str(info.value)


# --------------------------------------------------------------------------- #
# gram_matrix
# --------------------------------------------------------------------------- #

class TestGramMatrix:
    def test_hand_computed(self):
        g = gram_matrix(SMALL)
        assert torch.equal(g, SMALL_GRAM)

    def test_equals_einsum(self):
        f = randn(3, 16, 6, 5)
        expected = torch.einsum("nchw,ndhw->ncd", f, f) / (6 * 5)
        g = gram_matrix(f)
        assert g.shape == (3, 16, 16)
        assert torch.allclose(g, expected, rtol=1e-12, atol=1e-12)

    def test_symmetric_positive_semidefinite(self):
        f = torch.rand(2, 32, 4, 4, generator=torch.Generator().manual_seed(0))  # more channels than positions
        g = gram_matrix(f)
        assert torch.equal(g, g.transpose(1, 2))
        eig = torch.linalg.eigvalsh(g)
        assert eig.min().item() >= -1e-5
        # rank <= h*w = 16: 16 of each sample's 32 eigenvalues vanish, the others do not
        assert ((eig.abs() < 1e-4).sum(1) == 16).all()
        assert eig[:, -1].min().item() > 1.0

    def test_per_sample(self):
        a, b = randn(1, 8, 5, 5, seed=0), randn(1, 8, 5, 5, seed=1)
        g = gram_matrix(torch.cat([a, b]))
        assert torch.allclose(g[0], gram_matrix(a)[0], rtol=1e-12, atol=1e-12)
        assert torch.allclose(g[1], gram_matrix(b)[0], rtol=1e-12, atol=1e-12)
        assert (g[0] - g[1]).abs().max().item() > 0.1

    def test_normalisations(self):
        f = randn(2, 4, 3, 5)
        raw = torch.einsum("nchw,ndhw->ncd", f, f)
        assert torch.allclose(gram_matrix(f, "none"), raw, rtol=1e-12, atol=1e-12)
        assert torch.allclose(gram_matrix(f, "hw"), raw / 15, rtol=1e-12, atol=1e-12)
        assert torch.allclose(gram_matrix(f, "chw"), raw / 60, rtol=1e-12, atol=1e-12)
        assert torch.equal(gram_matrix(SMALL, "none"), 2 * SMALL_GRAM)
        assert torch.equal(gram_matrix(SMALL, "chw"), SMALL_GRAM / 2)

    def test_size_independent(self):
        # A 2x2 tiling of a feature map has the same hw-normalised Gram matrix.
        f = randn(1, 6, 4, 5)
        tiled = f.repeat(1, 1, 2, 2)
        assert torch.allclose(gram_matrix(tiled), gram_matrix(f), rtol=1e-12, atol=1e-12)

    def test_permutation_invariant(self):
        f = randn(1, 8, 6, 7)
        assert torch.allclose(gram_matrix(shuffle_positions(f)), gram_matrix(f), atol=1e-12)

    def test_bad_shape(self):
        with pytest.raises(ValueError) as info:
            gram_matrix(torch.zeros(3, 4, 4))
        assert "(3, 4, 4)" in str(info.value)

    def test_bad_normalisation(self):
        with pytest.raises(ValueError) as info:
            gram_matrix(SMALL, "c")
        assert "'c'" in str(info.value)


# --------------------------------------------------------------------------- #
# gram_style_loss
# --------------------------------------------------------------------------- #

class TestGramStyleLoss:
    def test_zero_when_features_equal_target(self):
        f = {"a": randn(1, 8, 5, 5, seed=0), "b": randn(1, 16, 3, 3, seed=1)}
        targets = {k: gram_matrix(v) for k, v in f.items()}
        assert gram_style_loss(f, targets).item() == 0.0

    def test_hand_computed(self):
        target = {"a": torch.zeros(1, 2, 2, dtype=torch.float64)}
        # mean of 2.5^2, 5.5^2, 5.5^2, 12.5^2 = 223 / 4
        assert gram_style_loss({"a": SMALL}, target).item() == 55.75
        assert gram_style_loss({"a": SMALL}, target, reduction="paper").item() == 55.75 / 4

    def test_mean_is_mse_of_grams(self):
        f, s = randn(1, 8, 5, 5, seed=0), randn(1, 8, 5, 5, seed=1)
        expected = ((gram_matrix(f) - gram_matrix(s)) ** 2).mean().item()
        assert gram_style_loss({"a": f}, {"a": gram_matrix(s)}).item() == pytest.approx(expected, rel=1e-12)

    def test_paper_is_quarter_of_mean_and_gatys_formula(self):
        f, s = randn(1, 8, 5, 6, seed=0), randn(1, 8, 5, 6, seed=1)
        mean = gram_style_loss({"a": f}, {"a": gram_matrix(s)}).item()
        paper = gram_style_loss({"a": f}, {"a": gram_matrix(s)}, reduction="paper").item()
        assert paper == pytest.approx(mean / 4, rel=1e-12)
        # Gatys et al.: 1 / (4 N^2 M^2) * sum((G - A)^2) with raw Gram matrices, N = 8, M = 30.
        raw = ((gram_matrix(f, "none") - gram_matrix(s, "none")) ** 2).sum().item()
        assert paper == pytest.approx(raw / (4 * 8**2 * 30**2), rel=1e-12)

    def test_layer_weights(self):
        f = {"a": randn(1, 4, 4, 4, seed=0), "b": randn(1, 8, 2, 2, seed=1)}
        s = {"a": gram_matrix(randn(1, 4, 4, 4, seed=2)), "b": gram_matrix(randn(1, 8, 2, 2, seed=3))}
        la = gram_style_loss({"a": f["a"]}, {"a": s["a"]}).item()
        lb = gram_style_loss({"b": f["b"]}, {"b": s["b"]}).item()
        assert la > 0 and lb > 0
        assert gram_style_loss(f, s).item() == pytest.approx(la + lb, rel=1e-12)
        weighted = gram_style_loss(f, s, layer_weights={"a": 2.0, "b": 0.5}).item()
        assert weighted == pytest.approx(2 * la + 0.5 * lb, rel=1e-12)

    def test_batch_one_target_broadcast(self):
        f0, f1, s = randn(1, 6, 4, 4, seed=0), randn(1, 6, 4, 4, seed=1), randn(1, 6, 4, 4, seed=2)
        target = {"a": gram_matrix(s)}
        l0 = gram_style_loss({"a": f0}, target).item()
        l1 = gram_style_loss({"a": f1}, target).item()
        both = gram_style_loss({"a": torch.cat([f0, f1])}, target).item()
        assert l0 != pytest.approx(l1)
        assert both == pytest.approx((l0 + l1) / 2, rel=1e-12)

    def test_gradient_reaches_features(self):
        f = randn(1, 4, 3, 3, seed=0).requires_grad_(True)
        gram_style_loss({"a": f}, {"a": gram_matrix(randn(1, 4, 3, 3, seed=1))}).backward()
        assert torch.isfinite(f.grad).all()
        assert f.grad.abs().max().item() > 0

    def test_missing_layer(self):
        with pytest.raises(KeyError) as info:
            gram_style_loss({"a": SMALL}, {"b": SMALL_GRAM})
        assert "'b'" in str(info.value)

    def test_no_layers(self):
        with pytest.raises(ValueError):
            gram_style_loss({"a": SMALL}, {})

    def test_bad_reduction(self):
        with pytest.raises(ValueError):
            gram_style_loss({"a": SMALL}, {"a": SMALL_GRAM}, reduction="sum")


# --------------------------------------------------------------------------- #
# mean_std and mean_std_style_loss
# --------------------------------------------------------------------------- #

class TestMeanStd:
    def test_matches_torch(self):
        f = randn(2, 5, 6, 7)
        mean, std = mean_std(f)
        assert mean.shape == (2, 5, 1, 1)
        assert std.shape == (2, 5, 1, 1)
        assert torch.allclose(mean, f.mean(dim=(2, 3), keepdim=True), atol=1e-12)
        var = f.var(dim=(2, 3), unbiased=False, keepdim=True)
        assert torch.allclose(std, (var + 1e-5).sqrt(), atol=1e-12)  # eps inside the square root

    def test_without_eps_is_population_std(self):
        f = randn(2, 5, 6, 7)
        _, std = mean_std(f, eps=0.0)
        assert torch.allclose(std, f.std(dim=(2, 3), unbiased=False, keepdim=True), atol=1e-12)

    def test_hand_computed(self):
        f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64)
        mean, std = mean_std(f, eps=0.0)
        assert mean.item() == 2.5
        assert std.item() == pytest.approx(math.sqrt(1.25), abs=1e-12)

    def test_bad_shape(self):
        with pytest.raises(ValueError):
            mean_std(torch.zeros(4, 4))


class TestMeanStdStyleLoss:
    def test_zero_for_identical_statistics(self):
        f = {"a": randn(1, 4, 5, 5, seed=0), "b": randn(1, 8, 3, 3, seed=1)}
        assert mean_std_style_loss(f, {k: v.clone() for k, v in f.items()}).item() == 0.0

    def test_hand_computed(self):
        f = randn(1, 4, 5, 5, seed=0)
        t = 2 * f + 1  # means m -> 2m + 1, variances v -> 4v
        m, s = mean_std(f)
        expected = ((m + 1) ** 2).mean() + (((4 * (s**2 - 1e-5) + 1e-5).sqrt() - s) ** 2).mean()
        got = mean_std_style_loss({"a": f}, {"a": t}).item()
        assert got > 0.1
        assert got == pytest.approx(expected.item(), rel=1e-9)

    def test_sum_over_layers_and_sequences(self):
        f = [randn(1, 4, 5, 5, seed=0), randn(1, 8, 3, 3, seed=1)]
        t = [randn(1, 4, 5, 5, seed=2) + 1, randn(1, 8, 3, 3, seed=3) * 3]
        la = mean_std_style_loss([f[0]], [t[0]]).item()
        lb = mean_std_style_loss([f[1]], [t[1]]).item()
        assert la > 0 and lb > 0
        assert mean_std_style_loss(f, t).item() == pytest.approx(la + lb, rel=1e-12)
        as_dicts = mean_std_style_loss({"a": f[0], "b": f[1]}, {"a": t[0], "b": t[1]}).item()
        assert as_dicts == pytest.approx(la + lb, rel=1e-12)

    def test_target_keys_select_layers(self):
        f = {"a": randn(1, 4, 5, 5, seed=0), "b": randn(1, 8, 3, 3, seed=1)}
        t = {"a": randn(1, 4, 5, 5, seed=2) + 1}
        assert mean_std_style_loss(f, t).item() == pytest.approx(
            mean_std_style_loss([f["a"]], [t["a"]]).item(), rel=1e-12
        )

    def test_batch_one_target_broadcast(self):
        f0, f1, s = randn(1, 4, 5, 5, seed=0), randn(1, 4, 5, 5, seed=1) + 2, randn(1, 4, 5, 5, seed=2)
        l0 = mean_std_style_loss([f0], [s]).item()
        l1 = mean_std_style_loss([f1], [s]).item()
        both = mean_std_style_loss([torch.cat([f0, f1])], [s]).item()
        assert both == pytest.approx((l0 + l1) / 2, rel=1e-12)

    def test_target_size_may_differ(self):
        f = randn(1, 4, 5, 5, seed=0)
        assert mean_std_style_loss([f], [f.repeat(1, 1, 3, 2)]).item() == pytest.approx(0.0, abs=1e-20)

    def test_no_layers(self):
        with pytest.raises(ValueError):
            mean_std_style_loss([], [])


class TestPermutationInvariance:
    """Both style statistics ignore where a feature vector occurs."""

    def test_mean_std_loss(self):
        f = randn(1, 8, 6, 7)
        g = shuffle_positions(f)
        assert not torch.equal(f, g)
        assert content_loss(f, g).item() > 0.5  # the maps themselves differ a lot
        assert mean_std_style_loss([f], [g]).item() == pytest.approx(0.0, abs=1e-20)

    def test_gram_loss(self):
        f = randn(1, 8, 6, 7)
        g = shuffle_positions(f)
        assert gram_style_loss({"a": f}, {"a": gram_matrix(g)}).item() == pytest.approx(0.0, abs=1e-20)

    def test_not_invariant_to_channel_changes(self):
        f = randn(1, 8, 6, 7)
        g = shuffle_positions(f).clone()
        g[:, 0] *= 2  # a real style change
        assert mean_std_style_loss([f], [g]).item() > 1e-3
        assert gram_style_loss({"a": f}, {"a": gram_matrix(g)}).item() > 1e-3


# --------------------------------------------------------------------------- #
# tv_loss
# --------------------------------------------------------------------------- #

class TestTVLoss:
    @pytest.mark.parametrize("kind", ["l1", "l2"])
    def test_constant_image_is_zero(self, kind):
        assert tv_loss(torch.full((2, 3, 8, 9), 0.37), kind).item() == 0.0

    def test_hand_computed_2x2(self):
        x = torch.tensor([[[[0.0, 1.0], [3.0, 7.0]]]])
        # vertical differences 3, 6; horizontal differences 1, 4
        assert tv_loss(x).item() == 7.0  # (3 + 6) / 2 + (1 + 4) / 2
        assert tv_loss(x, "l1").item() == 7.0
        assert tv_loss(x, "l2").item() == 31.0  # (9 + 36) / 2 + (1 + 16) / 2

    def test_sign_independent(self):
        x = torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(0))
        assert tv_loss(-x).item() == pytest.approx(tv_loss(x).item(), rel=1e-6)
        assert tv_loss(x + 5).item() == pytest.approx(tv_loss(x).item(), rel=1e-5)

    def test_checkerboard(self):
        x = (torch.arange(4).view(4, 1) + torch.arange(4).view(1, 4)) % 2
        x = x.float().view(1, 1, 4, 4)
        assert tv_loss(x).item() == 2.0

    @pytest.mark.parametrize("shape", [(3, 4, 4), (4, 4), (1, 1, 1, 4, 4)])
    def test_bad_shape(self, shape):
        with pytest.raises(ValueError) as info:
            tv_loss(torch.zeros(shape))
        assert str(shape) in str(info.value)

    def test_bad_kind(self):
        with pytest.raises(ValueError) as info:
            tv_loss(torch.zeros(1, 1, 2, 2), "tv")
        assert "'tv'" in str(info.value)


class TestTVLossThinImages:
    def test_one_pixel_high_image_has_only_horizontal_variation(self):
        img = torch.tensor([[[[0.0, 1.0, 3.0]]]])
        assert tv_loss(img).item() == pytest.approx((1.0 + 2.0) / 2)
        assert tv_loss(img, "l2").item() == pytest.approx((1.0 + 4.0) / 2)

