"""The `stylelib` command: results, one-line errors with exit status 2, and no partial output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylelib.cli import main


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(d / "content.png")
    Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(d / "style.jpg")
    (d / "notes.jpg").write_text("this is not a picture")
    return d


def _run(args, capsys):
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    return code, err


class TestStylize:
    def test_writes_the_result(self, images, tmp_path, capsys):
        out = tmp_path / "out.png"
        code, err = _run(["stylize", images / "content.png", images / "style.jpg", "-o", out, "--size", "48",
                          "--steps", "2", "--quiet"], capsys)
        assert code == 0, err
        assert Image.open(out).size == (48, 40)

    @pytest.mark.parametrize(
        "content, output, needle",
        [
            ("missing.png", "out.png", "missing.png"),
            ("notes.jpg", "out.png", "notes.jpg"),
            ("content.png", "out.xyz", "out.xyz"),
            ("content.png", "no/such/folder/out.png", "out.png"),
        ],
    )
    def test_bad_input_is_one_line_and_exit_2(self, images, tmp_path, capsys, content, output, needle):
        out = tmp_path / output
        code, err = _run(["stylize", images / content, images / "style.jpg", "-o", out, "--steps", "1",
                          "--quiet"], capsys)
        assert code == 2
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("stylelib: error:") and needle in lines[0]
        assert "Traceback" not in err
        assert not out.exists()
        assert not list(tmp_path.rglob("*.tmp"))

    def test_output_is_a_directory(self, images, tmp_path, capsys):
        code, err = _run(["stylize", images / "content.png", images / "style.jpg", "-o", tmp_path, "--quiet"], capsys)
        assert code == 2 and "directory" in err

    def test_unknown_method(self, images, tmp_path, capsys):
        code, err = _run(["stylize", images / "content.png", images / "style.jpg", "-o", tmp_path / "o.png",
                          "--method", "nope"], capsys)
        assert code == 2 and "unknown method 'nope'" in err and "gatys" in err

    def test_bad_number_is_a_usage_error(self, images, tmp_path):
        with pytest.raises(SystemExit) as exc:
            main(["stylize", str(images / "content.png"), str(images / "style.jpg"), "-o", str(tmp_path / "o.png"),
                  "--steps", "-3"])
        assert exc.value.code == 2


class TestEntryPoint:
    def test_console_script_lists_methods(self):
        exe = Path(sys.executable).with_name("stylelib")
        proc = subprocess.run([str(exe), "methods"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and proc.stdout.startswith("gatys")
