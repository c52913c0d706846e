"""Universal style transfer via whitening and colouring transforms (WCT).

"Universal Style Transfer via Feature Transforms", Y. Li, C. Fang, J. Yang,
Z. Wang, X. Lu, M.-H. Yang, NeurIPS 2017.

No network is trained on styles.  Five decoders are trained only to invert
VGG-19 at relu1_1 ... relu5_1 (pixel loss plus feature loss, Eq. 1).  To
stylise, the content features at a level are *whitened* (their covariance
becomes the identity) and then *coloured* with the style features'
covariance and mean (Eqs. 2-3)::

    f_w  = E_c D_c^{-1/2} E_c^T (f_c - m_c)
    f_cs = E_s D_s^{1/2}  E_s^T  f_w + m_s

blended with the content features by ``alpha`` (Eq. 4) and decoded.  The
multi-level pipeline (Fig. 1c) runs coarse to fine: relu5_1 first, each
level's decoded image being the content input of the next.

The eigendecompositions run in float64; eigenvalues below a small multiple
(``eps``) of the mean variance are treated as zero, so rank-deficient
features (more channels than positions, or constant channels) stay finite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from ..images import pad_to_multiple
from ..precision import features_in
from ..vgg import ACTIVATION_SCALE, VGG19Features
from .decoders import DECODER_LAYERS, MirrorDecoder
from .paper_config import TrainingConfig, deviation_rows, per_level_budgets

LEVELS = DECODER_LAYERS  # relu1_1 .. relu5_1


# ----------------------------------------------------------------------------- whitening and colouring
def _as_matrix(f: torch.Tensor) -> torch.Tensor:
    if f.dim() == 4:
        if f.shape[0] != 1:
            raise ValueError(f"WCT works on one image at a time; got a batch of {f.shape[0]} feature maps")
        return f[0].reshape(f.shape[1], -1)
    if f.dim() != 2:
        raise ValueError(f"expected features [1, C, H, W] or a matrix [C, N], got {tuple(f.shape)}")
    return f


def covariance(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``[C, 1]`` and covariance ``[C, C]`` of features ``[C, N]`` (or ``[1, C, H, W]``), in float64."""
    x = _as_matrix(f).double()
    n = x.shape[1]
    if n < 2:
        raise ValueError("WCT needs at least 2 feature positions; the image is too small for this layer")
    mean = x.mean(1, keepdim=True)
    xc = x - mean
    return mean, xc @ xc.T / (n - 1)


def _eigh(cov: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eigenvalues, eigenvectors, and which eigenvalues exceed ``eps`` times the mean variance."""
    floor = eps * cov.diagonal().mean().clamp_min(1e-12)
    vals, vecs = torch.linalg.eigh(cov)
    return vals.clamp_min(floor), vecs, vals > floor


def whiten(f: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Eq. 2: centred features with identity covariance (float64 ``[C, N]``).

    Directions whose variance is below ``eps`` times the mean variance carry
    no signal (rank-deficient features) and are projected out, as in the
    authors' code, instead of being amplified.
    """
    mean, cov = covariance(f)
    vals, vecs, keep = _eigh(cov, eps)
    d = torch.where(keep, vals.rsqrt(), torch.zeros_like(vals))
    return vecs @ torch.diag(d) @ vecs.T @ (_as_matrix(f).double() - mean)


def colour(whitened: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Eq. 3: give whitened features ``[C, N]`` the covariance and mean of ``style`` (float64 ``[C, N]``)."""
    mean, cov = covariance(style)
    vals, vecs, keep = _eigh(cov, eps)
    d = torch.where(keep, vals.sqrt(), torch.zeros_like(vals))
    return vecs @ torch.diag(d) @ vecs.T @ whitened.double() + mean


def wct(content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0, eps: float = 1e-5) -> torch.Tensor:
    """Whiten ``content`` ``[1, C, H, W]``, colour it with ``style`` ``[1, C, H', W']``, blend by ``alpha`` (Eq. 4)."""
    if content.shape[1] != style.shape[1]:
        raise ValueError(f"wct: content has {content.shape[1]} channels, style {style.shape[1]}")
    fcs = colour(whiten(content, eps), style, eps).to(content.dtype).reshape(content.shape)
    return alpha * fcs + (1 - alpha) * content


def wct_regions(content: torch.Tensor, style: torch.Tensor, content_labels: torch.Tensor,
                style_labels: torch.Tensor, labels, alpha: float = 1.0, eps: float = 1e-5,
                min_positions: int = 10) -> torch.Tensor:
    """Label-aware WCT (PhotoWCT, Li et al. ECCV 2018, Sec. 3.1; also WCT2): region by region.

    ``content_labels`` / ``style_labels`` are ``[H, W]`` label maps at the features'
    resolutions; inside each label of ``labels`` the content features are
    whitened with that region's statistics and coloured with the style's same
    region.  A region with fewer than ``min_positions`` feature positions in
    either image (it vanished at this resolution) keeps its content features.
    """
    if content.shape[1] != style.shape[1]:
        raise ValueError(f"wct: content has {content.shape[1]} channels, style {style.shape[1]}")
    if tuple(content_labels.shape) != tuple(content.shape[-2:]) or tuple(style_labels.shape) != tuple(style.shape[-2:]):
        raise ValueError(f"wct_regions: label maps {tuple(content_labels.shape)} / {tuple(style_labels.shape)} must "
                         f"match the feature sizes {tuple(content.shape[-2:])} / {tuple(style.shape[-2:])}")
    cf, sf = _as_matrix(content), _as_matrix(style)
    out = cf.clone()
    cflat, sflat = content_labels.flatten(), style_labels.flatten()
    for label in labels:
        ci, si = cflat == int(label), sflat == int(label)
        if int(ci.sum()) < min_positions or int(si.sum()) < min_positions:
            continue
        out[:, ci] = colour(whiten(cf[:, ci], eps), sf[:, si], eps).to(out.dtype)
    out = out.reshape(content.shape)
    return alpha * out + (1 - alpha) * content


# ----------------------------------------------------------------------------- configuration
@dataclass
class WCTConfig(TrainingConfig):
    """Decoder training and transfer settings of WCT; :meth:`deviations` lists paper vs ours.

    ``steps``/``seconds`` are per decoder, finest level first (relu1_1 ... relu5_1).
    """

    levels: tuple[str, ...] = LEVELS
    #: weight of the feature reconstruction loss (lambda in Eq. 1)
    feature_weight: float = 1.0
    lr: float = 5e-4
    warmup: int = 50
    steps: tuple[int, ...] = (8000, 500, 800, 1000, 1000)
    seconds: tuple[float, ...] | None = (600.0, 180.0, 360.0, 600.0, 600.0)
    #: the relu5_1 decoder drops the repeated convolutions of blocks 4 and 5 and caps widths at 256
    slim_deep_decoder: bool = True
    #: divide the features by vgg.ACTIVATION_SCALE at the decoder input (the authors' normalised VGG
    #: has activations near 1; without it the short run's decoders start far outside the image range)
    scale_inputs: bool = True
    eps: float = 1e-5
    alpha: float = 1.0
    #: the levels the transfer runs through, coarse to fine (the paper: all five)
    transfer_levels: tuple[str, ...] = ("relu4_1", "relu3_1", "relu2_1", "relu1_1")

    def __post_init__(self) -> None:
        super().__post_init__()
        per_level_budgets(self)

    @classmethod
    def ci(cls) -> "WCTConfig":
        return cls(steps=(2,) * 5, seconds=None, crop=64, load_size=96, batch_size=2, checkpoint_every=1, profile="ci")

    @classmethod
    def paper(cls) -> "WCTConfig":
        # MS-COCO, 256 px crops; the authors' code trains each decoder for several epochs (batch 8)
        return cls(lr=1e-4, warmup=0, batch_size=8, crop=256, load_size=512, steps=(40_000,) * 5, seconds=None,
                   slim_deep_decoder=False, transfer_levels=tuple(reversed(LEVELS)), precision="fp32",
                   checkpoint_every=2000, profile="paper")


    def decoder(self, level: str) -> MirrorDecoder:
        scale = 1.0 / ACTIVATION_SCALE[level] if self.scale_inputs else 1.0
        if level == "relu5_1" and self.slim_deep_decoder:
            return MirrorDecoder(level, slim_blocks=(4, 5), max_width=256, input_scale=scale)
        return MirrorDecoder(level, input_scale=scale)

    def deviations(self) -> list[dict[str, str]]:
        paper = self.paper()
        why = {
            "lr": "short CPU run; a higher rate with warm-up reaches usable decoders within minutes",
            "warmup": "avoids the first Adam steps overshooting at the higher rate",
            "crop": "CPU budget; the decoders are fully convolutional",
            "steps": "minutes per decoder on a CPU instead of hours on a GPU",
            "seconds": "the CPU run also stops at a wall-time budget per decoder",
            "slim_deep_decoder": "the full relu5_1 mirror has 12.9 M parameters (26 MB in fp16); the slim one "
                                 "4.1 M (8 MB) fits the 10 MB limit for committed weights",
            "transfer_levels": "our short-run relu5_1 decoder reconstructs worst (weights table of notebook 00); "
                               "starting the cascade there scrambles the content (pass levels= to use all five)",
        }
        rows = deviation_rows(self, paper, why)
        rows.append({"parameter": "training data", "paper": "MS-COCO", "ours": "DPST photos and art-set paintings",
                     "why": "offline machine; the benchmark images are the data we have"})
        return rows


# ----------------------------------------------------------------------------- networks
class WCTNet(torch.nn.Module):
    """The frozen VGG-19 encoder and one reconstruction decoder per level."""

    def __init__(self, cfg: WCTConfig | None = None):
        super().__init__()
        self.cfg = cfg or WCTConfig()
        self.encoder = VGG19Features(self.cfg.levels)
        self.decoders = torch.nn.ModuleDict({lv: self.cfg.decoder(lv) for lv in self.cfg.levels})

    def encode(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        return features_in(self.cfg.precision, self.encoder, x, tuple(layers))

    def reconstruction_losses(self, level: str, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Eq. 1: pixel MSE plus ``feature_weight`` times the feature MSE (features / ACTIVATION_SCALE)."""
        with torch.no_grad():
            target = self.encode(images, [level])[level]
        out = self.decoders[level](target)
        feat = self.encode(out, [level])[level]
        scale = 1.0 / ACTIVATION_SCALE[level]
        pixel = F.mse_loss(out, images)
        feature = F.mse_loss(feat * scale, target * scale)
        return {"loss": pixel + self.cfg.feature_weight * feature, "pixel": pixel, "feature": feature}

    @torch.no_grad()
    def reconstruct(self, image: torch.Tensor, level: str) -> torch.Tensor:
        x, (h, w) = pad_to_multiple(image, 16)
        return self.decoders[level](self.encode(x, [level])[level]).clamp(0, 1)[..., :h, :w]


# ----------------------------------------------------------------------------- the transfer
@torch.no_grad()
def stylize(net: WCTNet, content: torch.Tensor, style: torch.Tensor, *, alpha: float = 1.0,
            levels: Sequence[str] | None = None, progress: bool = False) -> torch.Tensor:
    """Multi-level coarse-to-fine WCT (Li et al. 2017, Fig. 1c) of ``content`` ``[1, 3, H, W]`` with ``net``.

    ``levels`` defaults to the configuration's ``transfer_levels`` (see
    :meth:`WCTConfig.deviations`); pass all five, coarse to fine, for the paper's cascade.
    The registered decoders: :func:`stylelib.recipes.wct.stylize_wct`.
    """
    from tqdm.auto import tqdm

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    levels = tuple(net.cfg.transfer_levels if levels is None else levels)
    for lv in levels:
        if lv not in LEVELS:
            raise ValueError(f"wct: unknown level {lv!r}; choose from {LEVELS}")
    x, (h, w) = pad_to_multiple(content, 16)
    style_features = net.encode(style, levels)
    for lv in tqdm(levels, desc="wct", disable=not progress, leave=False):
        content_features = net.encode(x, [lv])[lv]
        transformed = wct(content_features, style_features[lv], alpha, net.cfg.eps)
        x = net.decoders[lv](transformed).clamp(0, 1)
    return x[..., :h, :w]
