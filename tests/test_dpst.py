"""Deep Photo Style Transfer (Luan et al., CVPR 2017): segmented style loss, photorealism term, the run."""

from __future__ import annotations

import pytest
import torch
from skimage import data as skdata

from stylelib.losses import gram_matrix
from stylelib.models.dpst import DPSTConfig, DPSTObjective, _masked_gram, region_masks, stylize_dpst
from stylelib.models.gatys import GatysObjective

from _images import square_photo



@pytest.fixture(scope="module")
def pair48():
    return square_photo(skdata.astronaut(), 48), square_photo(skdata.coffee(), 48)


def _halves(size: int, left: int, right: int) -> torch.Tensor:
    labels = torch.full((size, size), right, dtype=torch.long)
    labels[:, : size // 2] = left
    return labels


class TestRegionMasks:
    def test_no_labels_gives_one_whole_image_region(self):
        cm, sm, labels = region_masks(None, None, (10, 12), (7, 9))
        assert labels == [] and cm.shape == (1, 1, 10, 12) and sm.shape == (1, 1, 7, 9)
        assert float(cm.min()) == 1.0 and float(sm.min()) == 1.0

    def test_only_shared_labels_take_part(self):
        content = _halves(8, 0, 1)
        style = _halves(8, 1, 2)
        cm, sm, labels = region_masks(content, style, (8, 8), (8, 8))
        assert labels == [1]
        assert cm.shape == (1, 1, 8, 8) and float(cm.sum()) == 32 and float(sm.sum()) == 32

    def test_disjoint_labels_and_wrong_sizes_are_refused(self):
        with pytest.raises(ValueError, match="share no label"):
            region_masks(_halves(8, 0, 0), _halves(8, 1, 1), (8, 8), (8, 8))
        with pytest.raises(ValueError, match="differ from the images"):
            region_masks(_halves(8, 0, 1), _halves(8, 0, 1), (9, 8), (8, 8))


class TestSegmentedStyleLoss:
    def test_masked_gram_with_an_all_ones_mask_is_the_gram(self):
        f = torch.randn(2, 5, 6, 7, generator=torch.Generator().manual_seed(0))
        assert torch.allclose(_masked_gram(f, torch.ones(1, 1, 6, 7)), gram_matrix(f, "hw"), atol=1e-6)

    def test_one_region_equals_the_gatys_style_loss(self, pair48):
        """Reference check: without masks the augmented style loss is exactly Gatys et al.'s."""
        content, style = pair48
        cfg = DPSTConfig(segmented=False)
        ours = DPSTObjective(content, style, cfg)
        ref = GatysObjective(content, style, cfg.gatys_config(), vgg=ours.base.vgg)
        x = content.flip(-1)
        feats = ours.base.features(x)
        ref_loss, ref_parts = ref(x)
        assert float(cfg.style_weight * ours.style(feats)) == pytest.approx(ref_parts["style_loss"], rel=1e-5)

    def test_each_region_takes_its_own_style(self):
        """Left half labelled 0, right half 1; the style is red on 0, blue on 1: the output follows the labels."""
        content = torch.full((1, 3, 48, 48), 0.5)
        content = content + 0.1 * torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(1))
        style = torch.zeros(1, 3, 48, 48)
        style[:, 0, :, :24] = 0.9  # red on the left
        style[:, 2, :, 24:] = 0.9  # blue on the right
        labels = _halves(48, 0, 1)
        cfg = DPSTConfig(steps=80, photorealism_weight=0.0)  # 40 steps pass on 1 thread but not on 2 (L-BFGS path)
        out = stylize_dpst(content, style, cfg, content_labels=labels, style_labels=labels, progress=False).image
        left, right = out[0, :, :, :24].mean((1, 2)), out[0, :, :, 24:].mean((1, 2))
        assert float(left[0] - left[2]) > 0.1, left  # redder than blue on the left
        assert float(right[2] - right[0]) > 0.1, right  # bluer than red on the right


class TestPhotorealism:
    def test_zero_for_the_content_and_large_for_shuffled_pixels(self, pair48):
        content, style = pair48
        obj = DPSTObjective(content, style, DPSTConfig(segmented=False))
        perm = torch.randperm(48 * 48, generator=torch.Generator().manual_seed(2))
        shuffled = content.flatten(2)[..., perm].reshape(content.shape)
        assert float(obj.photorealism(content)) < 1e-6
        assert float(obj.photorealism(shuffled)) > 1e3 * max(float(obj.photorealism(content)), 1e-9)

    def test_gradient_flows_to_the_pixels(self, pair48):
        content, style = pair48
        obj = DPSTObjective(content, style, DPSTConfig(segmented=False))
        x = content.flip(-1).clone().requires_grad_(True)
        loss, parts = obj(x)
        loss.backward()
        assert parts["photorealism_loss"] > 0 and torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0


class TestRun:
    def test_loss_falls_and_the_photorealism_term_keeps_the_output_locally_affine(self, pair48):
        content, style = pair48
        base = DPSTConfig(steps=25, segmented=False)
        free = stylize_dpst(content, style, base.replace(photorealism_weight=0.0), progress=False)
        held = stylize_dpst(content, style, base, progress=False)
        assert free.history["loss"].iloc[-1] < 0.5 * free.history["loss"].iloc[0]
        obj = DPSTObjective(content, style, base)
        assert float(obj.photorealism(held.image)) < 0.5 * float(obj.photorealism(free.image))

    def test_two_stages_add_the_photorealism_term_in_the_second(self, pair48):
        content, style = pair48
        res = stylize_dpst(content, style, DPSTConfig(steps=4, stages=2, segmented=False), progress=False)
        h = res.history
        assert h["stage"].tolist() == [1] * 4 + [2] * 4
        assert (h.loc[h.stage == 1, "photorealism_loss"] == 0).all()
        assert (h.loc[h.stage == 2, "photorealism_loss"] > 0).all()
        assert res.image.shape == content.shape and 0 <= float(res.image.min()) <= float(res.image.max()) <= 1


class TestConfig:
    def test_paper_values_and_deviations(self):
        paper = DPSTConfig.paper()
        assert (paper.style_weight, paper.photorealism_weight, paper.matting_eps, paper.matting_radius) == \
            (1e2, 1e4, 1e-7, 1)
        rows = {r["parameter"] for r in DPSTConfig().deviations()}
        assert {"style_weight", "photorealism_weight", "loss_reduction"} <= rows and "matting_eps" not in rows
        assert DPSTConfig.for_profile("ci").steps < DPSTConfig.for_profile("quick").steps

    @pytest.mark.parametrize("changes, match", [
        ({"laplacian": "dense"}, "laplacian"), ({"stages": 3}, "stages"),
        ({"photorealism_weight": -1.0}, "photorealism_weight"), ({"optimizer": "sgd"}, "optimizer"),
    ])
    def test_bad_settings_are_refused(self, changes, match):
        with pytest.raises(ValueError, match=match):
            DPSTConfig(**changes)
