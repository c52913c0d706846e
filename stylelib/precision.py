"""Numerical precision: the one ``precision`` setting of every config, and its autocast.

``"bf16"`` runs the frozen VGG passes (and whatever a model puts under
:func:`autocast`) in bfloat16 through ``torch.autocast``; weights, optimiser
state and losses stay fp32.  On this project's CPUs that is 1.2 to 2 times
faster (each config's ``why`` says where the figure comes from).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Mapping

import torch

PRECISIONS = ("fp32", "bf16")


def check_precision(value: str, who: str = "precision") -> str:
    """``value`` when it is one of :data:`PRECISIONS`; a one-line ValueError otherwise."""
    if value not in PRECISIONS:
        raise ValueError(f"{who}: precision must be 'fp32' or 'bf16', got {value!r}")
    return value


def autocast(precision: str, like: torch.Tensor) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``like``'s device when ``precision == "bf16"``, else a no-op context."""
    if check_precision(precision) == "bf16" and like.device.type in ("cpu", "cuda"):
        return torch.autocast(like.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def features_in(precision: str, encoder: Callable[..., Mapping[str, torch.Tensor]], x: torch.Tensor,
                *args) -> dict[str, torch.Tensor]:
    """``encoder(x, *args)`` under :func:`autocast`, its feature maps returned as fp32."""
    with autocast(precision, x):
        feats = encoder(x, *args)
    return {k: v.float() for k, v in feats.items()}
