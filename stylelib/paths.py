"""Where stylelib looks for benchmark data and keeps its cache."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "STYLELIB_DATA"
CACHE_ENV = "STYLELIB_CACHE"


def data_root() -> Path | None:
    """The benchmark-data folder named by ``$STYLELIB_DATA``, or ``None`` when unset or empty."""
    value = os.environ.get(DATA_ENV, "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """The user cache folder for derived files (``$STYLELIB_CACHE`` or ``~/.cache/stylelib``)."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value:
        root = Path(value).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
        root = Path(base) / "stylelib"
    root.mkdir(parents=True, exist_ok=True)
    return root
