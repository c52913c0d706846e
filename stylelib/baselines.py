"""The trivial baselines every stylizer must beat, and the one test of "moves towards the style".

A lower Gram distance to the style than the content photo's is a weak sign:
a contrast change (``0.8 c + 0.1``) lowers it by a third while keeping every
edge, a 4× blur lowers it by a quarter, and a global colour transfer (the
content's RGB mean and covariance replaced by the style's,
:func:`stylelib.color.match_color`) lowers it further still, with no network
at all.  A method that stylises must therefore beat *the best of these*, and
keep the photo's structure while doing so:

    >>> verdict = towards_style(output, content, style)     # doctest: +SKIP
    >>> verdict.ok, verdict.gram, verdict.bar, verdict.best_baseline   # doctest: +SKIP

``towards_style`` holds when

* the output's Gram distance to the style is at most ``(1 - margin)`` times the
  lowest Gram distance among :func:`trivial_baselines` (the content photo, the
  colour transfer, the contrast change and the blur), and
* the photo's structure survives.  A photorealistic method must keep the
  edges: edge SSIM to the content (:func:`stylelib.metrics.edge_ssim`) at
  least :data:`EDGE_FLOOR`.  An artistic method redraws edges with brush
  strokes (edge SSIM of AdaIN outputs is 0.08-0.29 on our pairs, no higher
  than pasting the style image itself, 0.01-0.17), so its structure test is
  the content distance at relu4_1 (:func:`stylelib.metrics.content_distance`):
  at most ``(1 - margin)`` times that of the style image resized to the
  content (the output is closer to the content than the style is).

By construction a trivial baseline can never pass (it cannot beat itself by a
positive margin); ``tests/test_baselines.py`` checks this on real pairs.  The
margins are stated once here: :data:`MARGIN` (10 %) and the edge floors
:data:`EDGE_FLOOR` for artistic methods (whose brush strokes replace edges)
and for photorealistic ones (which must keep them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from .checks import check_image
from .color import match_color

#: the output must beat the best trivial baseline's Gram distance by this fraction
MARGIN = 0.10
#: lowest edge SSIM to the content for photorealistic methods (a 4× blur reaches about 0.41)
EDGE_FLOOR = 0.5
#: the structure measure of each kind of method
STRUCTURE = {"artistic": "content distance", "photorealistic": "edge SSIM"}
#: the contrast/brightness change that passed the old "lower Gram distance than the photo" tests
CONTRAST_GAIN, CONTRAST_OFFSET = 0.8, 0.1
#: the blur: downsample by this factor and back (bilinear)
BLUR_FACTOR = 4


def contrast_change(content: torch.Tensor, gain: float = CONTRAST_GAIN, offset: float = CONTRAST_OFFSET) -> torch.Tensor:
    """``gain * content + offset``: lower contrast, every edge kept."""
    check_image(content, "contrast_change: content")
    return (gain * content + offset).clamp(0, 1)


def blur(content: torch.Tensor, factor: int = BLUR_FACTOR) -> torch.Tensor:
    """The content downsampled ``factor`` times (area) and upsampled back (bilinear)."""
    check_image(content, "blur: content")
    h, w = content.shape[-2:]
    small = F.interpolate(content, size=(max(1, h // factor), max(1, w // factor)), mode="area")
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)


def colour_transfer(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """The content with the style's RGB mean and covariance (a global affine colour map, no network)."""
    return match_color(content, style)


def trivial_baselines(content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
    """The no-op outputs a stylizer must beat, by name."""
    check_image(content, "trivial_baselines: content")
    check_image(style, "trivial_baselines: style")
    return {
        "content photo": content,
        "colour transfer": colour_transfer(content, style),
        f"contrast {CONTRAST_GAIN:g}·c + {CONTRAST_OFFSET:g}": contrast_change(content),
        f"blur {BLUR_FACTOR}×": blur(content),
    }


@dataclass(frozen=True)
class TowardsStyle:
    """The outcome of :func:`towards_style` with every number behind it."""

    gram: float
    #: Gram distance of each trivial baseline to the style
    baselines: dict[str, float]
    best_baseline: str
    margin: float
    kind: str
    #: the structure measure of ``kind``: edge SSIM to the content (photorealistic) or relu4_1 content distance
    structure: float
    #: what the structure measure must reach (at least for edge SSIM, at most for the content distance)
    structure_bar: float

    @property
    def bar(self) -> float:
        """The Gram distance the output must reach: ``(1 - margin)`` × the best baseline's."""
        return (1 - self.margin) * self.baselines[self.best_baseline]

    @property
    def beats_baselines(self) -> bool:
        return self.gram <= self.bar

    @property
    def structure_metric(self) -> str:
        return STRUCTURE[self.kind]

    @property
    def keeps_structure(self) -> bool:
        if self.kind == "photorealistic":
            return self.structure >= self.structure_bar
        return self.structure <= self.structure_bar

    @property
    def ok(self) -> bool:
        return self.beats_baselines and self.keeps_structure

    def row(self) -> dict[str, float | str | bool]:
        """A flat table row (for a notebook's quality table)."""
        return {"Gram dist. output→style": self.gram, "best trivial baseline": self.best_baseline,
                "its Gram dist.": self.baselines[self.best_baseline], "Gram bar": self.bar,
                self.structure_metric: self.structure, "structure bar": self.structure_bar,
                "moves towards the style": self.ok}

    def __str__(self) -> str:
        cmp = "≥" if self.kind == "photorealistic" else "≤"
        return (f"Gram {self.gram:.3f} vs bar {self.bar:.3f} ({1 - self.margin:.2f} × {self.best_baseline} "
                f"{self.baselines[self.best_baseline]:.3f}); {self.structure_metric} {self.structure:.3f} "
                f"(needs {cmp} {self.structure_bar:.3f}): {'moves towards the style' if self.ok else 'does not'}")

    def to_dict(self) -> dict:
        return asdict(self) | {"bar": self.bar, "beats_baselines": self.beats_baselines,
                               "keeps_structure": self.keeps_structure, "ok": self.ok}


@torch.no_grad()
def towards_style(output: torch.Tensor, content: torch.Tensor, style: torch.Tensor, *,
                  kind: str = "artistic", margin: float = MARGIN,
                  baselines: dict[str, float] | None = None) -> TowardsStyle:
    """Whether ``output`` moves ``content`` towards ``style`` by more than a trivial baseline does.

    ``kind`` (``"artistic"`` or ``"photorealistic"``) picks the structure
    test; ``baselines`` (name → Gram distance) reuses distances already
    computed for the same pair.
    """
    from .metrics import content_distance, edge_ssim, gram_distance

    check_image(output, "towards_style: output")
    if kind not in STRUCTURE:
        raise ValueError(f"towards_style: kind must be one of {', '.join(STRUCTURE)}, got {kind!r}")
    if baselines is None:
        baselines = {name: gram_distance(img, style) for name, img in trivial_baselines(content, style).items()}
    best = min(baselines, key=baselines.get)
    if kind == "photorealistic":
        structure, bar = edge_ssim(output, content), EDGE_FLOOR
    else:
        copy = F.interpolate(style.to(content.dtype), size=content.shape[-2:], mode="bilinear", align_corners=False)
        structure = content_distance(output, content)
        bar = (1 - margin) * content_distance(copy.clamp(0, 1), content)
    return TowardsStyle(gram=gram_distance(output, style), baselines=dict(baselines), best_baseline=best,
                        margin=margin, kind=kind, structure=structure, structure_bar=bar)
