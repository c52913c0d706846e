"""Finding a downloaded image set under ``$STYLELIB_DATA``.

The ``dpst`` and ``art`` sets live outside the repository, in the folder named
by the ``STYLELIB_DATA`` environment variable (see :func:`stylelib.paths.data_root`).
A set counts as present when its folder exists there; it must then hold every
file that the packaged checksum list names for it.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..paths import DATA_ENV, data_root
from .checksums import expected_sums, missing_files

HINT = f"set {DATA_ENV}=... or run `make data`"


def not_found(name: str, looked: Path | None = None) -> DataError:
    """The one-line error for a set that is not there."""
    where = "" if looked is None else f" (no folder {looked})"
    return DataError(f"set {name!r} not found: {HINT}{where}")


def set_present(name: str) -> bool:
    """Whether the folder of set ``name`` exists under ``$STYLELIB_DATA``."""
    root = data_root()
    return root is not None and (root / name).is_dir()


def set_root(name: str) -> Path:
    """The data root that holds a complete copy of set ``name``.

    Raises DataError when ``$STYLELIB_DATA`` is unset, when the set's folder is
    absent, or when files of the set are missing (naming the first few).
    Hashes are not checked here: ``python -m stylelib.data.download`` does that.
    """
    root = data_root()
    if root is None:
        raise not_found(name)
    folder = root / name
    if not folder.is_dir():
        raise not_found(name, folder)
    missing = missing_files(root, only=name)
    if missing:
        total = len(expected_sums(only=name))
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise DataError(
            f"set {name!r} in {folder} is incomplete: {len(missing)} of {total} files missing "
            f"({shown}); run `make data` or python -m stylelib.data.download {root}"
        )
    return root
