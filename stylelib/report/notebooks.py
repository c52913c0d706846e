"""The ``make reproduce`` driver: check every parameter file, then run each notebook with papermill.

Command line (what the Makefile calls)::

    python -m stylelib.report.notebooks run --profile quick     # papermill every notebooks/NN_*.ipynb
    python -m stylelib.report.notebooks index [figures]         # write figures/README.md
    python -m stylelib.report.notebooks check --profile paper   # only check the parameter files
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import ParamsError, StylelibError
from .index import update_readme, write_index, write_notebook_index

PROFILES = ("ci", "quick", "paper")
#: Notebooks that ``run`` executes: two digits, an underscore, a name.
NOTEBOOK_PATTERN = re.compile(r"^\d\d_[A-Za-z0-9_\-]+\.ipynb$")
#: Parameters that ``run`` injects itself (they need not be in the YAML files).
INJECTED = ("figures_dir", "profile")


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
    """Names and default values of the ``parameters``-tagged cell of a notebook (evaluated literals).

    ``notebook`` is an ``.ipynb`` or its jupytext source (``.py``).
    """
    import ast

    import nbformat

    path = Path(notebook)
    if path.suffix == ".py":
        import jupytext

        nb = jupytext.read(path)
    else:
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


#: profiles whose executed notebooks replace the committed ``notebooks/NN.ipynb`` (what a student opens)
PUBLISHED = ("quick",)


def _publish(job: Job, profile: str) -> str:
    """Copy the run's outputs onto ``notebooks/NN.ipynb`` (see :mod:`stylelib.report.publish`)."""
    from .publish import publish, run_facts

    facts = run_facts(job.figures, profile, job.notebook.stem)
    try:
        path = publish(job.output, job.notebook.with_suffix(".py"), job.notebook, profile=profile, run=facts)
    except StylelibError as exc:
        return f"FAILED to publish ({exc})"
    print(f"published {path.name} ({path.stat().st_size / 1e6:.1f} MB)", flush=True)
    return "ok"


def run(profile: str, *, kernel: str | None = None, keep_going: bool = True,
        publish_profiles: Sequence[str] = PUBLISHED, **where) -> int:
    """Execute every notebook with papermill; returns the number of notebooks that failed.

    A quick run also rewrites ``notebooks/NN.ipynb`` with its outputs (:data:`PUBLISHED`).
    """
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
        if rc == 0 and profile in publish_profiles and job.notebook.with_suffix(".py").is_file():
            status = _publish(job, profile)
            if status != "ok":
                rc = 1
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
    parser = argparse.ArgumentParser(prog="python -m stylelib.report.notebooks", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="cmd", required=True)
    p_index = commands.add_parser("index", help="write <figures>/README.md listing every PNG, CSV and MD")
    p_index.add_argument("figures_dir", nargs="?", default="figures")
    for name, text in (("run", "execute every numbered notebook with papermill"),
                       ("check", "only check the parameter files of a profile")):
        p = commands.add_parser(name, help=text)
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
            root = Path(args.figures_dir).resolve().parent
            if (root / "notebooks").is_dir():
                print(f"wrote {write_notebook_index(args.figures_dir, root / 'notebooks')}")
            readme = update_readme(root / "README.md", args.figures_dir)
            if readme is not None:
                print(f"updated the results block of {readme}")
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
