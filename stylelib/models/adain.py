"""Arbitrary style transfer with adaptive instance normalisation (AdaIN).

"Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization", X. Huang and S. Belongie, ICCV 2017, pp. 1501-1510.

A fixed VGG-19 encoder ``f`` (up to relu4_1) maps content ``c`` and style
``s`` to features; the AdaIN layer gives the content features the style's
channel-wise mean and standard deviation (Eq. 8)::

    t = sigma(f(s)) * (f(c) - mu(f(c))) / sigma(f(c)) + mu(f(s))

and a decoder ``g`` (the mirror of the encoder) maps ``t`` back to an image.
Only ``g`` is trained, with a content loss on the AdaIN target and the
mean/std style loss on relu1_1..relu4_1 (Eqs. 11-13)::

    L = || f(g(t)) - t ||^2 + lambda * sum_i ( ||mu(phi_i(g(t))) - mu(phi_i(s))||^2
                                             + ||sigma(phi_i(g(t))) - sigma(phi_i(s))||^2 )

At test time (Sec. 7.1): the trade-off ``alpha`` decodes
``alpha * t + (1 - alpha) * f(c)``; several styles are interpolated by
mixing their AdaIN targets with weights; spatial control applies a
different style inside each content mask; colour is preserved by matching
the style image's colours to the content's before transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from ..checks import check_features
from ..color import match_color
from ..images import pad_to_multiple
from ..losses import mean_std, mean_std_style_loss
from ..precision import features_in
from ..vgg import ACTIVATION_SCALE, VGG19Features
from .decoders import MirrorDecoder
from .paper_config import TrainingConfig, deviation_rows

ENCODER_LAYER = "relu4_1"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


@dataclass
class AdaINConfig(TrainingConfig):
    """Hyper-parameters of AdaIN training; :meth:`deviations` lists paper vs ours.

    The defaults are the ``quick`` profile (minutes on a 2-core CPU);
    :meth:`paper` gives the paper's settings (hours on a GPU).
    """

    encoder_layer: str = ENCODER_LAYER
    style_layers: tuple[str, ...] = STYLE_LAYERS
    content_weight: float = 1.0
    style_weight: float = 10.0
    #: fraction of each batch stylised with its own content image as the style (0 in the paper)
    self_style_fraction: float = 0.25
    lr: float = 2e-4
    #: learning-rate decay lr / (1 + lr_decay * step), as in the authors' public training code
    lr_decay: float = 5e-5
    #: linear learning-rate warm-up over this many steps (none in the paper)
    warmup: int = 100
    steps: int = 3000
    #: wall-time budget of one invocation in seconds (None: no limit)
    seconds: float | None = 1200.0
    eps: float = 1e-5
    #: registered relu4_1 reconstruction decoder to start from (None: random initialisation, as the paper)
    init_from: str | None = "wct-quick-relu4_1"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.style_layers = tuple(self.style_layers)
        if not 0 <= self.self_style_fraction < 1:
            raise ValueError(f"self_style_fraction must be in [0, 1), got {self.self_style_fraction}")

    @classmethod
    def ci(cls) -> "AdaINConfig":
        return cls(steps=4, crop=64, load_size=96, batch_size=2, seconds=None, checkpoint_every=2, init_from=None,
                   profile="ci")

    @classmethod
    def paper(cls) -> "AdaINConfig":
        return cls(lr=1e-4, warmup=0, init_from=None, batch_size=8, crop=256, load_size=512, steps=160_000, seconds=None,
                   self_style_fraction=0.0, precision="fp32", checkpoint_every=2000, profile="paper")


    def deviations(self) -> list[dict[str, str]]:
        """Rows ``{parameter, paper, ours, why}`` for the settings that differ from the paper."""
        paper = self.paper()
        why = {
            "lr": "a 50x shorter run, fine-tuning a decoder that already reconstructs (see init_from)",
            "crop": "CPU budget (the decoder is fully convolutional and runs at any size)",
            "load_size": "keeps the paper's ratio of crop to resized image (1:2)",
            "steps": "CPU minutes instead of hours on a GPU (the run's time: weights table)",
            "self_style_fraction": "ours: a quarter of the batch uses its own content as style, which "
                                   "trains reconstruction (alpha = 0) directly in the short run",
            "init_from": "ours starts from the WCT relu4_1 decoder (same architecture, trained only to "
                         "reconstruct): from random weights a CPU-length run leaves style texture on the "
                         "reconstructions",
        }
        return deviation_rows(self, paper, why)


# ----------------------------------------------------------------------------- the AdaIN operation
def adain(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Eq. 8: ``content`` features normalised per channel, then given ``style``'s mean and std.

    ``content`` is ``[N, C, H, W]``; ``style`` is ``[N or 1, C, H', W']``.
    """
    check_features(content, "adain: content")
    check_features(style, "adain: style", channels=content.shape[1])
    cm, cs = mean_std(content, eps)
    sm, ss = mean_std(style, eps)
    return (content - cm) / cs * ss + sm


def _masked_stats(f: torch.Tensor, mask: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    w = mask / mask.sum((-2, -1), keepdim=True).clamp_min(1e-8)
    mean = (f * w).sum((-2, -1), keepdim=True)
    var = ((f - mean) ** 2 * w).sum((-2, -1), keepdim=True)
    return mean, (var + eps).sqrt()


def adain_masked(content: torch.Tensor, styles: Sequence[torch.Tensor], masks: Sequence[torch.Tensor],
                 eps: float = 1e-5) -> torch.Tensor:
    """Spatial control (Sec. 7.1): inside content mask ``k``, AdaIN with ``styles[k]``'s statistics.

    The content statistics are computed inside each mask; ``masks`` are
    ``[1, 1, h, w]`` (any size: resized to the features) and should sum to 1.
    """
    if len(styles) != len(masks) or not styles:
        raise ValueError(f"adain_masked: need one mask per style, got {len(styles)} styles and {len(masks)} masks")
    out = torch.zeros_like(content)
    for s, m in zip(styles, masks):
        m = F.interpolate(m.to(content.dtype), size=content.shape[-2:], mode="bilinear", align_corners=False)
        cm, cs = _masked_stats(content, m, eps)
        sm, ss = mean_std(s, eps)
        out = out + m * ((content - cm) / cs * ss + sm)
    return out


# ----------------------------------------------------------------------------- the network
class AdaINNet(torch.nn.Module):
    """Frozen VGG-19 encoder to relu4_1 plus the trainable mirror decoder."""

    def __init__(self, cfg: AdaINConfig | None = None):
        super().__init__()
        self.cfg = cfg or AdaINConfig()
        self.encoder = VGG19Features(self.cfg.style_layers, last_layer=self.cfg.encoder_layer)
        self.decoder = MirrorDecoder(self.cfg.encoder_layer)

    def encode(self, x: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        layers = tuple(layers or (self.cfg.encoder_layer,))
        return features_in(self.cfg.precision, self.encoder, x, layers)

    def losses(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        """The training losses of one batch (Eqs. 11-13)."""
        cfg = self.cfg
        with torch.no_grad():
            fc = self.encode(content)[cfg.encoder_layer]
            fs = self.encode(style, cfg.style_layers)
            t = adain(fc, fs[cfg.encoder_layer], cfg.eps)
        out = self.decoder(t)
        fo = self.encode(out, cfg.style_layers)
        # features divided by each layer's typical activation (see vgg.ACTIVATION_SCALE): the
        # authors' "normalised" VGG has activations near 1, and the weights 1 and 10 assume it
        scale = {k: 1.0 / ACTIVATION_SCALE[k] for k in cfg.style_layers}
        top = cfg.encoder_layer
        lc = F.mse_loss(fo[top] * scale[top], t * scale[top])
        # per-sample statistics: each output is compared with its own style image
        ls = mean_std_style_loss({k: fo[k] * scale[k] for k in cfg.style_layers},
                                 {k: fs[k] * scale[k] for k in cfg.style_layers})
        return {"loss": cfg.content_weight * lc + cfg.style_weight * ls, "content": lc, "style": ls}

    @torch.no_grad()
    def reconstruct(self, image: torch.Tensor) -> torch.Tensor:
        """``g(f(c))``: the decoder applied to the content's own features (alpha = 0)."""
        x, (h, w) = pad_to_multiple(image, 8)
        return self.decoder(self.encode(x)[self.cfg.encoder_layer]).clamp(0, 1)[..., :h, :w]


# ----------------------------------------------------------------------------- test time (Sec. 7.1)
@torch.no_grad()
def stylize(net: AdaINNet, content: torch.Tensor, style: torch.Tensor | Sequence[torch.Tensor], *,
            alpha: float = 1.0, style_weights: Sequence[float] | None = None,
            masks: Sequence[torch.Tensor] | None = None, preserve_color: str = "none") -> torch.Tensor:
    """Stylise ``content`` ``[1, 3, H, W]`` with ``net`` and one style or several (Huang & Belongie 2017, Sec. 7.1).

    ``alpha`` in [0, 1] trades content (0) for style (1).  With several
    styles, ``style_weights`` interpolates their AdaIN targets (default:
    equal weights), or ``masks`` (one ``[1, 1, H, W]`` per style) applies
    each inside its region.  ``preserve_color="histogram"`` first matches
    each style's colour mean and covariance to the content's.
    The registered decoder: :func:`stylelib.recipes.adain.stylize_adain`.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if preserve_color not in ("none", "histogram"):
        raise ValueError(f"adain: preserve_color must be 'none' or 'histogram', got {preserve_color!r}")
    styles = [style] if isinstance(style, torch.Tensor) else list(style)
    if not styles:
        raise ValueError("adain: no style image given")
    if preserve_color == "histogram":
        styles = [match_color(s, content) for s in styles]
    x, (h, w) = pad_to_multiple(content, 8)
    layer = net.cfg.encoder_layer
    content_features = net.encode(x)[layer]
    style_features = [net.encode(s)[layer] for s in styles]
    if masks is not None:
        target = adain_masked(content_features, style_features, [pad_to_multiple(m, 8)[0] for m in masks],
                              net.cfg.eps)
    else:
        if style_weights is None:
            style_weights = [1.0 / len(styles)] * len(styles)
        if len(style_weights) != len(styles):
            raise ValueError(f"adain: {len(styles)} styles but {len(style_weights)} style weights")
        total = float(sum(style_weights))
        if total <= 0:
            raise ValueError("adain: style weights must sum to a positive number")
        target = sum(weight / total * adain(content_features, features, net.cfg.eps)
                     for weight, features in zip(style_weights, style_features))
    target = alpha * target + (1 - alpha) * content_features
    return net.decoder(target).clamp(0, 1)[..., :h, :w]
