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
  ``E`` and ``D`` frozen (:func:`train_incremental`);
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

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..training import registry
from ..errors import StylelibError
from ..images import load_image, pad_to_multiple
from ..kmeans import kmeans
from ..losses import gram_matrix, gram_style_loss, tv_loss
from ..training.loop import BranchOptimizers, Budget, GradientHook, LRSchedule, TrainResult, fit
from ..vgg import VGG19Features
from .paper_config import ProfileConfig, deviation_rows

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_2", "relu4_2")
CONTENT_LAYER = "relu4_2"
#: channel widths of the encoder blocks e1, e2, e3 (the bank acts on e3's output)
WIDTHS = (32, 64, 128)
#: the encoder downsamples by this factor; images are padded to a multiple of it
STRIDE = 4


class StyleBankError(StylelibError, ValueError):
    """A bad StyleBank request: an unknown style, weights or masks that do not fit."""


@dataclass
class StyleBankConfig(ProfileConfig):
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
    batch_size: int = 4
    crop: int = 128
    load_size: int = 256
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
    seed: int = 0
    #: "fp32" or "bf16" (VGG passes under CPU autocast; the auto-encoder and the losses in fp32)
    precision: str = "bf16"
    #: size of the held-out photos whose reconstruction PSNR is registered
    psnr_size: int = 256
    profile: str = "quick"

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
            "vgg": "the suite ships VGG-19 only; the paper's layer names exist in it with the same roles",
            "style_weight": "our raw Caffe VGG-19 features are on another scale than the reimplementations' "
                            "torchvision VGG-16; chosen so that the style term starts about 10x the content term "
                            "(the method note's rule: 1-10x)",
            "tv_weight": "our TV is a mean over pixels (theirs a sum) and our content term is in Caffe units: "
                         "at a photo the TV term is about 0.1% of a typical content term",
            "crop": "one CPU core: a 128 px crop costs about 16x less than 512 px",
            "load_size": "photos resized to short side 256, so a crop sees half the picture's height",
            "style_size": "style Grams at the scale of the training crops' source images",
            "n_styles": "8 of StyleBank's 16 styles (sb_00-sb_07) fit the CPU budget; sb_08 is the incremental one",
            "steps": "the run stops at its time budget (seconds), not at an iteration count",
            "seconds": "21 minutes of one CPU core instead of 300k GPU iterations",
            "incremental_steps": "time-limited instead (incremental_seconds)",
            "incremental_seconds": "the new bank alone gets 4 minutes of one CPU core",
            "single_steps": "time-limited instead (single_seconds)",
            "single_seconds": "the whole network for the new style alone gets 12 minutes, 3x the bank's time "
                              "(the paper compares with a full training, hours on a GPU)",
            "lr_decay_every": "no decay within our short run",
            "precision": "bf16 autocast in the VGG passes: 1.2 instead of 1.9 s per stylizing step on this CPU",
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
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[-1] % STRIDE or x.shape[-2] % STRIDE:
            raise StyleBankError(f"StyleBank expects RGB batches [N, 3, H, W] with H, W multiples of {STRIDE}, "
                                 f"got {tuple(x.shape)}")
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
    normalised to unit length, is the method note's reading.  Clusters are
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
        if self.cfg.precision == "bf16" and x.device.type == "cpu":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                feats = self.vgg(x, layers)
            return {k: v.float() for k, v in feats.items()}
        return self.vgg(x, layers)

    @torch.no_grad()
    def add_style(self, style: torch.Tensor) -> int:
        if style.dim() != 4 or style.shape[0] != 1:
            raise StyleBankError(f"a style image must be [1, 3, H, W], got {tuple(style.shape)}")
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
    reimplementations; see the method note).  With a separate Adam
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


def load_styles(cfg: StyleBankConfig, n: int, offset: int = 0,
                source: str = "auto") -> tuple[list[str], list[torch.Tensor], str]:
    """Style names and images (short side ``cfg.style_size``) ``offset .. offset+n-1`` of the style group.

    With the ``art`` set: its ``cfg.style_group`` styles (StyleBank's own
    training styles, ``sb_00`` ...); otherwise the ``embedded`` textures.
    """
    from ..data import available_sets, get_set
    from ..data.art import art_styles

    if source == "auto":
        source = "art" if "art" in available_sets() else "embedded"
    refs = art_styles(cfg.style_group) if source == "art" else list(get_set(source).styles)
    chosen = refs[offset:offset + n]
    if len(chosen) < n:
        raise StyleBankError(f"need styles {offset}..{offset + n - 1} of the {source} set, which has {len(refs)}")
    images = []
    for r in chosen:
        img = load_image(r.path)
        scale = cfg.style_size / min(img.shape[-2:])
        size = (max(16, round(img.shape[-2] * scale)), max(16, round(img.shape[-1] * scale)))
        img = F.interpolate(img, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)
        images.append(img.clamp(0, 1))
    return [r.name for r in chosen], images, f"{source} ({', '.join(r.name for r in chosen)})"


def train_stylebank(cfg: StyleBankConfig, style_names: Sequence[str], style_images: Sequence[torch.Tensor], *,
                    run_dir=None, resume: bool = False, progress: bool = True, content_source="auto",
                    desc: str | None = None) -> tuple[StyleBankNet, TrainResult, str]:
    """Train E, D and one bank per style from scratch with the (T+1)-step alternating schedule.

    Stylizing steps minimise ``L_K`` over E, D and the banks (optimiser
    ``style``); every (T+1)-th step minimises ``L_I`` over E and D (optimiser
    ``ae``), its gradients rescaled by ``lambda * mean|grad L_K| / mean|grad L_I|``
    when ``cfg.balance_gradients``.  Returns the net, the result and the content data description.
    """
    from ..data.training import CropSampler, training_images

    cfiles, cdesc = training_images("content", content_source)
    contents = CropSampler(cfiles, cfg.crop, load_size=cfg.load_size, progress=progress)
    torch.manual_seed(cfg.seed)
    net = StyleBankNet(style_names)
    crit = StyleBankLoss(cfg, style_images)
    ed = [*net.encoder.parameters(), *net.decoder.parameters()]
    opt = BranchOptimizers({"style": torch.optim.Adam(net.parameters(), lr=cfg.lr),
                            "ae": torch.optim.Adam(ed, lr=cfg.lr)})
    n = len(style_names)

    def step_fn(step: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        x = contents.sample(cfg.batch_size, g)
        branch = branch_of(step, cfg.T)
        opt.select(branch)
        if branch == "ae":
            out = net(x)
            return {"loss": F.mse_loss(out, x), "reconstruction": F.mse_loss(out.detach(), x)}
        ids = style_ids_of(step, cfg.T, cfg.batch_size, n)
        return crit(net(x, ids), x, ids)

    def balance(step: int) -> None:
        if cfg.balance_gradients:
            balance_gradients(ed, opt.memory, branch_of(step, cfg.T), cfg.balance_lambda)

    budget = Budget(cfg.steps, cfg.seconds, cfg.checkpoint_every, cfg.seed)
    config = dataclasses.asdict(cfg) | {"styles": list(style_names), "mode": "full"}
    result = fit(net, step_fn, opt, budget, run_dir=run_dir, resume=resume, progress=progress, config=config,
                 desc=desc or f"stylebank ({cfg.profile}, {n} styles)", callbacks=[GradientHook(balance),
                            LRSchedule(lambda step: cfg.lr_decay_factor ** (step // cfg.lr_decay_every))])
    return net, result, cdesc


def train_incremental(net: StyleBankNet, cfg: StyleBankConfig, style_name: str, style_image: torch.Tensor, *,
                      run_dir=None, resume: bool = False, progress: bool = True, content_source="auto",
                      steps: int | None = None, seconds: float | None = None) -> tuple[StyleBankNet, TrainResult, str]:
    """Incremental learning (Chen et al. 2017, Sec. 4): a new bank for ``style_name`` with E and D frozen.

    Only the new, randomly initialised bank is optimised, with ``L_K``; no
    auto-encoder step.  Returns a net holding E, D (shared with ``net``,
    untouched) and the single new bank.
    """
    from ..data.training import CropSampler, training_images

    cfiles, cdesc = training_images("content", content_source)
    contents = CropSampler(cfiles, cfg.crop, load_size=cfg.load_size, progress=progress)
    torch.manual_seed(cfg.seed + 1)
    new = StyleBankNet([])
    new.encoder, new.decoder = net.encoder, net.decoder
    new.add_bank(style_name)
    for p in [*new.encoder.parameters(), *new.decoder.parameters()]:
        p.requires_grad_(False)
    crit = StyleBankLoss(cfg, [style_image])
    opt = torch.optim.Adam(new.banks.parameters(), lr=cfg.lr)
    ids = [0] * cfg.batch_size

    def step_fn(step: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        x = contents.sample(cfg.batch_size, g)
        with torch.no_grad():
            f = new.encoder(x)
        return crit(new.decoder(new.bank(f, 0)), x, ids)

    budget = Budget(steps or cfg.incremental_steps, seconds if seconds is not None else cfg.incremental_seconds,
                    cfg.checkpoint_every, cfg.seed)
    config = dataclasses.asdict(cfg) | {"styles": [style_name], "mode": "incremental"}
    try:
        result = fit(new, step_fn, opt, budget, run_dir=run_dir, resume=resume, progress=progress, config=config,
                     desc=f"stylebank incremental ({style_name})")
    finally:
        for p in [*new.encoder.parameters(), *new.decoder.parameters()]:
            p.requires_grad_(True)
    return new, result, cdesc


def smoothed(history: pd.DataFrame, column: str, window: int = 20, full: bool = False) -> pd.DataFrame:
    """``step``, ``seconds`` and the rolling mean of ``column`` over its last ``window`` logged values.

    With ``full``, the first ``window - 1`` rows (whose mean would cover fewer values) are dropped.
    """
    h = history.dropna(subset=[column])
    out = pd.DataFrame({"step": h["step"], "seconds": h["seconds"],
                        column: h[column].rolling(window, min_periods=window if full else 1).mean()})
    return out.dropna() if full else out


def compare_incremental(inc: pd.DataFrame, full: pd.DataFrame, tolerance: float = 0.2,
                        window: int = 20) -> dict[str, float | None]:
    """Time and style loss of the incremental bank vs the whole network trained for the same style.

    Style losses are rolling means over ``window`` stylizing steps (full
    windows only); the incremental run's *matched* time is the first time its
    smoothed style loss is within ``tolerance`` of the full run's final one.
    """
    si, sf = smoothed(inc, "style", window, full=True), smoothed(full, "style", window, full=True)
    if si.empty or sf.empty:
        raise StyleBankError(f"compare_incremental: need at least {window} stylizing steps in each run")
    final_full, final_inc = float(sf["style"].iloc[-1]), float(si["style"].iloc[-1])
    hit = si[si["style"] <= (1 + tolerance) * final_full]
    matched = float(hit["seconds"].iloc[0]) if len(hit) else None
    full_seconds = float(full["seconds"].iloc[-1])
    return {
        "incremental_seconds": float(inc["seconds"].iloc[-1]), "full_seconds": full_seconds,
        "incremental_steps": int(inc["step"].iloc[-1]), "full_steps": int(full["step"].iloc[-1]),
        "incremental_final_style_loss": final_inc, "full_final_style_loss": final_full,
        "incremental_first_style_loss": float(si["style"].iloc[0]),
        "style_loss_ratio": final_inc / final_full,
        "incremental_seconds_to_match": matched,
        "time_ratio_to_match": matched / full_seconds if matched is not None else None,
        "tolerance": tolerance, "window": window,
    }


@torch.no_grad()
def gram_distances(images: Sequence[torch.Tensor], styles: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[len(images), len(styles)]``: :func:`stylelib.metrics.gram_distance` of every image to every style.

    The same measure (relative squared Gram distance, averaged over
    ``metrics.STYLE_LAYERS``), with each image's Gram matrices computed once
    instead of once per pair: the notebook compares dozens of outputs with
    nine styles.
    """
    from ..metrics import STYLE_LAYERS
    from ..vgg import shared_vgg

    vgg = shared_vgg(tuple(STYLE_LAYERS))

    def grams(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: gram_matrix(v.double())[0] for k, v in vgg(x.detach().float()).items()}

    gi, gs = [grams(x) for x in images], [grams(s) for s in styles]
    out = torch.zeros(len(images), len(styles), dtype=torch.float64)
    for i, a in enumerate(gi):
        for j, b in enumerate(gs):
            out[i, j] = sum(((a[k] - b[k]).pow(2).sum() / b[k].pow(2).sum().clamp_min(1e-30)) for k in STYLE_LAYERS)
    return out / len(STYLE_LAYERS)


def reconstruction_psnr(net: StyleBankNet, size: int = 256) -> dict[str, float | int | str]:
    """PSNR of the auto-encoder branch over the held-out photos (median, min, max, count)."""
    from ..data.training import held_out_psnr

    return held_out_psnr(net.reconstruct, size)


#: the loss-history columns saved beside the weights (registry.save_history)
HISTORY_COLUMNS = ("step", "seconds", "loss", "content", "style", "tv", "reconstruction")


def train_and_register(profile: str = "quick", *, run_dir=None, resume: bool = False, progress: bool = True,
                       name: str | None = None, reuse_base: bool = False, **overrides) -> list[registry.Entry]:
    """``stylelib train stylebank``: the multi-style net, then the incremental comparison.

    Registers ``stylebank-<profile>`` (E, D and the first ``n_styles``
    banks), ``stylebank-<profile>-incremental`` (the bank for the next style,
    trained with E and D frozen) and ``stylebank-<profile>-single`` (a whole
    network trained from scratch for that style alone, budget ``single_*``), with
    their loss histories as CSV beside the weights and the comparison's
    numbers in the incremental entry's metrics.  ``reuse_base`` skips the
    multi-style run and starts the comparison from the registered
    ``stylebank-<profile>`` (its fp16 weights).
    """
    cfg = StyleBankConfig.for_profile(profile).replace(**overrides)
    base = name or f"stylebank-{profile}"
    run_root = Path(run_dir) if run_dir is not None else None
    stage_dir = (lambda part: run_root / part) if run_root is not None else (lambda part: None)
    names, images, sdesc = load_styles(cfg, cfg.n_styles)
    config = dataclasses.asdict(cfg) | {"styles": names}
    out = []
    if reuse_base:
        net = load_stylebank(base, incremental=False)
        cdesc = registry.entry(base).data.split(";")[0].removeprefix("content: ")
    else:
        net, res, cdesc = train_stylebank(cfg, names, images, run_dir=stage_dir("multi"), resume=resume, progress=progress)
        data = f"content: {cdesc}; styles: {sdesc}"
        metrics = reconstruction_psnr(net, cfg.psnr_size)
        metrics |= {"final_style_loss_mean_last_50": float(res.history["style"].dropna().tail(50).mean()),
                    "final_reconstruction_mse_mean_last_20":
                        float(res.history["reconstruction"].dropna().tail(20).mean()),
                    "stopped_by": res.stopped_by}
        out.append(registry.register(base, net.state_dict(), model="stylebank", profile=profile, config=config,
                                     data=data, iterations=res.steps, seconds=res.seconds, metrics=metrics))
        registry.save_history(base, res.history, HISTORY_COLUMNS)

    # incremental learning vs the whole network for one new style, one after the other on the same machine
    (new_name,), (new_image,), new_desc = load_styles(cfg, 1, offset=cfg.n_styles)
    inc, inc_res, _ = train_incremental(net, cfg, new_name, new_image, run_dir=stage_dir("incremental"), resume=resume,
                                        progress=progress)
    single_cfg = cfg.replace(steps=cfg.single_steps, seconds=cfg.single_seconds)
    single, single_res, _ = train_stylebank(single_cfg, [new_name], [new_image], run_dir=stage_dir("single"),
                                            resume=resume, progress=progress,
                                            desc=f"stylebank whole network ({new_name})")
    n_style_steps = min(int(h["style"].notna().sum()) for h in (inc_res.history, single_res.history))
    cmp = compare_incremental(inc_res.history, single_res.history, window=max(1, min(20, n_style_steps)))
    out.append(registry.register(f"{base}-incremental", inc.banks.state_dict(), model="stylebank", profile=profile,
                                 config=config | {"styles": [new_name], "mode": "incremental", "base": base},
                                 data=f"content: {cdesc}; style: {new_desc}", iterations=inc_res.steps,
                                 seconds=inc_res.seconds, metrics=cmp | {"stopped_by": inc_res.stopped_by}))
    registry.save_history(f"{base}-incremental", inc_res.history, HISTORY_COLUMNS)
    out.append(registry.register(f"{base}-single", single.state_dict(), model="stylebank", profile=profile,
                                 config=dataclasses.asdict(single_cfg) | {"styles": [new_name], "mode": "single"},
                                 data=f"content: {cdesc}; style: {new_desc}", iterations=single_res.steps,
                                 seconds=single_res.seconds,
                                 metrics=reconstruction_psnr(single, cfg.psnr_size)
                                 | {"stopped_by": single_res.stopped_by}))
    registry.save_history(f"{base}-single", single_res.history, HISTORY_COLUMNS)
    return out


# ----------------------------------------------------------------------------- inference
def _net_from_state(state: dict[str, torch.Tensor], styles: Sequence[str]) -> StyleBankNet:
    net = StyleBankNet(styles)
    net.load_state_dict(state)
    return net.eval()


@functools.lru_cache(maxsize=4)
def load_stylebank(weights: str = "stylebank-quick", incremental: bool = True) -> StyleBankNet:
    """The registered StyleBank ``weights`` (sha256 checked), in eval mode.

    With ``incremental``, the bank registered as ``<weights>-incremental``
    (trained later with E and D frozen) is appended when present.
    """
    state, rec = registry.load(weights)
    net = _net_from_state(state, rec.config["styles"])
    if incremental and f"{weights}-incremental" in registry.entries():
        bank_state, brec = registry.load(f"{weights}-incremental")
        index = net.add_bank(brec.config["styles"][0])
        net.banks[index].load_state_dict({k.split(".", 1)[1]: v for k, v in bank_state.items()})
    return net.eval()


def load_single(weights: str = "stylebank-quick-single") -> StyleBankNet:
    """The whole network trained for the incremental style alone (the comparison's other arm)."""
    state, rec = registry.load(weights)
    return _net_from_state(state, rec.config["styles"])


@torch.no_grad()
def stylize_stylebank(content: torch.Tensor, style: torch.Tensor | str | int, *, weights: str = "stylebank-quick",
                      net: StyleBankNet | None = None, progress: bool = False) -> torch.Tensor:
    """Stylise ``content`` with one of the trained styles.

    ``style`` is a bank (index or style name) or a style image: StyleBank
    cannot take a new style without training a bank, so an image selects the
    trained style whose relu2_2 Gram matrix is nearest to the image's.
    """
    net = net or load_stylebank(weights)
    if isinstance(style, torch.Tensor):
        style = nearest_style(net, style, weights)
    return net.stylize(content, style)


def nearest_style(net: StyleBankNet, image: torch.Tensor, weights: str = "stylebank-quick") -> int:
    """The bank whose training style image is nearest in Gram distance (relu2_2) to ``image``."""
    from ..metrics import gram_distance

    cfg = StyleBankConfig.quick()
    names = net.style_names
    refs = {}
    for offset in range(len(names)):
        try:
            (n,), (img,), _ = load_styles(cfg.replace(style_size=128), 1, offset=offset)
        except StylelibError:
            break
        refs[n] = img
    known = [i for i, n in enumerate(names) if n in refs]
    if not known:
        raise StyleBankError(f"{weights}: the training style images are not available; pass a style name "
                             f"({', '.join(names)})")
    return min(known, key=lambda i: gram_distance(image, refs[names[i]], layers=("relu2_2",)))


def config_of(weights: str) -> StyleBankConfig:
    rec = registry.entry(weights)
    return StyleBankConfig.from_record(rec.config)
