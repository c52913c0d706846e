"""``stylelib train MODEL``: the models that train a network, and where their runs checkpoint.

Each entry maps a model name to its ``train_and_register(profile, ...)``
function, which trains at a profile (``ci``, ``quick`` or ``paper``),
measures what the model's notebook reports about the weights, and records
them in the weights registry (:mod:`stylelib.registry`) as
``MODEL-PROFILE``.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from .paths import cache_dir
from .registry import Entry

#: model name -> module holding its ``train_and_register``
TRAINABLE: dict[str, str] = {
    "adain": "stylelib.models.adain",
    "wct": "stylelib.models.wct",
    "consistency_pair": "stylelib.models.consistency_pair",
    "wct2": "stylelib.models.wct2",
    "photowct": "stylelib.models.photowct",
    "fa_scp": "stylelib.models.fa_scp",
    "stylebank": "stylelib.models.stylebank",
}


def default_run_dir(model: str, profile: str, variant: str | None = None) -> Path:
    """Checkpoints of ``stylelib train MODEL --profile PROFILE [--variant V]``:
    ``<cache>/runs/MODEL-PROFILE`` (``...-V`` for a variant other than ``full``), so that
    two variants trained side by side never share a checkpoint folder."""
    suffix = f"-{variant}" if variant not in (None, "full") else ""
    return cache_dir() / "runs" / f"{model}-{profile}{suffix}"


def train(model: str, profile: str = "quick", *, run_dir=None, resume: bool = False, progress: bool = True,
          name: str | None = None, **overrides) -> list[Entry]:
    if model not in TRAINABLE:
        raise ValueError(f"no trainable model {model!r}; choose one of {', '.join(sorted(TRAINABLE))}")
    module = importlib.import_module(TRAINABLE[model])
    if "variant" in overrides and "variant" not in inspect.signature(module.train_and_register).parameters:
        raise ValueError(f"{model} has no variants; drop --variant")
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(model, profile, overrides.get("variant"))
    return module.train_and_register(profile, run_dir=run_dir, resume=resume, progress=progress, name=name,
                                     **overrides)
