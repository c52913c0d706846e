"""Reading, resizing and writing images as PyTorch tensors.

Every image inside stylelib is a ``float32`` tensor of shape ``[1, 3, H, W]``
with values in ``[0, 1]``.  This module is the only place that talks to Pillow:

* :func:`load_image` turns any reasonable image file into such a tensor.  It is
  defensive about its input: a missing, empty, truncated, oversized or
  unrecognised file, or one too small for the network, raises a one-line
  :class:`~stylelib.errors.ImageError` that names the file, never a raw Pillow
  traceback.  The declared pixel count is checked from the file header before
  any pixel data is decoded, so a decompression bomb is refused cheaply.
* :func:`image_to_tensor` normalises every Pillow mode (grey, palette, alpha,
  16-bit, float, bi-level, CMYK, YCbCr, LAB, HSV) to RGB.  Transparent pixels
  are composited on white; 16-bit data keeps its precision.
* :func:`resize_long_side` and :func:`resize_to` resize tensors, antialiased
  when shrinking.
* :func:`save_image` writes a tensor atomically (encoded in memory first, then
  moved into place with :mod:`stylelib.atomic`), so a failed save leaves
  neither a partial file nor a temporary file behind.
* :func:`to_array` converts an image (tensor, array or Pillow image) to a numpy array;
  :func:`to_pil` to a Pillow image.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
import struct
import threading
import warnings
import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .atomic import atomic_write_bytes
from .checks import check_tensor
from .errors import ImageError, OutputError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MIN_SIDE",
    "SAVE_FORMATS",
    "image_to_tensor",
    "load_image",
    "resize_long_side",
    "resize_to",
    "save_image",
    "to_array",
    "to_pil",
]

#: Largest image (width * height) that :func:`load_image` decodes by default.
DEFAULT_MAX_PIXELS = 64_000_000

#: Smallest side accepted by :func:`load_image`; VGG pools four times, so a
#: side below 16 pixels vanishes in the deeper layers.
DEFAULT_MIN_SIDE = 16

#: File suffix (lower case) -> Pillow format name used by :func:`save_image`.
SAVE_FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}

# Encoder options per format.  JPEG uses quality 95; WebP is written lossless
# so that a saved result can be reloaded bit for bit.
_SAVE_OPTIONS: dict[str, dict] = {
    "JPEG": {"quality": 95},
    "WEBP": {"lossless": True},
}

# Exceptions that Pillow's decoders raise on corrupt or truncated data.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError,
                  TypeError, struct.error, zlib.error, MemoryError)

# Pillow's own decompression-bomb limit is a module global.  While a header is
# parsed, it is switched off under this lock so that our ``max_pixels`` check,
# which runs right after, is the one that decides (and reports the size).
_PIL_LIMIT_LOCK = threading.Lock()

_EIGHT_BIT = 255.0
_SIXTEEN_BIT = 65535.0


# --------------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------------- #

def _one_line(exc: BaseException) -> str:
    """An exception's message squeezed onto one line (or its type name if empty)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


@contextlib.contextmanager
def _header_only_pil_limit() -> Iterator[None]:
    """Disable Pillow's pixel limit while a header is parsed (no pixels are decoded)."""
    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _check_regular_file(path: Path) -> None:
    """Raise :class:`ImageError` unless ``path`` is a non-empty regular file."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ImageError(path, "file not found") from None
    except PermissionError:
        raise ImageError(path, "permission denied") from None
    except OSError as exc:
        raise ImageError(path, f"cannot access file ({exc.strerror or _one_line(exc)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageError(path, "is a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise ImageError(path, "is not a regular file")
    if st.st_size == 0:
        raise ImageError(path, "file is empty (0 bytes)")


def _open_checked(path: str, fh: io.BufferedReader, max_pixels: int, min_side: int) -> Image.Image:
    """Parse the header of ``fh``, check its declared size, then decode the first frame."""
    try:
        with _header_only_pil_limit():
            img = Image.open(fh)
    except UnidentifiedImageError:
        raise ImageError(path, "not an image (format not recognised)") from None
    except Image.DecompressionBombError as exc:  # not expected while the limit is lifted
        raise ImageError(path, f"refused as a possible decompression bomb ({_one_line(exc)})") from None
    except _DECODE_ERRORS as exc:
        raise ImageError(path, f"cannot read image header ({_one_line(exc)})") from None

    width, height = img.size
    pixels = width * height
    if pixels > max_pixels:
        raise ImageError(
            path,
            f"image is {width}x{height} ({pixels} pixels), more than the limit of "
            f"{max_pixels} pixels; refusing to decode it (raise max_pixels if it is genuine)",
        )
    if min(width, height) < min_side:
        raise ImageError(path, f"image is {width}x{height} px; each side must be at least {min_side} px")

    # Decode the first frame now, inside the error guard, so that truncated or
    # corrupt pixel data is reported here rather than surfacing later.
    try:
        with warnings.catch_warnings():
            # The size has passed our own check; Pillow's warning is redundant.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except Image.DecompressionBombError as exc:
        raise ImageError(path, f"refused as a possible decompression bomb ({_one_line(exc)})") from None
    except MemoryError:
        raise ImageError(path, f"not enough memory to decode a {width}x{height} image") from None
    except _DECODE_ERRORS as exc:
        raise ImageError(path, f"image data is truncated or corrupt ({_one_line(exc)})") from None

    try:
        img = ImageOps.exif_transpose(img)
    except _DECODE_ERRORS as exc:
        warnings.warn(f"{path}: ignoring unreadable EXIF orientation ({_one_line(exc)})", stacklevel=3)
    return img


def load_image(
    path: str | os.PathLike,
    *,
    size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = DEFAULT_MIN_SIDE,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Read an image file as a ``float32`` tensor ``[1, 3, H, W]`` in ``[0, 1]``.

    Args:
        path: the image file (``str`` or path-like).
        size: target length of the *long* side; the aspect ratio is kept and
            both sides are rounded (at least 1).  Shrinking is antialiased.
            ``None`` keeps the native size.
        max_pixels: refuse files whose header declares more than this many
            pixels (``width * height``); checked before any pixel is decoded.
        min_side: refuse images whose shorter side is below this, both as
            stored and after resizing to ``size``.
        device: where to put the result (default: CPU).

    The EXIF orientation is applied, multi-frame files (animated GIF,
    multi-page TIFF) give their first frame, and every Pillow mode is mapped to
    RGB as described in :func:`image_to_tensor`.

    Raises:
        ImageError: one line naming the file, for any file that cannot be used.
        TypeError: if ``path`` is not a string or path-like object.
        ValueError: if ``size`` is not a positive integer.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_image expects a str or os.PathLike path, got {type(path).__name__}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"size must be a positive int or None, got {size!r}")
    display = os.fspath(path)
    fs_path = Path(display)

    _check_regular_file(fs_path)
    try:
        fh = open(fs_path, "rb")
    except OSError as exc:
        raise ImageError(display, f"cannot open file ({exc.strerror or _one_line(exc)})") from None
    with fh:
        img = _open_checked(display, fh, max_pixels, min_side)
        try:
            x = image_to_tensor(img)
        except ImageError as exc:
            raise ImageError(display, exc.problem) from None

    if size is not None:
        height, width = x.shape[-2:]
        x = resize_long_side(x, size).clamp_(0.0, 1.0)
        new_h, new_w = x.shape[-2:]
        if min(new_h, new_w) < min_side:
            raise ImageError(
                display,
                f"image is {width}x{height} px and {new_w}x{new_h} px after resizing to long side "
                f"{size}; each side must be at least {min_side} px",
            )
    return x if device is None else x.to(device)


# --------------------------------------------------------------------------- #
# Pillow mode normalisation
# --------------------------------------------------------------------------- #

def _composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Blend float ``rgb`` (HxWxC) over white using float ``alpha`` (HxW) in [0, 1]."""
    a = alpha[..., None]
    return rgb * a + (1.0 - a)


def _image_to_array(img: Image.Image) -> np.ndarray:
    """Pillow image -> float32 array HxWx3 (or HxWx1 for grey) in [0, 1]."""
    mode = img.mode

    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        arr = np.asarray(img).astype(np.float32) / _SIXTEEN_BIT
        return arr[..., None]
    if mode == "I":
        # 32-bit integer mode; Pillow uses it for 16-bit data from some formats.
        arr = np.asarray(img).astype(np.float32) / _SIXTEEN_BIT
        return np.clip(arr, 0.0, 1.0)[..., None]
    if mode == "F":
        # Floating-point data is taken to be on the [0, 1] scale already.
        arr = np.nan_to_num(np.asarray(img).astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(arr, 0.0, 1.0)[..., None]
    if mode == "1":
        return (np.asarray(img.convert("L")).astype(np.float32) / _EIGHT_BIT)[..., None]
    if mode == "L":
        return (np.asarray(img).astype(np.float32) / _EIGHT_BIT)[..., None]
    if mode == "RGB":
        return np.asarray(img).astype(np.float32) / _EIGHT_BIT

    # Modes with an alpha channel, possibly after expanding a palette.
    if mode == "P":
        if "transparency" in img.info:
            img, mode = img.convert("RGBA"), "RGBA"
        else:
            return np.asarray(img.convert("RGB")).astype(np.float32) / _EIGHT_BIT
    elif mode == "PA":
        img, mode = img.convert("RGBA"), "RGBA"
    elif mode == "La":
        img, mode = img.convert("LA"), "LA"
    elif mode == "RGBa":
        img, mode = img.convert("RGBA"), "RGBA"

    if mode in ("RGBA", "LA"):
        arr = np.asarray(img).astype(np.float32) / _EIGHT_BIT
        return _composite_on_white(arr[..., :-1], arr[..., -1])

    # Everything else (CMYK, YCbCr, LAB, HSV, RGBX, ...) has a Pillow conversion.
    try:
        rgb = img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageError(getattr(img, "filename", None) or None,
                         f"unsupported image mode {mode!r} ({_one_line(exc)})") from None
    return np.asarray(rgb).astype(np.float32) / _EIGHT_BIT


def image_to_tensor(img: Image.Image) -> torch.Tensor:
    """Convert a Pillow image of any common mode to ``float32`` ``[1, 3, H, W]`` in ``[0, 1]``.

    * ``L``, ``1``: grey, repeated over the three channels.
    * ``I;16`` / ``I;16B`` / ``I``: divided by 65535 without passing through
      8 bits (``I`` is clipped to ``[0, 1]``); ``F`` is taken as ``[0, 1]``.
    * ``RGBA``, ``LA``, ``PA`` and palette images with transparency: composited
      on white with their alpha.
    * ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ...: Pillow's conversion to RGB.

    The EXIF orientation is *not* applied here (see :func:`load_image`).
    """
    if not isinstance(img, Image.Image):
        raise TypeError(f"image_to_tensor expects a PIL.Image.Image, got {type(img).__name__}")
    arr = _image_to_array(img)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    arr = np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(arr).unsqueeze(0)


# --------------------------------------------------------------------------- #
# Resizing
# --------------------------------------------------------------------------- #

def resize_to(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """Resize ``x`` (``[N, C, H, W]``) to exactly ``hw = (H, W)``.

    Shrinking uses antialiased bilinear filtering (a triangle filter as wide
    as the scale factor, so no aliasing and no ringing); enlarging uses bicubic
    interpolation.  Values are not clamped.  Integer tensors are converted to
    ``float32`` first.
    """
    check_tensor(x, "resize_to")
    out_h, out_w = (int(v) for v in hw)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"target size must be at least 1x1, got {hw!r}")
    in_h, in_w = x.shape[-2:]
    if not x.is_floating_point():
        x = x.float()
    if (out_h, out_w) == (in_h, in_w):
        return x
    shrinking = out_h <= in_h and out_w <= in_w
    mode = "bilinear" if shrinking else "bicubic"
    return F.interpolate(x, size=(out_h, out_w), mode=mode, align_corners=False, antialias=True)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``[N, C, H, W]`` on the bottom and right (reflection) to multiples of ``multiple``.

    Returns the padded batch and the original ``(H, W)`` for cropping the
    result back (encoder-decoder networks halve the size at each pooling).
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
    return x, (h, w)


def resize_long_side(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``x`` (``[N, C, H, W]``) so that its long side is ``size``, keeping the aspect ratio.

    The short side is rounded to the nearest integer (at least 1).  See
    :func:`resize_to` for the filters used.
    """
    check_tensor(x, "resize_long_side")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    height, width = x.shape[-2:]
    scale = size / max(height, width)
    new_h = size if height >= width else max(1, int(math.floor(height * scale + 0.5)))
    new_w = size if width > height else max(1, int(math.floor(width * scale + 0.5)))
    return resize_to(x, (new_h, new_w))


# --------------------------------------------------------------------------- #
# Writing and display
# --------------------------------------------------------------------------- #

def to_array(image: Any, dtype: Any = np.float32, *, grey_as_rgb: bool = False) -> np.ndarray:
    """An image as an ``H x W x 3`` (colour) or ``H x W`` (grey) array, clamped to [0, 1].

    ``image`` is a tensor ``[1, 3, H, W]``, ``[3, H, W]``, ``[1, 1, H, W]``,
    ``[1, H, W]`` or ``[H, W]`` with values in [0, 1], a numpy array
    ``H x W (x 3 or 4)`` (uint8 in [0, 255] or float in [0, 1]; alpha dropped)
    or a Pillow image.  NaN becomes 0.  ``dtype=np.uint8`` scales to
    [0, 255] and rounds (what :func:`to_pil` writes); any float dtype keeps
    [0, 1] unquantised (what matplotlib shows).  ``grey_as_rgb`` repeats a
    grey image over three channels.
    """
    if isinstance(image, torch.Tensor):
        t = image.detach().to("cpu", torch.float32)
        shape = tuple(t.shape)
        if t.dim() == 4:
            if t.shape[0] != 1:
                raise ValueError(f"to_array: expected a single image [1, C, H, W], got a batch of shape {shape}")
            t = t[0]
        if t.dim() == 3 and t.shape[0] == 1:
            t = t[0]
        if not (t.dim() == 2 or (t.dim() == 3 and t.shape[0] == 3)):
            raise ValueError(f"to_array: expected an image tensor [1, 3, H, W], [3, H, W], [1, 1, H, W] "
                             f"or [H, W], got {shape}")
        if t.dim() == 3:
            t = t.permute(1, 2, 0)
    elif isinstance(image, (np.ndarray, Image.Image)):
        arr = np.asarray(image)
        scale = 255.0 if arr.dtype == np.uint8 else 1.0
        if arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[..., :3]
        if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3))):
            raise ValueError(f"to_array: expected an image array H x W (x 3), got shape {arr.shape}")
        t = torch.from_numpy(np.array(arr, dtype=np.float32)) / scale
        if t.dim() == 3 and t.shape[2] == 1:
            t = t[..., 0]
    else:
        raise TypeError(f"to_array: expected a torch.Tensor, numpy array or PIL image, got {type(image).__name__}")
    t = torch.nan_to_num(t, nan=0.0).clamp(0.0, 1.0)
    if grey_as_rgb and t.dim() == 2:
        t = t.unsqueeze(-1).expand(-1, -1, 3)
    if np.dtype(dtype) == np.uint8:
        t = t.mul(255.0).round_().to(torch.uint8)
    return np.ascontiguousarray(t.numpy(), dtype=dtype)


def to_pil(x: torch.Tensor) -> Image.Image:
    """An image tensor as an 8-bit Pillow image (``RGB``, or ``L`` for one channel).

    Accepts what :func:`to_array` accepts; values are clamped to ``[0, 1]``
    and rounded to 8 bits.
    """
    return Image.fromarray(to_array(x, np.uint8))  # HxWx3 uint8 -> "RGB", HxW uint8 -> "L"


def save_image(x: torch.Tensor, path: str | os.PathLike, *, make_parents: bool = False) -> Path:
    """Write an image tensor to ``path``; the format follows the suffix.

    Supported suffixes: ``.png``, ``.jpg``/``.jpeg`` (quality 95), ``.webp``
    (lossless), ``.tif``/``.tiff`` and ``.bmp``.  The image is encoded in
    memory and then written atomically, so on any failure no file (and no
    temporary file) is left behind.

    Raises:
        ImageError: for an unsupported suffix or a failure to encode.
        OutputError: if the output folder is missing (and ``make_parents`` is
            false) or cannot be written.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"save_image expects a str or os.PathLike path, got {type(path).__name__}")
    target = Path(path)
    suffix = target.suffix.lower()
    fmt = SAVE_FORMATS.get(suffix)
    if fmt is None:
        known = ", ".join(sorted(SAVE_FORMATS))
        shown = f"'{target.suffix}'" if target.suffix else "no suffix"
        raise ImageError(target, f"cannot choose an output format for {shown} (use one of {known})")

    img = to_pil(x)
    buffer = io.BytesIO()
    try:
        img.save(buffer, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
    except (OSError, ValueError, KeyError) as exc:
        raise ImageError(target, f"cannot encode as {fmt} ({_one_line(exc)})") from None

    try:
        return atomic_write_bytes(target, buffer.getvalue(), make_parents=make_parents)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"{target}: cannot write file ({exc.strerror or _one_line(exc)})") from None
