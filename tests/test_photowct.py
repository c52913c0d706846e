"""PhotoWCT (Li et al., ECCV 2018): switch encoder, unpooling decoders, label-aware WCT, smoothing, training."""

from __future__ import annotations

import pytest
import torch
from skimage import data as skdata

from stylelib.baselines import towards_style
from stylelib.training import registry
from stylelib.metrics import ssim
from stylelib.models.decoders import MirrorDecoder
from stylelib.models.photowct import (
    LEVELS,
    PhotoWCTConfig,
    PhotoWCTNet,
    UnpoolDecoder,
    smooth,
)
from stylelib.recipes.photowct import stylize_photowct, train_and_register
from stylelib.models.wct import covariance, wct_regions
from stylelib.vgg import VGG19Features

from _images import square_photo



@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return PhotoWCTNet(PhotoWCTConfig(precision="fp32")).eval()


class TestSwitchEncoder:
    def test_features_equal_vgg_and_switches_come_deepest_first(self, net):
        x = square_photo(skdata.astronaut(), 48)
        ref = VGG19Features(LEVELS)(x)
        for level in LEVELS:
            f, pools = net.encode(x, level)
            assert torch.equal(f, ref[level])
            assert len(pools) == int(level[4]) - 1
            assert [tuple(size) for _, size in pools] == [(48 // 2 ** k, 48 // 2 ** k) for k in
                                                          range(len(pools) - 1, -1, -1)]


class TestUnpoolDecoder:
    def test_shares_the_wct_decoders_parameters(self):
        for level in LEVELS:
            state = MirrorDecoder(level).state_dict()
            UnpoolDecoder(level).load_state_dict(state)  # strict: same names and shapes

    def test_needs_one_switch_per_pooling(self):
        dec = UnpoolDecoder("relu3_1")
        with pytest.raises(ValueError, match="needs 2 pooling switches"):
            dec(torch.zeros(1, 256, 4, 4), [])

    def test_output_shape_and_gradient_flow(self, net):
        x = torch.rand(2, 3, 32, 40)
        losses = net.reconstruction_losses("relu3_1", x)
        losses["loss"].backward()
        grads = [p.grad for p in net.decoders["relu3_1"].parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert net.reconstruct(torch.rand(1, 3, 37, 45), "relu2_1").shape == (1, 3, 37, 45)
        net.zero_grad(set_to_none=True)

    def test_reconstruction_loss_falls(self):
        torch.manual_seed(1)
        model = PhotoWCTNet(PhotoWCTConfig(levels=("relu2_1",), steps=(1,), seconds=None, precision="fp32",
                                           transfer_levels=("relu2_1",)))
        batch = torch.cat([square_photo(skdata.astronaut(), 32), square_photo(skdata.coffee(), 32)])
        opt = torch.optim.Adam(model.decoders["relu2_1"].parameters(), lr=1e-3)
        values = []
        for _ in range(40):
            loss = model.reconstruction_losses("relu2_1", batch)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            values.append(float(loss.detach()))
        assert values[-1] < 0.5 * values[0], values[::10]


class TestLabelAwareWCT:
    def test_each_region_gets_its_style_regions_statistics(self):
        g = torch.Generator().manual_seed(0)
        content = torch.randn(1, 4, 10, 12, generator=g)
        style = torch.randn(1, 4, 8, 8, generator=g)
        style[..., :4] = style[..., :4] * 3 + 5  # region 0 of the style: other mean and scale
        c_labels = torch.zeros(10, 12, dtype=torch.long)
        c_labels[:, 6:] = 1
        s_labels = torch.zeros(8, 8, dtype=torch.long)
        s_labels[:, 4:] = 1
        out = wct_regions(content, style, c_labels, s_labels, [0, 1])
        for k in (0, 1):
            o = out[0].reshape(4, -1)[:, c_labels.flatten() == k]
            s = style[0].reshape(4, -1)[:, s_labels.flatten() == k]
            (om, oc), (sm, sc) = covariance(o), covariance(s)
            assert torch.allclose(om, sm, atol=1e-4) and torch.allclose(oc, sc, atol=1e-3 * float(sc.abs().max()))

    def test_a_region_missing_from_the_style_keeps_its_content(self):
        content = torch.randn(1, 3, 6, 6, generator=torch.Generator().manual_seed(1))
        c_labels = torch.zeros(6, 6, dtype=torch.long)
        c_labels[:3] = 2
        s_labels = torch.zeros(6, 6, dtype=torch.long)
        out = wct_regions(content, torch.randn(1, 3, 6, 6), c_labels, s_labels, [0, 2], min_positions=5)
        keep = (c_labels == 2).flatten()
        assert torch.equal(out[0].reshape(3, -1)[:, keep], content[0].reshape(3, -1)[:, keep])

    def test_label_maps_must_match_the_features(self):
        with pytest.raises(ValueError, match="must match the feature sizes"):
            wct_regions(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), torch.zeros(5, 4, dtype=torch.long),
                        torch.zeros(4, 4, dtype=torch.long), [0])


class TestTransfer:
    def test_own_style_gives_the_reconstruction(self, net):
        x = square_photo(skdata.coffee(), 48)
        assert (net.stylize(x, x, levels=["relu2_1"]) - net.reconstruct(x, "relu2_1")).abs().max() < 2e-3

    def test_labelled_transfer_runs_with_odd_sizes(self, net):
        c, s = torch.rand(1, 3, 37, 41), torch.rand(1, 3, 30, 34)
        cl = torch.zeros(37, 41, dtype=torch.long)
        cl[:, 20:] = 1
        sl = torch.zeros(30, 34, dtype=torch.long)
        sl[:, 17:] = 1
        out = net.stylize(c, s, content_labels=cl, style_labels=sl)
        assert out.shape == c.shape and 0 <= float(out.min()) <= float(out.max()) <= 1

    def test_smoothing_keeps_a_constant_and_none_is_the_identity(self):
        cfg = PhotoWCTConfig()
        content = square_photo(skdata.astronaut(), 32)
        flat = torch.full((1, 3, 32, 32), 0.4)
        for method in ("closed_form", "fast"):
            assert (smooth(flat, content, cfg, method) - 0.4).abs().max() < 1e-3
        y = torch.rand(1, 3, 32, 32)
        assert smooth(y, content, cfg, "none") is y
        with pytest.raises(ValueError, match="smoothing must be"):
            smooth(y, content, cfg, "bilateral")

    @pytest.mark.skipif("photowct-quick-relu4_1" not in registry.entries(), reason="photowct-quick not registered")
    def test_trained_network_moves_towards_the_style_and_keeps_structure(self):
        c, s = square_photo(skdata.astronaut(), 128), square_photo(skdata.coffee(), 128)
        out = stylize_photowct(c, s, smoothing="fast")
        # measured: Gram 0.300 against a bar of 0.311 (0.9 × colour transfer 0.346), edge SSIM 0.94
        v = towards_style(out, c, s, kind="photorealistic")
        assert v.ok, str(v)
        assert ssim(out, c) > 0.3


class TestTraining:
    def test_ci_profile_trains_and_registers_one_decoder_per_level(self, tmp_path, ci_registry):
        entries = train_and_register("ci", run_dir=tmp_path / "run", progress=False, levels=("relu1_1", "relu2_1"))
        assert [e.name for e in entries] == ["photowct-ci-relu1_1", "photowct-ci-relu2_1"]
        assert all(e.iterations == 2 and e.model == "photowct" for e in entries)
        assert all(e.data.startswith("photos only") and "paintings" not in e.data for e in entries)
        assert registry.load_history("photowct-ci-relu2_1")["step"].tolist() == [1, 2]

    def test_config_checks(self):
        rows = {r["parameter"] for r in PhotoWCTConfig().deviations()}
        assert {"init_from", "steps", "training data"} <= rows
        with pytest.raises(ValueError, match="smoothing"):
            PhotoWCTConfig(smoothing="bilateral")
        with pytest.raises(ValueError, match="one value per level"):
            PhotoWCTConfig(steps=(1, 2))
