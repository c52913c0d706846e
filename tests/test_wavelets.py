"""WCT2's Haar wavelet pooling and unpooling (Yoo et al., ICCV 2019)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stylelib.models.wavelets import HaarBands, HaarPool, HaarUnpool, haar_filters


def randn(*shape: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


class TestFilters:
    def test_orthonormal(self):
        f = haar_filters(torch.float64).reshape(4, 4)
        assert torch.allclose(f @ f.T, torch.eye(4, dtype=torch.float64), atol=1e-15)

    def test_values(self):
        f = haar_filters(torch.float64)
        assert torch.equal(f[0], torch.full((2, 2), 0.5, dtype=torch.float64))
        assert torch.allclose(f[1], torch.tensor([[-0.5, 0.5], [-0.5, 0.5]], dtype=torch.float64))  # LH
        assert torch.allclose(f[2], torch.tensor([[-0.5, -0.5], [0.5, 0.5]], dtype=torch.float64))  # HL
        assert torch.allclose(f[3], torch.tensor([[0.5, -0.5], [-0.5, 0.5]], dtype=torch.float64))  # HH


class TestHaarPool:
    def test_hand_computed_block(self):
        x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        ll, lh, hl, hh = HaarPool()(x)
        assert (ll.item(), lh.item(), hl.item(), hh.item()) == (5.0, 1.0, 2.0, 0.0)

    def test_shapes_and_named_bands(self):
        bands = HaarPool()(randn(2, 8, 16, 12))
        assert isinstance(bands, HaarBands) and all(b.shape == (2, 8, 8, 6) for b in bands)
        assert bands.ll is bands[0] and bands.hh is bands[3]

    def test_constant_image(self):
        ll, lh, hl, hh = HaarPool()(torch.full((1, 3, 6, 8), 0.3))
        assert torch.allclose(ll, torch.full_like(ll, 0.6), atol=1e-7)  # LL of a constant c is 2c
        assert max(b.abs().max().item() for b in (lh, hl, hh)) < 1e-7

    def test_low_band_is_twice_the_average_pool(self):
        x = randn(2, 4, 10, 6, seed=1)
        assert torch.allclose(HaarPool()(x).ll, 2 * F.avg_pool2d(x, 2), atol=1e-6)

    def test_energy_is_preserved(self):
        x = randn(2, 8, 16, 12, seed=2, dtype=torch.float64)
        bands = HaarPool()(x)
        assert abs(sum((b ** 2).sum() for b in bands).item() - (x ** 2).sum().item()) < 1e-9 * (x ** 2).sum().item()

    def test_odd_sizes(self):
        with pytest.raises(ValueError, match="must be even, got 7x12"):
            HaarPool()(randn(1, 3, 7, 12))
        with pytest.raises(ValueError, match="must be even, got 8x5"):
            HaarPool()(randn(1, 3, 8, 5))
        with pytest.raises(ValueError, match=r"HaarPool: expected \[N, C, H, W\], got \(3, 8, 8\)"):
            HaarPool()(randn(3, 8, 8))


class TestHaarUnpool:
    def test_pool_then_unpool_reconstructs(self):
        x = randn(2, 8, 16, 12, seed=3)
        y = HaarUnpool()(*HaarPool()(x))
        assert y.shape == x.shape and (y - x).abs().max() < 1e-6

    def test_unpool_then_pool_is_the_identity_on_bands(self):
        bands = [randn(1, 5, 4, 3, seed=s, dtype=torch.float64) for s in range(4)]
        again = HaarPool()(HaarUnpool()(*bands))
        assert all((a - b).abs().max() < 1e-12 for a, b in zip(again, bands))

    def test_concatenation_mode(self):
        x = randn(2, 3, 8, 6, seed=4)
        bands = HaarPool()(x)
        cat = HaarUnpool("cat")(*bands)
        assert cat.shape == (2, 12, 8, 6)
        assert torch.allclose(cat.reshape(2, 4, 3, 8, 6).sum(1), x, atol=1e-6)  # the four groups sum to x
        assert torch.allclose(cat[:, :3], HaarUnpool()(bands.ll, *(torch.zeros_like(b) for b in bands[1:])))
        skip = randn(2, 7, 8, 6, seed=5)
        with_skip = HaarUnpool("cat")(*bands, skip=skip)
        assert with_skip.shape == (2, 19, 8, 6) and torch.equal(with_skip[:, 12:], skip)

    def test_gradient_flows_to_every_band(self):
        bands = [randn(1, 2, 3, 3, seed=s).requires_grad_() for s in range(4)]
        (HaarUnpool()(*bands) ** 2).sum().backward()
        assert all(b.grad is not None and torch.allclose(b.grad, 2 * b.detach(), atol=1e-6) for b in bands)

    def test_float64_and_devices_follow_the_input(self):
        x = randn(1, 2, 4, 4, seed=6, dtype=torch.float64)
        assert HaarUnpool()(*HaarPool()(x)).dtype == torch.float64

    def test_errors(self):
        b = randn(1, 2, 3, 3)
        with pytest.raises(ValueError, match="same shape"):
            HaarUnpool()(b, b, b, randn(1, 2, 3, 4))
        with pytest.raises(ValueError, match="mode must be 'sum' or 'cat'"):
            HaarUnpool("cat5")
        with pytest.raises(ValueError, match="only concatenated in mode 'cat'"):
            HaarUnpool()(b, b, b, b, skip=randn(1, 2, 6, 6))
        with pytest.raises(ValueError, match=r"skip must be \[1, C', 6, 6\]"):
            HaarUnpool("cat")(b, b, b, b, skip=randn(1, 2, 6, 5))
