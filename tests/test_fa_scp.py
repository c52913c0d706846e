"""FA+SCP (Wu, Ni & Li, IJCNN 2020, reconstructed): FA layers, the SCP loss, the two-stage training."""

from __future__ import annotations

import pytest
import torch
from skimage import data as skdata

from stylelib.training import registry
from stylelib.data import available_sets, get_set
from stylelib.data.checksums import file_sha256
from stylelib.data.training import DPST_HELD_OUT, photo_training_images
from stylelib.losses import mean_std
from stylelib.metrics import edge_ssim, ssim
from stylelib.models.fa_scp import (
    LEVELS,
    VARIANTS,
    FALayer,
    FASCPConfig,
    FASCPNet,
    SCPLoss,
    affinity,
)
from stylelib.recipes.fa_scp import stylize_fa_scp, train_and_register
from stylelib.vgg import CHANNELS

from _images import square_photo



@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return FASCPNet(FASCPConfig(precision="fp32"))


class TestFALayer:
    @pytest.mark.parametrize("level", LEVELS)
    @pytest.mark.parametrize("mode", ["attention", "adain"])
    def test_shape_at_every_level_and_gradient_flow(self, level, mode):
        c = CHANNELS[level]
        layer = FALayer(c, mode, max_style_tokens=16)
        h = torch.randn(2, c, 9, 11, requires_grad=True)
        s = torch.randn(2, c, 12, 10, requires_grad=True)  # 120 positions, pooled to at most 16
        out = layer(h, s)
        assert out.shape == h.shape
        out.square().mean().backward()
        assert float(h.grad.abs().sum()) > 0 and float(s.grad.abs().sum()) > 0
        if mode == "attention":
            assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in layer.parameters())

    def test_attention_with_a_zero_projection_is_the_identity(self):
        layer = FALayer(8, "attention")
        torch.nn.init.zeros_(layer.out.weight)
        torch.nn.init.zeros_(layer.out.bias)
        h = torch.randn(1, 8, 5, 5)
        assert torch.equal(layer(h, torch.randn(1, 8, 4, 4)), h)

    def test_adain_mode_gives_the_style_statistics(self):
        h, s = torch.randn(1, 6, 8, 8), 3 * torch.randn(1, 6, 7, 7) + 2
        (om, osd), (sm, ssd) = mean_std(FALayer(6, "adain")(h, s)), mean_std(s)
        assert torch.allclose(om, sm, atol=1e-4) and torch.allclose(osd, ssd, atol=1e-3)

    def test_bad_shapes_are_refused(self):
        with pytest.raises(ValueError, match="expected"):
            FALayer(8)(torch.zeros(1, 4, 3, 3), torch.zeros(1, 8, 3, 3))
        with pytest.raises(ValueError, match="does not match"):
            FALayer(8)(torch.zeros(2, 8, 3, 3), torch.zeros(3, 8, 3, 3))


class TestSCPLoss:
    def test_affinity_term_is_zero_for_the_content_and_grows_when_it_is_shuffled(self, net):
        c, s = square_photo(skdata.astronaut(), 64), square_photo(skdata.coffee(), 64)
        fc, fs = net.encode(c), net.encode(s)
        loss = SCPLoss(net.cfg)
        same = loss(fc, fc, fs)
        perm = torch.randperm(64 * 64, generator=torch.Generator().manual_seed(0))
        shuffled = c.flatten(2)[..., perm].reshape(c.shape)
        moved = loss(net.encode(shuffled), fc, fs)
        assert float(same["coherence"]) == pytest.approx(0.0, abs=1e-6)
        assert float(same["semantic"]) == pytest.approx(0.0, abs=1e-8)
        assert float(moved["coherence"]) > 0.1 and float(moved["semantic"]) > 0.1

    def test_affinity_is_a_cosine_matrix(self):
        a = affinity(torch.randn(2, 5, 40, 40), tokens=64)
        assert a.shape[0] == 2 and a.shape[1] == a.shape[2] <= 64
        assert torch.allclose(a.diagonal(dim1=1, dim2=2), torch.ones(2, a.shape[1]), atol=1e-5)
        assert float(a.abs().max()) <= 1 + 1e-5

    def test_plain_loss_of_the_ablation(self, net):
        fc = net.encode(square_photo(skdata.astronaut(), 32))
        plain = SCPLoss(net.cfg.replace(loss="plain"))(fc, fc, fc)
        assert set(plain) == {"loss", "content", "style"} and float(plain["loss"]) == pytest.approx(0, abs=1e-6)


class TestGenerator:
    def test_output_shape_and_decoder_gradients(self, net):
        c, s = torch.rand(2, 3, 32, 40), torch.rand(2, 3, 48, 48)
        out = net(c, s)
        assert out.shape == c.shape
        SCPLoss(net.cfg)(net.encode(out), net.encode(c), net.encode(s))["loss"].backward()
        grads = [p.grad for p in net.decoder.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert not any(p.requires_grad for p in net.encoder.parameters())
        net.decoder.zero_grad(set_to_none=True)
        assert net.stylize(torch.rand(1, 3, 37, 45), s[:1], passes=2).shape == (1, 3, 37, 45)

    def test_committed_weights_fit_the_size_limit(self):
        n = sum(p.numel() for p in FASCPNet().decoder.parameters())
        assert n * 2 < registry.MAX_COMMITTED_BYTES, n  # fp16

    def test_loss_falls_on_a_fixed_batch(self):
        torch.manual_seed(1)
        model = FASCPNet(FASCPConfig(precision="fp32"))
        c = torch.cat([square_photo(skdata.astronaut(), 32), square_photo(skdata.chelsea(), 32)])
        s = torch.cat([square_photo(skdata.coffee(), 32), square_photo(skdata.rocket(), 32)])
        loss_fn = SCPLoss(model.cfg)
        opt = torch.optim.Adam(model.decoder.parameters(), lr=1e-3)
        fc, fs = model.encode(c), model.encode(s)
        values = []
        for _ in range(30):
            loss = loss_fn(model.encode(model.decoder(fc, fs)), fc, fs)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            values.append(float(loss.detach()))
        assert values[-1] < 0.6 * values[0], values[::10]


@pytest.mark.skipif("fa_scp-quick" not in registry.entries(), reason="fa_scp-quick is not registered")
class TestTrainedNetwork:
    def test_keeps_the_tones(self):
        """A positive grayscale SSIM: no tone inversion, the failure of our first run without the identity term."""
        c, s = square_photo(skdata.astronaut(), 128), square_photo(skdata.coffee(), 128)
        out = stylize_fa_scp(c, s)
        assert ssim(out, c) > 0.2 and edge_ssim(out, c) > 0.15  # measured 0.39 and 0.24

    @pytest.mark.xfail(strict=True, reason="measured at 256 px: Gram 0.248 against a bar of 0.251 (colour transfer "
                       "0.278), but edge SSIM 0.42 under the 0.5 floor: the quick network repaints edges")
    def test_moves_towards_the_style(self):
        from stylelib.baselines import towards_style

        c, s = square_photo(skdata.astronaut(), 256), square_photo(skdata.coffee(), 256)
        v = towards_style(stylize_fa_scp(c, s), c, s, kind="photorealistic")
        assert v.ok, str(v)


class TestTraining:
    def test_ci_profile_runs_both_stages_and_variants_copy_its_budget(self, tmp_path, ci_registry):
        from stylelib.report.claims import comparable_entries

        with pytest.raises(ValueError, match="train the full model first"):
            train_and_register("ci", run_dir=tmp_path / "early", progress=False, variant="no_restyle")
        (full,) = train_and_register("ci", run_dir=tmp_path / "run", progress=False)
        assert full.name == "fa_scp-ci" and full.iterations == 3 + 2
        assert set(full.metrics["stages"]) == {"stage1", "stage2"}
        history = registry.load_history("fa_scp-ci")
        assert history["stage"].tolist() == [1, 1, 1, 2, 2]
        assert {"coherence", "semantic", "style", "identity"} <= set(history)
        assert history["identity"].notna().all() and (history["identity"] > 0).all()
        # the ablation without stage 2 runs all 5 iterations in stage 1, on the same data
        (stage1,) = train_and_register("ci", run_dir=tmp_path / "run1", progress=False, variant="no_restyle")
        assert stage1.name == "fa_scp-ci-no_restyle" and stage1.iterations == 5
        assert set(stage1.metrics["stages"]) == {"stage1"} and stage1.config["steps"] == 5
        assert set(comparable_entries("fa_scp-ci", "fa_scp-ci-no_restyle")) == {"fa_scp-ci", "fa_scp-ci-no_restyle"}
        a, _ = registry.load("fa_scp-ci")
        b, _ = registry.load("fa_scp-ci-no_restyle")
        assert any(not torch.equal(a[k], b[k]) for k in a)

    def test_matched_budget_copies_the_stage_iterations(self):
        from stylelib.recipes.fa_scp import matched_budget

        ref = registry.Entry("fa_scp-quick", "f", "0", "fa_scp", "quick", {}, "d", 349, 1500.0,
                             metrics={"stages": {"stage1": {"iterations": 306}, "stage2": {"iterations": 43}}})
        cfg = matched_budget(FASCPConfig.for_profile("quick", "no_scp"), ref)
        assert (cfg.steps, cfg.restyle_steps, cfg.seconds, cfg.restyle_seconds) == (306, 43, None, None)
        one = matched_budget(FASCPConfig.for_profile("quick", "no_restyle"), ref)
        assert (one.steps, one.restylize, one.seconds) == (349, False, None)

    def test_variants(self):
        assert FASCPConfig.for_profile("quick", "no_scp").loss == "plain"
        assert FASCPConfig.for_profile("quick", "adain_fa").fa == "adain"
        assert set(VARIANTS) == {"full", "no_scp", "adain_fa", "no_restyle"}
        with pytest.raises(ValueError, match="unknown FA\\+SCP variant"):
            FASCPConfig.for_profile("quick", "bigger")
        rows = {r["parameter"] for r in FASCPConfig().deviations()}
        assert {"steps", "content_skips", "training data"} <= rows


@pytest.mark.skipif("dpst" not in available_sets(), reason="needs the dpst set ($STYLELIB_DATA)")
class TestHeldOutPairs:
    def test_held_out_pairs_and_their_copies_never_reach_training(self):
        files, desc = photo_training_images()
        hashes = {file_sha256(f) for f in files}
        dpst = get_set("dpst")
        for name in DPST_HELD_OUT:
            pair = dpst.pair(name)
            assert file_sha256(pair.content.path) not in hashes and file_sha256(pair.style.path) not in hashes
        assert len(DPST_HELD_OUT) == 10 and "held out" in desc
        # in12 is the same photo as in11: holding out dpst_12 removes both
        assert dpst.pair("dpst_11").content.path not in files


class TestAttentionMaps:
    def test_rows_are_distributions_over_the_pooled_style(self):
        layer = FALayer(8, "attention", max_style_tokens=16)
        weights, grid = layer.attention(torch.randn(1, 8, 5, 6), torch.randn(1, 8, 12, 10))
        assert weights.shape == (1, 30, grid[0] * grid[1]) and grid[0] * grid[1] <= 16
        assert torch.allclose(weights.sum(-1), torch.ones(1, 30), atol=1e-5) and float(weights.min()) >= 0

    def test_decoder_reports_what_each_fa_layer_saw(self, net):
        seen = {}
        fc, fs = net.encode(torch.rand(1, 3, 32, 32)), net.encode(torch.rand(1, 3, 32, 32))
        with torch.no_grad():
            net.decoder(fc, fs, fa_inputs=seen)
        assert {k: tuple(v.shape[1:]) for k, v in seen.items()} == \
            {"relu4_1": (512, 4, 4), "relu3_1": (256, 8, 8), "relu2_1": (128, 16, 16), "relu1_1": (64, 32, 32)}
        with pytest.raises(ValueError, match="no attention"):
            FALayer(8, "adain").attention(torch.zeros(1, 8, 2, 2), torch.zeros(1, 8, 2, 2))
