"""The "try it yourself" widget, without a browser: what the button does, and bad uploads."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from stylelib.errors import ImageError
from stylelib.widgets import MAX_UPLOAD_BYTES, UPLOAD, TryIt, image_choices, load_upload, stylize_pair


def _png_bytes(h=48, w=64) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((h, w, 3)) * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_choices_hold_the_embedded_images_at_least():
    contents, styles = image_choices()
    assert any(k.startswith("embedded: ") for k in contents) and any(k.startswith("embedded: ") for k in styles)
    assert all(p.is_file() for p in [*contents.values(), *styles.values()])


def test_uploads_are_checked_like_files():
    x = load_upload("mine.png", _png_bytes(), size=32)
    assert x.shape == (1, 3, 24, 32) and 0 <= x.min() and x.max() <= 1
    with pytest.raises(ImageError, match=r"^notes.txt: "):
        load_upload("notes.txt", b"hello, not an image", size=32)
    with pytest.raises(ImageError, match=r"^cut.png: "):
        load_upload("cut.png", _png_bytes()[:200], size=32)
    with pytest.raises(ImageError, match=r"^big.jpg: file is 20.0 MB; the limit is 20 MB"):
        load_upload("big.jpg", b"\0" * (MAX_UPLOAD_BYTES + 1), size=32)
    with pytest.raises(ImageError, match="empty"):
        load_upload("/some/where/none.png", b"", size=32)


def test_the_button_stylises_and_reports_time_and_metrics():
    t = TryIt("adain", size=64)
    assert t.knob is not None and t.knob.description == "alpha" and t.knob.value == 1.0
    res = t.run()
    assert res is not None and res.image.shape[1] == 3 and res.seconds > 0
    assert all(len(img.value) > 100 for img in t.images)  # content, style and result shown as PNGs
    assert "adain:" in t.status.value and "Gram distance to the style" in t.status.value
    direct = stylize_pair("adain", *[t._image(k) for k in ("content", "style")], alpha=1.0)
    assert direct.metrics["gram"] == pytest.approx(res.metrics["gram"], rel=1e-5)
    assert res.metrics["gram"] < res.metrics["gram_photo"]


def test_a_bad_upload_gives_one_line_in_the_widget_not_a_traceback():
    t = TryIt("adain", size=64)
    t._take_upload("style", [{"name": "broken.jpg", "content": memoryview(b"GIF89a-not-really"), "size": 17}])
    assert t.style.value == UPLOAD
    assert t.run() is None
    assert t.status.value.count("error: broken.jpg: ") == 1 and "Traceback" not in t.status.value
    assert "\n" not in t.status.value and not t.button.disabled
    t.content.value = UPLOAD  # nothing uploaded for the content
    assert t.run() is None and "no file uploaded yet" in t.status.value


def test_unknown_method_fails_in_the_cell():
    with pytest.raises(ValueError):
        TryIt("no_such_method")
