"""Deformable Style Transfer from the command line: keypoint files and the ``dst`` / ``strotss`` entry points.

A keypoint file is a CSV with one row per pair and the header
``content_y,content_x,style_y,style_x``: positions as fractions of each image's
height and width (so one file serves any ``--size``).  ``--save-keypoints``
writes the cleaned pairs and their targets in that form (plus
``target_y,target_x``); ``--keypoints`` reads such a file (or one written by
hand, targets optional) instead of running NBB: the pairs are then cleaned
only by the similarity fit and the crossing removal.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write_text
from ..errors import StylelibError
from ..models.dst import CleanedKeypoints, DSTConfig, remove_crossings, resize_long_side, similarity_fit, stylize_dst

COLUMNS = ("content_y", "content_x", "style_y", "style_x")
TARGET_COLUMNS = ("target_y", "target_x")


class KeypointsError(StylelibError, ValueError):
    """A keypoint file that cannot be used (one line naming the file)."""


#: (content, style) pairs whose geometry differs: two portraits and a scene from the art set, and stand-ins from
#: the embedded images when the benchmark data are absent
ART_PAIRS = (("brad_pitt", "picasso_self_portrait"), ("avril", "et_style"), ("et_99_00", "et_91_00"))
EMBEDDED_PAIRS = (("astronaut", "chelsea"), ("coffee", "rocket"), ("motorcycle_left", "rocket"))


def geometry_pairs(n: int) -> tuple[str, list[tuple[str, Path, Path]]]:
    """The set used and ``n`` of its pairs for DST as ``(name, content path, style path)``."""
    from ..data import available_sets, get_set

    name, table = ("art", ART_PAIRS) if "art" in available_sets() else ("embedded", EMBEDDED_PAIRS)
    images = get_set(name)
    return name, [(f"{c}→{s}", images.image(c).path, images.image(s).path) for c, s in table[:n]]


def read_keypoints(path: str | Path, content_size: tuple[int, int], style_size: tuple[int, int]
                   ) -> CleanedKeypoints:
    """The pairs of a keypoint file, in pixels of a content and a style image of the given ``(H, W)``."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise KeypointsError(f"{path}: cannot read the keypoint file ({e.strerror or e})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if not set(COLUMNS) <= set(header):
        raise KeypointsError(f"{path}: not a keypoint file; expected the header {','.join(COLUMNS)}, "
                             f"got {','.join(header) or 'nothing'}")
    with_targets = set(TARGET_COLUMNS) <= set(header)
    rows = []
    for n, row in enumerate(reader, start=2):
        try:
            values = [float(row[c]) for c in COLUMNS + (TARGET_COLUMNS if with_targets else ())]
        except (TypeError, ValueError):
            raise KeypointsError(f"{path}: line {n} is malformed (expected numbers in every column)") from None
        if not all(np.isfinite(values)) or min(values) < 0 or max(values) > 1:
            raise KeypointsError(f"{path}: line {n} is out of the image (positions are fractions in [0, 1])")
        rows.append(values)
    if len(rows) < 3:
        raise KeypointsError(f"{path}: has {len(rows)} keypoint pairs; DST needs at least 3")
    a = np.array(rows)
    scale_c = np.array([content_size[0] - 1, content_size[1] - 1])
    scale_s = np.array([style_size[0] - 1, style_size[1] - 1])
    p, q = a[:, 0:2] * scale_c, a[:, 2:4] * scale_s
    if with_targets:
        t = a[:, 4:6] * scale_c
    else:
        keep = np.arange(len(p))
        for _ in range(2):
            m = similarity_fit(p[keep], q[keep])
            t = np.clip((q - m[:2, 2]) @ np.linalg.inv(m[:2, :2]).T, 1.0, scale_c - 1.0)
            keep = keep[remove_crossings(p[keep], t[keep])]
        p, q, t = p[keep], q[keep], t[keep]
        if len(p) < 3:
            raise KeypointsError(f"{path}: only {len(p)} pairs remain after removing crossings; need 3")
    f = lambda x: torch.tensor(x, dtype=torch.float32)  # noqa: E731
    return CleanedKeypoints(f(p), f(q), f(t), {"from file": len(rows), "without crossings": len(p)})


def write_keypoints(path: str | Path, keypoints: CleanedKeypoints, content_size: tuple[int, int],
                   style_size: tuple[int, int]) -> None:
    """Write ``keypoints`` as a keypoint file (atomically)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS + TARGET_COLUMNS)
    sc = torch.tensor([content_size[0] - 1, content_size[1] - 1], dtype=torch.float32)
    ss = torch.tensor([style_size[0] - 1, style_size[1] - 1], dtype=torch.float32)
    for p, q, t in zip(keypoints.sources / sc, keypoints.style_points / ss, keypoints.targets / sc):
        writer.writerow([f"{float(v):.6f}" for v in (*p, *q, *t)])
    atomic_write_text(Path(path), out.getvalue())


def dst(content: torch.Tensor, style: torch.Tensor, *, base: str = "strotss", keypoints: str | None = None,
        save_keypoints: str | None = None, steps: int | None = None, seed: int | None = None,
        progress: bool = True) -> torch.Tensor:
    """``stylelib stylize --method dst``: DST at the quick profile (``steps`` iterations per scale).

    The images keep the size they come in (``--size``); NBB works at its
    quick-profile square size.
    """
    cfg = DSTConfig(base=base, size=max(content.shape[-2:]))
    if steps is not None:
        cfg = cfg.replace(iterations=(steps,) * 3)
    if seed is not None:
        cfg = cfg.replace(seed=seed)
    if save_keypoints is not None:
        folder = Path(save_keypoints).parent
        if not folder.is_dir():
            raise KeypointsError(f"{save_keypoints}: folder {folder} does not exist")
    kp = None
    if keypoints is not None:
        kp = read_keypoints(keypoints, tuple(resize_long_side(content, cfg.size).shape[-2:]),
                            tuple(resize_long_side(style, cfg.size).shape[-2:]))
    result = stylize_dst(content, style, cfg, keypoints=kp, progress=progress)
    if save_keypoints is not None:
        write_keypoints(save_keypoints, result.keypoints, tuple(result.image.shape[-2:]),
                       tuple(resize_long_side(style, cfg.size).shape[-2:]))
    return result.image


def strotss(content: torch.Tensor, style: torch.Tensor, *, steps: int | None = None, seed: int | None = None,
            progress: bool = True) -> torch.Tensor:
    """``stylelib stylize --method strotss``: the base method alone (DST without the warp)."""
    cfg = DSTConfig(warp=False, size=max(content.shape[-2:]))
    if steps is not None:
        cfg = cfg.replace(iterations=(steps,) * 3)
    if seed is not None:
        cfg = cfg.replace(seed=seed)
    return stylize_dst(content, style, cfg, progress=progress).image
