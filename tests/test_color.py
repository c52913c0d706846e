"""Tests for stylelib.color: YIQ conversion, colour histogram matching and
luminance-only transfer (Gatys et al., "Preserving Color in Neural Artistic
Style Transfer", 2016)."""

from __future__ import annotations

import pytest
import torch

from stylelib.color import luminance_transfer, match_color, rgb_to_yiq, yiq_to_rgb


def rand(*shape: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def mid_range(*shape: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    """Random image in [0.3, 0.7], so that nothing downstream is clamped."""
    return 0.3 + 0.4 * rand(*shape, seed=seed, dtype=dtype)


def correlated(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """An image in [0.3, 0.7] with distinct channel means and strongly correlated channels."""
    u = rand(3, h, w, seed=seed, dtype=torch.float64)
    r = 0.35 + 0.10 * u[0]
    g = 0.40 + 0.15 * u[0] + 0.05 * u[1]
    b = 0.65 - 0.10 * u[0] + 0.05 * u[2]
    return torch.stack([r, g, b])[None].float()


def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image RGB mean [N, 3] and population covariance [N, 3, 3], in float64."""
    flat = x.double().flatten(2)
    mu = flat.mean(-1)
    d = flat - mu[..., None]
    return mu, d @ d.transpose(1, 2) / flat.shape[-1]


# --------------------------------------------------------------------------- #
# rgb_to_yiq / yiq_to_rgb
# --------------------------------------------------------------------------- #

class TestYIQ:
    def test_primaries(self):
        px = torch.eye(3, dtype=torch.float64).T.reshape(1, 3, 1, 3)  # red, green, blue pixels
        yiq = rgb_to_yiq(px)[0, :, 0].T  # one row per pixel
        assert yiq[0].tolist() == pytest.approx([0.299, 0.595716, 0.211456], abs=1e-12)
        assert yiq[1].tolist() == pytest.approx([0.587, -0.274453, -0.522591], abs=1e-12)
        assert yiq[2].tolist() == pytest.approx([0.114, -0.321263, 0.311135], abs=1e-12)

    def test_grey_has_no_chroma(self):
        grey = torch.full((1, 3, 2, 2), 0.6, dtype=torch.float64)
        yiq = rgb_to_yiq(grey)
        assert yiq[:, 0].flatten().tolist() == pytest.approx([0.6] * 4, abs=1e-12)
        assert yiq[:, 1:].abs().max().item() < 1e-6

    @pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
    def test_round_trip(self, dtype, tol):
        x = rand(2, 3, 16, 12, dtype=dtype)
        back = yiq_to_rgb(rgb_to_yiq(x))
        assert back.dtype == dtype
        assert (back - x).abs().max().item() <= tol
        y = rgb_to_yiq(x)
        assert (rgb_to_yiq(yiq_to_rgb(y)) - y).abs().max().item() <= tol

    def test_known_inverse(self):
        # The textbook NTSC inverse (R = Y + 0.956 I + 0.621 Q, ...), whose published
        # 3-decimal coefficients vary by up to 0.002 between sources.
        e_i = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).view(1, 3, 1, 1)
        e_q = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).view(1, 3, 1, 1)
        assert yiq_to_rgb(e_i).flatten().tolist() == pytest.approx([0.956, -0.272, -1.106], abs=1e-3)
        assert yiq_to_rgb(e_q).flatten().tolist() == pytest.approx([0.621, -0.647, 1.703], abs=2e-3)

    @pytest.mark.parametrize("shape", [(3, 4, 4), (1, 1, 4, 4), (1, 4, 4, 4)])
    def test_bad_shape(self, shape):
        with pytest.raises(ValueError) as info:
            rgb_to_yiq(torch.zeros(shape))
        assert str(shape) in str(info.value)
        with pytest.raises(ValueError):
            yiq_to_rgb(torch.zeros(shape))


# --------------------------------------------------------------------------- #
# match_color
# --------------------------------------------------------------------------- #

class TestMatchColor:
    def test_target_mean_and_covariance(self):
        source = mid_range(1, 3, 48, 40, seed=0)
        target = correlated(32, 36, seed=1)  # a different size is fine
        mu_s, cov_s = stats(source)
        mu_t, cov_t = stats(target)
        # The two images really differ (so the test below can fail).
        assert (mu_s - mu_t).abs().max().item() > 0.1
        assert (cov_s - cov_t).abs().max().item() > 5e-3

        out = match_color(source, target)
        assert out.shape == source.shape
        assert out.dtype == torch.float32
        assert 0.0 < out.min().item() and out.max().item() < 1.0  # no clamping happened
        mu_o, cov_o = stats(out)
        assert (mu_o - mu_t).abs().max().item() < 1e-5
        assert (cov_o - cov_t).abs().max().item() < 1e-6

    def test_affine_in_rgb(self):
        # The map is affine, so the source's spatial structure survives: a pixel-wise
        # linear regression from source to output is exact.
        source = mid_range(1, 3, 20, 20, seed=2, dtype=torch.float64)
        out = match_color(source, correlated(20, 20, seed=3).double())
        xs = torch.cat([source.flatten(2)[0], torch.ones(1, 400, dtype=torch.float64)])  # [4, P]
        coef = torch.linalg.lstsq(xs.T, out.flatten(2)[0].T).solution
        residual = xs.T @ coef - out.flatten(2)[0].T
        assert residual.abs().max().item() < 1e-10

    def test_self_match_is_identity(self):
        x = mid_range(1, 3, 24, 24, seed=4)
        assert (match_color(x, x) - x).abs().max().item() < 1e-5

    def test_batch_with_single_target(self):
        sources = torch.cat([mid_range(1, 3, 24, 24, seed=5), mid_range(1, 3, 24, 24, seed=6) * 0.5 + 0.2])
        target = correlated(24, 24, seed=7)
        out = match_color(sources, target)
        mu_t, cov_t = stats(target)
        mu_o, cov_o = stats(out)
        assert (mu_o - mu_t).abs().max().item() < 1e-5
        assert (cov_o - cov_t).abs().max().item() < 1e-6
        assert torch.allclose(out[1:], match_color(sources[1:], target), atol=1e-6)

    def test_batch_with_batch_target(self):
        sources = torch.cat([mid_range(1, 3, 24, 24, seed=5), mid_range(1, 3, 24, 24, seed=6)])
        targets = torch.cat([correlated(24, 24, seed=7), mid_range(1, 3, 24, 24, seed=8)])
        out = match_color(sources, targets)
        mu_t, cov_t = stats(targets)
        mu_o, cov_o = stats(out)
        assert (mu_o - mu_t).abs().max().item() < 1e-5
        assert (cov_o - cov_t).abs().max().item() < 1e-6

    def test_clamped_to_unit_range(self):
        source = rand(1, 3, 16, 16, seed=9)
        target = torch.cat([torch.zeros(1, 1, 16, 16), torch.ones(1, 1, 16, 16), torch.zeros(1, 1, 16, 16)], 1)
        target[..., :8, :] = 1 - target[..., :8, :]  # high variance, extreme values
        out = match_color(source, target)
        assert out.min().item() == 0.0
        assert out.max().item() == 1.0

    def test_bad_shape(self):
        with pytest.raises(ValueError):
            match_color(torch.zeros(3, 8, 8), torch.zeros(1, 3, 8, 8))
        with pytest.raises(ValueError):
            match_color(torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 8))


# --------------------------------------------------------------------------- #
# luminance_transfer
# --------------------------------------------------------------------------- #

class TestLuminanceTransfer:
    def test_keeps_stylised_luma_and_content_chroma(self):
        stylised = mid_range(1, 3, 32, 24, seed=0)
        content = correlated(32, 24, seed=1)
        out = luminance_transfer(stylised, content)
        assert out.shape == stylised.shape
        assert out.dtype == torch.float32
        assert 0.0 < out.min().item() and out.max().item() < 1.0  # no clamping happened
        yo, ys, yc = rgb_to_yiq(out.double()), rgb_to_yiq(stylised.double()), rgb_to_yiq(content.double())
        assert (yo[:, 0] - ys[:, 0]).abs().max().item() < 1e-4
        assert (yo[:, 1:] - yc[:, 1:]).abs().max().item() < 1e-4
        # ... and it is neither input
        assert (out - stylised).abs().max().item() > 0.05
        assert (out - content).abs().max().item() > 0.05

    def test_grey_content_gives_grey_output(self):
        stylised = mid_range(1, 3, 8, 8, seed=2)
        grey = torch.full((1, 3, 8, 8), 0.5)
        out = luminance_transfer(stylised, grey)
        luma = rgb_to_yiq(stylised.double())[:, :1]
        assert torch.allclose(out.double(), luma.expand(-1, 3, -1, -1), atol=1e-5)

    def test_content_batch_one_broadcast(self):
        stylised = torch.cat([mid_range(1, 3, 8, 8, seed=3), mid_range(1, 3, 8, 8, seed=4)])
        content = correlated(8, 8, seed=5)
        out = luminance_transfer(stylised, content)
        assert out.shape == (2, 3, 8, 8)
        assert torch.allclose(out[1:], luminance_transfer(stylised[1:], content), atol=1e-7)

    def test_clamped(self):
        stylised = torch.ones(1, 3, 4, 4)
        content = torch.zeros(1, 3, 4, 4)
        content[:, 0] = 1.0  # strongly red chroma on a white luma overflows
        out = luminance_transfer(stylised, content)
        assert out.max().item() == 1.0
        assert out.min().item() >= 0.0

    def test_size_mismatch(self):
        with pytest.raises(ValueError):
            luminance_transfer(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
