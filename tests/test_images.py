"""Tests for stylelib.images.

The "awkward input corpus" is generated at test time with Pillow and numpy
(no binary files are committed): broken files, odd Pillow modes, EXIF-rotated
and multi-frame images, and every supported container format.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, features

from stylelib.errors import ImageError, OutputError
from stylelib.images import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_SIDE,
    image_to_tensor,
    load_image,
    resize_long_side,
    resize_to,
    save_image,
    to_array,
    to_pil,
)

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
EXIF_ORIENTATION = 0x0112


def assert_one_line_error(exc: BaseException, path: Path | str) -> str:
    """The message names the file and fits on one line; returns it for further checks."""
    message = str(exc)
    assert Path(path).name in message
    assert "\n" not in message
    return message


def rgb(x: torch.Tensor, row: int, col: int) -> list[float]:
    """The RGB value of one pixel of a [1, 3, H, W] tensor."""
    return x[0, :, row, col].tolist()


def patch_png_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the IHDR width/height of a PNG and fix the chunk's CRC."""
    buf = bytearray(data)
    assert buf[12:16] == b"IHDR"
    buf[16:24] = struct.pack(">II", width, height)
    buf[29:33] = struct.pack(">I", zlib.crc32(bytes(buf[12:29])) & 0xFFFFFFFF)
    return bytes(buf)


def bands(width_each: int, height: int, colours: list[tuple], mode: str) -> Image.Image:
    """Vertical bands of the given colours, left to right."""
    img = Image.new(mode, (width_each * len(colours), height))
    for i, colour in enumerate(colours):
        img.paste(colour, (i * width_each, 0, (i + 1) * width_each, height))
    return img


def exif_rotated_jpeg(path: Path, orientation: int) -> None:
    """A 40x24 white JPEG with an 8x8 red marker in its stored top-left corner."""
    img = Image.new("RGB", (40, 24), WHITE)
    img.paste(RED, (0, 0, 8, 8))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    img.save(path, quality=95, subsampling=0, exif=exif)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build the awkward input corpus once for this module; name -> file path."""
    d = tmp_path_factory.mktemp("corpus")
    files: dict[str, Path] = {}

    def add(name: str, filename: str) -> Path:
        files[name] = d / filename
        return files[name]

    # --- broken or unusable files -----------------------------------------
    add("missing", "missing.png")
    add("directory", "folder.png").mkdir()
    add("empty", "empty.png").write_bytes(b"")
    add("text_jpg", "notes.jpg").write_text("this is not a JPEG\n", encoding="utf-8")

    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    noise.save(d / "noise.png")
    data = (d / "noise.png").read_bytes()
    add("truncated_png", "truncated.png").write_bytes(data[: len(data) // 2])
    noise.save(d / "noise.jpg", quality=90)
    data = (d / "noise.jpg").read_bytes()
    add("truncated_jpeg", "truncated.jpg").write_bytes(data[: len(data) // 2])

    Image.new("RGB", (1, 1), RED).save(add("tiny", "tiny.png"))
    Image.new("RGB", (16, 16), RED).save(d / "small.png")
    add("bomb", "bomb.png").write_bytes(patch_png_size((d / "small.png").read_bytes(), 60000, 60000))
    Image.new("RGB", (1000, 20), GREEN).save(add("long_thin", "long_thin.png"))

    # --- Pillow modes ------------------------------------------------------
    Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16)).save(add("gray", "gray.png"))
    one = Image.new("1", (32, 16), 0)
    one.paste(1, (16, 0, 32, 16))
    one.save(add("bilevel", "bilevel.png"))
    # RGBA bands: invisible red, opaque blue, black at alpha 51 (= 0.2).
    bands(16, 16, [(255, 0, 0, 0), (0, 0, 255, 255), (0, 0, 0, 51)], "RGBA").save(add("rgba", "rgba.png"))
    Image.new("LA", (16, 16), (0, 128)).save(add("la", "la.png"))

    pal = Image.new("P", (32, 16), 0)
    pal.putpalette(list(RED + GREEN + BLUE) + [0] * (256 * 3 - 9))
    pal.paste(2, (16, 0, 32, 16))  # left red (index 0), right blue (index 2)
    pal.save(add("palette", "palette.png"))
    pal_t = pal.copy()
    pal_t.paste(1, (0, 0, 8, 16))  # left quarter green (index 1), made transparent
    pal_t.save(add("palette_transparent", "palette_t.png"), transparency=1)

    sixteen = np.zeros((16, 16), dtype=np.uint16)
    sixteen[0, 0], sixteen[0, 1], sixteen[0, 2] = 32768, 1000, 65535
    Image.fromarray(sixteen).save(add("gray16", "gray16.png"))
    Image.fromarray(np.full((16, 16), 0.25, dtype=np.float32)).save(add("float", "float.tif"))
    Image.new("CMYK", (32, 32), (0, 255, 255, 0)).save(add("cmyk_jpeg", "cmyk.jpg"), quality=95)

    exif_rotated_jpeg(add("exif6", "exif6.jpg"), 6)
    exif_rotated_jpeg(add("exif8", "exif8.jpg"), 8)

    # --- container formats -------------------------------------------------
    if features.check("webp"):
        Image.new("RGB", (20, 18), (10, 200, 30)).save(add("webp", "image.webp"), lossless=True)
    Image.new("RGB", (20, 18), (12, 34, 56)).save(add("bmp", "image.bmp"))
    Image.new("RGB", (20, 18), RED).save(
        add("tiff_pages", "pages.tiff"), save_all=True, append_images=[Image.new("RGB", (20, 18), BLUE)]
    )
    Image.new("RGB", (24, 20), RED).save(
        add("gif_anim", "anim.gif"), save_all=True, append_images=[Image.new("RGB", (24, 20), GREEN)],
        duration=100, loop=0,
    )
    return files


# --------------------------------------------------------------------------- #
# load_image
# --------------------------------------------------------------------------- #

class TestLoadImageErrors:
    @pytest.mark.parametrize(
        "name, fragment",
        [
            ("missing", "not found"),
            ("directory", "directory"),
            ("empty", "empty"),
            ("truncated_png", "truncated"),
            ("truncated_jpeg", "truncated"),
            ("text_jpg", "not an image"),
        ],
    )
    def test_broken_file(self, corpus, name, fragment):
        with pytest.raises(ImageError) as info:
            load_image(corpus[name])
        message = assert_one_line_error(info.value, corpus[name])
        assert fragment in message
        assert info.value.path == str(corpus[name])
        assert info.value.__cause__ is None  # no chained Pillow traceback

    def test_too_small(self, corpus):
        with pytest.raises(ImageError) as info:
            load_image(corpus["tiny"])
        message = assert_one_line_error(info.value, corpus["tiny"])
        assert "1x1" in message
        assert str(DEFAULT_MIN_SIDE) in message

    def test_min_side_is_configurable(self, corpus):
        x = load_image(corpus["tiny"], min_side=1)
        assert tuple(x.shape) == (1, 3, 1, 1)
        assert rgb(x, 0, 0) == [1.0, 0.0, 0.0]

    def test_decompression_bomb_refused_from_header(self, corpus):
        limit_before = Image.MAX_IMAGE_PIXELS
        start = time.perf_counter()
        with pytest.raises(ImageError) as info:
            load_image(corpus["bomb"])
        elapsed = time.perf_counter() - start
        message = assert_one_line_error(info.value, corpus["bomb"])
        assert "60000x60000" in message
        assert "3600000000" in message
        assert str(DEFAULT_MAX_PIXELS) in message
        assert elapsed < 0.5  # refused from the header, nothing allocated
        assert Image.MAX_IMAGE_PIXELS == limit_before  # Pillow's global restored

    def test_max_pixels_is_configurable(self, corpus):
        with pytest.raises(ImageError) as info:
            load_image(corpus["gray"], max_pixels=255)
        message = assert_one_line_error(info.value, corpus["gray"])
        assert "16x16 (256 pixels)" in message
        assert tuple(load_image(corpus["gray"], max_pixels=256).shape) == (1, 3, 16, 16)

    def test_our_limit_overrides_pillows_global(self, corpus, monkeypatch):
        # Even with Pillow's own limit far below the image size, max_pixels decides.
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
        x = load_image(corpus["rgba"])
        assert tuple(x.shape) == (1, 3, 16, 48)
        assert Image.MAX_IMAGE_PIXELS == 10

    def test_min_side_applies_after_resizing(self, corpus):
        assert tuple(load_image(corpus["long_thin"]).shape) == (1, 3, 20, 1000)
        with pytest.raises(ImageError) as info:
            load_image(corpus["long_thin"], size=256)
        message = assert_one_line_error(info.value, corpus["long_thin"])
        assert "256x5" in message
        assert "1000x20" in message
        assert str(DEFAULT_MIN_SIDE) in message

    def test_wrong_path_type_is_type_error(self):
        with pytest.raises(TypeError):
            load_image(42)  # type: ignore[arg-type]

    @pytest.mark.parametrize("size", [0, -3, 2.5])
    def test_bad_size_is_value_error(self, corpus, size):
        with pytest.raises(ValueError):
            load_image(corpus["gray"], size=size)


class TestLoadImageModes:
    def test_gray_l(self, corpus):
        x = load_image(corpus["gray"])
        assert x.dtype == torch.float32
        assert tuple(x.shape) == (1, 3, 16, 16)
        assert rgb(x, 0, 0) == [0.0, 0.0, 0.0]
        assert rgb(x, 15, 15) == [1.0, 1.0, 1.0]
        assert x[0, 0, 8, 0].item() == pytest.approx(128 / 255, abs=1e-6)
        assert torch.equal(x[0, 0], x[0, 2])

    def test_bilevel(self, corpus):
        x = load_image(corpus["bilevel"])
        assert rgb(x, 5, 3) == [0.0, 0.0, 0.0]
        assert rgb(x, 5, 20) == [1.0, 1.0, 1.0]

    def test_rgba_composited_on_white(self, corpus):
        x = load_image(corpus["rgba"])
        assert tuple(x.shape) == (1, 3, 16, 48)
        assert rgb(x, 4, 4) == [1.0, 1.0, 1.0]  # alpha 0: white, whatever the colour
        assert rgb(x, 4, 20) == [0.0, 0.0, 1.0]  # alpha 255: the colour itself
        assert rgb(x, 4, 40) == pytest.approx([0.8, 0.8, 0.8], abs=1e-6)  # black at alpha 0.2

    def test_la_composited_on_white(self, corpus):
        x = load_image(corpus["la"])
        assert rgb(x, 3, 3) == pytest.approx([1 - 128 / 255] * 3, abs=1e-6)

    def test_palette(self, corpus):
        x = load_image(corpus["palette"])
        assert rgb(x, 8, 4) == [1.0, 0.0, 0.0]
        assert rgb(x, 8, 24) == [0.0, 0.0, 1.0]

    def test_palette_with_transparency(self, corpus):
        x = load_image(corpus["palette_transparent"])
        assert rgb(x, 8, 2) == [1.0, 1.0, 1.0]  # transparent index -> white
        assert rgb(x, 8, 12) == [1.0, 0.0, 0.0]
        assert rgb(x, 8, 24) == [0.0, 0.0, 1.0]

    def test_sixteen_bit_keeps_precision(self, corpus):
        with Image.open(corpus["gray16"]) as img:
            assert img.mode.startswith("I")
        x = load_image(corpus["gray16"])
        half = x[0, 0, 0, 0].item()
        assert half == pytest.approx(32768 / 65535, abs=1e-4)
        assert abs(half - 128 / 255) > 1e-3  # not quantised to 8 bits
        assert x[0, 1, 0, 1].item() == pytest.approx(1000 / 65535, abs=1e-6)
        assert rgb(x, 0, 2) == [1.0, 1.0, 1.0]
        assert rgb(x, 5, 5) == [0.0, 0.0, 0.0]

    def test_float_mode(self, corpus):
        x = load_image(corpus["float"])
        assert torch.allclose(x, torch.full((1, 3, 16, 16), 0.25))

    def test_cmyk_jpeg(self, corpus):
        with Image.open(corpus["cmyk_jpeg"]) as img:
            assert img.mode == "CMYK"
        x = load_image(corpus["cmyk_jpeg"])
        assert tuple(x.shape) == (1, 3, 32, 32)
        assert rgb(x, 16, 16) == pytest.approx([1.0, 0.0, 0.0], abs=0.04)

    def test_exif_orientation_6(self, corpus):
        x = load_image(corpus["exif6"])
        assert tuple(x.shape) == (1, 3, 40, 24)  # stored 24 high x 40 wide, shown rotated
        # Rotated 90 degrees clockwise: the stored top-left marker is now top-right.
        assert rgb(x, 3, 20) == pytest.approx([1.0, 0.0, 0.0], abs=0.08)
        assert rgb(x, 3, 3) == pytest.approx([1.0, 1.0, 1.0], abs=0.08)
        assert rgb(x, 36, 3) == pytest.approx([1.0, 1.0, 1.0], abs=0.08)

    def test_exif_orientation_8(self, corpus):
        x = load_image(corpus["exif8"])
        assert tuple(x.shape) == (1, 3, 40, 24)
        # Rotated 90 degrees counter-clockwise: the marker is now bottom-left.
        assert rgb(x, 36, 3) == pytest.approx([1.0, 0.0, 0.0], abs=0.08)
        assert rgb(x, 3, 3) == pytest.approx([1.0, 1.0, 1.0], abs=0.08)
        assert rgb(x, 3, 20) == pytest.approx([1.0, 1.0, 1.0], abs=0.08)


class TestLoadImageFormats:
    def test_webp(self, corpus):
        if "webp" not in corpus:
            pytest.skip("Pillow built without WebP")
        x = load_image(corpus["webp"])
        assert tuple(x.shape) == (1, 3, 18, 20)
        assert rgb(x, 9, 9) == pytest.approx([10 / 255, 200 / 255, 30 / 255], abs=1e-6)

    def test_bmp(self, corpus):
        x = load_image(corpus["bmp"])
        assert tuple(x.shape) == (1, 3, 18, 20)
        assert rgb(x, 9, 9) == pytest.approx([12 / 255, 34 / 255, 56 / 255], abs=1e-6)

    def test_multipage_tiff_first_page(self, corpus):
        with Image.open(corpus["tiff_pages"]) as img:
            assert img.n_frames == 2
        x = load_image(corpus["tiff_pages"])
        assert rgb(x, 9, 9) == [1.0, 0.0, 0.0]

    def test_animated_gif_first_frame(self, corpus):
        with Image.open(corpus["gif_anim"]) as img:
            assert img.n_frames == 2
        x = load_image(corpus["gif_anim"])
        assert tuple(x.shape) == (1, 3, 20, 24)
        assert rgb(x, 10, 12) == [1.0, 0.0, 0.0]

    def test_str_and_pathlike(self, corpus):
        a = load_image(corpus["bmp"])
        b = load_image(str(corpus["bmp"]))
        assert torch.equal(a, b)

    def test_size_sets_long_side(self, corpus):
        x = load_image(corpus["rgba"], size=24, min_side=8)
        assert tuple(x.shape) == (1, 3, 8, 24)
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
        assert rgb(x, 4, 12) == pytest.approx([0.0, 0.0, 1.0], abs=1e-5)  # middle of the blue band

    def test_device(self, corpus):
        x = load_image(corpus["bmp"], device="cpu")
        assert x.device.type == "cpu"


# --------------------------------------------------------------------------- #
# image_to_tensor (in-memory images)
# --------------------------------------------------------------------------- #

class TestImageToTensor:
    SOURCE = (200, 50, 10)

    @pytest.mark.parametrize("mode", ["YCbCr", "LAB", "HSV", "CMYK", "RGBX"])
    def test_colour_spaces_back_to_rgb(self, mode):
        img = Image.new("RGB", (4, 4), self.SOURCE).convert(mode)
        x = image_to_tensor(img)
        assert x.dtype == torch.float32
        assert tuple(x.shape) == (1, 3, 4, 4)
        assert rgb(x, 1, 1) == pytest.approx([v / 255 for v in self.SOURCE], abs=5 / 255)

    def test_int32_mode_scaled_by_65535(self):
        img = Image.fromarray(np.array([[0, 32768, 65535, 70000]], dtype=np.int32))
        assert img.mode == "I"
        x = image_to_tensor(img)
        assert x[0, 0, 0].tolist() == pytest.approx([0.0, 32768 / 65535, 1.0, 1.0], abs=1e-6)

    def test_sixteen_bit_big_endian(self):
        values = np.array([[0, 1000, 32768, 65535]], dtype=">u2")
        img = Image.frombytes("I;16B", (4, 1), values.tobytes())
        x = image_to_tensor(img)
        assert x[0, 2, 0].tolist() == pytest.approx([0.0, 1000 / 65535, 32768 / 65535, 1.0], abs=1e-6)

    def test_pa_composited_on_white(self):
        img = Image.new("RGBA", (2, 2), (0, 0, 255, 0)).convert("PA")
        assert img.mode == "PA"
        assert rgb(image_to_tensor(img), 0, 0) == [1.0, 1.0, 1.0]

    def test_rgb_exact(self):
        x = image_to_tensor(Image.new("RGB", (3, 2), (255, 0, 51)))
        assert tuple(x.shape) == (1, 3, 2, 3)
        assert rgb(x, 1, 2) == pytest.approx([1.0, 0.0, 0.2], abs=1e-7)

    def test_not_an_image(self):
        with pytest.raises(TypeError):
            image_to_tensor(np.zeros((4, 4, 3)))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- #
# resizing
# --------------------------------------------------------------------------- #

def checkerboard(n: int) -> torch.Tensor:
    idx = torch.arange(n)
    board = ((idx[:, None] + idx[None, :]) % 2).float()
    return board.expand(1, 3, n, n).clone()


class TestResizeLongSide:
    @pytest.mark.parametrize(
        "hw, size, expected",
        [
            ((300, 200), 150, (150, 100)),
            ((200, 300), 150, (100, 150)),
            ((1000, 20), 256, (256, 5)),
            ((20, 1000), 256, (5, 256)),
            ((1, 1000), 10, (1, 10)),
            ((64, 64), 32, (32, 32)),
            ((10, 20), 40, (20, 40)),
            ((333, 517), 512, (330, 512)),
        ],
    )
    def test_long_side_and_aspect(self, hw, size, expected):
        h, w = hw
        y = resize_long_side(torch.rand(2, 3, h, w), size)
        assert tuple(y.shape) == (2, 3, *expected)
        assert max(y.shape[-2:]) == size
        short_exact = min(h, w) * size / max(h, w)
        assert abs(min(y.shape[-2:]) - max(1.0, short_exact)) <= 1.0

    def test_antialiased_downscale_of_checkerboard(self):
        y = resize_long_side(checkerboard(256), 64)
        assert tuple(y.shape) == (1, 3, 64, 64)
        assert float(y.mean()) == pytest.approx(0.5, abs=0.01)
        assert float(y.std()) < 0.1
        # Control: the same reduction without a low-pass filter aliases to a flat 0.
        naive = F.interpolate(checkerboard(256), size=(64, 64), mode="nearest")
        assert abs(float(naive.mean()) - 0.5) > 0.4

    def test_upscale_keeps_constant(self):
        y = resize_long_side(torch.full((1, 3, 8, 6), 0.3), 32)
        assert tuple(y.shape) == (1, 3, 32, 24)
        assert torch.allclose(y, torch.full_like(y, 0.3), atol=1e-6)

    @pytest.mark.parametrize("size", [0, -1, 3.0])
    def test_bad_size(self, size):
        with pytest.raises(ValueError):
            resize_long_side(torch.rand(1, 3, 8, 8), size)

    def test_needs_4d(self):
        with pytest.raises(ValueError):
            resize_long_side(torch.rand(3, 8, 8), 4)


class TestResizeTo:
    def test_exact_size(self):
        y = resize_to(torch.rand(1, 3, 50, 80), (37, 91))
        assert tuple(y.shape) == (1, 3, 37, 91)
        assert y.dtype == torch.float32

    def test_same_size_is_identity(self):
        x = torch.rand(1, 3, 12, 9)
        assert torch.equal(resize_to(x, (12, 9)), x)

    def test_antialiased(self):
        y = resize_to(checkerboard(128), (32, 16))
        assert float(y.mean()) == pytest.approx(0.5, abs=0.01)
        assert float(y.std()) < 0.1

    def test_integer_input_becomes_float(self):
        y = resize_to(torch.full((1, 3, 8, 8), 200, dtype=torch.uint8), (4, 4))
        assert y.dtype == torch.float32
        assert torch.allclose(y, torch.full_like(y, 200.0))

    def test_bad_target(self):
        with pytest.raises(ValueError):
            resize_to(torch.rand(1, 3, 8, 8), (0, 4))


# --------------------------------------------------------------------------- #
# save_image, to_pil, to_array
# --------------------------------------------------------------------------- #

def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class TestSaveImage:
    def test_png_round_trip_exact_to_one_level(self, tmp_path):
        x = torch.rand(1, 3, 17, 23, generator=torch.Generator().manual_seed(0))
        out = save_image(x, tmp_path / "out.png")
        assert out == tmp_path / "out.png"
        assert leftovers(tmp_path) == ["out.png"]
        y = load_image(out)
        assert tuple(y.shape) == (1, 3, 17, 23)
        assert float((y - x).abs().max()) <= 0.5 / 255 + 1e-6
        assert torch.equal(y * 255, (x * 255).round())

    @pytest.mark.parametrize(
        "suffix, fmt",
        [(".png", "PNG"), (".jpg", "JPEG"), (".JPEG", "JPEG"), (".bmp", "BMP"),
         (".tif", "TIFF"), (".tiff", "TIFF"), (".webp", "WEBP")],
    )
    def test_format_from_suffix(self, tmp_path, suffix, fmt):
        if fmt == "WEBP" and not features.check("webp"):
            pytest.skip("Pillow built without WebP")
        x = torch.zeros(1, 3, 16, 16)
        x[:, 0] = 0.8
        x[:, 2] = 0.2
        path = save_image(x, tmp_path / f"out{suffix}")
        with Image.open(path) as img:
            assert img.format == fmt
            assert img.size == (16, 16)
        tolerance = 3 / 255 if fmt == "JPEG" else 1e-6
        assert rgb(load_image(path), 8, 8) == pytest.approx([204 / 255, 0.0, 51 / 255], abs=tolerance)

    def test_jpeg_quality_95(self, tmp_path):
        x = torch.linspace(0, 1, 64).expand(1, 3, 64, 64).clone()
        y = load_image(save_image(x, tmp_path / "ramp.jpg"))
        assert float((y - x).abs().max()) < 0.02

    @pytest.mark.parametrize("shape", [(1, 1, 8, 6), (1, 8, 6), (8, 6)])
    def test_gray_shapes(self, tmp_path, shape):
        x = torch.full(shape, 0.2)
        path = save_image(x, tmp_path / "gray.png")
        with Image.open(path) as img:
            assert img.mode == "L"
            assert img.getpixel((0, 0)) == 51
        assert tuple(load_image(path, min_side=1).shape) == (1, 3, 8, 6)

    def test_chw_and_clamping(self, tmp_path):
        x = torch.tensor([-1.0, 2.0, float("nan")]).view(3, 1, 1).expand(3, 4, 4)
        with Image.open(save_image(x, tmp_path / "clamp.png")) as img:
            assert img.getpixel((1, 1)) == (0, 255, 0)

    def test_batch_rejected(self, tmp_path):
        with pytest.raises(ValueError):
            save_image(torch.rand(2, 3, 4, 4), tmp_path / "batch.png")
        assert leftovers(tmp_path) == []

    def test_unknown_suffix(self, tmp_path):
        target = tmp_path / "result.xyz"
        with pytest.raises(ImageError) as info:
            save_image(torch.rand(1, 3, 4, 4), target)
        message = assert_one_line_error(info.value, target)
        assert "'.xyz'" in message
        assert ".png" in message
        assert leftovers(tmp_path) == []

    def test_missing_folder(self, tmp_path):
        target = tmp_path / "nope" / "out.png"
        with pytest.raises(OutputError) as info:
            save_image(torch.rand(1, 3, 4, 4), target)
        assert_one_line_error(info.value, target)
        assert "nope" in str(info.value)
        assert leftovers(tmp_path) == []

    def test_make_parents(self, tmp_path):
        target = tmp_path / "a" / "b" / "out.png"
        assert save_image(torch.rand(1, 3, 4, 4), target, make_parents=True) == target
        assert leftovers(target.parent) == ["out.png"]

    @pytest.mark.parametrize("make_parents", [False, True])
    def test_parent_is_a_file(self, tmp_path, make_parents):
        blocker = tmp_path / "blocker"
        blocker.write_text("a regular file", encoding="utf-8")
        target = blocker / "out.png"
        with pytest.raises(OutputError) as info:
            save_image(torch.rand(1, 3, 4, 4), target, make_parents=make_parents)
        assert_one_line_error(info.value, target)
        assert leftovers(tmp_path) == ["blocker"]
        assert blocker.read_text(encoding="utf-8") == "a regular file"

    @pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                        reason="permission bits do not stop root")
    def test_read_only_folder(self, tmp_path):
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o500)
        try:
            target = folder / "out.png"
            with pytest.raises(OutputError) as info:
                save_image(torch.rand(1, 3, 4, 4), target)
            assert_one_line_error(info.value, target)
            assert leftovers(folder) == []
        finally:
            folder.chmod(0o700)

    def test_failed_write_leaves_nothing(self, tmp_path, monkeypatch):
        target = tmp_path / "out.png"
        target.write_bytes(b"old contents")

        def refuse(src, dst):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", refuse)
        with pytest.raises(OutputError) as info:
            save_image(torch.rand(1, 3, 4, 4), target)
        message = assert_one_line_error(info.value, target)
        assert "No space left on device" in message
        assert leftovers(tmp_path) == ["out.png"]  # no temporary file left behind
        assert target.read_bytes() == b"old contents"  # the old file is untouched


class TestToPil:
    def test_rgb(self):
        x = torch.zeros(1, 3, 2, 5)
        x[0, :, 1, 4] = torch.tensor([0.2, 0.5, 1.0])
        img = to_pil(x)
        assert img.mode == "RGB"
        assert img.size == (5, 2)
        assert img.getpixel((4, 1)) == (51, 128, 255)
        assert img.getpixel((0, 0)) == (0, 0, 0)

    def test_gray(self):
        img = to_pil(torch.full((3, 7), 0.6))
        assert img.mode == "L"
        assert img.size == (7, 3)
        assert img.getpixel((0, 0)) == 153

    def test_bad_channels(self):
        with pytest.raises(ValueError):
            to_pil(torch.rand(1, 2, 4, 4))


class TestToArray:
    def test_colour(self):
        x = torch.rand(1, 3, 5, 7)
        arr = to_array(x, grey_as_rgb=True)
        assert arr.shape == (5, 7, 3)
        assert arr.dtype == np.float32
        assert np.allclose(arr[2, 3], x[0, :, 2, 3].numpy())

    def test_gray_repeated_and_clamped(self):
        arr = to_array(torch.tensor([[-0.5, 0.25], [1.5, 1.0]]), grey_as_rgb=True)
        assert arr.shape == (2, 2, 3)
        assert arr[:, :, 0].tolist() == [[0.0, 0.25], [1.0, 1.0]]
        assert np.array_equal(arr[..., 0], arr[..., 2])

    def test_requires_grad_ok(self):
        x = torch.rand(3, 4, 4, requires_grad=True)
        assert to_array(x * 1, grey_as_rgb=True).shape == (4, 4, 3)

    def test_uint8_matches_to_pil(self):
        x = torch.rand(1, 3, 6, 5)
        arr = to_array(x, np.uint8)
        assert arr.dtype == np.uint8 and arr.shape == (6, 5, 3)
        assert np.array_equal(arr, np.asarray(to_pil(x)))

    def test_arrays_and_pil_images(self):
        rgba = np.full((4, 3, 4), 255, dtype=np.uint8)
        arr = to_array(rgba)
        assert arr.shape == (4, 3, 3) and arr.dtype == np.float32 and np.all(arr == 1.0)
        grey = to_array(Image.new("L", (3, 2), 51))
        assert grey.shape == (2, 3) and np.allclose(grey, 0.2)
        with pytest.raises(TypeError):
            to_array([[0.5]])

    def test_batch_rejected(self):
        with pytest.raises(ValueError, match="single image"):
            to_array(torch.rand(2, 3, 4, 4))
