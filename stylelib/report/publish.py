"""Two renderings of one notebook source: what a student opens, and what nbval checks.

Every notebook has one source, ``notebooks/NN_name.py`` (jupytext percent
format, the file to edit and review). From it come:

* ``notebooks/NN_name.ipynb``, *what a student opens*: the cells of the
  source with the outputs of the *quick* run that ``make reproduce`` made
  (the same run that writes ``figures/NN_name/``). :func:`publish` copies the
  outputs of papermill's executed notebook onto the source's cells, drops
  papermill's injected-parameters cell (the ``parameters`` cell already holds
  the quick values), removes progress-bar residue (tqdm widgets and ``\\r``
  streams) and stores figures as JPEG previews so that each notebook stays a
  few MB.
* ``tests/notebooks/NN_name.ipynb``, *what nbval checks*: the same cells run
  with the ci values injected by papermill (:func:`ci_copy`, ``make
  nb-outputs``).

``tests/test_notebook_renderings.py`` fails when either rendering drifts from
the source. Command line::

    python -m stylelib.report.publish ci-copies [NN_name ...]      # what `make nb-outputs` runs
    python -m stylelib.report.publish quick build/quick/NN.ipynb   # what `make reproduce` runs per notebook
"""

from __future__ import annotations

import argparse
import base64
import copy
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..atomic import atomic_write_text
from ..errors import StylelibError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CI_COPIES = ROOT / "tests" / "notebooks"
PARAMS = ROOT / "params"
#: code cells that may stay without outputs in the published notebook
NO_STORED_OUTPUT = ("parameters", "try-it")
#: largest side of a stored figure preview, pixels, and its JPEG quality
PREVIEW_MAX_SIDE = 1600
PREVIEW_QUALITY = 85
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class PublishError(StylelibError):
    """A notebook rendering could not be made (it names the file and the problem)."""


def _tags(cell) -> tuple[str, ...]:
    return tuple(cell.get("metadata", {}).get("tags", ()))


def source_notebook(py: str | os.PathLike):
    """The notebook that the jupytext source ``py`` describes (no outputs)."""
    import jupytext

    path = Path(py)
    if not path.is_file():
        raise PublishError(f"{path}: notebook source does not exist")
    return jupytext.read(path)


def cells_of(nb, *, skip_injected: bool = True) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(type, source, tags)`` of every cell; papermill's injected-parameters cell left out."""
    return [(c.cell_type, c.source.strip(), _tags(c)) for c in nb.cells
            if not (skip_injected and "injected-parameters" in _tags(c))]


def _jpeg(png_b64: str) -> str:
    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(png_b64)))
    img.load()
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        white = Image.new("RGB", img.size, (255, 255, 255))
        white.paste(img, mask=img.getchannel("A"))
        img = white
    else:
        img = img.convert("RGB")
    if max(img.size) > PREVIEW_MAX_SIDE:
        img.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=PREVIEW_QUALITY, optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _is_progress(output) -> bool:
    if output.get("output_type") in ("display_data", "execute_result") and WIDGET_VIEW in output.get("data", {}):
        return True
    if output.get("output_type") == "stream" and output.get("name") == "stderr":
        text = output.get("text", "")
        return "\r" in text or "it/s]" in text or "s/it]" in text
    return False


def clean_outputs(outputs: Iterable[Any], *, where: str) -> list[Any]:
    """Outputs as a student should see them: no progress bars, figures as JPEG previews, no errors."""
    kept = []
    for out in outputs:
        out = copy.deepcopy(out)
        if out.get("output_type") == "error":
            raise PublishError(f"{where}: the executed notebook holds an error ({out.get('ename')}: "
                               f"{out.get('evalue')}); fix it before publishing")
        if _is_progress(out):
            continue
        data = out.get("data")
        if data and "image/png" in data:
            data["image/jpeg"] = _jpeg(data.pop("image/png"))
            meta = out.get("metadata", {})
            if "image/png" in meta:
                meta["image/jpeg"] = meta.pop("image/png")
        kept.append(out)
    return kept


def publish(executed: str | os.PathLike, source: str | os.PathLike, out: str | os.PathLike, *,
            profile: str = "quick", run: dict | None = None) -> Path:
    """Write ``out``: the cells of ``source`` (.py) with the outputs of ``executed`` (papermill's output).

    Code cells are matched by their source text, in order; a source cell that
    the executed notebook does not have is an error (the run is stale: rerun
    it), except cells tagged ``parameters`` or ``try-it``, which keep no output.
    """
    import nbformat

    executed, source, out = Path(executed), Path(source), Path(out)
    try:
        ran = nbformat.read(executed, as_version=4)
    except (OSError, ValueError) as exc:
        raise PublishError(f"{executed}: cannot read the executed notebook ({exc})") from None
    nb = source_notebook(source)
    ran_code = [c for c in ran.cells if c.cell_type == "code" and "injected-parameters" not in _tags(c)]
    at = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        match = next((j for j in range(at, len(ran_code)) if ran_code[j].source.strip() == cell.source.strip()), None)
        if match is None:
            if any(t in _tags(cell) for t in NO_STORED_OUTPUT):
                cell.outputs, cell.execution_count = [], None
                continue
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else "(empty)"
            raise PublishError(f"{executed}: has no run of cell {i + 1} of {source.name} ({first[:60]!r}); "
                               f"the run is older than the source: rerun make reproduce ONLY={source.stem}")
        got = ran_code[match]
        at = match + 1
        cell.outputs = clean_outputs(got.get("outputs", []), where=f"{executed} cell {i + 1}")
        cell.execution_count = got.get("execution_count")
    import hashlib

    for i, cell in enumerate(nb.cells):  # stable ids: a rerun changes outputs only, not every cell's id
        cell["id"] = hashlib.sha1(f"{i}:{cell.cell_type}:{cell.source}".encode()).hexdigest()[:8]
    if out.is_file():  # keep the pairing metadata that `jupytext --sync` wrote, so a sync does not churn it
        try:
            previous = nbformat.read(out, as_version=4).metadata.get("jupytext")
        except (OSError, ValueError):
            previous = None
        if previous:
            nb.metadata["jupytext"] = previous
    nb.metadata["stylelib"] = {"profile": profile, "source": source.name, **(run or {})}
    nb.metadata.pop("papermill", None)
    nbformat.validate(nb)
    return atomic_write_text(out, nbformat.writes(nb) + "\n")


def run_facts(figures: str | os.PathLike, profile: str, stem: str) -> dict:
    """What the published notebook records of its run: from ``figures/NN/run.json``, and its parameter file."""
    from .outputs import read_run

    run = read_run(Path(figures))
    facts = {k: run[k] for k in ("finished", "seconds", "torch", "cpu_count") if k in run}
    facts["params"] = f"params/{profile}/{stem}.yaml"
    return facts


def ci_copy(source: str | os.PathLike, params: str | os.PathLike, out: str | os.PathLike, *,
            profile: str = "ci", kernel: str = "python3") -> Path:
    """Execute the cells of ``source`` with the parameters of ``params`` injected; write ``out`` for nbval."""
    import nbformat
    import papermill

    from .notebooks import load_params

    source, out = Path(source), Path(out)
    values = load_params(params)
    nb = source_notebook(source)
    nb.metadata.get("jupytext", {}).pop("formats", None)  # a copy, not paired with the source
    if not nb.metadata.get("jupytext"):
        nb.metadata.pop("jupytext", None)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{source.stem}.ipynb"
        done = Path(tmp) / f"{source.stem}.out.ipynb"
        nbformat.write(nb, src)
        try:
            papermill.execute_notebook(str(src), str(done), parameters=values, cwd=str(out.parent),
                                       kernel_name=kernel, progress_bar=False, log_output=False)
        except papermill.PapermillExecutionError as exc:
            raise PublishError(f"{source}: cell {exc.cell_index} failed with the {profile} parameters "
                               f"({exc.ename}: {exc.evalue})") from None
        ran = nbformat.read(done, as_version=4)
    for cell in ran.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):  # nbval never compares images: store small previews
            data = output.get("data")
            if data and "image/png" in data:
                data["image/jpeg"] = _jpeg(data.pop("image/png"))
    ran.metadata.pop("papermill", None)
    ran.metadata["stylelib"] = {"profile": profile, "source": f"notebooks/{source.name}",
                                "params": f"params/{profile}/{Path(params).name}"}
    return atomic_write_text(out, nbformat.writes(ran) + "\n")


def sources(only: Sequence[str] = ()) -> list[Path]:
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    if only:
        stems = {p.stem: p for p in found}
        missing = [o for o in only if o not in stems]
        if missing:
            raise PublishError(f"{NOTEBOOKS}: no notebook source named {', '.join(missing)}")
        found = [stems[o] for o in only]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylelib.report.publish", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ci-copies", help="run every source with params/ci into tests/notebooks/")
    p.add_argument("only", nargs="*")
    q = sub.add_parser("quick", help="publish executed quick notebooks into notebooks/")
    q.add_argument("executed", nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "ci-copies":
            from tqdm.auto import tqdm

            for py in tqdm(sources(args.only), desc="ci copies", unit="notebook"):
                path = ci_copy(py, PARAMS / "ci" / f"{py.stem}.yaml", CI_COPIES / f"{py.stem}.ipynb")
                tqdm.write(f"wrote {path.relative_to(ROOT)}")
        else:
            for ex in map(Path, args.executed):
                path = publish(ex, NOTEBOOKS / f"{ex.stem}.py", NOTEBOOKS / f"{ex.stem}.ipynb",
                               run=run_facts(ROOT / "figures" / ex.stem, "quick", ex.stem))
                print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.1f} MB)")
        return 0
    except StylelibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
