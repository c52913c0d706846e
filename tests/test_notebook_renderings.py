"""One source, two renderings: notebooks/NN.ipynb (quick outputs, what a student opens) and
tests/notebooks/NN.ipynb (ci outputs, what nbval checks) must both follow notebooks/NN.py.

See :mod:`stylelib.report.publish`; ``make reproduce`` writes the first, ``make nb-outputs`` the second.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import nbformat
import pytest

from stylelib.report import notebooks as driver
from stylelib.report.publish import (CI_COPIES, NO_STORED_OUTPUT, PublishError, WIDGET_VIEW, cells_of, clean_outputs,
                                     publish, source_notebook)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PARAMS = ROOT / "params"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
#: a committed notebook stays lean: every rerun adds its size to the history
MAX_MB = 3.0


def _images(nb) -> list[tuple[int, int]]:
    from PIL import Image

    sizes = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            for mime in ("image/png", "image/jpeg"):
                if mime in o.get("data", {}):
                    sizes.append(Image.open(io.BytesIO(base64.b64decode(o["data"][mime]))).size)
    return sizes


@pytest.mark.parametrize("py", SOURCES, ids=[p.stem for p in SOURCES])
def test_the_student_notebook_is_the_source_with_quick_outputs(py):
    nb_path = py.with_suffix(".ipynb")
    nb = nbformat.read(nb_path, as_version=4)
    assert cells_of(nb) == cells_of(source_notebook(py)), f"{nb_path.name} differs from {py.name}: make sync"
    meta = nb.metadata.get("stylelib", {})
    assert meta.get("profile") == "quick", f"{nb_path.name}: stored outputs are not from a quick run ({meta})"
    assert meta.get("params") == f"params/quick/{py.stem}.yaml"
    assert nb_path.stat().st_size <= MAX_MB * 1e6, f"{nb_path.name}: {nb_path.stat().st_size / 1e6:.1f} MB"
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        tags = c.metadata.get("tags", [])
        if not any(t in tags for t in NO_STORED_OUTPUT):
            assert c.get("execution_count"), f"{nb_path.name} cell {i + 1} was not run"
        for o in c.outputs:
            assert o.output_type != "error", f"{nb_path.name} cell {i + 1}: an error is stored"
            assert not (o.output_type == "stream" and o.name == "stderr"), \
                f"{nb_path.name} cell {i + 1}: stderr stored ({o.text[:80]!r})"
            assert WIDGET_VIEW not in o.get("data", {}), f"{nb_path.name} cell {i + 1}: a progress-bar widget"
    # the quick figures: several, and at a size a reader can see (the ci run's are also matplotlib
    # figures, so the size alone does not tell the profiles apart: the metadata above does)
    sizes = _images(nb)
    assert len(sizes) >= 4 and max(w for w, _ in sizes) >= 600, f"{nb_path.name}: figures {sizes}"


@pytest.mark.parametrize("py", SOURCES, ids=[p.stem for p in SOURCES])
def test_the_ci_copy_is_the_source_with_the_ci_parameters_injected(py):
    copy = CI_COPIES / f"{py.stem}.ipynb"
    assert copy.is_file(), f"{copy.relative_to(ROOT)} missing: make nb-outputs"
    nb = nbformat.read(copy, as_version=4)
    assert cells_of(nb) == cells_of(source_notebook(py)), f"{copy.name} differs from {py.name}: make nb-outputs"
    assert nb.metadata["stylelib"]["profile"] == "ci"
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1, f"{copy.name}: no papermill parameters cell"
    ci = driver.load_params(PARAMS / "ci" / f"{py.stem}.yaml")
    ns: dict = {}
    exec(injected[0].source, ns)  # literal assignments written by papermill
    assert {k: ns[k] for k in ci} == ci, f"{copy.name}: injected values differ from params/ci"
    assert "formats" not in nb.metadata.get("jupytext", {}), f"{copy.name} must not be paired with a .py"


def test_the_index_lists_every_notebook_and_every_notebook_links_back():
    index = nbformat.read(NOTEBOOKS / "index.ipynb", as_version=4)
    text = "\n".join(c.source for c in index.cells)
    for py in SOURCES:
        assert f"({py.stem}.ipynb)" in text, f"index.ipynb does not link {py.stem}"
        assert "(index.ipynb)" in py.read_text(encoding="utf-8"), f"{py.name} does not link back to the index"


def test_no_notebook_or_doc_points_outside_the_repository():
    """What a reader needs about a method is in the notebook or docs/ (the README may name the data folder)."""
    docs = sorted((ROOT / "docs").rglob("*.md"))
    assert docs, "docs/ is missing"
    code = sorted((ROOT / "stylelib").rglob("*.py"))
    for path in [*SOURCES, *docs, ROOT / "README.md", *code]:
        body = path.read_text(encoding="utf-8")
        assert "shared/papers" not in body, f"{path.relative_to(ROOT)} points to notes outside the repository"
        if path.suffix == ".md" and path.parent != ROOT or path in SOURCES:
            assert "../shared" not in body, f"{path.relative_to(ROOT)} points outside the repository"


# ----------------------------------------------------------------------------- publish() itself


def _png_b64(w=40, h=30) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (w, h), (200, 10, 10, 128)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _write_source(tmp_path, extra: str = "") -> Path:
    py = tmp_path / "00_x.py"
    py.write_text('# %% [markdown]\n# # title\n\n# %% tags=["parameters"]\nsize = 8\n\n# %%\nprint(size)\n'
                  '\n# %% tags=["try-it"]\nx = 1\n' + extra, encoding="utf-8")
    return py


def _executed(tmp_path, outputs, sources=("size = 4", "print(size)")) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell(sources[0])]
    inj = nbformat.v4.new_code_cell("size = 8")
    inj.metadata["tags"] = ["injected-parameters"]
    nb.cells.append(inj)
    c = nbformat.v4.new_code_cell(sources[1])
    c.outputs = [nbformat.from_dict(o) for o in outputs]
    c.execution_count = 3
    nb.cells.append(c)
    path = tmp_path / "ran.ipynb"
    nbformat.write(nb, path)
    return path


def test_publish_copies_outputs_drops_progress_and_converts_figures(tmp_path):
    py = _write_source(tmp_path)
    outs = [{"output_type": "stream", "name": "stdout", "text": "8\n"},
            {"output_type": "stream", "name": "stderr", "text": "\r 50%|#####     | 1/2 [00:01<00:01, 1.0it/s]"},
            {"output_type": "display_data", "metadata": {}, "data": {WIDGET_VIEW: {"model_id": "x"}, "text/plain": "bar"}},
            {"output_type": "display_data", "metadata": {}, "data": {"image/png": _png_b64(), "text/plain": "<Figure>"}}]
    out = publish(_executed(tmp_path, outs), py, tmp_path / "00_x.ipynb", run={"params": "params/quick/00_x.yaml"})
    nb = nbformat.read(out, as_version=4)
    assert cells_of(nb) == cells_of(source_notebook(py))
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == "size = 8" and code[0].outputs == []  # the parameters cell: quick values, no output
    kept = code[1].outputs
    assert [o.output_type for o in kept] == ["stream", "display_data"] and kept[0].text == "8\n"
    assert "image/png" not in kept[1].data and _images(nb) == [(40, 30)]
    assert code[1].execution_count == 3 and code[2].outputs == []  # try-it keeps no output
    assert nb.metadata["stylelib"] == {"profile": "quick", "source": "00_x.py", "params": "params/quick/00_x.yaml"}


def test_publish_refuses_a_stale_run_and_a_stored_error(tmp_path):
    py = _write_source(tmp_path)
    stale = _executed(tmp_path, [], sources=("size = 4", "print(size * 2)"))
    with pytest.raises(PublishError, match=r"ran.ipynb: has no run of cell 3 of 00_x.py .*make reproduce ONLY=00_x"):
        publish(stale, py, tmp_path / "00_x.ipynb")
    assert not (tmp_path / "00_x.ipynb").exists()  # nothing half-written
    with pytest.raises(PublishError, match="holds an error"):
        clean_outputs([nbformat.from_dict({"output_type": "error", "ename": "ValueError", "evalue": "bad",
                                           "traceback": []})], where="x")


def test_the_committed_index_is_the_one_generated_from_figures():
    from stylelib.report.index import build_notebook_index

    fresh = build_notebook_index(ROOT / "figures", NOTEBOOKS)
    committed = nbformat.read(NOTEBOOKS / "index.ipynb", as_version=4)
    assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], \
        "notebooks/index.ipynb is stale: python -m stylelib.report.notebooks index figures"
