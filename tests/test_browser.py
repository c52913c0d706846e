"""Notebooks and widgets in a real browser: JupyterLab driven by Playwright with Debian's Chromium.

Skipped (with the reason) where Chromium or Playwright is missing; `.ci/run`
installs both.  JupyterLab runs on 127.0.0.1 with a token of its own, autosave
off and a folder of its own, so nothing tracked is touched.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"),
    pytest.mark.skipif(__import__("importlib.util").util.find_spec("playwright") is None,
                       reason="playwright is not installed (pip install playwright)"),
]
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"
ROOT = Path(__file__).resolve().parents[1]
#: what a student opens: the committed notebooks with the quick outputs, and the index
STUDENT_NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + [ROOT / "notebooks" / "index.ipynb"]
#: ``STYLELIB_SCREENSHOTS=docs/screenshots`` (``make screenshots``) keeps the screenshots there
SCREENSHOTS = os.environ.get("STYLELIB_SCREENSHOTS")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(cells: list[str]) -> dict:
    return {"cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
                      for c in cells],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def lab():
    root = Path(tempfile.mkdtemp(prefix="stylelib-lab-"))
    settings = root / "settings"
    for rel, value in (("@jupyterlab/docmanager-extension/plugin.jupyterlab-settings", {"autosave": False}),
                       # every cell rendered, so that a test can see every stored figure
                       ("@jupyterlab/notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none"}),
                       ("@jupyterlab/apputils-extension/notification.jupyterlab-settings",
                        {"fetchNews": "false", "checkForUpdates": False})):
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))
    work = root / "work"
    work.mkdir()
    (work / "try_it.ipynb").write_text(json.dumps(_notebook([
        "from stylelib.widgets import try_it\ntry_it('adain', size=64)"])))
    for nb in STUDENT_NOTEBOOKS:  # copies, as `make lab` opens them
        shutil.copy(nb, work / nb.name)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                             f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={work}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("JupyterLab did not start within 60 s")
    try:
        yield {"base": base, "token": token, "work": work}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            tempfile.mkdtemp(), executable_path=CHROMIUM, headless=True, viewport={"width": 1280, "height": 900},
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            yield ctx.pages[0]
        finally:
            ctx.close()


def _open_and_run_all(page, lab, name: str) -> None:
    page.goto(f"{lab['base']}/lab/workspaces/t{time.time_ns()}/tree/{name}?token={lab['token']}")
    page.wait_for_selector(f"{NB} .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def test_try_it_stylises_a_pair_in_the_browser(page, lab):
    from playwright.sync_api import expect

    _open_and_run_all(page, lab, "try_it.ipynb")
    button = page.locator(f"{NB} .stylelib-try-run")
    expect(button).to_be_visible(timeout=60_000)
    status = page.locator(f"{NB} .stylelib-try-status")
    expect(status).to_contain_text("pick two images")
    button.click()
    expect(status).to_contain_text("adain:", timeout=60_000)
    text = status.inner_text()
    seconds = float(text.split("adain:")[1].split(" s at")[0])
    assert 0 < seconds < 60 and "Gram distance to the style" in text
    images = page.locator(f"{NB} .stylelib-try-result img")
    assert images.count() == 3
    for i in range(3):  # content, style and the new result, each a PNG the kernel sent
        assert images.nth(i).evaluate("img => img.naturalWidth") > 0
    assert "error" not in text.lower()


def _open(page, lab, name: str) -> None:
    page.goto(f"{lab['base']}/lab/workspaces/t{time.time_ns()}/tree/{name}?token={lab['token']}")
    page.wait_for_selector(f"{NB} .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)


@pytest.mark.parametrize("name", [p.name for p in STUDENT_NOTEBOOKS if p.stem != "index"])
def test_a_student_sees_the_quick_figures(page, lab, name):
    """Opened as a student opens it, the notebook shows the quick run's figures, decoded at their full size."""
    import base64
    import io

    import nbformat
    from PIL import Image

    stored = nbformat.read(lab["work"] / name, as_version=4)
    assert stored.metadata["stylelib"]["profile"] == "quick", f"{name}: not the quick run's outputs"
    sizes = [Image.open(io.BytesIO(base64.b64decode(o.data[m]))).size
             for c in stored.cells if c.cell_type == "code" for o in c.outputs
             for m in ("image/jpeg", "image/png") if m in o.get("data", {})]
    assert sizes and max(w for w, _ in sizes) >= 600, f"{name}: stored figures {sizes}"
    _open(page, lab, name)
    shown = page.locator(f"{NB} .jp-OutputArea-output img")
    page.wait_for_function(f"n => document.querySelectorAll('{NB} .jp-OutputArea-output img').length >= n",
                           arg=len(sizes), timeout=60_000)
    widths = shown.evaluate_all("imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth)))")
    assert sorted(widths) == sorted(w for w, _ in sizes), f"{name}: the browser decoded {widths}, stored {sizes}"
    text = page.locator(NB).inner_text()
    assert "Traceback" not in text and "Deviations from the paper" in text and "Try it yourself" in text
    if SCREENSHOTS and name in ("01_fa_scp.ipynb", "02_stylebank.ipynb"):
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{Path(name).stem}_top.png"))
        shown.first.scroll_into_view_if_needed()
        page.screenshot(path=str(folder / f"{Path(name).stem}_figure.png"))


def test_the_index_links_every_notebook(page, lab):
    from playwright.sync_api import expect

    _open(page, lab, "index.ipynb")
    expect(page.locator(f"{NB} table a").first).to_be_visible(timeout=30_000)
    hrefs = page.locator(f"{NB} table a").evaluate_all("as => as.map(a => a.getAttribute('href') || '')")
    names = {Path(h.split("?")[0]).name for h in hrefs}
    expected = {p.name for p in STUDENT_NOTEBOOKS if p.stem != "index"}
    assert expected <= names, f"the index links {sorted(names)}"
