"""FA+SCP: a single-pass photorealistic stylizer with feature aggregation and a coherence loss.

"Redistributing and Re-Stylizing Features for Training a Fast Photorealistic
Stylizer", C. Wu, B. Ni, H. Li, IJCNN 2020 (DOI 10.1109/IJCNN48605.2020.9207095).

Only the abstract of this paper is available; each design choice below is tied
to one of its sentences (A1-A8), and
:meth:`FASCPConfig.deviations` marks what is reconstructed.

* **Single-level stylisation, no smoothing (A2).**  One encoder pass (frozen
  VGG-19: relu1_1 ... relu4_1 of content and style) and one decoder pass.
* **Feature Aggregation layers (A5).**  At every decoder scale, coarse to fine,
  an FA layer aggregates the style features of that scale into the content
  features *at each location*: attention whose queries are the
  instance-normalised decoder features, keys the instance-normalised style
  features (average-pooled to at most ``max_style_tokens`` positions) and
  values the style features themselves, added back through a 1x1 projection;
  a 3x3 convolution then redistributes the aggregated features
  (``fa="adain"``: a per-location AdaIN instead, the ablation).  Our decoder
  also receives the instance-normalised content features of each scale
  through 1x1 skip connections (``content_skips``), for detail.
* **SCP loss (A6).**  On VGG features of output ``O``, content ``C``, style ``S``:
  ``L_coh`` compares the cosine self-similarity (affinity) matrices of the
  instance-normalised features of ``O`` and ``C`` between locations (relu2_1 ...
  relu4_1, pooled to at most ``affinity_tokens`` positions), so pixels that
  belong together in the content stay together; ``L_sem`` matches the
  instance-normalised relu4_1 features (content semantics without style
  statistics); ``L_sty`` is AdaIN's mean/std loss against ``S``.
  ``SCP = coh_weight L_coh + sem_weight L_sem + style_weight L_sty``.
* **Stylisation then re-stylisation (A3, A4).**  Stage 1 trains ``G`` on
  ``O1 = G(C, S)``; stage 2 continues from it on ``O2 = G(O1, S)`` with
  ``SCP(O2; C, S) + restyle_first_weight * SCP(O1; C, S)``, anchored to the
  original ``C``.

Features are divided by :data:`stylelib.vgg.ACTIVATION_SCALE` everywhere
(decoder inputs and losses), so that the weights act on activations near 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import InputError, check_features
from ..precision import features_in
from ..images import pad_to_multiple
from ..losses import mean_std, mean_std_style_loss
from ..vgg import ACTIVATION_SCALE, CHANNELS, VGG19Features
from .paper_config import TrainingConfig, deviation_rows

LEVELS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
FA_MODES = ("attention", "adain")
LOSSES = ("scp", "plain")
#: the ablations of notebook 01 and the settings that make them; each trains on the full model's data for
#: the full model's registered number of iterations (see ``stylelib.recipes.fa_scp``)
VARIANTS: dict[str, dict] = {
    "full": {},
    "no_scp": {"loss": "plain"},
    "adain_fa": {"fa": "adain"},
    "no_restyle": {"restylize": False},
}


@dataclass
class FASCPConfig(TrainingConfig):
    """Hyper-parameters of FA+SCP; :meth:`deviations` lists the reconstruction's values vs ours.

    The paper's values are unknown (abstract only); :meth:`paper` holds the
    reconstruction at GPU scale (docs/methods/01_fa_scp.md).
    """

    fa: str = "attention"
    content_skips: bool = True
    #: style positions each FA layer attends to (average-pooled to at most this many)
    max_style_tokens: int = 256
    loss: str = "scp"
    coh_weight: float = 10.0
    sem_weight: float = 1.0
    style_weight: float = 10.0
    #: the "plain" loss of the no-SCP ablation: content MSE at relu4_1 with this weight, plus the style term
    content_weight: float = 1.0
    coh_layers: tuple[str, ...] = ("relu2_1", "relu3_1", "relu4_1")
    style_layers: tuple[str, ...] = LEVELS
    #: positions the SCP affinity matrices compare (features average-pooled to at most this many)
    affinity_tokens: int = 256
    #: the reconstruction's optional photorealism term: ``G(C, C)`` should give ``C`` back (L1 + L_sem), this weight
    identity_weight: float = 10.0
    #: samples of each batch that the identity term uses (it doubles a step's cost on the whole batch)
    identity_batch: int = 1
    restylize: bool = True
    restyle_first_weight: float = 0.5
    #: stage 2 feeds O1 to the second pass without its gradient (the abstract leaves both open)
    detach_first: bool = True
    lr: float = 2e-4
    restyle_lr: float = 1e-4
    warmup: int = 50
    steps: int = 3000
    restyle_steps: int = 750
    #: wall-time budgets of the two stages (None: no limit)
    seconds: float | None = 1200.0
    restyle_seconds: float | None = 300.0
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        self.coh_layers = tuple(self.coh_layers)
        self.style_layers = tuple(self.style_layers)
        if self.fa not in FA_MODES:
            raise ValueError(f"FASCPConfig.fa must be one of {FA_MODES}, got {self.fa!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"FASCPConfig.loss must be one of {LOSSES}, got {self.loss!r}")
        bad = [lv for lv in self.coh_layers + self.style_layers if lv not in LEVELS]
        if bad:
            raise ValueError(f"FASCPConfig: layers {bad} are not encoder levels {LEVELS}")
        if self.identity_weight < 0 or self.identity_batch < 1:
            raise ValueError(f"FASCPConfig: identity_weight must be >= 0 and identity_batch >= 1, got "
                             f"{self.identity_weight} and {self.identity_batch}")
        if self.max_style_tokens < 1 or self.affinity_tokens < 4:
            raise ValueError("FASCPConfig: max_style_tokens must be >= 1 and affinity_tokens >= 4")

    @classmethod
    def for_profile(cls, profile: str, variant: str = "full") -> "FASCPConfig":
        """``ci``, ``quick`` or ``paper``, with one of :data:`VARIANTS` applied."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown FA+SCP variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        return super().for_profile(profile).replace(**VARIANTS[variant])

    @classmethod
    def ci(cls) -> "FASCPConfig":
        return cls(steps=3, restyle_steps=2, seconds=None, restyle_seconds=None, crop=64, load_size=96,
                   batch_size=2, checkpoint_every=1, profile="ci")

    @classmethod
    def paper(cls) -> "FASCPConfig":
        """Our reconstruction (docs/methods/01_fa_scp.md): Adam 1e-4, batch 8, 256 px crops, 100k + 30k iterations."""
        return cls(lr=1e-4, restyle_lr=5e-5, warmup=0, batch_size=8, crop=256, load_size=512, steps=100_000,
                   restyle_steps=30_000, identity_weight=0.0, identity_batch=8, seconds=None, restyle_seconds=None,
                   precision="fp32",
                   content_skips=False, max_style_tokens=1024, affinity_tokens=1024, checkpoint_every=2000,
                   profile="paper")


    def deviations(self) -> list[dict[str, str]]:
        why = {
            "lr": "a 100x shorter run on a CPU",
            "restyle_lr": "same ratio to the stage-1 rate as the reconstruction",
            "steps": "minutes on a CPU instead of a day on a GPU",
            "restyle_steps": "same ratio of stage 2 to stage 1 (about 1:4)",
            "restyle_seconds": "the CPU run also stops at a wall-time budget",
            "identity_weight": "the reconstruction's optional photorealism term, on and stronger: without it a short run "
                               "inverts the tones of its outputs (negative grayscale SSIM to the content)",
            "identity_batch": "one sample of four: the identity pass on the whole batch roughly doubles a step",
            "content_skips": "the reconstruction starts without skips; in a short run a decoder from relu4_1 alone loses "
                             "too much detail for a photorealistic result",
            "max_style_tokens": "fewer pooled style positions: the attention's cost falls with their square",
            "affinity_tokens": "as max_style_tokens",
        }
        rows = deviation_rows(self, self.paper(), why)
        rows += [
            {"parameter": "FA layer, SCP loss, two-stage schedule", "paper": "described in words only (abstract)",
             "ours": "attention FA, affinity + semantic + mean/std SCP, O2 = G(O1, S)",
             "why": "reconstructed from the abstract's sentences (see the module docstring)"},
            {"parameter": "training data", "paper": "not known (MS-COCO in the reconstruction)",
             "ours": "DPST photos minus the held-out pairs, plus the embedded photos",
             "why": "offline machine; photos only, as a photorealistic stylizer needs"},
        ]
        return rows


# ----------------------------------------------------------------------------- building blocks
def instance_norm(f: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Each channel of each sample to zero mean and unit variance over its positions."""
    m, s = mean_std(f, eps)
    return (f - m) / s


def _pool_to(f: torch.Tensor, tokens: int) -> torch.Tensor:
    """Average-pool ``f`` so that it has at most ``tokens`` positions, keeping the aspect ratio."""
    h, w = f.shape[-2:]
    if h * w <= tokens:
        return f
    scale = math.sqrt(tokens / (h * w))
    return F.adaptive_avg_pool2d(f, (max(1, int(h * scale)), max(1, int(w * scale))))


class FALayer(nn.Module):
    """Feature Aggregation (A5): style features of one scale aggregated into the content at each location."""

    def __init__(self, channels: int, mode: str = "attention", max_style_tokens: int = 1024):
        super().__init__()
        if mode not in FA_MODES:
            raise ValueError(f"FALayer: mode must be one of {FA_MODES}, got {mode!r}")
        self.mode, self.channels, self.max_style_tokens = mode, channels, max_style_tokens
        if mode == "attention":
            d = max(channels // 2, 8)
            self.query = nn.Conv2d(channels, d, 1)
            self.key = nn.Conv2d(channels, d, 1)
            self.value = nn.Conv2d(channels, channels, 1)
            self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, h: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        check_features(h, f"FALayer({self.channels}): content", channels=self.channels)
        check_features(style, f"FALayer({self.channels}): style", channels=self.channels)
        if style.shape[0] not in (1, h.shape[0]):
            raise InputError(f"FALayer: style batch {style.shape[0]} does not match content batch {h.shape[0]}")
        style = style.expand(h.shape[0], -1, -1, -1)
        if self.mode == "adain":
            m, s = mean_std(style)
            return instance_norm(h) * s + m
        n, c, hh, ww = h.shape
        q, k, v, _ = self._qkv(h, style)
        a = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(d)) v, memory-efficient
        return h + self.out(a.transpose(1, 2).reshape(n, c, hh, ww))

    def _qkv(self, h: torch.Tensor, style: torch.Tensor):
        sp = _pool_to(style, self.max_style_tokens)
        q = self.query(instance_norm(h)).flatten(2).transpose(1, 2)  # [N, HW, d]
        k = self.key(instance_norm(sp)).flatten(2).transpose(1, 2)  # [N, T, d]
        v = self.value(sp).flatten(2).transpose(1, 2)  # [N, T, C]
        return q, k, v, tuple(sp.shape[-2:])

    @torch.no_grad()
    def attention(self, h: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """What each content location attends to: ``[N, HW, T]`` weights (rows sum to 1) and the style grid ``(h, w)``."""
        if self.mode != "attention":
            raise ValueError("FALayer.attention: an AdaIN FA layer has no attention weights")
        q, k, _, grid = self._qkv(h, style.expand(h.shape[0], -1, -1, -1))
        return torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), -1), grid


def _conv3(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3))


class FADecoder(nn.Module):
    """Coarse to fine: FA at relu4_1, then per scale conv 3x3 + ReLU, 2x upsampling, content skip, FA."""

    def __init__(self, cfg: "FASCPConfig"):
        super().__init__()
        self.content_skips = cfg.content_skips
        self.fa = nn.ModuleDict({lv: FALayer(CHANNELS[lv], cfg.fa, cfg.max_style_tokens) for lv in LEVELS})
        # redistribution convs: relu4_1 512 -> 256, relu3_1 256 -> 128, relu2_1 128 -> 64, relu1_1 64 -> 64
        self.mix = nn.ModuleDict({lv: _conv3(CHANNELS[lv], CHANNELS[lv] // 2 if lv != "relu1_1" else 64)
                                  for lv in LEVELS})
        if cfg.content_skips:
            self.skip = nn.ModuleDict({lv: nn.Conv2d(2 * CHANNELS[lv], CHANNELS[lv], 1) for lv in LEVELS[:-1]})
        self.to_rgb = _conv3(64, 3)

    def forward(self, content: dict[str, torch.Tensor], style: dict[str, torch.Tensor],
                fa_inputs: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Decode; ``fa_inputs``, when given, receives the features each FA layer saw (for visualisation)."""
        h = content["relu4_1"]
        for level in reversed(LEVELS):  # relu4_1, relu3_1, relu2_1, relu1_1
            if level != "relu4_1":
                coarse = LEVELS[LEVELS.index(level) + 1]
                h = F.relu(self.mix[coarse](h))
                h = F.interpolate(h, size=content[level].shape[-2:], mode="nearest")
                if self.content_skips:
                    h = F.relu(self.skip[level](torch.cat([h, instance_norm(content[level])], 1)))
            if fa_inputs is not None:
                fa_inputs[level] = h
            h = self.fa[level](h, style[level])
        h = F.relu(self.mix["relu1_1"](h))
        return self.to_rgb(h)


class FASCPNet(nn.Module):
    """The frozen VGG-19 encoder and the trainable FA decoder: ``G(C, S)``."""

    def __init__(self, cfg: FASCPConfig | None = None):
        super().__init__()
        self.cfg = cfg or FASCPConfig()
        self.encoder = VGG19Features(LEVELS)
        self.decoder = FADecoder(self.cfg)

    def encode(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """relu1_1 ... relu4_1, divided by their typical activations."""
        feats = features_in(self.cfg.precision, self.encoder, x, LEVELS)
        return {k: v / ACTIVATION_SCALE[k] for k, v in feats.items()}

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            fs = self.encode(style)
        return self.decoder(self.encode(content), fs)

    @torch.no_grad()
    def stylize(self, content: torch.Tensor, style: torch.Tensor, passes: int = 1) -> torch.Tensor:
        """``G(C, S)`` (one pass, A2); ``passes=2`` gives ``G(G(C, S), S)``."""
        if passes < 1:
            raise ValueError(f"fa_scp: passes must be at least 1, got {passes}")
        x, (h, w) = pad_to_multiple(content, 8)
        fs = self.encode(style)
        for _ in range(passes):
            x = self.decoder(self.encode(x), fs).clamp(0, 1)
        return x[..., :h, :w]


# ----------------------------------------------------------------------------- the SCP loss
def affinity(features: torch.Tensor, tokens: int = 1024) -> torch.Tensor:
    """Cosine similarities between all positions of the instance-normalised ``features``: ``[N, T, T]``."""
    f = instance_norm(_pool_to(features, tokens)).flatten(2)  # [N, C, T]
    f = F.normalize(f, dim=1)
    return f.transpose(1, 2) @ f


class SCPLoss:
    """SCP (A6) and the plain content + style loss of the no-SCP ablation, on scaled VGG features."""

    def __init__(self, cfg: FASCPConfig):
        self.cfg = cfg

    def __call__(self, out: dict[str, torch.Tensor], content: dict[str, torch.Tensor],
                 style: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        sty = mean_std_style_loss({k: out[k] for k in cfg.style_layers}, {k: style[k] for k in cfg.style_layers})
        if cfg.loss == "plain":
            cnt = F.mse_loss(out["relu4_1"], content["relu4_1"])
            return {"loss": cfg.content_weight * cnt + cfg.style_weight * sty, "content": cnt, "style": sty}
        coh = sum((affinity(out[k], cfg.affinity_tokens) - affinity(content[k], cfg.affinity_tokens)).abs().mean()
                  for k in cfg.coh_layers)
        sem = F.mse_loss(instance_norm(out["relu4_1"]), instance_norm(content["relu4_1"]))
        total = cfg.coh_weight * coh + cfg.sem_weight * sem + cfg.style_weight * sty
        return {"loss": total, "coherence": coh, "semantic": sem, "style": sty}
