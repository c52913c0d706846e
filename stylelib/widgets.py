""""Try it yourself": the interactive section at the end of every paper notebook.

One call in a notebook::

    from stylelib.widgets import try_it
    try_it("adain", knob="alpha")

shows a content and a style picker (the images of every available set, or an
upload of your own), the method's main knob, a button, and the result beside
the inputs with its time and metrics.  Everything a widget does goes through
:func:`stylize_pair`, which the tests call without a browser.  A bad upload
(not an image, too large, truncated) or a failing method prints the suite's
one-line error in the widget's status line, never a traceback.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from . import catalog
from .errors import StylelibError

#: the largest upload accepted, in bytes
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: each method's main knob: option name, (min, max, step, default)
KNOBS: dict[str, tuple[str, tuple[float, float, float, float]]] = {
    "adain": ("alpha", (0.0, 1.0, 0.05, 1.0)),
    "wct": ("alpha", (0.0, 1.0, 0.05, 1.0)),
    "wct2": ("alpha", (0.0, 1.0, 0.05, 1.0)),
    "fa_scp": ("passes", (1, 3, 1, 1)),
    "gatys": ("steps", (5, 300, 5, 50)),
    "dpst": ("steps", (5, 300, 5, 50)),
    "dst": ("steps", (5, 100, 5, 30)),
    "strotss": ("steps", (5, 100, 5, 30)),
    "consistency_pair": ("steps", (10, 500, 10, 100)),
}
#: CSS classes, so that browser tests find the parts by meaning
CSS = {"content": "stylelib-try-content", "style": "stylelib-try-style", "knob": "stylelib-try-knob",
       "run": "stylelib-try-run", "status": "stylelib-try-status", "result": "stylelib-try-result",
       "upload_content": "stylelib-try-upload-content", "upload_style": "stylelib-try-upload-style"}
UPLOAD = "(your upload)"


def image_choices() -> tuple[dict[str, Path], dict[str, Path]]:
    """``(contents, styles)``: name → file for every image of the available sets (embedded always)."""
    from .data import available_sets, get_set

    contents: dict[str, Path] = {}
    styles: dict[str, Path] = {}
    for set_name in available_sets():
        s = get_set(set_name)
        for pair in s.pairs:
            contents.setdefault(f"{set_name}: {pair.content.name}", Path(pair.content.path))
            styles.setdefault(f"{set_name}: {pair.style.name}", Path(pair.style.path))
    return contents, styles


def load_upload(name: str, data: bytes, *, size: int) -> torch.Tensor:
    """An uploaded file as ``[1, 3, H, W]`` (long side ``size``), or an :class:`ImageError` naming it.

    The bytes are checked by :func:`stylelib.images.load_image` exactly as a
    file on disk would be (format, truncation, decompression bombs).
    """
    from .errors import ImageError
    from .images import load_image

    label = os.path.basename(name) or "upload"
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(label, f"file is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB")
    if not data:
        raise ImageError(label, "file is empty")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{Path(label).suffix}"
        path.write_bytes(data)
        try:
            return load_image(path, size=size)
        except ImageError as exc:
            raise ImageError(label, exc.problem) from None


@dataclass
class Result:
    """What one press of the button produced."""

    image: torch.Tensor
    seconds: float
    metrics: Mapping[str, float]

    def summary(self, method: str, size: int) -> str:
        m = self.metrics
        return (f"{method}: {self.seconds:.2f} s at {size} px; Gram distance to the style {m['gram']:.3f} "
                f"(content photo {m['gram_photo']:.3f}, colour transfer {m['gram_colour']:.3f}); "
                f"SSIM to the content {m['ssim']:.2f}")


def stylize_pair(method: str, content: torch.Tensor, style: torch.Tensor, **options: Any) -> Result:
    """Run ``method`` from the catalog on one pair, timed, with the metrics the widget shows."""
    from .baselines import colour_transfer
    from .metrics import gram_distance, ssim

    fn = catalog.get(method).fn
    t0 = time.perf_counter()
    with torch.no_grad():
        out = fn(content, style, **options)
    seconds = time.perf_counter() - t0
    out = out.clamp(0, 1)
    metrics = {"gram": gram_distance(out, style), "gram_photo": gram_distance(content, style),
               "gram_colour": gram_distance(colour_transfer(content, style), style), "ssim": ssim(out, content)}
    return Result(out, seconds, metrics)


def _png(x: torch.Tensor) -> bytes:
    from .images import to_pil

    buf = io.BytesIO()
    to_pil(x).save(buf, format="PNG")
    return buf.getvalue()


class TryIt:
    """The widget (:attr:`box`) and its parts; :meth:`run` is what the button does."""

    def __init__(self, method: str, *, knob: str | None = None, size: int = 256,
                 content: str | None = None, style: str | None = None):
        import ipywidgets as w

        catalog.get(method)  # an unknown method fails here, in the notebook cell, with the catalog's message
        self.method, self.size = method, size
        self.contents, self.styles = image_choices()
        if knob is None and method in KNOBS:
            knob = KNOBS[method][0]
        self.knob_name = knob
        self.uploads: dict[str, tuple[str, bytes] | None] = {"content": None, "style": None}

        def picker(kind: str, options: dict[str, Path], default: str | None) -> Any:
            names = [*options, UPLOAD]
            d = w.Dropdown(options=names, value=default if default in names else names[0],
                           description=kind, layout=w.Layout(width="380px"))
            d.add_class(CSS[kind])
            return d

        self.content = picker("content", self.contents, content)
        self.style = picker("style", self.styles, style)
        self.upload_content = w.FileUpload(accept="image/*", multiple=False, description="upload content")
        self.upload_style = w.FileUpload(accept="image/*", multiple=False, description="upload style")
        self.upload_content.add_class(CSS["upload_content"])
        self.upload_style.add_class(CSS["upload_style"])
        self.upload_content.observe(lambda ch: self._take_upload("content", ch["new"]), names="value")
        self.upload_style.observe(lambda ch: self._take_upload("style", ch["new"]), names="value")
        self.knob = None
        if knob is not None:
            lo, hi, step, default = KNOBS.get(method, (knob, (0.0, 1.0, 0.05, 1.0)))[1]
            cls = w.IntSlider if all(float(v).is_integer() for v in (lo, hi, step, default)) else w.FloatSlider
            self.knob = cls(value=default, min=lo, max=hi, step=step, description=knob)
            self.knob.add_class(CSS["knob"])
        self.button = w.Button(description=f"run {method}", button_style="primary")
        self.button.add_class(CSS["run"])
        self.button.on_click(lambda _: self.run())
        self.status = w.HTML(value="pick two images and press the button")
        self.status.add_class(CSS["status"])
        self.images = [w.Image(format="png", layout=w.Layout(max_width="240px")) for _ in range(3)]
        self.result = w.HBox(self.images)
        self.result.add_class(CSS["result"])
        controls = [w.HBox([self.content, self.upload_content]), w.HBox([self.style, self.upload_style])]
        if self.knob is not None:
            controls.append(self.knob)
        self.box = w.VBox([*controls, self.button, self.status, self.result])
        self.last: Result | None = None

    def _take_upload(self, kind: str, value) -> None:
        files = list(value) if value else []
        if not files:
            return
        f = files[0]
        self.uploads[kind] = (f["name"], bytes(f["content"]))
        (self.content if kind == "content" else self.style).value = UPLOAD

    def _image(self, kind: str) -> torch.Tensor:
        from .images import load_image

        picker = self.content if kind == "content" else self.style
        if picker.value == UPLOAD:
            up = self.uploads[kind]
            if up is None:
                raise StylelibError(f"{kind}: no file uploaded yet; use the 'upload {kind}' button")
            return load_upload(up[0], up[1], size=self.size)
        files = self.contents if kind == "content" else self.styles
        return load_image(files[picker.value], size=self.size)

    def run(self) -> Result | None:
        """Stylise the chosen pair; a one-line error in the status line on failure."""
        self.button.disabled = True
        self.status.value = f"running {self.method} ..."
        try:
            content, style = self._image("content"), self._image("style")
            options = {self.knob_name: self.knob.value} if self.knob is not None else {}
            res = stylize_pair(self.method, content, style, **options)
        except (StylelibError, ValueError, OSError, RuntimeError) as exc:
            self.status.value = f"<span style='color:#b00'>error: {_escape(str(exc).splitlines()[0])}</span>"
            return None
        finally:
            self.button.disabled = False
        for widget, x in zip(self.images, (content, style, res.image)):
            widget.value = _png(x)
        self.status.value = _escape(res.summary(self.method, self.size))
        self.last = res
        return res


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def try_it(method: str, *, knob: str | None = None, size: int = 256, content: str | None = None,
           style: str | None = None):
    """The "try it yourself" widget for ``method`` (see the module docstring); display it as a cell's value."""
    return TryIt(method, knob=knob, size=size, content=content, style=style).box
