"""Consistency-loss photo style transfer (Yao, Puy & Pérez, ICIP 2019): CIN, the shared generator,
the losses, training, normalisation-only adaptation and the registered pair."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from stylelib.checks import InputError
from stylelib.metrics import psnr
from stylelib.models.consistency_pair import (
    STYLE_A,
    STYLE_B,
    ConditionalInstanceNorm,
    ConsistencyConfig,
    ConsistencyError,
    ConsistencyPair,
    PairGenerator,
    count_parameters,
)
from stylelib.recipes.consistency_pair import (
    ADAPTATION_HEADERS,
    adapt,
    adaptation_row,
    load_consistency_pair,
    stylize_consistency_pair,
    train_pair,
)

#: the method note's count: 2 * (32 + 64 + 128 + 10 * 128 + 64 + 32 + 3)
STYLE_PARAMS = 3206
#: 9*9*3*32 + 3*3*32*64 + 3*3*64*128 + 10 * 3*3*128*128 + 3*3*128*64 + 3*3*64*32 + 9*9*32*3 (no biases)
CONV_PARAMS = 7776 + 18432 + 73728 + 10 * 147456 + 73728 + 18432 + 7776


def _photo(seed: int, size=(1, 3, 40, 56)) -> torch.Tensor:
    """A smooth random 'photo': low-frequency colour blobs, so crops look alike."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(size[0], 3, 5, 7, generator=g)
    return torch.nn.functional.interpolate(low, size=size[-2:], mode="bicubic", align_corners=False).clamp(0, 1)


def _tiny(**changes) -> ConsistencyConfig:
    base = dict(crop=32, load_size=40, steps=3, adapt_steps=3, checkpoint_every=100, precision="fp32", profile="ci")
    return ConsistencyConfig(**(base | changes))


class TestConditionalInstanceNorm:
    def test_each_style_sets_the_channel_mean_and_std(self):
        cin = ConditionalInstanceNorm(4, n_styles=2)
        with torch.no_grad():
            cin.gamma[1].copy_(torch.tensor([1.0, 2.0, 0.5, 3.0]))
            cin.beta[1].copy_(torch.tensor([0.0, -1.0, 2.0, 0.25]))
        x = torch.randn(3, 4, 8, 8) * 5 + 2
        y0, y1 = cin(x, 0), cin(x, 1)
        assert torch.allclose(y0.mean((2, 3)), torch.zeros(3, 4), atol=1e-5)
        assert torch.allclose(y0.std((2, 3), unbiased=False), torch.ones(3, 4), atol=1e-3)
        assert torch.allclose(y1.mean((2, 3)), cin.beta[1].detach().expand(3, 4), atol=1e-5)
        assert torch.allclose(y1.std((2, 3), unbiased=False), cin.gamma[1].detach().abs().expand(3, 4), atol=2e-3)

    def test_per_sample_indices_match_one_style_per_call(self):
        cin = ConditionalInstanceNorm(3, n_styles=3)
        with torch.no_grad():
            for p in cin.parameters():
                p.normal_()
        x = torch.randn(3, 3, 5, 5)
        mixed = cin(x, torch.tensor([2, 0, 1]))
        assert torch.allclose(mixed[0], cin(x[:1], 2)[0]) and torch.allclose(mixed[2], cin(x[2:], 1)[0])

    def test_add_style_copies_or_starts_at_identity(self):
        cin = ConditionalInstanceNorm(2)
        with torch.no_grad():
            cin.gamma[1].fill_(3.0)
        assert cin.add_style(init_from=1) == 2 and torch.equal(cin.gamma[2], cin.gamma[1])
        assert cin.gamma[2] is not cin.gamma[1]
        assert cin.add_style() == 3
        assert torch.equal(cin.gamma[3], torch.ones(2)) and torch.equal(cin.beta[3], torch.zeros(2))


class TestSharedGenerator:
    def test_parameter_counts(self):
        G = PairGenerator(2)
        assert count_parameters(G.conv_parameters()) == CONV_PARAMS == 1_674_432
        assert count_parameters(G.style_parameters(STYLE_A)) == STYLE_PARAMS
        assert count_parameters(G.style_parameters(STYLE_B)) == STYLE_PARAMS
        assert count_parameters(G.parameters()) == CONV_PARAMS + 2 * STYLE_PARAMS
        assert len(G.norms()) == 16 and len(G.convolutions()) == 16
        # our input shortcut adds one shared 1x1 convolution (9 weights) and no style parameter
        Gs = PairGenerator(2, input_shortcut=True)
        assert count_parameters(Gs.conv_parameters()) == CONV_PARAMS + 9
        assert count_parameters(Gs.style_parameters(STYLE_B)) == STYLE_PARAMS

    def test_the_two_directions_share_every_convolution(self):
        torch.manual_seed(0)
        G = PairGenerator(2, input_shortcut=True)
        with torch.no_grad():
            for n in G.norms():
                n.gamma[STYLE_B].uniform_(0.5, 1.5)
                n.beta[STYLE_B].uniform_(-0.5, 0.5)
        x = _photo(0, (1, 3, 32, 32))
        # each direction's gradient lands on the same convolution tensors (one copy of W)
        grads = []
        for s in (STYLE_A, STYLE_B):
            G.zero_grad(set_to_none=True)
            G(x, s).sum().backward()
            grads.append({id(p): p.grad.clone() for p in G.conv_parameters()})
        assert grads[0].keys() == grads[1].keys() == {id(p) for p in G.conv_parameters()}
        assert all(g.abs().sum() > 0 for d in grads for g in d.values())
        # the directions differ: only the normalisation parameters tell them apart
        with torch.no_grad():
            assert not torch.allclose(G(x, STYLE_A), G(x, STYLE_B))
            for n in G.norms():
                n.gamma[STYLE_B].copy_(n.gamma[STYLE_A])
                n.beta[STYLE_B].copy_(n.beta[STYLE_A])
            assert torch.equal(G(x, STYLE_A), G(x, STYLE_B))
        # the state holds one copy of each convolution and one gamma/beta per style and CIN layer
        keys = G.state_dict().keys()
        assert sum(k.endswith("conv.weight") for k in keys) == 16 and "shortcut.weight" in keys
        assert sum(".gamma." in k or ".beta." in k for k in keys) == 16 * 2 * 2

    def test_any_size_and_value_range(self):
        G = PairGenerator(2)
        out = G.stylize(_photo(1, (1, 3, 37, 50)), STYLE_B)
        assert out.shape == (1, 3, 37, 50) and 0 <= out.min() and out.max() <= 1

    def test_clear_errors(self):
        G = PairGenerator(2)
        with pytest.raises(ConsistencyError, match="style index 2 does not exist"):
            G(torch.rand(1, 3, 16, 16), 2)
        with pytest.raises(InputError, match="multiples of 4"):
            G(torch.rand(1, 3, 18, 16), 0)
        with pytest.raises(InputError, match=r"expected \[N, 3, H, W\]"):
            G(torch.rand(1, 4, 16, 16), 0)
        with pytest.raises(InputError, match="at least 16"):
            G.stylize(torch.rand(1, 3, 8, 8), 0)


class TestLosses:
    def test_every_term_and_gradient_reaches_w_and_both_thetas(self):
        torch.manual_seed(0)
        pair = ConsistencyPair(_tiny())
        xa, xb = _photo(2, (2, 3, 32, 32)), _photo(3, (2, 3, 32, 32))
        losses = pair.loss_net(pair.G, xa, xb)
        assert set(losses) == {"loss", "style", "content", "cycle", "self", "style_ab", "style_ba"}
        assert all(torch.isfinite(v) and v > 0 for v in losses.values())
        losses["loss"].backward()
        for p in [*pair.G.conv_parameters(), *pair.G.style_parameters(STYLE_A), *pair.G.style_parameters(STYLE_B)]:
            assert p.grad is not None and p.grad.abs().sum() > 0
        assert all(p.grad is None for p in pair.loss_net.vgg.parameters())

    def test_weights_at_zero_drop_the_terms(self):
        pair = ConsistencyPair(_tiny(cycle_weight=0.0, self_weight=0.0))
        losses = pair.loss_net(pair.G, _photo(2, (1, 3, 32, 32)), _photo(3, (1, 3, 32, 32)))
        assert float(losses["cycle"]) == 0.0 and float(losses["self"]) == 0.0
        cfg = pair.cfg
        expected = cfg.style_weight * losses["style"] + cfg.content_weight * losses["content"]
        assert torch.allclose(losses["loss"], expected)

    def test_loss_falls_in_training(self):
        cfg = _tiny(steps=30, lr=2e-3)
        _, res = train_pair(_photo(4, (1, 3, 48, 64)), _photo(5, (1, 3, 48, 64)), cfg, progress=False)
        h = res.history["loss"]
        assert len(h) == 30 and h.tail(5).mean() < 0.8 * h.head(5).mean()  # measured 0.72


class TestIdentityWithoutStyle:
    def test_style_weight_zero_keeps_the_generator_near_the_identity(self):
        """With w_sty = 0 the optimum is the identity map (the method note's sanity check)."""
        photo_a, photo_b = _photo(6, (1, 3, 48, 64)), _photo(7, (1, 3, 48, 64))
        cfg = _tiny(crop=32, load_size=48, steps=IDENTITY_STEPS, lr=2e-3)
        plain, _ = train_pair(photo_a, photo_b, cfg.replace(style_weight=0.0), progress=False)
        styled, _ = train_pair(photo_a, photo_b, cfg.replace(style_weight=STYLED_WEIGHT), progress=False)
        for s, img in ((STYLE_B, photo_a), (STYLE_A, photo_b)):
            assert psnr(plain.G.stylize(img, s), img) > IDENTITY_DB
            assert psnr(plain.G.stylize(img, s), img) > psnr(styled.G.stylize(img, s), img) + 5


#: measured at 40 steps: 25.2 and 23.2 dB without the style loss, 13.3 and 13.4 dB with weight 1
IDENTITY_STEPS = 40
IDENTITY_DB = 21.0
STYLED_WEIGHT = 1.0


class TestNormalisationOnlyAdaptation:
    def test_only_the_new_theta_trains(self, tmp_path):
        torch.manual_seed(0)
        photo_a, photo_b, photo_c = _photo(8, (1, 3, 40, 48)), _photo(9, (1, 3, 40, 48)), _photo(10, (1, 3, 40, 48))
        pair, _ = train_pair(photo_a, photo_b, _tiny(steps=2), progress=False)
        before = {k: v.clone() for k, v in pair.G.state_dict().items()}
        seen = {}

        def count(step, row):
            if step == 1:
                seen["trainable"] = count_parameters(p for p in pair.G.parameters() if p.requires_grad)

        new_style, res = adapt(pair, photo_a, photo_c, steps=5, run_dir=tmp_path, progress=False, on_step=count)
        assert new_style == 2 and pair.G.n_styles == 3 and res.steps == 5
        assert seen["trainable"] == STYLE_PARAMS == 3206
        after = pair.G.state_dict()
        # every convolution weight and the two existing styles are bit-identical
        for k, v in before.items():
            assert torch.equal(after[k], v), k
        new = [k for k in after if k not in before]
        assert len(new) == 32 and all(k.endswith(".2") for k in new)
        assert sum(after[k].numel() for k in new) == STYLE_PARAMS
        init = {k: before[k[:-1] + "1"] for k in new}  # started from photo b's theta
        assert any(not torch.equal(after[k], init[k]) for k in new)
        # the checkpoint of fit() holds just the new theta: 3,206 numbers
        saved = load_file(str(tmp_path / "checkpoint.safetensors"))
        assert set(saved) == set(new) and sum(v.numel() for v in saved.values()) == STYLE_PARAMS

    def test_identity_init_and_errors(self):
        pair = ConsistencyPair(_tiny())
        new_style, _ = adapt(pair, _photo(8, (1, 3, 40, 48)), _photo(10, (1, 3, 40, 48)), steps=1,
                             init="identity", progress=False)
        assert new_style == 2
        with pytest.raises(ConsistencyError, match="init"):
            adapt(pair, _photo(8), _photo(10), steps=1, init="zeros", progress=False)


class TestConfig:
    def test_profiles_and_deviations(self):
        paper = ConsistencyConfig.paper()
        assert (paper.lr, paper.batch_size, paper.crop, paper.steps, paper.encoder) == (1e-3, 4, 256, 10_000, "vgg16")
        assert (paper.cycle_weight, paper.self_weight, paper.content_weight) == (10.0, 5.0, 1.0)
        assert ConsistencyConfig.for_profile("ci").steps < ConsistencyConfig.for_profile("quick").steps
        rows = {r["parameter"]: r for r in ConsistencyConfig().deviations()}
        assert {"encoder", "style_layers", "crop", "steps", "batch_size"} <= set(rows)
        assert all(r["why"] for r in rows.values())

    def test_clear_errors(self):
        with pytest.raises(ValueError, match="unknown profile 'huge'"):
            ConsistencyConfig.for_profile("huge")
        with pytest.raises(ConsistencyError, match="multiple of 4"):
            ConsistencyConfig(crop=30)
        with pytest.raises(ConsistencyError, match="cycle_weight"):
            ConsistencyConfig(cycle_weight=-1)
        with pytest.raises(InputError, match=r"photo a: expected \[1, 3, H, W\]"):
            train_pair(torch.rand(3, 40, 40), _photo(1), _tiny(), progress=False)


class TestMethod:
    def test_stylize_trains_on_the_two_images(self):
        content, style = _photo(11, (1, 3, 40, 52)), _photo(12, (1, 3, 40, 52))
        out = stylize_consistency_pair(content, style, steps=2, profile="ci")
        assert out.shape == content.shape and torch.isfinite(out).all()


class TestAdaptationRow:
    def test_headers_and_order(self):
        torch.manual_seed(0)
        pair = ConsistencyPair(_tiny())
        a, c = _photo(14, (1, 3, 32, 32)), _photo(15, (1, 3, 32, 32))
        row = adaptation_row("start", pair, a, c, STYLE_B, seconds=0.0, iterations=0)
        assert list(row)[:2] == ["run", "iterations"] and list(row)[-1] == "seconds"
        assert set(ADAPTATION_HEADERS.values()) | {"style loss", "content loss", "cycle loss"} <= set(row)
        assert -1 <= row["SSIM to a"] <= 1 and row["cycle loss"] >= 0 and row["iterations"] == 0


class TestRegisteredPair:
    """The committed ``consistency_pair-quick`` weights (sha256 checked on load)."""

    def test_styles_and_directions(self):
        pair = load_consistency_pair("consistency_pair-quick")
        assert pair.G.n_styles == 4 and len(pair.style_names) == 4  # a, b, and c after 1000 and 500 iterations
        assert count_parameters(pair.G.conv_parameters()) == CONV_PARAMS + 9
        x = _photo(13, (1, 3, 48, 64))
        outs = [pair.G.stylize(x, s) for s in range(4)]
        assert all(o.shape == x.shape for o in outs)
        assert all((outs[i] - outs[j]).abs().mean() > 1e-3 for i in range(4) for j in range(i))
        # a fresh copy each time: adapting one never changes the cached weights
        other = load_consistency_pair("consistency_pair-quick")
        assert other.G is not pair.G and torch.equal(other.G.stylize(x, STYLE_B), outs[STYLE_B])


@pytest.mark.skipif("dpst" not in __import__("stylelib.data", fromlist=["available_sets"]).available_sets(),
                    reason="needs the registered pair's DPST photos ($STYLELIB_DATA)")
@pytest.mark.xfail(strict=True, reason="measured at 208 px: the committed pair ends at Gram 0.347 from photo b, "
                   "the photo itself at 0.337, the colour transfer at 0.145; live pairs at style weights 0.1, 1 and "
                   "10 (200 it) end at 0.49-0.52: the pair fails the paper's claim at our scale")
def test_the_committed_pair_stylises_its_own_training_photo():
    from stylelib.baselines import towards_style
    from stylelib.images import load_image
    from stylelib.recipes.consistency_pair import photo_roles

    roles = photo_roles()
    a, b = (load_image(roles[k].path, size=208) for k in ("a", "b"))
    pair = load_consistency_pair("consistency_pair-quick")
    v = towards_style(pair.a_to_b(a), a, b, kind="photorealistic")
    assert v.ok, str(v)
