"""``stylelib train MODEL``: run a model's training job and register its weights.

The models and their jobs come from :mod:`stylelib.catalog`: each trainable
method names a ``train_and_register(profile, ...)`` that trains at a profile
(``ci``, ``quick`` or ``paper``), measures what the model's notebook reports
about the weights, and records them in the weights registry
(:mod:`stylelib.training.registry`) as ``MODEL-PROFILE``.
"""

from __future__ import annotations

from pathlib import Path

from .. import catalog
from ..paths import cache_dir
from .registry import Entry


def default_run_dir(model: str, profile: str, variant: str | None = None) -> Path:
    """Checkpoints of ``stylelib train MODEL --profile PROFILE [--variant V]``:
    ``<cache>/runs/MODEL-PROFILE`` (``...-V`` for a variant other than ``full``), so that
    two variants trained side by side never share a checkpoint folder."""
    suffix = f"-{variant}" if variant not in (None, "full") else ""
    return cache_dir() / "runs" / f"{model}-{profile}{suffix}"


def train(model: str, profile: str = "quick", *, run_dir=None, resume: bool = False, progress: bool = True,
          name: str | None = None, **overrides) -> list[Entry]:
    """Train ``model`` at ``profile`` and register the result; the registered entries."""
    if model not in catalog.trainable():
        raise ValueError(f"no trainable model {model!r}; choose one of {', '.join(sorted(catalog.trainable()))}")
    method = catalog.get(model)
    variant = overrides.get("variant")
    if variant is not None and not method.variants:
        raise ValueError(f"{model} has no variants; drop --variant")
    if variant is not None and variant not in ("full", *method.variants):
        raise ValueError(f"{model} has no variant {variant!r}; choose {', '.join(('full', *method.variants))}")
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(model, profile, variant)
    return method.trainer(profile, run_dir=run_dir, resume=resume, progress=progress, name=name, **overrides)


def train_all(profile: str = "quick", *, progress: bool = True) -> list[Entry]:
    """``make weights``: every network in :func:`stylelib.catalog.weights_jobs`, in order."""
    out: list[Entry] = []
    for model, variant in catalog.weights_jobs():
        extra = {"variant": variant} if variant else {}
        out += train(model, profile, progress=progress, **extra)
    return out
