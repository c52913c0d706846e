"""Training images: sources, held-out images, random crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stylelib.data import available_sets
from stylelib.data.training import CropSampler, held_out_photos, held_out_styles, training_images
from stylelib.errors import DataError
from stylelib.training.loop import step_generator


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(40, 60), (80, 50), (33, 33)]):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp_path / f"img{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


class TestCropSampler:
    def test_shapes_range_and_determinism(self, folder):
        files, desc = training_images("content", str(folder))
        assert len(files) == 3 and "3 images" in desc
        s = CropSampler(files, 32, load_size=40)
        a = s.sample(5, step_generator(0, 1))
        b = s.sample(5, step_generator(0, 1))
        c = s.sample(5, step_generator(0, 2))
        assert a.shape == (5, 3, 32, 32) and a.dtype == torch.float32
        assert 0 <= a.min() and a.max() <= 1
        assert torch.equal(a, b) and not torch.equal(a, c)

    def test_short_side_is_resized_to_load_size(self, folder):
        s = CropSampler(sorted(folder.glob("*.png")), 32, load_size=48)
        assert sorted(min(img.shape[-2:]) for img in s.images) == [48, 48, 48]

    def test_crops_come_from_the_image(self, tmp_path):
        ramp = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (64, 1, 3))
        Image.fromarray(ramp).save(tmp_path / "ramp.png")
        s = CropSampler([tmp_path / "ramp.png"], 16, load_size=64, flips=False)
        crop = s.sample(1, step_generator(0, 0))[0, 0]
        row = (crop[0] * 255).round()
        assert torch.all(row[1:] - row[:-1] == 4)  # a contiguous window of the ramp

    def test_bad_inputs(self, tmp_path, folder):
        with pytest.raises(DataError, match="does not exist"):
            training_images("content", str(tmp_path / "missing"))
        (tmp_path / "empty").mkdir()
        with pytest.raises(DataError, match="no images found"):
            training_images("style", str(tmp_path / "empty"))
        with pytest.raises(ValueError, match="role"):
            training_images("texture")
        with pytest.raises(ValueError, match="at least 16"):
            CropSampler([folder / "img0.png"], 8)
        with pytest.raises(DataError, match="no training images"):
            CropSampler([], 32)


class TestSources:
    def test_embedded_fallback(self):
        files, desc = training_images("content", "embedded")
        assert len(files) == 5 and "embedded" in desc
        files, _ = training_images("style", "embedded")
        assert len(files) == 6

    def test_exclusions(self):
        files, _ = training_images("content", "embedded", exclude=["astronaut"])
        assert all(p.stem != "astronaut" for p in files) and len(files) == 4

    @pytest.mark.skipif("art" not in available_sets(), reason="needs the art set ($STYLELIB_DATA)")
    def test_evaluation_styles_are_held_out(self):
        files, desc = training_images("style", "art")
        held = held_out_styles()
        assert len(held) >= 10
        assert not held & {p.stem for p in files}
        assert len(files) == 53 - len(held)
        photos, pdesc = held_out_photos()
        assert len(photos) == 28 and "held out" in pdesc

    @pytest.mark.skipif("dpst" not in available_sets(), reason="needs the dpst set ($STYLELIB_DATA)")
    def test_dpst_content_uses_inputs_and_references(self):
        files, desc = training_images("content", "dpst")
        assert len(files) == 120
