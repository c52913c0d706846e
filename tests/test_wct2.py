"""WCT2 (Yoo et al., ICCV 2019): wavelet encoder, wavelet decoder, progressive transfer, training."""

from __future__ import annotations

import pytest
import torch
from skimage import data as skdata

from stylelib.training import registry
from stylelib.metrics import edge_ssim, ssim
from stylelib.models.wct2 import TRANSFER_POINTS, WCT2Config, WCT2Net
from stylelib.recipes.wct2 import stylize_wct2, train_and_register
from stylelib.vgg import VGG19Features

from _images import square_photo



@pytest.fixture(scope="module")
def net():
    """An untrained network whose band fusion sums the four bands (the paper's "sum" unpooling)."""
    torch.manual_seed(0)
    model = WCT2Net(WCT2Config(precision="fp32")).eval()
    with torch.no_grad():
        for fuse in model.decoder.fuse.values():
            c = fuse.out_channels
            fuse.weight.copy_(torch.eye(c).repeat(1, 4)[:, :, None, None])
    return model


class TestWaveEncoder:
    def test_shapes_of_the_top_features_and_the_skipped_bands(self, net):
        f = net.encode(torch.rand(1, 3, 48, 64))
        assert tuple(f.top.shape) == (1, 512, 6, 8)
        assert {b: tuple(t.shape) for b, (t, _, _) in f.skips.items()} == \
            {1: (1, 64, 24, 32), 2: (1, 128, 12, 16), 3: (1, 256, 6, 8)}
        assert set(f.relus) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1"}

    def test_low_band_path_equals_vgg_with_average_pooling(self, net):
        """LL / 2 is the 2x2 mean: the wavelet encoder's relu4_1 is VGG-19's with average pooling (reference)."""
        x = square_photo(skdata.astronaut(), 64)
        ref = VGG19Features(("relu4_1",), pooling="avg")(x)["relu4_1"]
        assert torch.allclose(net.encode(x).top, ref, rtol=1e-4, atol=1e-3 * float(ref.abs().max()))

    def test_encoder_is_frozen(self, net):
        assert not any(p.requires_grad for p in net.encoder.parameters())
        assert all(p.requires_grad for p in net.decoder.parameters())


class TestWaveDecoder:
    def test_output_shape_and_gradient_flow(self, net):
        x = torch.rand(2, 3, 32, 40)
        losses = net.reconstruction_losses(x)
        losses["loss"].backward()
        grads = [p.grad for p in net.decoder.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0
        assert net.reconstruct(torch.rand(1, 3, 37, 45)).shape == (1, 3, 37, 45)
        net.decoder.zero_grad(set_to_none=True)

    def test_reconstruction_loss_falls(self):
        torch.manual_seed(1)
        model = WCT2Net(WCT2Config(precision="fp32"))
        batch = torch.cat([square_photo(skdata.astronaut(), 32), square_photo(skdata.coffee(), 32)])
        opt = torch.optim.Adam(model.decoder.parameters(), lr=1e-3)
        values = []
        for _ in range(40):
            loss = model.reconstruction_losses(batch)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            values.append(float(loss.detach()))
        assert values[-1] < 0.5 * values[0], values[::10]


class TestProgressiveTransfer:
    def test_own_style_gives_the_reconstruction(self, net):
        """WCT of features with themselves is the identity, at every transfer point."""
        x = square_photo(skdata.coffee(), 48)
        same = net.stylize(x, x)
        assert (same - net.reconstruct(x)).abs().max() < 2e-3

    @pytest.mark.parametrize("points", [("encoder",), ("skip",), ("decoder",)])
    def test_each_transfer_point_changes_the_output(self, net, points):
        c, s = square_photo(skdata.astronaut(), 48), square_photo(skdata.chelsea(), 48)
        assert (net.stylize(c, s, transfer_at=points) - net.reconstruct(c)).abs().mean() > 1e-6

    def test_unknown_transfer_point_is_refused(self, net):
        with pytest.raises(ValueError, match="transfer_at"):
            net.stylize(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), transfer_at=("bottleneck",))
        with pytest.raises(ValueError, match="transfer_at"):
            WCT2Config(transfer_at=())

    @pytest.mark.skipif("wct2-quick" not in registry.entries(), reason="wct2-quick is not registered")
    def test_trained_network_keeps_structure(self):
        c, s = square_photo(skdata.astronaut(), 128), square_photo(skdata.coffee(), 128)
        out = stylize_wct2(c, s)
        assert ssim(out, c) > 0.35 and edge_ssim(out, c) > 0.5  # measured 0.43 and 0.56

    @pytest.mark.skipif("wct2-quick" not in registry.entries(), reason="wct2-quick is not registered")
    @pytest.mark.xfail(strict=True, reason="measured: Gram 0.650 against the photo's 0.683 and a bar of 0.311 "
                       "(0.9 × colour transfer 0.346): the 15-minute quick decoder (about 20 dB) transfers weakly")
    def test_trained_network_moves_towards_the_style(self):
        from stylelib.baselines import towards_style

        c, s = square_photo(skdata.astronaut(), 128), square_photo(skdata.coffee(), 128)
        v = towards_style(stylize_wct2(c, s), c, s, kind="photorealistic")
        assert v.ok, str(v)


class TestTraining:
    def test_ci_profile_trains_and_registers(self, tmp_path, ci_registry):
        [entry] = train_and_register("ci", run_dir=tmp_path / "run", progress=False)
        assert entry.name == "wct2-ci" and entry.iterations == 3 and entry.model == "wct2"
        assert entry.data.startswith("photos only") and "paintings" not in entry.data
        state, rec = registry.load("wct2-ci")
        assert rec.metrics["psnr_images"] > 0 and set(state) == set(WCT2Net().decoder.state_dict())
        assert registry.load_history("wct2-ci")["step"].tolist() == [1, 2, 3]

    def test_config_profiles_and_deviations(self):
        assert WCT2Config.paper().transfer_at == TRANSFER_POINTS
        rows = {r["parameter"] for r in WCT2Config().deviations()}
        assert {"crop", "steps", "decoder unpooling", "training data"} <= rows
        with pytest.raises(ValueError, match="alpha"):
            WCT2Config(alpha=1.5)


class TestStartFromWCT:
    def test_at_the_start_the_decoder_is_the_wct_mirror_decoder(self, tmp_path, monkeypatch):
        """The fusion starts as the identity on the low band, whose unpooling is a 2x nearest upsampling."""
        import dataclasses

        from stylelib.models.wct import WCTConfig, WCTNet
        from stylelib.recipes.wct2 import init_from_wct

        monkeypatch.setenv("STYLELIB_WEIGHTS", str(tmp_path))
        torch.manual_seed(3)
        wnet = WCTNet(WCTConfig.for_profile("ci"))
        registry.register("wct-x-relu4_1", wnet.decoders["relu4_1"].state_dict(), model="wct", profile="ci",
                          config=dataclasses.asdict(wnet.cfg) | {"level": "relu4_1"}, data="none", iterations=0,
                          seconds=0.0, dtype=torch.float32)
        net2 = WCT2Net(WCT2Config(precision="fp32", init_from=None))
        init_from_wct(net2.decoder, "wct-x-relu4_1")
        x = square_photo(skdata.astronaut(), 32)
        feats = net2.encode(x)
        with torch.no_grad():
            ref = wnet.decoders["relu4_1"](feats.top)
            ours = net2.decoder(feats)
        assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))
        # and the skipped bands reach the output through the band fusion's gradient
        net2.decoder(feats).square().mean().backward()
        assert all(float(f.weight.grad[:, f.weight.shape[1] // 4:].abs().sum()) > 0 for f in net2.decoder.fuse.values())
