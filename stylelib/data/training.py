"""Training images: which files a model trains on, and random crops of them.

:func:`training_images` picks the files for a role (``"content"`` photos or
``"style"`` images) from the benchmark sets, falling back to the embedded
set, or from a folder the user names.  Images that the notebooks evaluate on
are held out (:data:`HELD_OUT_STYLES`, and every content photo of the
``art`` set, since content crops come from the photo sets only).

:class:`CropSampler` loads the files once (resized so that their short side
is ``load_size``, as AdaIN resizes to 512 before cropping 256) and draws
random square crops with random horizontal flips.  Every draw takes a
``torch.Generator`` so that a training step's batch depends only on the
step's seed (see :func:`stylelib.train.step_generator`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from ..errors import DataError
from .art import art_set
from .sets import available_sets, get_set

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def held_out_styles() -> set[str]:
    """The ``art`` styles used by the ``art`` pairs: kept out of training so the notebooks evaluate on unseen styles."""
    try:
        return {p.style.name for p in art_set().pairs}
    except DataError:
        return set()


def _folder_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: training folder does not exist or is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{folder}: no images found (looked for {', '.join(IMAGE_SUFFIXES)})")
    return files


def training_images(role: str, source: str | Sequence[str] = "auto", *, exclude: Sequence[str] = ()) -> tuple[list[Path], str]:
    """Files to train on and a short description of where they came from.

    ``role`` is ``"content"`` or ``"style"``.  ``source`` is ``"auto"``
    (content: the ``dpst`` photos, inputs and references; style: the ``art``
    paintings minus :func:`held_out_styles`; the ``embedded`` set when those
    are absent), a set name or list of set names, or a folder path.
    ``exclude`` names images (file stems) to leave out.
    """
    if role not in ("content", "style"):
        raise ValueError(f"role must be 'content' or 'style', got {role!r}")
    if isinstance(source, (str, Path)) and (Path(source).is_dir() or "/" in str(source)):
        files = [p for p in _folder_images(Path(source)) if p.stem not in exclude]
        return files, f"folder {source} ({len(files)} images)"
    if source == "auto":
        have = set(available_sets())
        if role == "content":
            names = ["dpst"] if "dpst" in have else ["embedded"]
        else:
            names = ["art"] if "art" in have else ["embedded"]
    else:
        names = [source] if isinstance(source, str) else list(source)
    skip = set(exclude)
    if role == "style" and "art" in names:
        skip |= held_out_styles()
    files: list[Path] = []
    parts = []
    for name in names:
        s = get_set(name)
        if role == "content":
            refs = list(s.contents) + (list(s.styles) if name == "dpst" else [])  # DPST references are photos too
        else:
            refs = list(s.styles)
        chosen = [r.path for r in refs if r.name not in skip]
        files += chosen
        parts.append(f"{name} ({len(chosen)} {'photos' if role == 'content' else 'styles'})")
    if not files:
        raise DataError(f"no {role} images left for training in {', '.join(names)} after exclusions")
    return files, " + ".join(parts)


def held_out_photos() -> tuple[list[Path], str]:
    """Photos no model trains on, for reconstruction checks: the ``art`` contents (else ``embedded``'s, which are not held out)."""
    if "art" in available_sets():
        refs = get_set("art").contents
        return [r.path for r in refs], f"art contents ({len(refs)} photos, held out of training)"
    refs = get_set("embedded").contents
    return [r.path for r in refs], f"embedded contents ({len(refs)} photos, also used in training: no benchmark data)"


def held_out_psnr(reconstruct, size: int = 256) -> dict[str, float | int | str]:
    """PSNR of ``reconstruct(photo)`` against the photo over :func:`held_out_photos` at a long side of ``size``.

    Returns the summary every registry entry records: median, min and max in dB, the number of
    photos, the size and where the photos came from.
    """
    from ..images import load_image
    from ..metrics import psnr

    files, desc = held_out_photos()
    values = sorted(psnr(reconstruct(img), img) for img in (load_image(f, size=size) for f in files))
    return {"psnr_median_db": round(values[len(values) // 2], 2), "psnr_min_db": round(values[0], 2),
            "psnr_max_db": round(values[-1], 2), "psnr_images": len(values), "psnr_size": size, "psnr_on": desc}


#: DPST pairs that the photorealistic models of notebook 01 never train on (every sixth pair);
#: :func:`photo_training_images` also drops every other file with the same content (DPST repeats
#: three content photos, and ``tar23`` is ``in23``).
DPST_HELD_OUT: tuple[str, ...] = tuple(f"dpst_{n:02d}" for n in range(6, 61, 6))


def photo_training_images(held_out: Sequence[str] = DPST_HELD_OUT) -> tuple[list[Path], str]:
    """Photos only, for the photorealistic models: DPST contents and styles minus the ``held_out`` pairs'
    images (and byte-identical copies of them), plus the embedded set's photos.

    Without the ``dpst`` set this is the embedded photos alone.
    """
    from .checksums import file_sha256

    files: list[Path] = []
    parts = []
    if "dpst" in available_sets():
        dpst = get_set("dpst")
        banned = set()
        for name in held_out:
            pair = dpst.pair(name)
            banned |= {file_sha256(pair.content.path), file_sha256(pair.style.path)}
        refs = list(dpst.contents) + list(dpst.styles)
        chosen = [r.path for r in refs if file_sha256(r.path) not in banned]
        files += chosen
        parts.append(f"dpst ({len(chosen)} photos; pairs {', '.join(held_out)} held out)")
    embedded = [r.path for r in get_set("embedded").contents]
    files += embedded
    parts.append(f"embedded ({len(embedded)} photos)")
    return files, " + ".join(parts)


class CropSampler:
    """Random ``crop`` x ``crop`` crops (with random horizontal flips) of a list of image files.

    The images are decoded once, resized so that their short side is
    ``load_size`` (default ``2 * crop``), and kept as uint8.
    """

    def __init__(self, files: Sequence[str | Path], crop: int, *, load_size: int | None = None, flips: bool = True,
                 progress: bool = False):
        from tqdm.auto import tqdm

        from ..images import load_image

        if crop < 16:
            raise ValueError(f"crop must be at least 16 px, got {crop}")
        if not files:
            raise DataError("CropSampler: no training images given")
        self.crop = crop
        self.load_size = load_size or 2 * crop
        if self.load_size < crop:
            raise ValueError(f"load_size ({self.load_size}) must be at least the crop size ({crop})")
        self.flips = flips
        self.files = [Path(f) for f in files]
        self.images: list[torch.Tensor] = []
        for path in tqdm(self.files, desc="loading training images", disable=not progress, leave=False):
            img = load_image(path)
            h, w = img.shape[-2:]
            scale = self.load_size / min(h, w)
            size = (max(crop, round(h * scale)), max(crop, round(w * scale)))
            img = F.interpolate(img, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)
            self.images.append((img[0].clamp(0, 1) * 255).round().to(torch.uint8))

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` random crops as a float batch ``[n, 3, crop, crop]`` in [0, 1]."""
        idx = torch.randint(len(self.images), (n,), generator=generator)
        out = []
        for i in idx.tolist():
            img = self.images[i]
            h, w = img.shape[-2:]
            y = int(torch.randint(h - self.crop + 1, (1,), generator=generator))
            x = int(torch.randint(w - self.crop + 1, (1,), generator=generator))
            patch = img[:, y:y + self.crop, x:x + self.crop]
            if self.flips and bool(torch.rand((), generator=generator) < 0.5):
                patch = patch.flip(-1)
            out.append(patch)
        return torch.stack(out).float().div_(255)
