"""Looking up image sets by name and loading their pairs."""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..errors import DataError
from .art import art_set
from .dpst import dpst_set
from .embedded import embedded_set
from .locate import set_present
from .refs import ImageSet, Pair

#: Every set name, in the order :func:`available_sets` reports them.
SETS: tuple[str, ...] = ("embedded", "dpst", "art")

_BUILDERS: dict[str, Callable[[], ImageSet]] = {
    "embedded": embedded_set,
    "dpst": dpst_set,
    "art": art_set,
}


def get_set(name: str) -> ImageSet:
    """The image set called ``name`` (one of :data:`SETS`).

    ``embedded`` is always there.  ``dpst`` and ``art`` are read from
    ``$STYLELIB_DATA``; when absent or incomplete a one-line DataError says
    how to get them.  The lists are rebuilt on each call (cheap: no image is
    opened), so a download made meanwhile is picked up.
    """
    builder = _BUILDERS.get(name)
    if builder is None:
        valid = ", ".join(repr(s) for s in SETS)
        raise DataError(f"unknown image set {name!r}; valid sets: {valid}")
    return builder()


def available_sets() -> list[str]:
    """The sets that can be loaded now, in :data:`SETS` order (``embedded`` always)."""
    found = []
    for name in SETS:
        if name != "embedded" and not set_present(name):
            continue
        try:
            get_set(name)
        except DataError:
            continue
        found.append(name)
    return found


def default_pairs(n: int | None = None, prefer: Sequence[str] = ("dpst", "art", "embedded")) -> list[Pair]:
    """The pairs of the first set in ``prefer`` that is available, at most ``n`` of them.

    Falls back to ``embedded`` when no preferred set is present, so the
    result is never empty.
    """
    if n is not None and n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    for name in prefer:
        if name not in _BUILDERS:
            raise DataError(f"unknown image set {name!r}; valid sets: {', '.join(repr(s) for s in SETS)}")
    pairs: list[Pair] | None = None
    for name in (*prefer, "embedded"):
        try:
            pairs = get_set(name).pairs
            break
        except DataError:
            continue
    assert pairs is not None  # embedded always builds or raises above
    return list(pairs if n is None else pairs[:n])


def load_pair(pair: Pair, size: int | None = None, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """Load ``(content, style)`` as ``[1, 3, H, W]`` float tensors in [0, 1].

    ``size`` is the length of the long side of each image (aspect ratio kept;
    ``None`` = native size).  It and any keyword arguments (``max_pixels``,
    ``device``...) go to :func:`stylelib.images.load_image` for both images.
    """
    from ..images import load_image

    content = load_image(pair.content.path, size=size, **kwargs)
    style = load_image(pair.style.path, size=size, **kwargs)
    return content, style


def spread(items: Sequence, n: int) -> list:
    """``n`` items evenly spaced through ``items``, the first one included (all of them when ``n`` is larger)."""
    if n < 1:
        raise ValueError(f"spread: need at least one item, got n={n}")
    n = min(n, len(items))
    return [items[i * len(items) // n] for i in range(n)]
