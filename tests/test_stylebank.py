"""StyleBank (Chen et al., CVPR 2017): banks, fusion, the (T+1) schedule, incremental learning."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from stylelib.checks import InputError
from stylelib.training import registry
from stylelib.models.stylebank import (StyleBankConfig, StyleBankError, StyleBankLoss, StyleBankNet, apply_bank,
                                       balance_gradients, branch_of, kmeans_masks, style_ids_of)
from stylelib.recipes.stylebank import (compare_incremental, load_stylebank, train_and_register, train_incremental,
                                        train_stylebank)
from stylelib.training.loop import BranchOptimizers


def _net(n: int = 3, seed: int = 0) -> StyleBankNet:
    torch.manual_seed(seed)
    net = StyleBankNet([f"s{i}" for i in range(n)])
    with torch.no_grad():  # banks far from each other, so outputs differ visibly
        for k in net.banks:
            k.weight.normal_(0, 0.05)
    return net.eval()


def _images(n: int = 1, size: int = 32, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def ci_cfg() -> StyleBankConfig:
    return StyleBankConfig.for_profile("ci").replace(crop=32, load_size=48, style_size=32, precision="fp32")


class TestArchitecture:
    def test_shapes_and_widths(self):
        net = _net(2)
        x = _images(2, 32)
        f = net.encode(x)
        assert f.shape == (2, 128, 8, 8)
        assert net(x).shape == x.shape and net(x, [0, 1]).shape == x.shape
        assert net.banks[0].kernel_size == (3, 3) and net.banks[0].in_channels == 128 == net.banks[0].out_channels

    def test_bank_is_linear_in_the_features(self):
        net = _net(1)
        k = net.banks[0]
        f, g = torch.randn(1, 128, 6, 6), torch.randn(1, 128, 6, 6)
        zero = torch.zeros_like(k.bias)
        lhs = apply_bank(0.3 * f + 0.7 * g, k.weight, zero)
        rhs = 0.3 * apply_bank(f, k.weight, zero) + 0.7 * apply_bank(g, k.weight, zero)
        assert torch.allclose(lhs, rhs, atol=1e-5)

    def test_any_image_size_at_test_time(self):
        net = _net(1)
        x = _images(1, 30)[..., :27]
        assert net.stylize(x, 0).shape == x.shape and net.reconstruct(x).shape == x.shape

    def test_clear_errors(self):
        net = _net(2)
        with pytest.raises(InputError, match="StyleBank: height and width must be multiples of 4"):
            net(torch.rand(1, 3, 30, 30))
        with pytest.raises(StyleBankError, match="no bank for style 'x'"):
            net.stylize(_images(), "x")
        with pytest.raises(StyleBankError, match="out of range"):
            net.stylize(_images(), 5)
        with pytest.raises(StyleBankError, match="already has a bank"):
            net.add_bank("s0")
        with pytest.raises(StyleBankError, match="2 style ids for a batch of 1"):
            net(_images(), [0, 1])


class TestBanks:
    def test_each_bank_changes_only_its_own_style(self):
        net = _net(3)
        x = _images()
        before = [net.stylize(x, i) for i in range(3)]
        rec = net.reconstruct(x)
        with torch.no_grad():
            net.banks[1].weight.add_(0.1 * torch.randn_like(net.banks[1].weight))
        after = [net.stylize(x, i) for i in range(3)]
        assert torch.equal(after[0], before[0]) and torch.equal(after[2], before[2])
        assert (after[1] - before[1]).abs().max() > 1e-3
        assert torch.equal(net.reconstruct(x), rec)

    def test_a_batch_updates_only_the_banks_of_its_styles(self):
        net = _net(3)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        untouched = net.banks[2].weight.detach().clone()
        net.train()
        net(_images(2), [0, 1]).mean().backward()
        assert net.banks[2].weight.grad is None
        assert net.banks[0].weight.grad.abs().sum() > 0 and net.banks[1].weight.grad.abs().sum() > 0
        opt.step()
        assert torch.equal(net.banks[2].weight, untouched)

    def test_mixed_batch_equals_per_style_batches(self):
        net = _net(2)
        x = _images(2)
        both = net(x, [1, 0])
        assert torch.allclose(both[0:1], net(x[0:1], [1]), atol=1e-6)
        assert torch.allclose(both[1:2], net(x[1:2], [0]), atol=1e-6)


class TestFusion:
    def test_linear_weight_one_equals_that_bank_exactly(self):
        net = _net(3)
        x = _images()
        for i in range(3):
            w = [0.0, 0.0, 0.0]
            w[i] = 1.0
            assert torch.equal(net.fuse_linear(x, w), net.stylize(x, i))
        assert torch.equal(net.fuse_linear(x, {"s1": 2.0}), net.stylize(x, 1))  # weights are normalised

    def test_linear_fusion_mixes_the_kernels(self):
        net = _net(2)
        x = _images()
        k0, k1 = net.banks
        with torch.no_grad():
            f = net.encode(x)
            manual = net.decoder(apply_bank(f, 0.25 * k0.weight + 0.75 * k1.weight, 0.25 * k0.bias + 0.75 * k1.bias))
            # the bank is linear, so this is also the mix of the two banks' feature maps
            mixed = net.decoder(0.25 * net.bank(f, 0) + 0.75 * net.bank(f, 1))
        out = net.fuse_linear(x, [0.25, 0.75])
        assert torch.allclose(out, manual.clamp(0, 1), atol=1e-6)
        assert torch.allclose(out, mixed.clamp(0, 1), atol=1e-5)

    def test_region_fusion_with_one_all_ones_mask_equals_the_bank(self):
        net = _net(2)
        x = _images()
        for i in range(2):
            assert torch.equal(net.fuse_regions(x, [i], torch.ones(1, 32, 32)), net.stylize(x, i))

    def test_region_fusion_applies_each_bank_in_its_region(self):
        net = _net(2)
        x = _images()
        left = torch.zeros(1, 1, 8, 8)
        left[..., :4] = 1
        with torch.no_grad():
            f = net.encode(x)
            fused = net.region_features(f, [0, 1], torch.cat([left, 1 - left]))
            # away from the border between the regions (the 3x3 bank sees one column across it)
            assert torch.allclose(fused[..., :3], net.bank(f, 0)[..., :3], atol=1e-6)
            assert torch.allclose(fused[..., 5:], net.bank(f, 1)[..., 5:], atol=1e-6)
            assert not torch.allclose(fused[..., 3:5], net.bank(f, 0)[..., 3:5], atol=1e-3)
        out = net.fuse_regions(x, [0, 1], torch.cat([left, 1 - left])[:, 0])
        assert torch.equal(out, net.decoder(fused).clamp(0, 1))

    def test_fusion_errors(self):
        net = _net(2)
        with pytest.raises(StyleBankError, match="one mask per style"):
            net.fuse_regions(_images(), [0, 1], torch.ones(1, 8, 8))
        with pytest.raises(StyleBankError, match="non-negative"):
            net.fuse_linear(_images(), [1.0, -0.5])

    def test_kmeans_masks_partition_the_feature_map(self):
        net = _net(1)
        x = torch.cat([torch.zeros(1, 3, 32, 16), torch.ones(1, 3, 32, 16)], -1)
        masks = kmeans_masks(net, x, 2, n_init=2)
        assert masks.shape == (2, 8, 8)
        assert torch.equal(masks.sum(0), torch.ones(8, 8))
        assert masks[0].sum() >= masks[1].sum()
        assert torch.equal(masks, kmeans_masks(net, x, 2, n_init=2))  # seeded


@pytest.fixture(scope="module")
def crit(ci_cfg) -> StyleBankLoss:
    return StyleBankLoss(ci_cfg, [_images(1, 32, 5), _images(1, 40, 6) ** 3])


class TestLosses:
    def test_gram_loss_is_per_sample(self, crit):
        x = _images(2, 32, 7)
        feats = crit.features(x, crit.cfg.style_layers)
        both = crit.style_loss(feats, [0, 1])
        one = crit.style_loss({k: v[:1] for k, v in feats.items()}, [0])
        two = crit.style_loss({k: v[1:] for k, v in feats.items()}, [1])
        assert float(both) == pytest.approx(0.5 * float(one + two), rel=1e-5)
        assert float(crit.style_loss(feats, [1, 0])) != pytest.approx(float(both), rel=1e-3)

    def test_gradients_reach_encoder_decoder_and_the_bank(self, crit):
        net = _net(2)
        net.train()
        x = _images(2)
        crit(net(x, [0, 0]), x, [0, 0])["loss"].backward()
        for p in [*net.encoder.parameters(), *net.decoder.parameters(), *net.banks[0].parameters()]:
            assert p.grad is not None and p.grad.abs().sum() > 0
        assert net.banks[1].weight.grad is None
        assert all(p.grad is None for p in crit.vgg.parameters())

    def test_style_loss_falls_on_a_fixed_batch(self, crit):
        net = _net(2)
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        x = _images(2, 32, 9)
        first = None
        for _ in range(25):
            loss = crit(net(x, [0, 1]), x, [0, 1])["loss"]
            first = float(loss.detach()) if first is None else first
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert float(crit(net(x, [0, 1]), x, [0, 1])["loss"].detach()) < 0.1 * first


class TestSchedule:
    def test_t_stylizing_steps_then_one_auto_encoder_step(self):
        assert [branch_of(s, 2) for s in range(6)] == ["style", "style", "ae"] * 2
        assert [branch_of(s, 1) for s in range(4)] == ["style", "ae"] * 2
        assert [branch_of(s, 0) for s in range(3)] == ["ae"] * 3

    def test_style_ids_cycle_through_every_style(self):
        ids = [i for s in range(30) if branch_of(s, 2) == "style" for i in style_ids_of(s, 2, 4, 8)]
        assert ids == [i % 8 for i in range(len(ids))]

    def test_gradient_balancing_matches_the_stylizing_magnitude(self):
        p = torch.nn.Parameter(torch.zeros(10))
        memory = {}
        p.grad = torch.full((10,), 3.0)
        assert balance_gradients([p], memory, "style") == 1.0 and memory["grad_k"] == pytest.approx(3.0)
        p.grad = torch.linspace(-1, 1, 10) * 0.01
        scale = balance_gradients([p], memory, "ae", lam=0.5)
        assert p.grad.abs().mean() == pytest.approx(1.5, rel=1e-5)
        assert scale == pytest.approx(1.5 / (torch.linspace(-1, 1, 10) * 0.01).abs().mean().item(), rel=1e-5)


class TestTraining:
    def test_alternating_run_logs_both_branches_and_resumes_exactly(self, ci_cfg, tmp_path):
        styles = [_images(1, 32, 11), _images(1, 32, 12)]
        cfg = ci_cfg.replace(steps=6, checkpoint_every=3)
        full, res, data = train_stylebank(cfg, ["a", "b"], styles, progress=False, content_source="embedded")
        assert "embedded" in data and res.steps == 6
        h = res.history
        assert h["reconstruction"].notna().tolist() == [False, False, True] * 2
        assert h["style"].notna().sum() == 4

        train_stylebank(cfg.replace(steps=3), ["a", "b"], styles, run_dir=tmp_path, progress=False,
                        content_source="embedded")
        again, res2, _ = train_stylebank(cfg, ["a", "b"], styles, run_dir=tmp_path, resume=True, progress=False,
                                         content_source="embedded")
        assert res2.steps == 6
        for k, v in full.state_dict().items():
            assert torch.equal(again.state_dict()[k], v), k

    def test_branch_optimizers_step_the_selected_one(self):
        net = _net(1)
        ed = [*net.encoder.parameters(), *net.decoder.parameters()]
        opt = BranchOptimizers({"style": torch.optim.Adam(net.parameters()), "ae": torch.optim.Adam(ed)})
        bank = net.banks[0].weight.detach().clone()
        opt.select("ae")
        net(_images()).mean().backward()
        net.banks[0].weight.grad = torch.ones_like(bank)  # would move it if the style optimizer stepped
        opt.step()
        assert torch.equal(net.banks[0].weight, bank)


class TestIncremental:
    def test_encoder_and_decoder_stay_bit_identical(self, ci_cfg):
        base = _net(2)
        ed = {k: v.clone() for k, v in base.encoder_decoder_state().items()}
        old_banks = {k: v.clone() for k, v in base.banks.state_dict().items()}
        new, res, _ = train_incremental(base, ci_cfg, "new", _images(1, 32, 13), progress=False,
                                        content_source="embedded", steps=4)
        assert res.steps == 4 and new.style_names == ["new"]
        for k, v in ed.items():
            assert torch.equal(base.encoder_decoder_state()[k], v), k
            assert torch.equal(new.encoder_decoder_state()[k], v), k
        for k, v in old_banks.items():
            assert torch.equal(base.banks.state_dict()[k], v)
        assert all(p.requires_grad for p in base.parameters())  # unfrozen again afterwards
        torch.manual_seed(ci_cfg.seed + 1)
        assert not torch.equal(new.banks[0].weight, StyleBankNet(["x"]).banks[0].weight)  # it trained

    def test_comparison_finds_the_matched_time(self):
        full = pd.DataFrame({"step": range(1, 11), "seconds": [10.0 * i for i in range(1, 11)],
                             "style": [100.0 - 9 * i for i in range(1, 11)]})  # ends at 10
        inc = pd.DataFrame({"step": range(1, 11), "seconds": [2.0 * i for i in range(1, 11)],
                            "style": [30.0, 20.0, 11.5, 11.0, 10.5, 10.4, 10.3, 10.2, 10.1, 10.0]})
        cmp = compare_incremental(inc, full, tolerance=0.2, window=1)
        assert cmp["incremental_seconds_to_match"] == 6.0 and cmp["time_ratio_to_match"] == pytest.approx(0.06)
        assert cmp["style_loss_ratio"] == pytest.approx(1.0)


class TestRegistered:
    def test_ci_job_registers_three_entries_and_histories(self, monkeypatch, tmp_path):
        monkeypatch.setenv(registry.WEIGHTS_ENV, str(tmp_path))
        monkeypatch.setenv("STYLELIB_DATA", str(tmp_path / "no-data"))  # the embedded set, whatever is installed
        entries = train_and_register("ci", run_dir=tmp_path / "runs", progress=False)
        assert [e.name for e in entries] == ["stylebank-ci", "stylebank-ci-incremental", "stylebank-ci-single"]
        cfg = StyleBankConfig.for_profile("ci")
        assert entries[0].iterations == cfg.steps and entries[1].iterations == cfg.incremental_steps
        assert {"incremental_seconds", "full_seconds", "style_loss_ratio"} <= set(entries[1].metrics)
        net = load_stylebank("stylebank-ci")
        assert len(net.style_names) == cfg.n_styles + 1
        assert len(registry.load_history("stylebank-ci")) == cfg.steps
        load_stylebank.cache_clear()

    def test_profiles_and_deviations(self):
        quick = StyleBankConfig.for_profile("quick")
        params = {r["parameter"] for r in quick.deviations()}
        assert {"vgg", "crop", "n_styles", "style_weight"} <= params and "T" not in params
        assert StyleBankConfig.paper().T == 2 and quick.n_styles >= 8
        with pytest.raises(ValueError, match="profile"):
            StyleBankConfig.for_profile("huge")
        with pytest.raises(ValueError, match="multiple of 4"):
            StyleBankConfig(crop=30)


class TestGramDistances:
    def test_matches_the_metric_pair_by_pair(self):
        from stylelib.metrics import gram_distance
        from stylelib.recipes.stylebank import gram_distances

        xs = [_images(1, 32, 21), _images(1, 32, 22)]
        ss = [_images(1, 40, 23), _images(1, 24, 24) ** 2]
        table = gram_distances(xs, ss)
        for i, x in enumerate(xs):
            for j, s in enumerate(ss):
                assert float(table[i, j]) == pytest.approx(gram_distance(x, s), rel=1e-6)


class TestCommittedWeights:
    def test_quick_weights_load_and_stylize_by_name(self):
        from stylelib import catalog
        from stylelib.recipes.stylebank import stylize_stylebank

        net = load_stylebank("stylebank-quick")
        assert len(net.style_names) == 9 and net.style_names[-1] == registry.entry(
            "stylebank-quick-incremental").config["styles"][0]
        x = _images(1, 40)
        assert torch.equal(stylize_stylebank(x, net.style_names[3]), net.stylize(x, 3))
        assert catalog.get("stylebank").fn is stylize_stylebank
        with pytest.raises(StyleBankError, match="no bank for style"):
            stylize_stylebank(x, "not-a-style")

    def test_style_references_are_the_images_or_without_data_each_banks_own_output(self, monkeypatch):
        from stylelib.recipes import stylebank as recipe
        from stylelib.recipes.stylebank import StyleReferences, config_of

        net, cfg = load_stylebank("stylebank-quick"), config_of("stylebank-quick")
        x = _images(1, 40)
        monkeypatch.setattr(recipe, "load_styles", lambda *a, **k: (_ for _ in ()).throw(StyleBankError("no data")))
        refs = StyleReferences(net, cfg, 64)
        assert not refs.have_images and refs.images == [None] * len(net.style_names)
        assert torch.equal(refs(2, x), net.stylize(x, 2))
        styles = [_images(1, 24, seed=i) for i in range(len(net.style_names))]
        monkeypatch.setattr(recipe, "load_styles", lambda *a, **k: (list(net.style_names), styles, "art"))
        refs = StyleReferences(net, cfg, 64)
        assert refs.have_images and refs(2, x) is styles[2]


@pytest.mark.skipif("art" not in __import__("stylelib.data", fromlist=["available_sets"]).available_sets(),
                    reason="needs the art set ($STYLELIB_DATA) for the banks' style images")
@pytest.mark.xfail(strict=True, reason="measured on the first held-out photo at 256 px: 1 of the 9 quick banks "
                   "beats the colour transfer by 10 % (e.g. sb_04: Gram 0.798 against a bar of 0.512); the "
                   "21-minute quick network is far from the paper's")
def test_trained_banks_move_towards_their_styles():
    from stylelib.baselines import towards_style
    from stylelib.data.training import held_out_photos
    from stylelib.images import load_image
    from stylelib.recipes.stylebank import StyleReferences, config_of

    net, cfg = load_stylebank("stylebank-quick"), config_of("stylebank-quick")
    refs = StyleReferences(net, cfg, 256)
    x = load_image(held_out_photos()[0][0], size=256)
    moved = [towards_style(net.stylize(x, i), x, refs.images[i]).ok for i in range(len(net.style_names))]
    assert sum(moved) > len(moved) / 2, moved


def test_bank_independence_on_the_trained_network():
    from stylelib.recipes.stylebank import bank_independence

    net = load_stylebank("stylebank-quick")
    x = _images(1, 40)
    r = bank_independence(net, x, bank=2)
    assert r["bank"] == 2 and r["others"] == len(net.style_names) - 1
    assert r["all identical"] and r["identical"] == r["others"] and r["changed"] and r["mean change"] > 0
    assert torch.equal(load_stylebank("stylebank-quick").banks[2].weight, net.banks[2].weight)  # the copy was perturbed
