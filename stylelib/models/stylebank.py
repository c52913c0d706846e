"""StyleBank: one auto-encoder, one explicit convolution filter bank per style.

"StyleBank: An Explicit Representation for Neural Image Style Transfer",
D. Chen, L. Yuan, J. Liao, N. Yu, G. Hua, CVPR 2017 (arXiv 1703.09210).

An encoder ``E`` (a 9x9 convolution and two stride-2 3x3 convolutions, each
followed by instance norm and ReLU) maps a photo ``I`` to features ``F``; a
decoder ``D`` (two stride-1/2 transposed convolutions and a 9x9 convolution)
maps features back to an image.  Every style ``i`` owns one linear 3x3
convolution ``K_i`` (its *filter bank*, 128 -> 128 channels).  Two branches
share ``E`` and ``D``::

    auto-encoder branch   O   = D(E(I))            L_I = mean((O - I)^2)
    stylizing branch      O_i = D(K_i * E(I))      L_K = a L_c(O_i, I) + b L_s(O_i, S_i) + c L_tv(O_i)

They are trained in turn, ``T`` stylizing steps then one auto-encoder step
(the "(T+1)-step alternating" schedule, T = 2), with two Adam optimisers;
in the auto-encoder step the gradients of ``E`` and ``D`` are rescaled so
that their mean magnitude matches that of the latest stylizing step
(gradient balancing).  Because the auto-encoder must reconstruct photos, the
style is pushed into the banks.  Consequences the paper demonstrates:

* **incremental learning**: a new style is a new bank trained alone with
  ``E`` and ``D`` frozen (``stylelib.recipes.stylebank.train_incremental``);
* **linear fusion**: ``D((sum_i w_i K_i) * F)`` (:meth:`StyleBankNet.fuse_linear`);
* **region fusion** (paper Eq. 6): ``D(sum_i K_i * (M_i x F))`` with masks
  from K-means on the features (:meth:`StyleBankNet.fuse_regions`,
  :func:`kmeans_masks`).

The style loss compares Gram matrices per sample: a batch mixes styles, and
one Gram matrix over the whole batch (as some public reimplementations do)
would average them.  The perceptual network is our VGG-19 at the layers of
the paper's VGG-16 with the same names (relu1_2, relu2_2, relu3_2, relu4_2
for style; relu4_2 for content), which exist in both networks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_image
from ..precision import features_in
from ..errors import StylelibError
from ..images import pad_to_multiple
from ..kmeans import kmeans
from ..losses import gram_matrix, gram_style_loss, tv_loss
from ..vgg import VGG19Features
from .paper_config import TrainingConfig, deviation_rows

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_2", "relu4_2")
CONTENT_LAYER = "relu4_2"
#: channel widths of the encoder blocks e1, e2, e3 (the bank acts on e3's output)
WIDTHS = (32, 64, 128)
#: the encoder downsamples by this factor; images are padded to a multiple of it
STRIDE = 4


class StyleBankError(StylelibError, ValueError):
    """A bad StyleBank request: an unknown style, weights or masks that do not fit."""


@dataclass
class StyleBankConfig(TrainingConfig):
    """Hyper-parameters of StyleBank training; :meth:`deviations` lists paper vs ours.

    The defaults are the ``quick`` profile (CPU minutes: the multi-style run
    plus the incremental comparison); :meth:`paper` gives the paper's
    settings as far as they are known.
    """

    #: perceptual network: VGG-16 in the paper; our VGG-19 at the same layer names
    vgg: str = "vgg19 (relu1_2, relu2_2, relu3_2, relu4_2 / relu4_2)"
    style_layers: tuple[str, ...] = STYLE_LAYERS
    content_layer: str = CONTENT_LAYER
    content_weight: float = 1.0
    style_weight: float = 2.0
    tv_weight: float = 1e4
    #: number of stylizing steps per auto-encoder step (the "T" of the (T+1)-step schedule)
    T: int = 2
    #: rescale the auto-encoder step's E/D gradients to the latest stylizing step's mean magnitude
    balance_gradients: bool = True
    balance_lambda: float = 1.0
    lr: float = 1e-3
    #: learning rate multiplied by lr_decay_factor every lr_decay_every steps
    lr_decay_every: int = 100_000
    lr_decay_factor: float = 0.8
    #: short side of each style image when its Gram targets are computed
    style_size: int = 256
    #: styles of the multi-style run: the first n_styles of the style group (art "sb_": StyleBank's own)
    n_styles: int = 8
    style_group: str = "sb_"
    steps: int = 100_000
    seconds: float | None = 1260.0
    #: the incremental-learning comparison: budget of the new bank alone (E, D frozen) ...
    incremental_steps: int = 10_000
    incremental_seconds: float | None = 240.0
    #: ... and of the whole network trained from scratch for that style alone
    single_steps: int = 100_000
    single_seconds: float | None = 720.0
    checkpoint_every: int = 100
    #: size of the held-out photos whose reconstruction PSNR is registered
    psnr_size: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        self.style_layers = tuple(self.style_layers)
        if self.T < 0:
            raise ValueError(f"T (stylizing steps per auto-encoder step) must be >= 0, got {self.T}")
        if self.n_styles < 1:
            raise ValueError(f"n_styles must be at least 1, got {self.n_styles}")
        if self.crop % STRIDE:
            raise ValueError(f"crop must be a multiple of {STRIDE}, got {self.crop}")

    @classmethod
    def ci(cls) -> "StyleBankConfig":
        return cls(steps=6, seconds=None, incremental_steps=4, incremental_seconds=None,
                                   single_steps=6, single_seconds=None, crop=32, load_size=48, style_size=48,
                                   batch_size=2, n_styles=2, psnr_size=64, checkpoint_every=3, profile="ci")

    @classmethod
    def paper(cls) -> "StyleBankConfig":
        return cls(vgg="vgg16 (relu1_2, relu2_2, relu3_2, relu4_2 / relu4_2)", style_weight=1e6, tv_weight=1e-5,
                   crop=512, load_size=512, style_size=512, n_styles=50, steps=300_000, seconds=None,
                   incremental_steps=20_000, incremental_seconds=None, single_steps=300_000, single_seconds=None,
                   lr_decay_every=30_000, checkpoint_every=2000, precision="fp32", profile="paper")

    def deviations(self) -> list[dict[str, str]]:
        """Rows ``{parameter, paper, ours, why}`` for the settings that differ from the paper."""
        why = {
            "vgg": "the suite ships VGG-19 only; the paper's layer names exist in it with the same roles (Sec. 4)",
            "style_weight": "our Caffe-scale VGG-19 features differ from torchvision VGG-16's: set so the style "
                            "term starts above the content term (docs/methods/02_stylebank.md; see figures/02_stylebank/deviations.md)",
            "tv_weight": "our TV is a mean over pixels (theirs a sum) and our content term is in Caffe units",
            "crop": "CPU budget: smaller crops (see figures/02_stylebank/deviations.md)",
            "load_size": "photos resized to short side 256, so a crop sees half the picture's height",
            "style_size": "style Grams at the scale of the training crops' source images",
            "n_styles": "8 of StyleBank's 16 styles fit the CPU budget; the next one is the incremental style",
            "steps": "the run stops at its time budget (seconds), not at an iteration count",
            "seconds": "CPU time budget instead of 300k GPU iterations (Sec. 4)",
            "incremental_steps": "time-limited instead (incremental_seconds)",
            "incremental_seconds": "CPU time budget for the new bank alone",
            "single_steps": "time-limited instead (single_seconds)",
            "single_seconds": "the whole network for the new style gets 3x the bank's time (the paper compares "
                              "with a full training, Sec. 4.3)",
            "lr_decay_every": "no decay within our short run",
            "precision": "bf16 autocast in the VGG passes for CPU speed (see figures/02_stylebank/deviations.md)",
        }
        return deviation_rows(self, self.paper(), why)


# ----------------------------------------------------------------------------- the network
def _conv_block(cin: int, cout: int, k: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride),
                         nn.InstanceNorm2d(cout, affine=True), nn.ReLU())


def _up_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
                         nn.InstanceNorm2d(cout, affine=True), nn.ReLU())


def apply_bank(features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
               mask: torch.Tensor | None = None) -> torch.Tensor:
    """``K * (M x F)``: a linear 3x3 filter bank on (masked) features, reflection padded.

    The bias is treated as the bank's response to a constant channel, so it
    is masked too; with ``mask`` all ones the result is bit-identical to the
    unmasked bank.
    """
    x = features if mask is None else features * mask
    out = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), weight)
    b = bias.view(1, -1, 1, 1)
    return out + (b if mask is None else b * mask)


class StyleBankNet(nn.Module):
    """Encoder, decoder and one 3x3 filter bank per style (Chen et al. 2017, Fig. 2).

    ``style_names`` names the banks in order.  :meth:`forward` takes an
    image batch and per-sample style ids (``None``: the auto-encoder branch).
    """

    def __init__(self, style_names: Sequence[str]):
        super().__init__()
        c1, c2, c3 = WIDTHS
        self.encoder = nn.Sequential(_conv_block(3, c1, 9, 1), _conv_block(c1, c2, 3, 2), _conv_block(c2, c3, 3, 2))
        self.decoder = nn.Sequential(_up_block(c3, c2), _up_block(c2, c1), nn.ReflectionPad2d(4), nn.Conv2d(c1, 3, 9))
        self.style_names: list[str] = []
        self.banks = nn.ModuleList()
        for name in style_names:
            self.add_bank(name)

    def add_bank(self, name: str, bank: nn.Conv2d | None = None) -> int:
        """Append a bank (new and randomly initialised unless given); return its index."""
        if name in self.style_names:
            raise StyleBankError(f"style {name!r} already has a bank")
        c = WIDTHS[-1]
        self.banks.append(bank if bank is not None else nn.Conv2d(c, c, 3, padding=1))
        self.style_names.append(name)
        return len(self.banks) - 1

    def index(self, style: int | str) -> int:
        if isinstance(style, str):
            if style not in self.style_names:
                raise StyleBankError(f"no bank for style {style!r}; have {', '.join(self.style_names)}")
            return self.style_names.index(style)
        if not 0 <= int(style) < len(self.banks):
            raise StyleBankError(f"bank index {style} out of range (0..{len(self.banks) - 1})")
        return int(style)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        check_image(x, "StyleBank", multiple=STRIDE)
        return self.encoder(x)

    def bank(self, features: torch.Tensor, style: int | str, mask: torch.Tensor | None = None) -> torch.Tensor:
        k = self.banks[self.index(style)]
        return apply_bank(features, k.weight, k.bias, mask)

    def forward(self, x: torch.Tensor, style_ids: torch.Tensor | Sequence[int] | None = None) -> torch.Tensor:
        f = self.encode(x)
        if style_ids is None:
            return self.decoder(f)
        ids = [int(i) for i in style_ids]
        if len(ids) != x.shape[0]:
            raise StyleBankError(f"{len(ids)} style ids for a batch of {x.shape[0]}")
        out = torch.empty_like(f)
        for i in sorted(set(ids)):
            rows = [n for n, s in enumerate(ids) if s == i]
            out[rows] = self.bank(f[rows], i)
        return self.decoder(out)

    # --------------------------------------------------------------- test time
    @torch.no_grad()
    def _run(self, image: torch.Tensor, fn) -> torch.Tensor:
        x, (h, w) = pad_to_multiple(image, STRIDE)
        return fn(self.encode(x)).clamp(0, 1)[..., :h, :w]

    def stylize(self, image: torch.Tensor, style: int | str) -> torch.Tensor:
        """``D(K_style * E(I))``, clamped to [0, 1]."""
        return self._run(image, lambda f: self.decoder(self.bank(f, style)))

    def reconstruct(self, image: torch.Tensor) -> torch.Tensor:
        """The auto-encoder branch ``D(E(I))``, clamped to [0, 1]."""
        return self._run(image, self.decoder)

    def fuse_linear(self, image: torch.Tensor, weights: dict[int | str, float] | Sequence[float]) -> torch.Tensor:
        """Linear fusion: ``D((sum_i w_i K_i) * F)``; the weights are normalised to sum to 1."""
        items = list(weights.items()) if isinstance(weights, dict) else list(enumerate(weights))
        total = float(sum(w for _, w in items))
        if not items or total <= 0 or any(w < 0 for _, w in items):
            raise StyleBankError(f"fusion weights must be non-negative and sum to a positive number, got {items}")
        wsum = torch.zeros_like(self.banks[0].weight)
        bsum = torch.zeros_like(self.banks[0].bias)
        for style, w in items:
            k = self.banks[self.index(style)]
            wsum = wsum + (w / total) * k.weight
            bsum = bsum + (w / total) * k.bias
        return self._run(image, lambda f: self.decoder(apply_bank(f, wsum, bsum)))

    def fuse_regions(self, image: torch.Tensor, styles: Sequence[int | str], masks: torch.Tensor) -> torch.Tensor:
        """Region fusion (paper Eq. 6): ``D(sum_i K_i * (M_i x F))``.

        ``masks`` is ``[m, h, w]`` or ``[m, 1, h, w]`` (one per style, any size:
        resized to the feature map by nearest neighbour); they should sum to 1.
        """
        if masks.dim() == 3:
            masks = masks[:, None]
        if masks.dim() != 4 or masks.shape[0] != len(styles) or not len(styles):
            raise StyleBankError(f"region fusion needs one mask per style: {len(styles)} styles, masks "
                                 f"{tuple(masks.shape)}")

        return self._run(image, lambda f: self.decoder(self.region_features(f, styles, masks)))

    def region_features(self, features: torch.Tensor, styles: Sequence[int | str], masks: torch.Tensor) -> torch.Tensor:
        """``sum_i K_i * (M_i x F)`` with ``masks`` ``[m, 1, h, w]`` resized (nearest) to the features."""
        m = F.interpolate(masks.to(features.dtype), size=features.shape[-2:], mode="nearest")
        out = None
        for i, s in enumerate(styles):
            term = self.bank(features, s, m[i:i + 1])
            out = term if out is None else out + term
        return out

    def encoder_decoder_state(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.state_dict().items() if not k.startswith("banks.")}


@torch.no_grad()
def kmeans_masks(net: StyleBankNet, image: torch.Tensor, k: int, *, seed: int = 0, n_init: int = 10) -> torch.Tensor:
    """Region masks ``[k, h/4, w/4]`` (one-hot) from K-means on the L2-normalised encoder features.

    The paper says only that the regions are "automatically segmented with
    K-means"; clustering the encoder features, each position's 128-vector
    normalised to unit length, is our reading (docs/methods/02_stylebank.md).  Clusters are
    ordered by size (largest first).
    """
    f = net.encode(pad_to_multiple(image, STRIDE)[0])[0]
    c, fh, fw = f.shape
    pts = F.normalize(f.reshape(c, -1).T, dim=1)
    labels, _ = kmeans(pts, k, seed=seed, n_init=n_init)
    counts = torch.bincount(labels, minlength=k)
    order = torch.argsort(counts, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(k)
    return F.one_hot(rank[labels], k).T.reshape(k, fh, fw).float()


# ----------------------------------------------------------------------------- losses
class StyleBankLoss(nn.Module):
    """The perceptual losses ``L_K`` (content, per-sample Gram style, TV) with fixed style targets.

    ``style_images`` (one per bank, ``[1, 3, H, W]`` each) give each style's
    Gram matrices once, at ``cfg.style_size``; the loss of a batch compares
    sample ``n``'s Grams with those of its own style ``style_ids[n]``.
    """

    def __init__(self, cfg: StyleBankConfig, style_images: Sequence[torch.Tensor] = ()):
        super().__init__()
        self.cfg = cfg
        self.vgg = VGG19Features((*cfg.style_layers, cfg.content_layer))
        # Grams normalised by C*H*W, as the public reimplementations do: gram_style_loss's
        # H*W-normalised Grams, weighted by 1/C^2 per layer
        self.layer_weights = {k: 1.0 / self.vgg.body[self._conv_index(k)].out_channels ** 2 for k in cfg.style_layers}
        self.targets: list[dict[str, torch.Tensor]] = []
        for s in style_images:
            self.add_style(s)

    def _conv_index(self, layer: str) -> int:
        return self.vgg.names.index(layer.replace("relu", "conv"))

    def features(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        return features_in(self.cfg.precision, self.vgg, x, layers)

    @torch.no_grad()
    def add_style(self, style: torch.Tensor) -> int:
        check_image(style, "StyleBankLoss.add_style", batch=1)
        feats = self.features(style, self.cfg.style_layers)
        self.targets.append({k: gram_matrix(v) for k, v in feats.items()})
        return len(self.targets) - 1

    def style_loss(self, feats: dict[str, torch.Tensor], style_ids: Sequence[int]) -> torch.Tensor:
        """Per-sample Gram loss: each sample against its own style's Grams (never one Gram over the batch)."""
        ids = [int(i) for i in style_ids]
        targets = {k: torch.cat([self.targets[i][k] for i in ids]) for k in self.cfg.style_layers}
        return gram_style_loss(feats, targets, self.layer_weights)

    def forward(self, output: torch.Tensor, content: torch.Tensor, style_ids: Sequence[int]) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        layers = (*cfg.style_layers, cfg.content_layer)
        fo = self.features(output, layers)
        with torch.no_grad():
            fc = self.features(content, (cfg.content_layer,))[cfg.content_layer]
        lc = F.mse_loss(fo[cfg.content_layer], fc)
        ls = self.style_loss({k: fo[k] for k in cfg.style_layers}, style_ids)
        ltv = tv_loss(output)
        loss = cfg.content_weight * lc + cfg.style_weight * ls + cfg.tv_weight * ltv
        return {"loss": loss, "content": lc, "style": ls, "tv": ltv}


# ----------------------------------------------------------------------------- training
def branch_of(step: int, T: int) -> str:
    """``"style"`` or ``"ae"`` for 0-based ``step`` of the (T+1)-step schedule: T stylizing steps, then one AE step."""
    return "ae" if (step + 1) % (T + 1) == 0 else "style"


def style_ids_of(step: int, T: int, batch: int, n_styles: int) -> list[int]:
    """Per-sample style ids of a stylizing step: they cycle through every style."""
    k = step - (step + 1) // (T + 1)  # stylizing steps before this one
    return [(k * batch + j) % n_styles for j in range(batch)]


def _mean_abs_grad(params: Sequence[nn.Parameter]) -> float:
    grads = [p.grad.abs().sum() for p in params if p.grad is not None]
    count = sum(p.numel() for p in params if p.grad is not None)
    return float(torch.stack(grads).sum()) / count if grads else 0.0


def balance_gradients(params: Sequence[nn.Parameter], memory: dict, branch: str, lam: float = 1.0) -> float:
    """Gradient balancing of the auto-encoder step; returns the factor applied (1 for a stylizing step).

    After a stylizing step, remember ``mean|grad_{E,D} L_K|`` in ``memory``;
    after an auto-encoder step, scale the E/D gradients by
    ``lam * mean|grad L_K| / mean|grad L_I|`` so that both branches move E and
    D by comparable amounts (StyleBank's training, as in two public
    reimplementations; see docs/methods/02_stylebank.md).  With a separate Adam
    optimiser for the auto-encoder step, as here, a constant factor would
    change nothing (Adam divides by the gradients' running RMS); only the
    factor's changes over training act.
    """
    g = _mean_abs_grad(params)
    if branch == "style":
        memory["grad_k"] = g
        return 1.0
    if not memory.get("grad_k") or g <= 0:
        return 1.0
    scale = lam * memory["grad_k"] / g
    for p in params:
        if p.grad is not None:
            p.grad.mul_(scale)
    memory["scale"] = scale
    return scale
