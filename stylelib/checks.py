"""One vocabulary for checking tensors handed to the suite's functions.

Every public function that takes an image or a feature map checks it with
:func:`check_image` or :func:`check_features` (after kornia's
``KORNIA_CHECK_SHAPE``), so that bad input always fails the same way: an
:class:`InputError` whose one-line message names the function or argument and
says what was expected and what came::

    check_image(content, "adain: content")           # [N, 3, H, W]
    check_image(x, "gatys: content", batch=1)         # [1, 3, H, W]
    check_features(f, "gram_matrix")                  # [N, C, H, W], any C
"""

from __future__ import annotations

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
