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
        assert proc.returncode == 0
        listed = [line.split()[0] for line in proc.stdout.splitlines()]
        assert listed == sorted(listed) and {"gatys", "adain", "wct"} <= set(listed)


class TestFeedForward:
    """`stylize --method adain|wct` with the committed weights; `train` and its errors."""

    @pytest.mark.parametrize("method", ["adain", "wct"])
    def test_stylize_with_alpha(self, method, images, tmp_path, capsys):
        out = tmp_path / f"{method}.png"
        code, err = _run(["stylize", "--method", method, images / "content.png", images / "style.jpg", "-o", out,
                          "--size", "48", "--alpha", "0.7", "--quiet"], capsys)
        assert code == 0, err
        assert Image.open(out).size == (48, 40)

    def test_alpha_out_of_range(self, images, tmp_path, capsys):
        with pytest.raises(SystemExit) as exc:
            main(["stylize", "--method", "adain", str(images / "content.png"), str(images / "style.jpg"), "-o",
                  str(tmp_path / "o.png"), "--alpha", "1.5"])
        assert exc.value.code == 2
        assert "expected a number in [0, 1]" in capsys.readouterr().err

    def test_alpha_is_refused_by_gatys(self, images, tmp_path, capsys):
        out = tmp_path / "o.png"
        code, err = _run(["stylize", images / "content.png", images / "style.jpg", "-o", out, "--alpha", "0.5"],
                         capsys)
        assert code == 2 and "does not take --alpha" in err and not out.exists()

    def test_missing_weights_name_the_train_command(self, images, tmp_path, capsys):
        out = tmp_path / "o.png"
        code, err = _run(["stylize", "--method", "adain", images / "content.png", images / "style.jpg", "-o", out,
                          "--weights", "adain-paper", "--quiet"], capsys)
        assert code == 2 and "stylelib train adain --profile paper" in err and not out.exists()
        assert err.count("\n") == 1

    def test_train_unknown_model(self, capsys):
        code, err = _run(["train", "cyclegan", "--quiet"], capsys)
        assert code == 2 and "no trainable model 'cyclegan'" in err

    def test_train_ci_profile_registers_weights(self, tmp_path, monkeypatch, capsys):
        monkeypatch.setenv("STYLELIB_WEIGHTS", str(tmp_path / "weights"))
        monkeypatch.setenv("STYLELIB_DATA", str(tmp_path / "no-data"))  # the embedded set: fast and always there
        code, err = _run(["train", "adain", "--profile", "ci", "--run-dir", tmp_path / "run", "--steps", "2",
                          "--quiet"], capsys)
        assert code == 0, err
        assert "registered adain-ci" in err and "psnr_median_db" in err
        assert (tmp_path / "weights" / "adain-ci.safetensors").is_file()
        code, err = _run(["train", "adain", "--profile", "ci", "--run-dir", tmp_path / "run", "--steps", "3",
                          "--resume", "--quiet"], capsys)
        assert code == 0, err
        assert "3 iterations" in err


class TestTrainVariants:
    def test_a_model_without_variants_refuses_one(self, capsys):
        code, err = _run(["train", "adain", "--profile", "ci", "--variant", "no_scp", "--quiet"], capsys)
        assert code == 2 and "adain has no variants" in err


class TestDST:
    KEYPOINTS = "content_y,content_x,style_y,style_x\n0.2,0.2,0.25,0.2\n0.2,0.8,0.2,0.75\n0.8,0.5,0.75,0.5\n0.5,0.5,0.55,0.5\n"

    def test_keypoint_file_run_and_save(self, images, tmp_path, capsys):
        kp, saved, out = tmp_path / "kp.csv", tmp_path / "saved.csv", tmp_path / "dst.png"
        kp.write_text(self.KEYPOINTS)
        code, err = _run(["stylize", "--method", "dst", images / "content.png", images / "style.jpg", "-o", out,
                          "--size", "48", "--steps", "1", "--keypoints", kp, "--save-keypoints", saved, "--quiet"],
                         capsys)
        assert code == 0, err
        assert Image.open(out).size == (48, 40)
        lines = saved.read_text().splitlines()
        assert lines[0] == "content_y,content_x,style_y,style_x,target_y,target_x" and len(lines) == 5
        first = [float(v) for v in lines[1].split(",")]
        assert first[:2] == pytest.approx([0.2, 0.2], abs=1e-5)

    @pytest.mark.parametrize("text, needle", [
        ("a,b\n1,2\n", "not a keypoint file"),
        ("content_y,content_x,style_y,style_x\n0.1,0.1,0.1,x\n0.2,0.2,0.2,0.2\n0.3,0.3,0.3,0.3\n", "line 2 is malformed"),
        ("content_y,content_x,style_y,style_x\n0.1,0.1,0.1,1.5\n0.2,0.2,0.2,0.2\n0.3,0.3,0.3,0.3\n", "out of the image"),
        ("content_y,content_x,style_y,style_x\n0.1,0.1,0.1,0.1\n0.2,0.2,0.2,0.2\n", "at least 3"),
    ])
    def test_bad_keypoint_files_are_one_line_and_write_nothing(self, images, tmp_path, capsys, text, needle):
        kp, out = tmp_path / "kp.csv", tmp_path / "dst.png"
        kp.write_text(text)
        code, err = _run(["stylize", "--method", "dst", images / "content.png", images / "style.jpg", "-o", out,
                          "--size", "48", "--steps", "1", "--keypoints", kp, "--quiet"], capsys)
        assert code == 2 and needle in err and str(kp) in err and len(err.strip().splitlines()) == 1
        assert not out.exists()

    def test_options_of_other_methods_are_refused(self, images, tmp_path, capsys):
        code, err = _run(["stylize", "--method", "gatys", images / "content.png", images / "style.jpg", "-o",
                          tmp_path / "o.png", "--base", "gatys"], capsys)
        assert code == 2 and "does not take --base" in err
