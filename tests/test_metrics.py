"""Tests for stylelib.metrics: SSIM against scikit-image, edge SSIM, PSNR,
VGG-based distances, LPIPS availability and time/memory measurement."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity

from stylelib.metrics import (
    content_distance,
    edge_ssim,
    evaluate,
    gram_distance,
    lpips_distance,
    lpips_status,
    measure,
    psnr,
    sobel_edges,
    ssim,
    to_gray,
)


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def from_numpy(a: np.ndarray) -> torch.Tensor:
    """uint8 HxW or HxWx3 -> [1, 3, H, W] float64 in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(a)).double() / 255
    if t.dim() == 2:
        t = t[..., None].expand(-1, -1, 3)
    return t.permute(2, 0, 1)[None].contiguous()


def skimage_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    ga = to_gray(a.double())[0, 0].numpy()
    gb = to_gray(b.double())[0, 0].numpy()
    return float(structural_similarity(ga, gb, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, data_range=1.0))


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    """skimage's astronaut photo, 128x128."""
    return from_numpy(skimage.data.astronaut()[::4, ::4])


@pytest.fixture(scope="module")
def chelsea() -> torch.Tensor:
    """skimage's cat photo, 128x128 (a crop)."""
    return from_numpy(skimage.data.chelsea()[:256:2, 100:356:2])


@pytest.fixture(scope="module")
def content48(astronaut) -> torch.Tensor:
    """The astronaut at 48x48 (small: the VGG-based metrics are the slow ones)."""
    return F.interpolate(astronaut, size=(48, 48), mode="area")


@pytest.fixture(scope="module")
def brick() -> torch.Tensor:
    """skimage's grey brick texture, 64x64."""
    return from_numpy(skimage.data.brick()[:256:4, :256:4])


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    return hub


# --------------------------------------------------------------------------- #
# ssim / edge_ssim / psnr
# --------------------------------------------------------------------------- #

class TestToGray:
    def test_luma_weights(self):
        x = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], dtype=torch.float64).view(3, 3, 1, 1)
        x = x.permute(1, 0, 2, 3).contiguous().view(1, 3, 1, 3)  # red, green, blue pixels
        assert to_gray(x).flatten().tolist() == pytest.approx([0.299, 0.587, 0.114], abs=1e-12)
        assert to_gray(torch.ones(1, 3, 2, 2)).flatten().tolist() == pytest.approx([1.0] * 4, abs=1e-6)

    def test_single_channel_unchanged(self):
        g = rand(1, 1, 4, 4)
        assert to_gray(g) is g


class TestSSIM:
    def test_matches_skimage_random(self):
        a = rand(1, 3, 40, 52, seed=0)
        b = (a + 0.6 * rand(1, 3, 40, 52, seed=1) - 0.3).clamp(0, 1)
        expected = skimage_ssim(a, b)
        assert 0.2 < expected < 0.95
        assert ssim(a, b) == pytest.approx(expected, abs=1e-6)

    def test_matches_skimage_photos(self, astronaut, chelsea):
        expected = skimage_ssim(astronaut, chelsea)
        assert ssim(astronaut, chelsea) == pytest.approx(expected, abs=1e-6)
        assert expected < 0.5

    def test_matches_skimage_degraded_photo(self, astronaut):
        noisy = (astronaut + 0.05 * torch.randn(astronaut.shape, generator=torch.Generator().manual_seed(0),
                                                dtype=torch.float64)).clamp(0, 1)
        expected = skimage_ssim(astronaut, noisy)
        assert 0.3 < expected < 0.95
        assert ssim(astronaut, noisy) == pytest.approx(expected, abs=1e-6)

    def test_float32_input(self, astronaut, chelsea):
        assert ssim(astronaut.float(), chelsea.float()) == pytest.approx(skimage_ssim(astronaut, chelsea), abs=1e-6)

    def test_identity(self, astronaut):
        assert ssim(astronaut, astronaut) == pytest.approx(1.0, abs=1e-12)
        assert ssim(astronaut, astronaut.clone()) == pytest.approx(1.0, abs=1e-12)

    def test_symmetric(self, astronaut, chelsea):
        assert ssim(astronaut, chelsea) == pytest.approx(ssim(chelsea, astronaut), abs=1e-12)

    def test_batch_average(self, astronaut, chelsea):
        both = ssim(torch.cat([astronaut, astronaut]), torch.cat([astronaut, chelsea]))
        assert both == pytest.approx((1.0 + ssim(astronaut, chelsea)) / 2, abs=1e-12)

    def test_size_mismatch(self):
        with pytest.raises(ValueError) as info:
            ssim(rand(1, 3, 32, 32), rand(1, 3, 32, 33))
        assert "(32, 32) vs (32, 33)" in str(info.value)

    def test_too_small(self):
        with pytest.raises(ValueError) as info:
            ssim(rand(1, 3, 10, 40), rand(1, 3, 10, 40))
        assert "11x11" in str(info.value)

    @pytest.mark.parametrize("shape", [(3, 32, 32), (1, 2, 32, 32)])
    def test_bad_shape(self, shape):
        with pytest.raises(ValueError):
            ssim(torch.zeros(shape), torch.zeros(shape))


class TestEdgeSSIM:
    def test_identity(self, astronaut):
        assert edge_ssim(astronaut, astronaut) == pytest.approx(1.0, abs=1e-12)

    def test_ignores_global_colour_shift(self, astronaut):
        shifted = astronaut * 0.8 + 0.1
        assert edge_ssim(astronaut, shifted) > 0.99
        assert ssim(astronaut, shifted) < 0.95  # plain SSIM does see the change

    def test_sees_structure(self, astronaut, chelsea):
        assert edge_ssim(astronaut, chelsea) < 0.5

    def test_sobel_edges_scaled_per_image(self, astronaut):
        e = sobel_edges(torch.cat([astronaut, astronaut * 0.5]))
        assert e.shape == (2, 1, 128, 128)
        assert e.flatten(1).amax(1).tolist() == pytest.approx([1.0, 1.0], abs=1e-12)
        assert e.min().item() >= 0.0
        assert torch.allclose(e[0], e[1], atol=1e-12)

    def test_sobel_of_step(self):
        x = torch.zeros(1, 3, 8, 8, dtype=torch.float64)
        x[..., 4:] = 1.0
        e = sobel_edges(x)[0, 0]
        assert e[:, 3].tolist() == pytest.approx([1.0] * 8)
        assert e[:, 4].tolist() == pytest.approx([1.0] * 8)
        assert e[:, :3].abs().max().item() < 1e-12
        assert e[:, 5:].abs().max().item() < 1e-12

    def test_size_mismatch(self):
        with pytest.raises(ValueError):
            edge_ssim(rand(1, 3, 32, 32), rand(1, 3, 33, 32))


class TestPSNR:
    def test_uniform_error(self):
        a = torch.full((1, 3, 16, 16), 0.5, dtype=torch.float64)
        assert psnr(a, a + 0.1) == pytest.approx(20.0, abs=1e-9)
        assert psnr(a, a - 0.01) == pytest.approx(40.0, abs=1e-6)

    def test_data_range(self):
        a = torch.full((1, 3, 8, 8), 128.0, dtype=torch.float64)
        assert psnr(a, a + 25.5, data_range=255.0) == pytest.approx(20.0, abs=1e-9)

    def test_identical_is_infinite(self):
        a = rand(1, 3, 8, 8)
        assert psnr(a, a) == math.inf

    def test_size_mismatch(self):
        with pytest.raises(ValueError):
            psnr(rand(1, 3, 8, 8), rand(1, 3, 8, 9))


# --------------------------------------------------------------------------- #
# VGG-based distances
# --------------------------------------------------------------------------- #

class TestGramDistance:
    def test_identity(self, content48):
        assert gram_distance(content48, content48) == 0.0

    def test_photo_vs_texture(self, content48, brick):
        d = gram_distance(content48, brick)  # 48x48 against 64x64
        assert math.isfinite(d)
        assert d > 0.1

    def test_same_texture_different_sizes(self, content48, brick):
        crop = brick[..., :48, :48]
        same = gram_distance(crop, brick)
        assert 0 < same < 0.5
        assert same < gram_distance(content48, brick) / 10

    def test_single_layer(self, content48, brick):
        d = gram_distance(content48, brick, layers=("relu1_1",))
        assert d > 0.1
        assert d != pytest.approx(gram_distance(content48, brick))


class TestContentDistance:
    def test_identity(self, content48):
        assert content_distance(content48, content48) == 0.0

    def test_grows_with_noise(self, content48):
        g = torch.Generator().manual_seed(0)
        noise = torch.randn(content48.shape, generator=g, dtype=torch.float64)
        d = [content_distance((content48 + s * noise).clamp(0, 1), content48) for s in (0.02, 0.05, 0.1)]
        assert 0 < d[0] < d[1] < d[2]
        assert d[2] < 1.0

    def test_size_mismatch(self, content48):
        with pytest.raises(ValueError):
            content_distance(content48, content48[..., :32])


# --------------------------------------------------------------------------- #
# LPIPS and evaluate
# --------------------------------------------------------------------------- #

class TestLPIPS:
    def test_status_without_weights(self, empty_hub):
        ok, reason = lpips_status()
        assert ok is False
        if "not installed" not in reason:
            assert "never downloads" in reason
            assert str(empty_hub / "checkpoints" / "alexnet-owt-7be5be79.pth") in reason
        assert not empty_hub.exists()

    def test_distance_is_none_without_weights(self, empty_hub):
        a = rand(1, 3, 32, 32)
        assert lpips_distance(a, a) is None
        assert lpips_distance(a, rand(1, 3, 32, 32, seed=1)) is None
        assert not empty_hub.exists()  # nothing downloaded

    def test_size_mismatch(self, empty_hub):
        with pytest.raises(ValueError):
            lpips_distance(rand(1, 3, 32, 32), rand(1, 3, 16, 32))


class TestEvaluate:
    def test_keys_and_values(self, content48, brick, empty_hub):
        row = evaluate(content48, content48, brick)
        assert list(row) == ["ssim", "edge_ssim", "gram_distance", "content_distance", "lpips"]
        assert row["ssim"] == pytest.approx(1.0, abs=1e-12)
        assert row["edge_ssim"] == pytest.approx(1.0, abs=1e-12)
        assert row["content_distance"] == 0.0
        assert row["gram_distance"] == pytest.approx(gram_distance(content48, brick), rel=1e-9)
        assert row["lpips"] is None

    def test_size_mismatch(self, content48, brick):
        with pytest.raises(ValueError) as info:
            evaluate(content48, content48[..., :32, :], brick)
        assert "(48, 48)" in str(info.value)
        assert "(32, 48)" in str(info.value)


# --------------------------------------------------------------------------- #
# measure
# --------------------------------------------------------------------------- #

class TestMeasure:
    def test_returns_result(self):
        assert measure(divmod, 17, 5)[0] == (3, 2)
        assert measure(int, "ff", base=16)[0] == 255

    def test_seconds(self):
        result, seconds, _ = measure(sum, range(1000))
        assert result == 499500
        assert 0 < seconds < 1.0

    def test_peak_memory_of_a_200mb_tensor(self):
        t, seconds, mb = measure(torch.ones, 50_000_000)
        try:
            assert t.numel() == 50_000_000
            assert seconds > 0
            assert mb >= 150
            assert mb < 400
        finally:
            del t

    def test_noop_uses_little_memory(self):
        result, seconds, mb = measure(lambda: None)
        assert result is None
        assert seconds > 0
        assert 0 <= mb < 50

    def test_exception_propagates_and_sampler_stops(self):
        before = threading.active_count()

        def boom():
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            measure(boom)
        assert threading.active_count() == before


class TestContentDistanceBatch:
    def test_batch_of_copies_scores_like_one_image(self):
        torch.manual_seed(0)
        c = torch.rand(1, 3, 32, 32)
        x = (c + 0.1 * torch.randn_like(c)).clamp(0, 1)
        one = content_distance(x, c)
        assert content_distance(torch.cat([x, x]), c) == pytest.approx(one, rel=1e-5)
