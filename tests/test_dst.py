"""Deformable Style Transfer (Kim et al., ECCV 2020): NBB keypoints, cleaning, STROTSS losses, the joint optimisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data as skdata

from stylelib.checks import InputError
from stylelib.models import strotss
from stylelib.models.dst import (DSTConfig, LaplacianPyramid, clean_keypoints, flow_tv, remove_crossings,
                                 segments_cross, similarity_fit, stylize_dst, warp_loss)
from stylelib.models.nbb import Correspondences, NBBConfig, nbb, patch_match


def _astronaut(size: int = 96) -> torch.Tensor:
    img = torch.from_numpy(skdata.astronaut()).permute(2, 0, 1)[None].float() / 255
    return torch.nn.functional.interpolate(img, size=(size, size), mode="bilinear", antialias=True).clamp(0, 1)


# ----------------------------------------------------------------------------- NBB
class TestNBB:
    def test_patch_match_finds_a_shift_within_the_radius(self):
        a = torch.randn(8, 12, 12)
        b = torch.roll(a, shifts=(1, -2), dims=(1, 2))
        init = torch.stack(torch.meshgrid(torch.arange(12), torch.arange(12), indexing="ij"), -1)
        m = patch_match(a, b, init, 3, 2)
        inner = m[3:-3, 3:-3] - init[3:-3, 3:-3]
        assert (inner == torch.tensor([1, -2])).all()

    def test_an_image_with_itself_gives_pairs_on_the_diagonal(self):
        img = _astronaut(64)
        pairs = nbb(img, img, NBBConfig.ci(), progress=False)
        assert len(pairs) >= 10
        assert torch.equal(pairs.points_a, pairs.points_b)

    def test_a_shifted_copy_recovers_the_shift(self):
        big = _astronaut(160)
        a, b = big[..., 40:104, 40:104], big[..., 48:112, 44:108]  # b(r, c) = a(r + 8, c + 4)
        pairs = nbb(a, b, NBBConfig.ci(), progress=False)
        assert len(pairs) >= 5
        shift = (pairs.points_a - pairs.points_b).median(0).values
        assert torch.allclose(shift, torch.tensor([8.0, 4.0]), atol=2.0)


# ----------------------------------------------------------------------------- cleaning
def test_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (12, 2))
    angle, scale, shift = 0.3, 1.4, np.array([5.0, -7.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ (scale * rot).T + shift
    m = similarity_fit(src, dst)
    assert np.allclose(m[:2, :2], scale * rot, atol=1e-9) and np.allclose(m[:2, 2], shift, atol=1e-8)


def test_segment_crossings():
    assert segments_cross((0, 0), (4, 4), (0, 4), (4, 0))
    assert not segments_cross((0, 0), (1, 1), (3, 0), (4, 1))
    assert segments_cross((0, 0), (2, 2), (2, 2), (5, 0))  # touching ends count
    src = np.array([[0.0, 0], [0, 4], [10, 10]])
    dst = np.array([[4.0, 4], [4, 0], [12, 12]])
    assert remove_crossings(src, dst).tolist() == [0, 2]


def test_cleaning_keeps_strong_spread_pairs_without_crossings():
    rng = np.random.default_rng(1)
    p = rng.uniform(5, 90, (60, 2))
    q = p * 0.9 + rng.normal(0, 3, p.shape) + 4
    pairs = Correspondences(torch.tensor(p, dtype=torch.float32), torch.tensor(q, dtype=torch.float32),
                            torch.tensor(rng.uniform(0.5, 3, 60), dtype=torch.float32))
    cfg = DSTConfig.ci().replace(exclusion=6, max_points=25)
    kp = clean_keypoints(pairs, (96, 96), cfg)
    s, t = kp.sources.numpy(), kp.targets.numpy()
    assert 3 <= len(s) <= 25 and kp.steps["picked"] <= 25
    assert all(not segments_cross(s[i], t[i], s[j], t[j]) for i in range(len(s)) for j in range(i + 1, len(s)))
    gaps = np.abs(s[:, None] - s[None]).max(-1) + np.eye(len(s)) * 99
    assert gaps.min() > cfg.exclusion  # no two picks inside one exclusion box
    assert (t >= 1).all() and (t <= 94).all()
    with pytest.raises(InputError, match="need at least 3"):
        clean_keypoints(Correspondences(pairs.points_a[:2], pairs.points_b[:2], pairs.score[:2]), (96, 96), cfg)


# ----------------------------------------------------------------------------- losses and parameterisation
def test_relaxed_emd_of_a_set_with_itself_is_zero_and_positive_otherwise():
    x = torch.randn(50, 16)
    assert float(strotss.remd(strotss.cosine_cost(x, x))) == pytest.approx(0.0, abs=1e-6)
    assert float(strotss.remd(strotss.euclidean_cost(x, x))) == pytest.approx(0.0, abs=1e-3)
    assert float(strotss.remd(strotss.cosine_cost(x, torch.randn(40, 16)))) > 0.1
    mu, cov = strotss.moments(x, [6, 10])
    assert float(strotss.moment_loss(mu, cov, mu, cov)) == 0.0
    assert float(strotss.self_similarity_loss(x, x)) == 0.0 and float(strotss.self_similarity_loss(x, x * 3)) < 1e-5


def test_warp_loss_is_zero_at_the_targets_and_tv_zero_for_a_constant_flow():
    p, t = torch.rand(5, 2) * 40, torch.rand(5, 2) * 40
    assert float(warp_loss(p, t - p, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(warp_loss(p, torch.zeros_like(p), t)) == pytest.approx(float((t - p).norm(dim=1).mean()))
    assert float(flow_tv(torch.ones(2, 9, 9) * 3)) == 0.0 and float(flow_tv(torch.randn(2, 9, 9))) > 0


def test_pyramid_gives_the_image_back_and_each_level_its_resolution():
    img = torch.rand(1, 3, 37, 50)
    pyr = LaplacianPyramid(img, 5)
    assert torch.allclose(pyr.image(0), img, atol=1e-6)
    assert pyr.image(2).shape[-2:] == (9, 12) and len(pyr.bands) == 5


def test_hypercolumns_sample_at_pixel_centres():
    img = torch.rand(1, 3, 10, 14)
    rows, cols = torch.tensor([0, 3, 9]), torch.tensor([0, 7, 13])
    got = strotss.Hypercolumns.sample([img], rows, cols, 10, 14)
    assert torch.allclose(got, img[0, :, rows, cols].T, atol=1e-6)


# ----------------------------------------------------------------------------- the optimisation
def _pair(size: int = 48):
    big = _astronaut(120)
    return big[..., 10:58, 20:68], torch.flip(big[..., 50:98, 40:88], dims=(-1,))


def _keypoints(h: int, w: int):
    from stylelib.models.dst import CleanedKeypoints

    p = torch.tensor([[10.0, 10], [10, 36], [36, 10], [36, 36], [24, 24]])
    t = p + torch.tensor([2.0, -3.0])
    return CleanedKeypoints(p, p + 1, t)


@pytest.mark.parametrize("base", ["strotss", "gatys"])
def test_gradients_reach_theta_and_every_pyramid_level(base, monkeypatch):
    from stylelib.models import dst as dst_mod

    content, style = _pair()
    seen = {}
    real_sgd = torch.optim.SGD

    class Spy(real_sgd):
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    seen.setdefault(id(p), []).append(p.grad is not None and float(p.grad.abs().sum()) > 0)
            return super().step(closure)

    monkeypatch.setattr(dst_mod.torch.optim, "SGD", Spy)
    cfg = DSTConfig.ci().replace(base=base, iterations=(1, 1, 1))
    res = stylize_dst(content, style, cfg, keypoints=_keypoints(48, 48), progress=False)
    assert res.image.shape == (1, 3, 48, 48) and 0 <= float(res.image.min()) and float(res.image.max()) <= 1
    assert len(seen) == 5 + 1  # every pyramid level (they all train at the last scale) and theta
    assert all(all(v) for v in seen.values())
    assert {"warp", "flow TV", "style (warped)"} <= set(res.history.columns)


def test_the_warp_pulls_keypoints_to_their_targets_and_style_loss_falls():
    content, style = _pair()
    kp = _keypoints(48, 48)
    # at 48 px the flow-smoothness term (gamma = 50) outweighs a pull of a few pixels; a smaller gamma here
    cfg = DSTConfig.ci().replace(iterations=(4, 4, 8), tv_weight=5.0)
    res = stylize_dst(content, style, cfg, keypoints=kp, progress=False)
    a = res.alignment()
    assert a["after"] < 0.5 * a["before"]
    last = res.history[res.history["scale"] == 2]
    assert last["style"].iloc[-1] < last["style"].iloc[0]
    base = stylize_dst(content, style, cfg.replace(warp=False), progress=False)
    assert base.keypoints is None and "warp" not in base.history.columns and base.alignment() == {}


def test_full_pipeline_with_nbb_at_the_ci_profile():
    content, style = _pair()
    res = stylize_dst(content, content.flip(-1), DSTConfig.ci(), progress=False)
    assert set(res.seconds) == {"nbb", "cleaning", "optimisation"}
    assert res.nbb_pairs is not None and len(res.keypoints.sources) >= 3
    assert res.flow.shape == (2, 48, 48)


def test_config_profiles_and_deviations():
    quick, paper = DSTConfig(), DSTConfig.paper()
    assert (paper.content_weight, paper.warp_weight, paper.tv_weight) == (8.0, 0.5, 50.0)
    assert paper.iterations == (150, 150, 150) and paper.lr == 0.3 and paper.n_style == 5000
    rows = {r["parameter"]: r for r in quick.deviations()}
    assert {"size", "iterations", "vgg"} <= set(rows) and all(r["why"] for r in rows.values())
    assert {r["parameter"] for r in NBBConfig().deviations()} >= {"vgg", "invert_steps"}
    with pytest.raises(ValueError, match="base must be"):
        DSTConfig(base="wct")
