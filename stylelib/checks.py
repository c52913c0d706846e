"""One vocabulary for checking tensors handed to the suite's functions.

Every public function that takes an image or a feature map checks it with
:func:`check_image` or :func:`check_features` (after kornia's
``KORNIA_CHECK_SHAPE``), so that bad input always fails the same way: an
:class:`InputError` whose one-line message names the function or argument and
says what was expected and what came::

    check_image(content, "adain: content")           # [N, 3, H, W]
    check_image(x, "gatys: content", batch=1)         # [1, 3, H, W]
    check_features(f, "gram_matrix")                  # [N, C, H, W], any C
    check_single(y, "smooth: the stylised image")     # [C, H, W] or [1, C, H, W] -> [C, H, W]
    check_int(radius, "box filter", "radius")          # a non-negative integer
    check_positive(eps, "guided_filter", "eps")        # a finite number > 0
    check_choice(solver, "smooth", "solver", ("direct", "cg"))
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .errors import StylelibError


class InputError(StylelibError, ValueError, TypeError):
    """A tensor argument of the wrong type, shape or size (a ValueError, and a TypeError for non-tensors)."""


def _shape(x: Any) -> str:
    return str(tuple(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__


def check_tensor(x: Any, who: str, *, dims: int | None = 4, channels: int | tuple[int, ...] | None = None,
                 batch: int | None = None, multiple: int | None = None, min_side: int | None = None,
                 expected: str | None = None) -> torch.Tensor:
    """``x`` itself, after checking that it is a tensor of ``dims`` dimensions (``[N, C, H, W]`` by default).

    ``channels`` (one count or several allowed), ``batch`` (N), ``multiple``
    (H and W divisible by it) and ``min_side`` (H and W at least that) are
    checked when given; ``expected`` replaces the shape shown in the message.
    """
    if expected is None:
        c = "C" if channels is None else str(channels) if isinstance(channels, int) else " or ".join(map(str, channels))
        expected = f"[{'N' if batch is None else batch}, {c}, H, W]" if dims == 4 else f"a {dims}-D tensor"
    if not isinstance(x, torch.Tensor) or (dims is not None and x.dim() != dims):
        raise InputError(f"{who}: expected {expected}, got {_shape(x)}")
    if channels is not None and x.shape[1] not in ((channels,) if isinstance(channels, int) else channels):
        raise InputError(f"{who}: expected {expected}, got {_shape(x)}")
    if batch is not None and x.shape[0] != batch:
        raise InputError(f"{who}: expected {expected}, got {_shape(x)}")
    if multiple is not None and (x.shape[-1] % multiple or x.shape[-2] % multiple):
        raise InputError(f"{who}: height and width must be multiples of {multiple}, got {_shape(x)}")
    if min_side is not None and min(x.shape[-2:]) < min_side:
        raise InputError(f"{who}: height and width must be at least {min_side}, got {_shape(x)}")
    return x


def check_image(x: Any, who: str, *, batch: int | None = None, channels: int | tuple[int, ...] = 3,
                multiple: int | None = None, min_side: int | None = None) -> torch.Tensor:
    """An RGB batch ``[N, 3, H, W]`` (values in [0, 1] by convention; not checked)."""
    return check_tensor(x, who, channels=channels, batch=batch, multiple=multiple, min_side=min_side)


def check_features(x: Any, who: str, *, channels: int | None = None, batch: int | None = None) -> torch.Tensor:
    """A feature map ``[N, C, H, W]`` (``C`` checked when given)."""
    return check_tensor(x, who, channels=channels, batch=batch)


def check_same_size(a: torch.Tensor, b: torch.Tensor, who: str) -> None:
    """Two batches with the same height and width."""
    if a.shape[-2:] != b.shape[-2:]:
        raise InputError(f"{who}: image sizes differ, {tuple(a.shape[-2:])} vs {tuple(b.shape[-2:])}; resize first")


def check_single(x: Any, who: str, *, channels: int | None = None, finite: bool = False) -> torch.Tensor:
    """One image or map given as ``[C, H, W]`` or ``[1, C, H, W]``, returned as ``[C, H, W]``.

    ``channels`` is checked when given; ``finite`` rejects NaN and infinity.
    """
    c = "C" if channels is None else str(channels)
    expected = f"[{c}, H, W] or [1, {c}, H, W]"
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{who}: expected a tensor {expected}, got {_shape(x)}")
    t = x[0] if x.dim() == 4 and x.shape[0] == 1 else x
    if t.dim() != 3 or (channels is not None and t.shape[0] != channels):
        raise InputError(f"{who}: expected {expected}, got {_shape(x)}")
    if finite and not torch.isfinite(t).all():
        raise InputError(f"{who}: has non-finite values")
    return t


def check_int(value: Any, who: str, name: str, *, minimum: int = 0) -> int:
    """An ``int`` (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        words = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"
        raise InputError(f"{who}: {name} must be {words}, got {value!r}")
    return value


def check_positive(value: Any, who: str, name: str) -> float:
    """A finite real number greater than zero."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputError(f"{who}: {name} must be positive, got {value!r}")
    return float(value)


def check_choice(value: Any, who: str, name: str, options: tuple) -> Any:
    """One of ``options``."""
    if value not in options:
        words = " or ".join(map(repr, options)) if len(options) <= 2 else "one of " + ", ".join(map(repr, options))
        raise InputError(f"{who}: {name} must be {words}, got {value!r}")
    return value
