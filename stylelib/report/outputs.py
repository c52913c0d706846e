"""A notebook's figures, tables and run record, written under ``figures/<notebook>/``.

Notebooks save everything they produce through :class:`Outputs`::

    out = Outputs(figures_dir, notebook="00_gatys", profile=profile)
    out.save_figure(fig, "results")          # figures/00_gatys/results.png
    out.save_table(df, "metrics")            # figures/00_gatys/metrics.csv + metrics.md
    out.finish({"data_sets": {...}})         # figures/00_gatys/run.json

With ``figures_dir=None`` (the value committed in every notebook, used by
nbval and by students running the notebook by hand) every method does nothing
and returns ``None``, so running a notebook never writes into the repository
unless asked to.  Every file is written atomically (a crash leaves the old
file or the new one, never half a PNG).
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from ..atomic import atomic_write_bytes, atomic_write_text
from .markdown import markdown_table


RUN_FILE = "run.json"
DEFAULT_DPI = 110
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _file_name(name: str, suffix: str) -> str:
    """``name`` as a safe file name in one folder, with ``suffix`` added when absent."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"output name must be a non-empty string, got {name!r}")
    stem = name[: -len(suffix)] if name.lower().endswith(suffix) else name
    if not _NAME_OK.match(stem) or ".." in stem:
        raise ValueError(
            f"output name {name!r}: use letters, digits, '_', '-' and '.' only (no folders); e.g. 'loss_curves'"
        )
    return stem + suffix


class Outputs:
    """Saves a notebook's figures and tables under ``figures_dir`` (or nothing when it is ``None``).

    Args:
        figures_dir: folder for this notebook's files, e.g. ``figures/00_gatys``;
            ``None`` or ``""`` turns every method into a no-op returning ``None``.
        notebook: the notebook's name (recorded in ``run.json``).
        profile: the parameter profile (``ci``, ``quick`` or ``paper``).
        dpi: resolution of saved PNGs.

    Files from an earlier run that this run does not write again are removed by
    :meth:`finish`, so the folder never mixes figures from two runs.
    """

    def __init__(self, figures_dir: str | os.PathLike | None, notebook: str, profile: str, *, dpi: int = DEFAULT_DPI):
        self.dir: Path | None = None if figures_dir in (None, "") else Path(figures_dir).expanduser().resolve()
        self.notebook = notebook
        self.profile = profile
        self.dpi = dpi
        self.files: list[str] = []
        self._t0 = time.perf_counter()
        self._started = datetime.now(timezone.utc)
        self._previous: list[str] = []
        if self.dir is not None:
            if self.dir.exists() and not self.dir.is_dir():
                from ..errors import OutputError

                raise OutputError(f"{self.dir}: figures_dir exists and is not a folder")
            self._previous = read_run(self.dir).get("files", []) if self.dir.is_dir() else []

    @property
    def enabled(self) -> bool:
        """Whether anything is written."""
        return self.dir is not None

    def __repr__(self) -> str:
        where = str(self.dir) if self.enabled else "nothing is saved (figures_dir=None)"
        return f"Outputs({self.notebook!r}, profile={self.profile!r}: {where})"

    def _record(self, path: Path) -> Path:
        if path.name not in self.files:
            self.files.append(path.name)
        return path

    def save_figure(self, fig, name: str) -> Path | None:
        """Save a matplotlib figure as ``<name>.png``; returns the path, or ``None`` when disabled."""
        if self.dir is None:
            return None
        path = self.dir / _file_name(name, ".png")
        buf = io.BytesIO()
        # No "Software" entry: identical figures give identical bytes.
        fig.savefig(buf, format="png", dpi=self.dpi, bbox_inches="tight", metadata={"Software": None})
        atomic_write_bytes(path, buf.getvalue(), make_parents=True)
        return self._record(path)

    def save_table(self, df, name: str, *, index: bool | None = None) -> tuple[Path, Path] | None:
        """Save a DataFrame as ``<name>.csv`` (full precision) and ``<name>.md`` (rounded).

        ``index``: write the index as a column (default: only when it is not a
        plain 0..n-1 range).  Returns ``(csv_path, md_path)``, or ``None`` when disabled.
        """
        if self.dir is None:
            return None
        import pandas as pd

        stem = _file_name(name, ".csv")[: -len(".csv")]
        if index is None:
            index = not isinstance(df.index, pd.RangeIndex) or df.index.name is not None
        csv_path = self.dir / f"{stem}.csv"
        md_path = self.dir / f"{stem}.md"
        atomic_write_text(csv_path, df.to_csv(index=index, lineterminator="\n"), make_parents=True)
        frame = df if index else df.reset_index(drop=True)
        atomic_write_text(md_path, markdown_table(frame), make_parents=True)
        self._record(csv_path)
        self._record(md_path)
        return csv_path, md_path

    def finish(self, extra: Mapping[str, Any] | None = None) -> Path | None:
        """Write ``run.json`` (profile, time, versions, files, ``extra``) and drop stale files.

        Returns the path of ``run.json``, or ``None`` when disabled.
        """
        if self.dir is None:
            return None
        import torch

        finished = datetime.now(timezone.utc)
        record: dict[str, Any] = {
            "notebook": self.notebook,
            "profile": self.profile,
            "started": self._started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - self._t0, 1),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "files": list(self.files),  # in the order the notebook saved them
        }
        for key, value in (extra or {}).items():
            if key in record:
                raise ValueError(f"Outputs.finish: extra key {key!r} clashes with a recorded field")
            record[key] = value
        self.dir.mkdir(parents=True, exist_ok=True)
        path = atomic_write_text(self.dir / RUN_FILE, json.dumps(record, indent=2, default=str) + "\n")
        for old in self._previous:
            if old not in self.files and _NAME_OK.match(old) and old != RUN_FILE:
                stale = self.dir / old
                if stale.is_file():
                    stale.unlink()
        self._previous = list(self.files)
        return path


def read_run(folder: Path) -> dict[str, Any]:
    path = folder / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
