"""Tests of stylelib.report (outputs, markdown, index, the notebook driver, plotting) and the notebooks' layout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from stylelib.report import notebooks as driver
from stylelib.errors import StylelibError
from stylelib.report.plotting import image_grid, loss_curves, wrap_title
from stylelib.errors import ParamsError
from stylelib.report.index import build_index, write_index
from stylelib.report.markdown import format_value, markdown_table
from stylelib.report.outputs import Outputs

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
PARAMS = REPO / "params"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def small_figure() -> Figure:
    fig = Figure(figsize=(2, 1.5))
    ax = fig.subplots()
    ax.plot([0, 1, 2], [3, 1, 2])
    return fig


def table() -> pd.DataFrame:
    return pd.DataFrame({"pair": ["a|b", "c"], "ssim": [0.812345, 0.5], "steps": [5, 150], "lpips": [None, 0.25]})


# --------------------------------------------------------------------------- Outputs


def test_outputs_disabled_is_a_noop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for off in (None, ""):
        out = Outputs(off, notebook="00_x", profile="ci")
        assert not out.enabled
        assert out.save_figure(small_figure(), "fig") is None
        assert out.save_table(table(), "tab") is None
        assert out.finish({"data_sets": ["embedded"]}) is None
        assert "nothing is saved" in repr(out)
    assert list(tmp_path.iterdir()) == []


def test_outputs_writes_png_csv_md_and_run_json(tmp_path):
    folder = tmp_path / "figures" / "00_x"  # does not exist yet: created on first save
    out = Outputs(str(folder), notebook="00_x", profile="quick")
    png = out.save_figure(small_figure(), "curves")
    csv, md = out.save_table(table(), "metrics.csv")  # a suffix in the name is tolerated
    assert png == folder.resolve() / "curves.png"
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert b"matplotlib" not in png.read_bytes()  # no Software entry: identical runs, identical bytes

    assert csv.name == "metrics.csv" and md.name == "metrics.md"
    back = pd.read_csv(csv)
    assert list(back.columns) == ["pair", "ssim", "steps", "lpips"]
    assert back["ssim"].tolist() == [0.812345, 0.5]  # full precision in the CSV
    text = md.read_text()
    assert text.splitlines()[0].split("|")[1].strip() == "pair"
    assert "0.8123" in text and "0.812345" not in text  # rounded for reading
    assert "a\\|b" in text  # a pipe in a cell is escaped

    run_path = out.finish({"data_sets": {"embedded": ["p1", "p2"]}})
    run = json.loads(run_path.read_text())
    assert run["profile"] == "quick" and run["notebook"] == "00_x"
    assert run["files"] == ["curves.png", "metrics.csv", "metrics.md"]  # in the order saved
    assert run["data_sets"] == {"embedded": ["p1", "p2"]}
    assert run["torch"] == torch.__version__
    assert isinstance(run["seconds"], float) and run["seconds"] >= 0
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", run["finished"])
    # atomic writes leave no temporary files behind
    assert sorted(p.name for p in folder.iterdir()) == ["curves.png", "metrics.csv", "metrics.md", "run.json"]


def test_outputs_removes_files_of_the_previous_run_only(tmp_path):
    first = Outputs(tmp_path, notebook="00_x", profile="paper")
    first.save_figure(small_figure(), "pair_1")
    first.save_figure(small_figure(), "pair_2")
    first.finish()
    (tmp_path / "notes.png").write_bytes(b"not ours")  # a file no run wrote

    second = Outputs(tmp_path, notebook="00_x", profile="ci")
    second.save_figure(small_figure(), "pair_1")
    second.finish()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["notes.png", "pair_1.png", "run.json"]


def test_outputs_rejects_names_with_folders(tmp_path):
    out = Outputs(tmp_path, notebook="00_x", profile="ci")
    for bad in ("../evil", "a/b", "", ".hidden"):
        with pytest.raises(ValueError, match="output name"):
            out.save_figure(small_figure(), bad)


def test_outputs_extra_may_not_overwrite_recorded_fields(tmp_path):
    out = Outputs(tmp_path, notebook="00_x", profile="ci")
    with pytest.raises(ValueError, match="profile"):
        out.finish({"profile": "paper"})


def test_outputs_figures_dir_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StylelibError, match="not a folder"):
        Outputs(f, notebook="00_x", profile="ci")


# --------------------------------------------------------------------------- markdown


def test_markdown_table_renders_numbers():
    text = markdown_table(table())
    lines = text.splitlines()
    assert len(lines) == 4 and text.endswith("\n")
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["pair", "ssim", "steps", "lpips"]
    # numeric columns are right-aligned, text columns left-aligned
    seps = [c.strip() for c in lines[1].strip("|").split("|")]
    assert not seps[0].endswith(":") and all(s.endswith(":") for s in seps[1:])
    row1 = [c.strip() for c in re.split(r"(?<!\\)\|", lines[2].strip().strip("|"))]
    assert row1 == ["a\\|b", "0.8123", "5", ""]  # None -> empty cell
    row2 = [c.strip() for c in lines[3].strip("|").split("|")]
    assert row2 == ["c", "0.5", "150", "0.25"]


@pytest.mark.parametrize(
    "value, text",
    [(0.0, "0"), (1234.5678, "1235"), (123456.7, "123457"), (1.5e-7, "1.500e-07"), (2.5e9, "2.500e+09"),
     (float("nan"), ""), (float("inf"), "inf"), (True, "yes"), (np.float32(0.25), "0.25"), (np.int64(7), "7"),
     ("two\nlines", "two lines")],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_markdown_table_keeps_a_named_index():
    df = pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index(["x", "y"], name="layer"))
    lines = markdown_table(df).splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["layer", "v"]
    assert [c.strip() for c in lines[2].strip("|").split("|")] == ["x", "1"]


# --------------------------------------------------------------------------- index


def test_index_lists_every_file_with_relative_links(tmp_path):
    figures = tmp_path / "figures"
    out = Outputs(figures / "00_gatys", notebook="00_gatys", profile="quick")
    out.save_figure(small_figure(), "results")
    out.save_table(table(), "metrics")
    out.finish({"data_sets": {"embedded": ["a", "b"], "dpst": ["c"]}})
    (figures / "bench").mkdir()
    (figures / "bench" / "speed.csv").write_text("method,seconds\ngatys,1.5\n")
    (figures / "empty").mkdir()

    path = write_index(figures)
    assert path == figures / "README.md"
    text = path.read_text()
    assert "## 00_gatys" in text and "## bench" in text and "## empty" not in text
    assert "[results.png](00_gatys/results.png)" in text
    assert "[md](00_gatys/metrics.md), [csv](00_gatys/metrics.csv)" in text
    assert "| pair |   ssim | steps | lpips |" in text.splitlines()  # the table is embedded
    assert "0.8123" in text
    assert "profile **quick**" in text
    assert re.search(r"run \d{4}-\d\d-\d\d \d\d:\d\d", text)
    assert "embedded (2), dpst (1)" in text
    assert "[speed.csv](bench/speed.csv)" in text
    assert "no `run.json`" in text
    # every linked file exists
    for target in re.findall(r"\]\(([^)]+)\)", text):
        assert (figures / target).is_file(), target
    # idempotent: indexing again gives the same text (README.md itself is not indexed)
    assert build_index(figures) == text


def test_index_of_an_empty_folder(tmp_path):
    text = write_index(tmp_path / "figures").read_text()
    assert "Nothing yet" in text


def test_index_command_line(tmp_path):
    figures = tmp_path / "f"
    Outputs(figures / "00_a", notebook="00_a", profile="ci").save_figure(small_figure(), "x")
    assert driver.main(["index", str(figures)]) == 0
    assert "[x.png](00_a/x.png)" in (figures / "README.md").read_text()


# --------------------------------------------------------------------------- parameter files


def make_notebook(folder: Path, name: str, params: str) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(size)")]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def project(tmp_path):
    (tmp_path / "notebooks").mkdir()
    make_notebook(tmp_path / "notebooks", "00_a", 'profile = "ci"\nsize = 64\nfigures_dir = None\n')
    make_notebook(tmp_path / "notebooks", "01_b", 'profile = "ci"\nsteps = 5\nfigures_dir = None\n')
    (tmp_path / "notebooks" / "scratch.ipynb").write_text("{}")  # not numbered: not run
    for profile in ("ci", "quick"):
        (tmp_path / "params" / profile).mkdir(parents=True)
    (tmp_path / "params" / "ci" / "00_a.yaml").write_text("profile: ci\nsize: 64\n")
    (tmp_path / "params" / "ci" / "01_b.yaml").write_text("steps: 5\n")
    (tmp_path / "params" / "quick" / "00_a.yaml").write_text("profile: quick\nsize: 256\n")
    return tmp_path


def where(root: Path) -> dict:
    return dict(notebooks_dir=root / "notebooks", params_dir=root / "params", build_dir=root / "build",
                figures_dir=root / "figures")


def test_plan_maps_notebooks_to_params_build_and_figures(project):
    jobs = driver.plan("ci", **where(project))
    assert [j.notebook.name for j in jobs] == ["00_a.ipynb", "01_b.ipynb"]
    job = jobs[0]
    assert job.params == (project / "params" / "ci" / "00_a.yaml").resolve()
    assert job.output == (project / "build" / "ci" / "00_a.ipynb").resolve()
    assert job.figures == (project / "figures" / "00_a").resolve()
    cmd = job.command("ci")
    assert cmd[1:5] == ["-m", "papermill", str(job.notebook), str(job.output)]
    assert cmd[cmd.index("-f") + 1] == str(job.params)
    assert cmd[cmd.index("-p") + 1: cmd.index("-p") + 3] == ["figures_dir", str(job.figures)]
    assert cmd[cmd.index("--cwd") + 1] == str(project / "notebooks")


def test_missing_params_file_is_a_clear_error(project):
    with pytest.raises(ParamsError) as err:
        driver.plan("quick", **where(project))
    message = str(err.value)
    assert "params/quick/01_b.yaml" in message
    assert "missing parameter file for notebook 01_b" in message
    assert "\n" not in message  # one problem, one line


def test_unknown_profile_is_a_clear_error(project):
    with pytest.raises(ParamsError, match=r"no parameter folder for profile 'papr'; choose PROFILE=ci\|quick"):
        driver.plan("papr", **where(project))


def test_params_file_that_is_not_a_mapping_or_not_yaml(project):
    bad = project / "params" / "ci" / "00_a.yaml"
    bad.write_text("- size\n- 64\n")
    with pytest.raises(ParamsError, match="must be a mapping"):
        driver.plan("ci", **where(project))
    bad.write_text("size: [64\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        driver.plan("ci", **where(project))


def test_params_with_a_typo_are_rejected(project):
    (project / "params" / "ci" / "00_a.yaml").write_text("sise: 64\n")
    with pytest.raises(ParamsError, match=r"sise is not parameters? of 00_a.ipynb \(it declares: profile, size"):
        driver.plan("ci", **where(project))


def test_params_profile_must_match_its_folder(project):
    (project / "params" / "ci" / "00_a.yaml").write_text("profile: quick\n")
    with pytest.raises(ParamsError, match="says profile 'quick' but lies in the 'ci' folder"):
        driver.plan("ci", **where(project))


def test_load_params_missing_path():
    with pytest.raises(ParamsError, match=r"nope\.yaml: parameter file does not exist"):
        driver.load_params("/nonexistent/nope.yaml")


def test_run_command_line_reports_missing_params_before_running_anything(project, capsys):
    rc = driver.main(["run", "--profile", "quick", "--notebooks-dir", str(project / "notebooks"),
                         "--params-dir", str(project / "params"), "--build-dir", str(project / "build"),
                         "--figures-dir", str(project / "figures")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "01_b.yaml: missing parameter file" in err
    assert not (project / "build").exists()


def test_only_filter_and_unknown_notebook(project):
    jobs = driver.plan("quick", only=["00_a"], **where(project))
    assert [j.notebook.stem for j in jobs] == ["00_a"]
    with pytest.raises(ParamsError, match="no notebook named 07_z"):
        driver.plan("quick", only=["07_z"], **where(project))


# --------------------------------------------------------------------------- the real notebooks


def repo_notebooks() -> list[Path]:
    return driver.find_notebooks(NOTEBOOKS)


@pytest.mark.parametrize("profile", driver.PROFILES)
def test_every_notebook_has_valid_params_for_every_profile(profile):
    jobs = driver.plan(profile, notebooks_dir=NOTEBOOKS, params_dir=PARAMS)
    assert len(jobs) == len(repo_notebooks()) >= 1


def test_the_parameters_cell_holds_the_quick_values():
    """A student's "Run All" runs the quick profile: the committed cell equals params/quick (figures_dir None)."""
    for nb in repo_notebooks():
        declared = driver.notebook_parameters(nb.with_suffix(".py"))
        assert declared.get("figures_dir", "missing") is None, f"{nb.name}: commit figures_dir = None"
        quick = driver.load_params(PARAMS / "quick" / f"{nb.stem}.yaml")
        for key, value in quick.items():
            assert declared[key] == value, f"{nb.name}: {key} = {declared[key]!r} but params/quick says {value!r}"


def test_notebooks_are_in_sync_with_their_jupytext_sources():
    import jupytext
    import nbformat

    def cells(nb):
        return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in nb.cells]

    for nb_path in repo_notebooks():
        py = nb_path.with_suffix(".py")
        assert py.is_file(), f"{nb_path.name} has no paired {py.name}"
        text_nb = jupytext.read(py)
        ipynb = nbformat.read(nb_path, as_version=4)
        assert cells(text_nb) == cells(ipynb), f"{py.name} and {nb_path.name} differ: run `make sync`"


def test_notebooks_define_no_models_or_losses():
    pattern = re.compile(r"^\s*class\s+\w+\s*\(.*(nn\.Module|Module)\b|^\s*def\s+\w*loss\w*\s*\(", re.M)
    for nb_path in repo_notebooks():
        source = nb_path.with_suffix(".py").read_text(encoding="utf-8")
        assert not pattern.search(source), f"{nb_path.name}: models and losses belong in stylelib"


# --------------------------------------------------------------------------- plotting


def test_image_grid_shapes_and_titles():
    img = torch.rand(1, 3, 20, 30)
    gray = torch.rand(1, 1, 20, 20)
    fig = image_grid([[img, img, img], [gray, None]], row_titles=["a", "b"], col_titles=["c", "s", "o"], size=1)
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes[:3]] == ["c", "s", "o"]
    assert axes[0].get_ylabel() == "a" and axes[3].get_ylabel() == "b"
    assert len(axes[4].get_images()) == 0 and len(axes[5].get_images()) == 0  # None and missing cells stay empty
    assert tuple(fig.get_size_inches()) == (3.0, 2.0)
    with pytest.raises(ValueError, match="2 row titles for 1 rows"):
        image_grid([[img]], row_titles=["a", "b"])


def test_image_grid_wraps_long_column_titles():
    img = torch.rand(1, 3, 20, 30)
    long = "no re-stylisation (stage 1 only)"
    fig = image_grid([[img, img]], col_titles=[long, "style"], size=1.8)  # 19 characters per line
    first, second = (ax.get_title() for ax in fig.get_axes())
    assert first == "no re-stylisation\n(stage 1 only)" and second == "style"
    assert wrap_title("a\nb", 1.0) == "a\nb"  # explicit line breaks are kept


def test_loss_curves_log_axis_skips_nonpositive_values():
    h1 = pd.DataFrame({"step": [1, 2, 3], "loss": [10.0, 5.0, 2.0], "tv_loss": [0.0, 0.0, 0.0]})
    h2 = pd.DataFrame({"step": [1, 2], "loss": [8.0, 4.0]})
    fig = loss_curves({"a": h1, "b": h2}, ys=("loss", "tv_loss"))
    ax_loss, ax_tv = fig.get_axes()
    assert ax_loss.get_yscale() == "log" and len(ax_loss.get_lines()) == 2
    assert len(ax_tv.get_lines()) == 0 and "no data" in ax_tv.texts[0].get_text()
    buf = __import__("io").BytesIO()
    fig.savefig(buf, format="png")  # renders without a display
    assert buf.getvalue().startswith(PNG_MAGIC)


def test_plotting_does_not_touch_pyplot():
    code = ("import sys, torch; from stylelib.report.plotting import image_grid; "
            "image_grid([[torch.rand(1,3,8,8)]]); print('matplotlib.pyplot' in sys.modules)")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"
