"""WCT (Li et al., NeurIPS 2017): whitening, colouring, decoders, the multi-level transfer."""

from __future__ import annotations

import pytest
import torch

from stylelib.baselines import towards_style
from stylelib.models.decoders import DECODER_LAYERS, MirrorDecoder, decoder_plan
from stylelib.models.wct import WCTConfig, WCTNet, colour, covariance, whiten, wct


def _features(c: int, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # well-conditioned mixing (eigenvalues of the covariance far from zero), so regularisation is negligible
    mix = torch.randn(c, c, generator=g, dtype=torch.float64) / c**0.5 + 2 * torch.eye(c, dtype=torch.float64)
    return (mix @ torch.randn(c, n, generator=g, dtype=torch.float64) + 3 * torch.rand(c, 1, generator=g,
                                                                                         dtype=torch.float64)).float()


class TestWhiteningColouring:
    def test_whitening_gives_identity_covariance(self):
        f = _features(32, 4000, 0)
        fw = whiten(f)
        mean, cov = covariance(fw)
        assert torch.allclose(cov, torch.eye(32, dtype=torch.float64), atol=1e-3)
        assert mean.abs().max() < 1e-6

    def test_colouring_gives_the_style_covariance_and_mean(self):
        fc, fs = _features(32, 4000, 1), _features(32, 3000, 2)
        out = colour(whiten(fc), fs)
        m_out, c_out = covariance(out)
        m_s, c_s = covariance(fs)
        scale = c_s.abs().max()
        assert (c_out - c_s).abs().max() / scale < 1e-3
        assert torch.allclose(m_out, m_s, atol=1e-3 * float(m_s.abs().max()))

    def test_wct_on_feature_maps_and_alpha(self):
        fc = _features(16, 400, 3).reshape(1, 16, 20, 20)
        fs = _features(16, 900, 4).reshape(1, 16, 30, 30)
        out = wct(fc, fs, alpha=1.0)
        assert out.shape == fc.shape and out.dtype == fc.dtype
        assert torch.allclose(covariance(out)[1], covariance(fs)[1], atol=1e-3 * float(covariance(fs)[1].abs().max()))
        assert torch.equal(wct(fc, fs, alpha=0.0), fc)
        half = wct(fc, fs, alpha=0.5)
        assert torch.allclose(half, 0.5 * out + 0.5 * fc, atol=1e-5)

    def test_rank_deficient_features_stay_finite(self):
        f = torch.zeros(1, 64, 4, 4)
        f[0, :8] = torch.randn(8, 4, 4)  # 16 positions, 64 channels, 56 constant channels
        out = wct(f, torch.randn(1, 64, 6, 6).relu())
        assert torch.isfinite(out).all()

    def test_clear_errors(self):
        with pytest.raises(ValueError, match="channels"):
            wct(torch.randn(1, 8, 4, 4), torch.randn(1, 9, 4, 4))
        with pytest.raises(ValueError, match="one image at a time"):
            whiten(torch.randn(2, 8, 4, 4))
        with pytest.raises(ValueError, match="at least 2"):
            covariance(torch.randn(8, 1))


class TestDecoders:
    @pytest.mark.parametrize("layer", DECODER_LAYERS)
    def test_mirror_decoder_inverts_the_shape(self, layer):
        from stylelib.vgg import CHANNELS

        k = int(layer[4]) - 1
        dec = MirrorDecoder(layer)
        feats = torch.randn(1, CHANNELS[layer], 4, 6)
        assert dec(feats).shape == (1, 3, 4 * 2**k, 6 * 2**k)

    def test_plan_mirrors_the_encoder(self):
        plan = decoder_plan("relu4_1")
        convs = [s for s in plan if s != "up"]
        assert [c.mirrors for c in convs] == ["conv4_1", "conv3_4", "conv3_3", "conv3_2", "conv3_1", "conv2_2",
                                              "conv2_1", "conv1_2", "conv1_1"]
        assert plan.count("up") == 3 and not convs[-1].relu and all(c.relu for c in convs[:-1])
        assert MirrorDecoder("relu4_1").n_parameters() == 3_505_219  # AdaIN's decoder

    def test_slim_deep_decoder_fits_the_size_limit(self):
        dec = WCTConfig().decoder("relu5_1")
        assert dec.n_parameters() * 2 < 10 * 2**20  # fp16 bytes
        assert dec(torch.randn(1, 512, 2, 2)).shape == (1, 3, 32, 32)

    def test_gradient_reaches_every_decoder_weight(self):
        net = WCTNet(WCTConfig(precision="fp32"))
        losses = net.reconstruction_losses("relu2_1", torch.rand(2, 3, 32, 32))
        losses["loss"].backward()
        dec = net.decoders["relu2_1"]
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in dec.parameters())
        assert all(p.grad is None for p in net.encoder.parameters())

    def test_bad_features(self):
        with pytest.raises(ValueError, match=r"decoder for relu3_1: expected \[N, 256, H, W\], got \(1, 128, 4, 4\)"):
            MirrorDecoder("relu3_1")(torch.randn(1, 128, 4, 4))
        with pytest.raises(ValueError, match="starts at one of"):
            decoder_plan("relu3_2")


class TestConfig:
    def test_deviations_name_every_difference(self):
        rows = WCTConfig().deviations()
        names = {r["parameter"] for r in rows}
        assert {"steps", "crop", "slim_deep_decoder", "training data"} <= names
        assert all(r["why"] for r in rows)
        assert WCTConfig.paper().slim_deep_decoder is False

    def test_budget_lengths_checked(self):
        with pytest.raises(ValueError, match="one value per level"):
            WCTConfig(steps=(1, 2))


class TestTrainedWCT:
    """With the committed ``wct-quick`` decoders."""

    def test_stylises_toward_the_style(self):
        from stylelib.data import load_pair, get_set
        from stylelib.recipes.wct import load_wct, stylize_wct

        pair = get_set("embedded").pairs[0]
        content, style = load_pair(pair, size=128)
        out = stylize_wct(content, style)
        assert out.shape == content.shape and 0 <= out.min() and out.max() <= 1
        v = towards_style(out, content, style)  # measured: Gram 0.209 against a bar of 0.728 (colour transfer)
        assert v.ok, str(v)
        assert torch.allclose(stylize_wct(content, style, alpha=0.0, levels=("relu1_1",)),
                              load_wct().reconstruct(
                                  content, "relu1_1"), atol=1e-5)

    def test_shallow_decoder_reconstructs(self):
        from stylelib.metrics import psnr
        from stylelib.recipes.wct import load_wct
        from skimage import data as skdata
        import numpy as np

        img = torch.from_numpy(np.asarray(skdata.camera(), dtype=np.float32) / 255)[None, None].expand(1, 3, -1, -1)
        img = torch.nn.functional.interpolate(img, size=(128, 128), mode="area")
        assert psnr(load_wct().reconstruct(img, "relu1_1"), img) > 25
