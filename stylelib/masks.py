"""Colour-coded semantic masks of the Deep Photo Style Transfer benchmark.

Luan et al., "Deep Photo Style Transfer" (CVPR 2017) pair every content and
style photo with a hand-painted segmentation whose regions are drawn in nine
flat colours (blue, green, black, white, red, yellow, grey, light blue and
purple).  Their augmented style loss compares Gram matrices only inside regions
that carry the same colour in both images.

The published mask files are not clean: anti-aliased region borders and lossy
editing left roughly 245,000 distinct RGB values in the set (values such as 254
or 1 instead of 255 or 0), one file is greyscale (mode ``L``) and a mask can be
a pixel smaller than its photo.  :func:`load_mask` therefore maps every pixel to
the *nearest* palette colour (the original Lua code thresholds each channel
instead, which leaves some border pixels unassigned) and resizes the resulting
label map with nearest-neighbour sampling, so that no label is ever invented by
interpolation.

Labels are indices into :data:`PALETTE`; a label map is a ``torch.long`` tensor
of shape ``[H, W]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from .errors import ImageError

__all__ = [
    "PaletteColor",
    "PALETTE",
    "PALETTE_NAMES",
    "NUM_LABELS",
    "palette_tensor",
    "snap_to_palette",
    "load_mask",
    "resize_labels",
    "one_hot",
    "mask_to_rgb",
    "shared_labels",
    "label_names",
]


class PaletteColor(NamedTuple):
    """One mask colour: its name and its 8-bit RGB value."""

    name: str
    rgb: tuple[int, int, int]


#: The nine DPST mask colours.  The position in this tuple is the label index,
#: so the order is part of the API and must not change.
PALETTE: tuple[PaletteColor, ...] = (
    PaletteColor("blue", (0, 0, 255)),
    PaletteColor("green", (0, 255, 0)),
    PaletteColor("black", (0, 0, 0)),
    PaletteColor("white", (255, 255, 255)),
    PaletteColor("red", (255, 0, 0)),
    PaletteColor("yellow", (255, 255, 0)),
    PaletteColor("grey", (128, 128, 128)),
    PaletteColor("lightblue", (0, 255, 255)),
    PaletteColor("purple", (255, 0, 255)),
)

PALETTE_NAMES: tuple[str, ...] = tuple(c.name for c in PALETTE)
NUM_LABELS = len(PALETTE)

# Mask files larger than this are refused before decoding (the DPST masks are
# at most 700 x 700 pixels).
DEFAULT_MAX_PIXELS = 64_000_000

# Pillow modes that convert to RGB without losing the colour information.
_CONVERTIBLE_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "La", "CMYK", "YCbCr"}


def palette_tensor(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The palette as a ``[K, 3]`` tensor of 0..255 values."""
    return torch.tensor([c.rgb for c in PALETTE], dtype=dtype)


_PALETTE_F64 = np.array([c.rgb for c in PALETTE], dtype=np.float64)


def _nearest_index(colours: np.ndarray) -> np.ndarray:
    """Nearest palette index for each row of an ``[N, 3]`` array of 0..255 values."""
    # |x - p|^2 = |x|^2 - 2 x.p + |p|^2; |x|^2 is the same for every p, so the
    # argmin only needs |p|^2 - 2 x.p.  For 8-bit input every term is an exact
    # integer in float64, which keeps ties deterministic (first palette entry).
    pal = _PALETTE_F64
    score = (pal * pal).sum(1) - 2.0 * colours.astype(np.float64) @ pal.T
    return score.argmin(axis=1)


def snap_to_palette(rgb: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Map an ``[H, W, 3]`` array of 0..255 colours to ``[H, W]`` palette indices (``torch.long``).

    Each pixel gets the index of the palette colour at the smallest Euclidean
    distance in RGB; a tie goes to the colour listed first in :data:`PALETTE`.
    A 2-D input is read as grey levels (``g`` means ``(g, g, g)``).
    """
    arr = rgb.detach().cpu().numpy() if isinstance(rgb, torch.Tensor) else np.asarray(rgb)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"snap_to_palette expects [H, W, 3] or [H, W], got shape {tuple(arr.shape)}")
    h, w, _ = arr.shape
    if arr.dtype == np.uint8:
        # A mask holds a few thousand distinct colours at most: snap each
        # distinct colour once and scatter the result back (about 3x faster
        # than measuring every pixel against the palette).
        code = (arr[..., 0].astype(np.int32) << 16) | (arr[..., 1].astype(np.int32) << 8) | arr[..., 2]
        uniq, inverse = np.unique(code.ravel(), return_inverse=True)
        colours = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1)
        labels = _nearest_index(colours)[inverse.ravel()]
    else:
        labels = _nearest_index(arr.reshape(-1, 3))
    return torch.from_numpy(labels.reshape(h, w).astype(np.int64))


def _read_rgb(path: Path, max_pixels: int) -> np.ndarray:
    """Decode ``path`` into an ``[H, W, 3]`` uint8 array, or raise ImageError."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ImageError(path, "file not found") from None
    except OSError as exc:
        raise ImageError(path, f"cannot access file ({exc.strerror or type(exc).__name__})") from None
    if path.is_dir():
        raise ImageError(path, "is a directory, not a mask file")
    if not path.is_file():
        raise ImageError(path, "is not a regular file")
    if st.st_size == 0:
        raise ImageError(path, "file is empty (0 bytes)")
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise ImageError(path, f"mask is {w}x{h} pixels, more than the limit of {max_pixels}")
            if w < 1 or h < 1:
                raise ImageError(path, f"mask has an empty size {w}x{h}")
            mode = img.mode
            if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                # 16-bit or float greyscale: bring it to 0..255 before snapping.
                arr = np.asarray(img, dtype=np.float64)
                top = 65535.0 if mode.startswith("I;16") else max(float(arr.max()), 1.0)
                grey = np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
                return np.repeat(grey[..., None], 3, axis=2)
            if mode not in _CONVERTIBLE_MODES:
                raise ImageError(path, f"unsupported mask mode {mode!r}")
            return np.array(img.convert("RGB"), dtype=np.uint8)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(path, "not an image (format not recognised)") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(path, f"refused to decode: {exc}".splitlines()[0]) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, MemoryError) as exc:
        problem = " ".join(str(exc).split()) or type(exc).__name__
        raise ImageError(path, f"cannot decode mask ({problem})") from None


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width), got {size!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {(h, w)}")
    return h, w


def resize_labels(labels: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Resize an ``[H, W]`` label map to ``size = (h, w)`` by nearest-neighbour sampling.

    Uses pixel-centre ("nearest-exact") sampling, so every output label is a
    label of the input: labels are never blended.
    """
    h, w = _check_size(size)
    if tuple(labels.shape[-2:]) == (h, w):
        return labels
    # Labels < 9 are exact in float32, so the round trip through float is lossless.
    out = F.interpolate(labels[None, None].to(torch.float32), size=(h, w), mode="nearest-exact")
    return out[0, 0].to(labels.dtype)


def load_mask(
    path: str | os.PathLike,
    size: Sequence[int] | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> torch.Tensor:
    """Read a DPST segmentation mask as an ``[H, W]`` ``torch.long`` map of palette indices.

    Every pixel is snapped to the nearest of the nine :data:`PALETTE` colours,
    whatever the file's mode (``L``, ``RGB``, ``RGBA``, ``P``...; alpha is
    ignored).  With ``size=(h, w)`` the label map is resized with
    nearest-neighbour sampling, e.g. ``load_mask(p, size=image.shape[-2:])`` to
    match a photo (one DPST mask is a pixel shorter than its photo).

    Raises :class:`~stylelib.errors.ImageError` (one line naming the file) when
    the file is missing, unreadable, truncated or too large.
    """
    path = Path(path)
    labels = snap_to_palette(_read_rgb(path, max_pixels))
    if size is not None:
        labels = resize_labels(labels, size)
    return labels


def _as_label_map(labels: torch.Tensor) -> torch.Tensor:
    """Accept ``[H, W]``, ``[1, H, W]`` or ``[1, 1, H, W]`` and return ``[H, W]`` long."""
    t = torch.as_tensor(labels)
    while t.ndim > 2 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 2:
        raise ValueError(f"expected an [H, W] label map, got shape {tuple(torch.as_tensor(labels).shape)}")
    if t.is_floating_point():
        raise ValueError("label maps must hold integer palette indices, got a floating-point tensor")
    return t.long()


def one_hot(labels: torch.Tensor, k: int = NUM_LABELS) -> torch.Tensor:
    """Turn an ``[H, W]`` label map into ``[1, K, H, W]`` float channel masks (1 inside, 0 outside)."""
    t = _as_label_map(labels)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}, got {int(t.min())}..{int(t.max())}")
    return F.one_hot(t, num_classes=k).permute(2, 0, 1).unsqueeze(0).to(torch.float32)


def mask_to_rgb(labels: torch.Tensor) -> torch.Tensor:
    """Paint a label map with the palette: ``[1, 3, H, W]`` float in [0, 1], for plotting."""
    t = _as_label_map(labels)
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= NUM_LABELS):
        raise ValueError(f"labels must lie in 0..{NUM_LABELS - 1}, got {int(t.min())}..{int(t.max())}")
    pal = palette_tensor(torch.float32) / 255.0
    return pal[t].permute(2, 0, 1).unsqueeze(0).contiguous()


def shared_labels(content_labels: torch.Tensor, style_labels: torch.Tensor, min_fraction: float = 0.0) -> list[int]:
    """The palette indices that occur in both label maps, in increasing order.

    Following Luan et al. (CVPR 2017), only these regions take part in the
    segmented style loss; a region present in one image only has no partner.

    ``min_fraction`` (default 0: any pixel counts) ignores a label in a map
    where it covers less than that fraction of the pixels.  Nearest-colour
    snapping turns some anti-aliased borders into thin slivers of a third
    colour (a blue/green blend is closest to grey, a black/white blend *is*
    grey): about a quarter of the DPST masks carry such a sliver of under
    0.2 % of their pixels, which ``min_fraction=0.002`` discards.
    """
    if not 0.0 <= min_fraction < 1.0:
        raise ValueError(f"min_fraction must lie in [0, 1), got {min_fraction}")

    def present(labels: torch.Tensor) -> set[int]:
        t = _as_label_map(labels)
        counts = torch.bincount(t.flatten(), minlength=NUM_LABELS)
        need = max(1.0, min_fraction * t.numel())
        return {i for i, c in enumerate(counts.tolist()) if c >= need}

    return sorted(present(content_labels) & present(style_labels))


def label_names(labels: Iterable[int]) -> list[str]:
    """The colour names of the given palette indices."""
    return [PALETTE_NAMES[int(i)] for i in labels]
