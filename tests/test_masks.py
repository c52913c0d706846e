"""Tests for stylelib.masks: palette snapping, resizing and helpers for DPST masks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylelib.errors import ImageError
from stylelib.masks import (
    NUM_LABELS,
    PALETTE,
    PALETTE_NAMES,
    label_names,
    load_mask,
    mask_to_rgb,
    one_hot,
    palette_tensor,
    resize_labels,
    shared_labels,
    snap_to_palette,
)

#: the benchmark images: $STYLELIB_DATA, else ../shared/data next to the checkout (as .ci/run sets it)
SHARED = Path(os.environ.get("STYLELIB_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
SEG = SHARED / "dpst" / "segmentation"
needs_shared = pytest.mark.skipif(not SEG.is_dir(), reason="shared benchmark data not present")

BLUE, GREEN, BLACK, WHITE, RED, YELLOW, GREY, LIGHTBLUE, PURPLE = range(9)


def noisy_two_colour_mask(h: int = 24, w: int = 32) -> np.ndarray:
    """Left half near-blue, right half near-green, anti-aliased 3-pixel border, stray 254/1 values."""
    blue = np.array(PALETTE[BLUE].rgb, float)
    green = np.array(PALETTE[GREEN].rgb, float)
    img = np.zeros((h, w, 3), float)
    img[:, : w // 2] = blue
    img[:, w // 2 :] = green
    # anti-aliased border: 80/20, 65/35 and 25/75 blends
    for col, a in ((w // 2 - 1, 0.8), (w // 2, 0.35), (w // 2 + 1, 0.25)):
        img[:, col] = a * blue + (1 - a) * green
    img = np.rint(img).astype(np.uint8)
    img[0, 0] = (1, 1, 254)  # near-blue
    img[1, 1] = (2, 0, 253)
    img[2, w - 1] = (1, 254, 1)  # near-green
    img[3, w - 2] = (0, 250, 3)
    return img


class TestPalette:
    def test_nine_named_colours_in_fixed_order(self):
        assert NUM_LABELS == 9
        assert PALETTE_NAMES == ("blue", "green", "black", "white", "red", "yellow", "grey", "lightblue", "purple")
        assert [c.rgb for c in PALETTE] == [
            (0, 0, 255), (0, 255, 0), (0, 0, 0), (255, 255, 255), (255, 0, 0),
            (255, 255, 0), (128, 128, 128), (0, 255, 255), (255, 0, 255),
        ]
        assert len({c.rgb for c in PALETTE}) == 9

    def test_palette_tensor_shape_and_values(self):
        t = palette_tensor()
        assert tuple(t.shape) == (9, 3)
        assert t.dtype == torch.float32
        assert float(t.max()) == 255.0 and float(t.min()) == 0.0
        assert t[GREY].tolist() == [128.0, 128.0, 128.0]

    def test_label_names(self):
        assert label_names([0, 6, 8]) == ["blue", "grey", "purple"]


class TestSnapping:
    def test_exact_palette_colours_map_to_their_index(self):
        img = np.array([[c.rgb for c in PALETTE]], dtype=np.uint8)  # 1 x 9 x 3
        assert snap_to_palette(img).tolist() == [list(range(9))]

    def test_near_colours_snap_to_nearest(self):
        img = np.array([[(254, 1, 1), (1, 254, 254), (130, 126, 129), (3, 2, 1), (250, 251, 253)]], np.uint8)
        assert snap_to_palette(img).tolist() == [[RED, LIGHTBLUE, GREY, BLACK, WHITE]]

    def test_greyscale_array_is_read_as_grey_levels(self):
        grey = np.array([[0, 1, 127, 129, 254, 255]], np.uint8)
        assert snap_to_palette(grey).tolist() == [[BLACK, BLACK, GREY, GREY, WHITE, WHITE]]

    @pytest.mark.parametrize("mode", ["RGB", "RGBA", "P"])
    def test_antialiased_colour_file_snaps_to_two_labels(self, tmp_path, mode):
        arr = noisy_two_colour_mask()
        assert len({tuple(p) for p in arr.reshape(-1, 3)}) >= 7  # really noisy input
        img = Image.fromarray(arr, "RGB")
        if mode == "RGBA":
            img = img.convert("RGBA")
        elif mode == "P":
            img = img.quantize(colors=16, method=Image.Quantize.MEDIANCUT)
        path = tmp_path / f"mask_{mode}.png"
        img.save(path)
        assert Image.open(path).mode == mode

        labels = load_mask(path)
        assert labels.dtype == torch.long
        assert tuple(labels.shape) == (24, 32)
        assert set(torch.unique(labels).tolist()) == {BLUE, GREEN}
        assert int(labels[0, 0]) == BLUE
        assert int(labels[2, 31]) == GREEN
        # the 80/20 border column goes to blue, the 35/65 and 25/75 columns to green
        assert labels[:, 15].unique().tolist() == [BLUE]
        assert labels[:, 16].unique().tolist() == [GREEN]
        assert int((labels == BLUE).sum()) == 24 * 16

    def test_mode_L_file_snaps_to_black_grey_white(self, tmp_path):
        arr = np.zeros((20, 30), np.uint8)
        arr[:, 10:20] = 128
        arr[:, 20:] = 255
        arr[:, 9] = 40  # anti-aliased edge black -> grey
        arr[:, 19] = 200  # anti-aliased edge grey -> white
        arr[0, 0], arr[0, 29], arr[5, 15] = 1, 254, 126
        path = tmp_path / "mask_L.png"
        Image.fromarray(arr, "L").save(path)
        assert Image.open(path).mode == "L"

        labels = load_mask(path)
        assert set(torch.unique(labels).tolist()) == {BLACK, WHITE, GREY}
        assert int(labels[0, 0]) == BLACK and int(labels[0, 29]) == WHITE and int(labels[5, 15]) == GREY
        assert labels[:, 9].unique().tolist() == [BLACK]
        assert labels[:, 19].unique().tolist() == [WHITE]
        assert int((labels == GREY).sum()) == 20 * 9


class TestResize:
    def test_resize_keeps_labels_in_palette_and_size(self, tmp_path):
        path = tmp_path / "m.png"
        Image.fromarray(noisy_two_colour_mask(), "RGB").save(path)
        for size in ((7, 9), (48, 64), (100, 33)):
            labels = load_mask(path, size=size)
            assert tuple(labels.shape) == size
            assert labels.dtype == torch.long
            assert set(torch.unique(labels).tolist()) == {BLUE, GREEN}

    def test_nearest_resize_never_invents_labels(self):
        labels = torch.tensor([[0, 8], [3, 6]])
        up = resize_labels(labels, (4, 4))
        assert up.tolist() == [[0, 0, 8, 8], [0, 0, 8, 8], [3, 3, 6, 6], [3, 3, 6, 6]]
        down = resize_labels(up, (2, 2))
        assert torch.equal(down, labels)

    def test_same_size_is_identity(self):
        labels = torch.randint(0, 9, (5, 6))
        assert resize_labels(labels, (5, 6)) is labels

    def test_bad_size_raises(self):
        with pytest.raises(ValueError, match="positive"):
            resize_labels(torch.zeros(3, 3, dtype=torch.long), (0, 4))


class TestHelpers:
    def test_one_hot_shape_and_sums(self):
        labels = torch.tensor([[0, 1, 2], [8, 8, 6]])
        oh = one_hot(labels)
        assert tuple(oh.shape) == (1, 9, 2, 3)
        assert oh.dtype == torch.float32
        assert torch.equal(oh.sum(1), torch.ones(1, 2, 3))
        assert oh[0, 8].tolist() == [[0, 0, 0], [1, 1, 0]]
        assert tuple(one_hot(labels.unsqueeze(0), k=12).shape) == (1, 12, 2, 3)

    def test_one_hot_rejects_out_of_range(self):
        with pytest.raises(ValueError, match="0..8"):
            one_hot(torch.tensor([[0, 9]]))

    def test_mask_to_rgb(self):
        rgb = mask_to_rgb(torch.tensor([[BLUE, GREY], [YELLOW, PURPLE]]))
        assert tuple(rgb.shape) == (1, 3, 2, 2)
        assert float(rgb.min()) >= 0.0 and float(rgb.max()) <= 1.0
        assert rgb[0, :, 0, 0].tolist() == [0.0, 0.0, 1.0]
        assert rgb[0, :, 1, 0].tolist() == [1.0, 1.0, 0.0]
        assert rgb[0, :, 0, 1].tolist() == pytest.approx([128 / 255] * 3)

    def test_shared_labels(self):
        c = torch.tensor([[0, 0, 1], [2, 2, 2]])
        s = torch.tensor([[2, 2, 5], [5, 1, 5]])
        assert shared_labels(c, s) == [1, 2]
        assert shared_labels(c, torch.full((2, 2), 8)) == []
        # label 1 covers 1/6 of each map: dropped when at least 20 % is required
        assert shared_labels(c, s, min_fraction=0.2) == [2]


class TestErrors:
    def test_missing_file(self, tmp_path):
        with pytest.raises(ImageError) as info:
            load_mask(tmp_path / "nope.png")
        msg = str(info.value)
        assert "nope.png" in msg and "\n" not in msg
        assert info.value.path == os.fspath(tmp_path / "nope.png")

    def test_not_an_image(self, tmp_path):
        p = tmp_path / "fake.png"
        p.write_bytes(b"this is not a png" * 10)
        with pytest.raises(ImageError, match="fake.png: not an image"):
            load_mask(p)

    def test_empty_and_truncated(self, tmp_path):
        empty = tmp_path / "empty.png"
        empty.write_bytes(b"")
        with pytest.raises(ImageError, match="empty"):
            load_mask(empty)
        good = tmp_path / "good.png"
        Image.fromarray(noisy_two_colour_mask(64, 64), "RGB").save(good)
        cut = tmp_path / "cut.png"
        cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        with pytest.raises(ImageError) as info:
            load_mask(cut)
        assert str(info.value).startswith(str(cut)) and "\n" not in str(info.value)

    def test_too_many_pixels(self, tmp_path):
        p = tmp_path / "big.png"
        Image.fromarray(noisy_two_colour_mask(), "RGB").save(p)
        with pytest.raises(ImageError, match="limit of 100"):
            load_mask(p, max_pixels=100)


@needs_shared
class TestRealDpstMasks:
    @staticmethod
    def check_masks(files: list[Path]) -> set[int]:
        seen: set[int] = set()
        for f in files:
            labels = load_mask(f)
            present = torch.unique(labels).tolist()
            assert 1 <= len(present) <= 9
            assert all(0 <= v < 9 for v in present)
            assert labels.dtype == torch.long and labels.dim() == 2
            seen.update(present)
        return seen

    def test_sample_of_masks_has_at_most_nine_palette_labels(self):
        files = sorted(SEG.glob("*.png"))
        assert len(files) == 120
        sample = files[::12]
        assert len(sample) == 10
        assert len(self.check_masks(sample)) >= 4

    @pytest.mark.slow
    def test_all_120_masks_have_at_most_nine_palette_labels(self):
        files = sorted(SEG.glob("*.png"))
        assert len(files) == 120
        assert len(self.check_masks(files)) == 9

    def test_mask_resized_to_its_photo(self):
        # in7's mask is 700x393 while the photo is 700x394
        photo = Image.open(SHARED / "dpst" / "content" / "in7.png")
        labels = load_mask(SEG / "in7.png", size=(photo.height, photo.width))
        assert tuple(labels.shape) == (394, 700)
        assert set(torch.unique(labels).tolist()) <= set(range(9))

    def test_known_mask_label_counts(self):
        labels = load_mask(SEG / "in1.png")
        counts = torch.bincount(labels.flatten(), minlength=9)
        assert tuple(labels.shape) == (437, 700)
        assert int(counts.sum()) == 437 * 700
        assert set(torch.nonzero(counts).flatten().tolist()) == {GREEN, BLACK, WHITE, GREY}
