"""Figures, tables and run records for the notebooks, and the ``make reproduce`` driver.

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

Command line (what the Makefile calls)::

    python -m stylelib.reproduce run --profile quick     # papermill every notebooks/NN_*.ipynb
    python -m stylelib.reproduce index [figures]         # write figures/README.md
    python -m stylelib.reproduce check --profile paper   # only check the parameter files
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

from .atomic import atomic_write_bytes, atomic_write_text
from .errors import StylelibError

PROFILES = ("ci", "quick", "paper")
RUN_FILE = "run.json"
INDEX_FILE = "README.md"
DEFAULT_DPI = 110
#: Notebooks that ``run`` executes: two digits, an underscore, a name.
NOTEBOOK_PATTERN = re.compile(r"^\d\d_[A-Za-z0-9_\-]+\.ipynb$")
#: Parameters that ``run`` injects itself (they need not be in the YAML files).
INJECTED = ("figures_dir", "profile")

_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class ParamsError(StylelibError, ValueError):
    """A parameter file that is missing, unreadable or does not fit its notebook."""


# ---------------------------------------------------------------------------
# Markdown tables (own writer: no dependency on ``tabulate``)
# ---------------------------------------------------------------------------


def format_value(value: Any) -> str:
    """One table cell as text: numbers rounded for reading, everything else ``str``."""
    if value is None:
        return ""
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value == 0:
            return "0"
        a = abs(value)
        if 1e-3 <= a < 1e4:
            return f"{value:.4g}"
        if 1e4 <= a < 1e7:
            return f"{value:.0f}"
        return f"{value:.3e}"
    text = str(value)
    # A cell is one line; a pipe would end the cell.
    return text.replace("\r", " ").replace("\n", " ").replace("|", "\\|")


def _is_number(value: Any) -> bool:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover
        pass
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def markdown_table(df) -> str:
    """A GitHub-flavoured Markdown table for a pandas DataFrame.

    Numeric columns are right-aligned and rounded by :func:`format_value`; a
    non-default index becomes the first column.  Ends with a newline.
    """
    import pandas as pd

    frame = df
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        frame = frame.reset_index()
    headers = [format_value(str(c)) for c in frame.columns]
    rows = [[format_value(v) for v in rec] for rec in frame.itertuples(index=False, name=None)]
    numeric = []
    for j, col in enumerate(frame.columns):
        values = [v for v in frame.iloc[:, j].tolist() if v is not None and not (isinstance(v, float) and math.isnan(v))]
        numeric.append(bool(values) and all(_is_number(v) for v in values))
    widths = [max([3, len(h)] + [len(r[j]) for r in rows]) for j, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = []
        for j, c in enumerate(cells):
            out.append(c.rjust(widths[j]) if numeric[j] else c.ljust(widths[j]))
        return "| " + " | ".join(out) + " |"

    sep = "| " + " | ".join(("-" * (w - 1) + ":") if numeric[j] else "-" * w for j, w in enumerate(widths)) + " |"
    return "\n".join([line(headers), sep] + [line(r) for r in rows]) + "\n"


def as_markdown(df):
    """A DataFrame for display in a notebook, rendered by :func:`markdown_table`.

    Unlike a DataFrame's HTML, the output does not change with the pandas
    version, so nbval can compare it with the committed notebook.
    """
    from IPython.display import Markdown

    return Markdown(markdown_table(df))


# ---------------------------------------------------------------------------
# Outputs: what notebooks call
# ---------------------------------------------------------------------------


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
                from .errors import OutputError

                raise OutputError(f"{self.dir}: figures_dir exists and is not a folder")
            self._previous = _read_run(self.dir).get("files", []) if self.dir.is_dir() else []

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


def _read_run(folder: Path) -> dict[str, Any]:
    path = folder / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------------
# figures/README.md
# ---------------------------------------------------------------------------

INDEXED = (".png", ".csv", ".md")
#: Tables with at most this many lines are shown in the index; longer ones are linked.
EMBED_MAX_LINES = 40


def _link(target: str) -> str:
    return quote(target, safe="/._-")


def build_index(figures_dir: str | os.PathLike) -> str:
    """The Markdown text of ``figures/README.md``: every PNG, CSV and MD file, per notebook folder."""
    root = Path(figures_dir)
    lines = [
        "# Figures and tables",
        "",
        "Generated by `make reproduce` (`python -m stylelib.reproduce index`); do not edit by hand.",
        "Each section is one notebook's output folder; its profile and date come from the folder's `run.json`.",
        "",
    ]
    loose = sorted(p for p in root.iterdir() if p.is_file() and p.suffix in INDEXED and p.name != INDEX_FILE) \
        if root.is_dir() else []
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
    sections = 0
    for folder in folders:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in INDEXED
                       and not any(part.startswith(".") for part in p.relative_to(folder).parts))
        if not files:
            continue
        sections += 1
        run = _read_run(folder)
        # The notebook's own order (run.json) first, then anything else alphabetically.
        order = {name: i for i, name in enumerate(run.get("files", []) if isinstance(run.get("files"), list) else [])}
        files.sort(key=lambda p: (order.get(p.relative_to(folder).as_posix(), len(order)), p.as_posix()))
        lines += [f"## {folder.name}", ""]
        if run:
            date = str(run.get("finished", run.get("started", "?")))
            facts = [f"profile **{run.get('profile', '?')}**", f"run {date.replace('T', ' ')}"]
            if "seconds" in run:
                facts.append(f"{format_value(float(run['seconds']))} s")
            if run.get("torch"):
                facts.append(f"torch {run['torch']}")
            sets = run.get("data_sets")
            if isinstance(sets, Mapping) and sets:
                facts.append("data: " + ", ".join(f"{k} ({v})" if not isinstance(v, (list, dict)) else
                                                  f"{k} ({len(v)})" for k, v in sets.items()))
            elif isinstance(sets, (list, tuple)) and sets:
                facts.append("data: " + ", ".join(map(str, sets)))
            lines += ["; ".join(facts) + ".", ""]
        else:
            lines += ["(no `run.json`: profile and date unknown)", ""]
        pngs = [p for p in files if p.suffix == ".png"]
        csvs = {p.with_suffix(""): p for p in files if p.suffix == ".csv"}
        mds = [p for p in files if p.suffix == ".md"]
        if pngs:
            lines += ["Figures:", ""]
            for p in pngs:
                rel = p.relative_to(root).as_posix()
                lines.append(f"- [{p.relative_to(folder).as_posix()}]({_link(rel)})")
            lines.append("")
        shown = set()
        for md in mds:
            rel = md.relative_to(root).as_posix()
            title = md.relative_to(folder).with_suffix("").as_posix()
            csv = csvs.get(md.with_suffix(""))
            links = f"[md]({_link(rel)})"
            if csv is not None:
                links += f", [csv]({_link(csv.relative_to(root).as_posix())})"
                shown.add(csv)
            text = md.read_text(encoding="utf-8", errors="replace").strip()
            lines += [f"Table **{title}** ({links}):", ""]
            if text and len(text.splitlines()) <= EMBED_MAX_LINES:
                lines += [text, ""]
            else:
                lines += [f"({len(text.splitlines())} lines: see the file)", ""]
        extra_csv = [p for p in csvs.values() if p not in shown]
        if extra_csv:
            lines += ["Data:", ""]
            for p in extra_csv:
                lines.append(f"- [{p.relative_to(folder).as_posix()}]({_link(p.relative_to(root).as_posix())})")
            lines.append("")
    if loose:
        lines += ["## Other files", ""]
        lines += [f"- [{p.name}]({_link(p.name)})" for p in loose]
        lines.append("")
    if not sections and not loose:
        lines += ["Nothing yet: run `make reproduce`.", ""]
    return "\n".join(lines)


def write_index(figures_dir: str | os.PathLike = "figures") -> Path:
    """Write ``<figures_dir>/README.md`` atomically and return its path."""
    root = Path(figures_dir)
    if root.exists() and not root.is_dir():
        raise ParamsError(f"{root}: is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(root / INDEX_FILE, build_index(root))


# ---------------------------------------------------------------------------
# Parameter files and the papermill driver
# ---------------------------------------------------------------------------


def find_notebooks(notebooks_dir: str | os.PathLike, only: Iterable[str] = ()) -> list[Path]:
    """The numbered notebooks ``NN_name.ipynb`` in ``notebooks_dir``, sorted; ``only`` filters by stem."""
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise ParamsError(f"{folder}: notebooks folder does not exist")
    found = sorted(p for p in folder.iterdir() if NOTEBOOK_PATTERN.match(p.name))
    only = [o[: -len(".ipynb")] if o.endswith(".ipynb") else o for o in only]
    if only:
        stems = {p.stem: p for p in found}
        missing = [o for o in only if o not in stems]
        if missing:
            raise ParamsError(f"{folder}: no notebook named {', '.join(missing)} "
                              f"(there are: {', '.join(stems) or 'none'})")
        found = [stems[o] for o in only]
    return found


def notebook_parameters(notebook: str | os.PathLike) -> dict[str, Any]:
    """Names and default values of the ``parameters``-tagged cell of a notebook (evaluated literals)."""
    import ast

    import nbformat

    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise ParamsError(f"{path}: no code cell tagged 'parameters'")
    params: dict[str, Any] = {}
    tree = ast.parse(cells[0].source)
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    try:
                        params[t.id] = ast.literal_eval(node.value) if node.value is not None else None
                    except ValueError:
                        params[t.id] = ast.unparse(node.value)
    return params


def params_file(params_dir: str | os.PathLike, profile: str, notebook: str | os.PathLike) -> Path:
    """``params/<profile>/<notebook stem>.yaml``, checked to exist (a clear error otherwise)."""
    stem = Path(notebook).name
    stem = stem[: -len(".ipynb")] if stem.endswith(".ipynb") else stem
    root = Path(params_dir)
    folder = root / profile
    if not folder.is_dir():
        known = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise ParamsError(
            f"{folder}: no parameter folder for profile {profile!r}; "
            f"choose PROFILE={'|'.join(known) if known else '|'.join(PROFILES)}"
        )
    path = folder / f"{stem}.yaml"
    if not path.is_file():
        raise ParamsError(
            f"{path}: missing parameter file for notebook {stem} (profile {profile!r}); "
            f"create it, e.g. by copying {root / 'ci' / (stem + '.yaml')}"
        )
    return path


def load_params(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML parameter file; it must hold a mapping of names to values."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: parameter file does not exist") from None
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read parameter file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ParamsError(f"{path}: not valid YAML{at}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ParamsError(f"{path}: must be a mapping 'name: value', got {type(data).__name__}")
    return data


def check_params(notebook: str | os.PathLike, path: str | os.PathLike, profile: str) -> dict[str, Any]:
    """Load ``path`` and check it against the notebook's parameters cell; returns the parameters."""
    params = load_params(path)
    declared = notebook_parameters(notebook)
    unknown = sorted(k for k in params if k not in declared)
    if unknown:
        raise ParamsError(
            f"{path}: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not parameters of "
            f"{Path(notebook).name} (it declares: {', '.join(declared)})"
        )
    if "profile" in params and params["profile"] != profile:
        raise ParamsError(f"{path}: says profile {params['profile']!r} but lies in the {profile!r} folder")
    return params


@dataclass
class Job:
    notebook: Path
    params: Path
    output: Path
    figures: Path

    def command(self, profile: str, kernel: str | None = None) -> list[str]:
        cmd = [sys.executable, "-m", "papermill", str(self.notebook), str(self.output),
               "-f", str(self.params), "-p", "figures_dir", str(self.figures), "-p", "profile", profile,
               "--cwd", str(self.notebook.parent)]
        if kernel:
            cmd += ["-k", kernel]
        return cmd


def plan(profile: str, *, notebooks_dir="notebooks", params_dir="params", build_dir="build",
         figures_dir="figures", only: Iterable[str] = ()) -> list[Job]:
    """Check every parameter file first, then return one :class:`Job` per notebook."""
    jobs: list[Job] = []
    problems: list[str] = []
    for nb in find_notebooks(notebooks_dir, only):
        try:
            p = params_file(params_dir, profile, nb)
            check_params(nb, p, profile)
        except ParamsError as exc:
            problems.append(str(exc))
            continue
        jobs.append(Job(nb.resolve(), p.resolve(), (Path(build_dir) / profile / nb.name).resolve(),
                        (Path(figures_dir) / nb.stem).resolve()))
    if problems:
        raise ParamsError("; ".join(problems) if len(problems) == 1 else
                          f"{len(problems)} parameter problems:\n  " + "\n  ".join(problems))
    if not jobs:
        raise ParamsError(f"{notebooks_dir}: no notebooks named NN_name.ipynb")
    return jobs


def run(profile: str, *, kernel: str | None = None, keep_going: bool = True, **where) -> int:
    """Execute every notebook with papermill; returns the number of notebooks that failed."""
    jobs = plan(profile, **where)
    failed: list[str] = []
    times: list[tuple[str, float, str]] = []
    for job in jobs:
        job.output.parent.mkdir(parents=True, exist_ok=True)
        cmd = job.command(profile, kernel)
        print("+ " + shlex.join(cmd), flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        dt = time.perf_counter() - t0
        status = "ok" if rc == 0 else f"FAILED (exit {rc}; the error is in {job.output})"
        times.append((job.notebook.stem, dt, status))
        print(f"{job.notebook.stem}: {status}, {dt:.1f} s", flush=True)
        if rc != 0:
            failed.append(job.notebook.stem)
            if not keep_going:
                break
    print(f"\nprofile {profile}:")
    for stem, dt, status in times:
        print(f"  {stem:<28} {dt:8.1f} s  {status}")
    return len(failed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylelib.reproduce", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_index = sub.add_parser("index", help="write <figures>/README.md listing every PNG, CSV and MD")
    p_index.add_argument("figures_dir", nargs="?", default="figures")
    for name, text in (("run", "execute every numbered notebook with papermill"),
                       ("check", "only check the parameter files of a profile")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--profile", default="quick")
        p.add_argument("--notebooks-dir", default="notebooks")
        p.add_argument("--params-dir", default="params")
        p.add_argument("--build-dir", default="build")
        p.add_argument("--figures-dir", default="figures")
        p.add_argument("--only", nargs="*", default=[], help="notebook names (e.g. 00_gatys); default: all")
        if name == "run":
            p.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")
            p.add_argument("--stop-on-error", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "index":
            path = write_index(args.figures_dir)
            print(f"wrote {path}")
            return 0
        where = dict(notebooks_dir=args.notebooks_dir, params_dir=args.params_dir, build_dir=args.build_dir,
                     figures_dir=args.figures_dir, only=args.only)
        if args.cmd == "check":
            jobs = plan(args.profile, **where)
            for job in jobs:
                print(f"{job.notebook.name}: {job.params}")
            return 0
        failed = run(args.profile, kernel=args.kernel, keep_going=not args.stop_on_error, **where)
        return 1 if failed else 0
    except StylelibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
