"""Registry of stylisation methods for the command line and the notebooks.

A method is a function ``fn(content, style, **options) -> Tensor`` taking and
returning RGB batches in [0, 1].  Model files register themselves with
:func:`register`; :func:`get` looks one up with a clear error.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

import torch


@dataclass(frozen=True)
class Method:
    name: str
    fn: Callable[..., torch.Tensor]
    summary: str
    options: tuple[str, ...] = field(default_factory=tuple)


_REGISTRY: dict[str, Method] = {}
#: Modules imported on first lookup so that their methods register themselves.
_MODULES = ("stylelib.models.gatys", "stylelib.models.adain", "stylelib.models.wct", "stylelib.models.dpst",
            "stylelib.models.wct2", "stylelib.models.photowct",
            "stylelib.models.fa_scp", "stylelib.models.stylebank", "stylelib.models.consistency_pair")


def register(name: str, summary: str, options: tuple[str, ...] = ()):
    """Decorator: ``@register("gatys", "...")`` adds a method under ``name``."""

    def deco(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        _REGISTRY[name] = Method(name, fn, summary, tuple(options))
        return fn

    return deco


def _load_all() -> None:
    for mod in _MODULES:
        importlib.import_module(mod)


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get(name: str) -> Method:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(sorted(_REGISTRY))}") from None
