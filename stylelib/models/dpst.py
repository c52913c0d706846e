"""Deep Photo Style Transfer: Gatys et al. with segmented style losses and a photorealism term.

"Deep Photo Style Transfer", F. Luan, S. Paris, E. Shechtman, K. Bala,
CVPR 2017, pp. 4990-4998.

The output ``O`` is optimised as in Gatys et al. (:mod:`stylelib.models.gatys`),
with two changes (Sec. 3 of the paper):

* **Augmented (segmented) style loss** (Eq. 4).  The content and style
  photos carry semantic masks (the benchmark's colour-coded segmentations,
  :mod:`stylelib.masks`).  For every label ``c`` present in both, the
  features of each layer are multiplied by the mask resized to that layer,
  ``F_{l,c}[O] = F_l[O] M_{l,c}[I]`` and ``F_{l,c}[S] = F_l[S] M_{l,c}[S]``, and
  the Gram matrices of the masked features are matched region by region, so
  sky takes its style from sky and buildings from buildings.
* **Photorealism regularisation** (Eq. 3).  ``L_m = sum_c V_c[O]^T M_I V_c[O]``
  with ``M_I`` the matting Laplacian of the content photo (Levin et al.; 3x3
  windows, eps 1e-7: :mod:`stylelib.kernels.matting`).  It is zero when the
  output is, in every small window, an affine function of the content's
  colours, so it penalises distortions that an affine colour transform
  cannot make.

Total loss (Eq. 5): ``sum_l alpha_l L_c^l + Gamma sum_l beta_l L_{s+}^l + lambda L_m``.
The paper's values are Gamma = 1e2 and lambda = 1e4 on its loss sums
(:meth:`DPSTConfig.paper`); our default uses the suite's mean-normalised
losses (resolution-independent), where the same balance takes other numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd
import torch
import torch.nn.functional as F


from ..checks import check_image
from ..losses import content_loss
from ..kernels.matting import DEFAULT_EPS, MattingLaplacian
from ..masks import load_mask, one_hot, shared_labels
from ..vgg import VGG19Features
from .gatys import STYLE_LAYERS, GatysConfig, GatysObjective, GatysResult, optimise_image
from .paper_config import ProfileConfig, deviation_rows

LAPLACIAN_METHODS = ("sparse", "matrix_free")


@dataclass
class DPSTConfig(ProfileConfig):
    """Hyper-parameters of Deep Photo Style Transfer; :meth:`deviations` lists paper vs ours.

    ``loss_reduction="mean"`` (ours) normalises the content and style terms as
    :class:`~stylelib.models.gatys.GatysConfig` does and divides ``L_m`` by the
    number of pixels; ``"paper"`` uses the paper's sums, where Gamma = 1e2 and
    lambda = 1e4.
    """

    content_layers: tuple[str, ...] = ("relu4_2",)
    style_layers: tuple[str, ...] = STYLE_LAYERS
    content_weight: float = 1.0
    #: Gamma of Eq. 5 (on our mean-normalised Grams with 1/C_l^2 layer weights)
    style_weight: float = 1e3
    #: lambda of Eq. 5 (on L_m divided by the number of pixels; tuned on dpst_02 at 192 px, 60 steps:
    #: 1e9 hardly changes the result, 1e10 and 1e11 raise SSIM to the content from 0.72 to 0.81 and 0.88)
    photorealism_weight: float = 1e11
    loss_reduction: str = "mean"
    matting_eps: float = DEFAULT_EPS
    matting_radius: int = 1
    #: "sparse" (scipy CSR, built once) or "matrix_free" (window statistics only)
    laplacian: str = "sparse"
    #: use the semantic masks when they are given (False: one region, the whole image)
    segmented: bool = True
    #: labels covering less than this fraction of a mask are dropped (snapping slivers)
    min_label_fraction: float = 0.002
    #: 1: one run with every term; 2: first without L_m, then with it from that result
    stages: int = 1
    steps: int = 200
    optimizer: str = "lbfgs"
    init: str = "content"
    precision: str = "fp32"
    seed: int = 0
    profile: str = "quick"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.content_layers = tuple(self.content_layers)
        self.style_layers = tuple(self.style_layers)
        if self.laplacian not in LAPLACIAN_METHODS:
            raise ValueError(f"DPSTConfig.laplacian must be one of {LAPLACIAN_METHODS}, got {self.laplacian!r}")
        if self.stages not in (1, 2):
            raise ValueError(f"DPSTConfig.stages must be 1 or 2, got {self.stages}")
        if self.photorealism_weight < 0:
            raise ValueError(f"DPSTConfig.photorealism_weight must be >= 0, got {self.photorealism_weight}")
        self.gatys_config()  # validates the shared fields

    def gatys_config(self, **changes) -> GatysConfig:
        """The Gatys settings this run shares (layers, weights, optimiser, precision)."""
        layer_weights = "inverse_channels_sq" if self.loss_reduction == "mean" else "uniform"
        return GatysConfig(content_layers=self.content_layers, style_layers=self.style_layers,
                           content_weight=self.content_weight, style_weight=self.style_weight,
                           style_layer_weights=layer_weights, loss_reduction=self.loss_reduction,
                           optimizer=self.optimizer, steps=self.steps, init=self.init, seed=self.seed,
                           precision=self.precision, **changes)


    @classmethod
    def ci(cls) -> "DPSTConfig":
        return cls(steps=5, profile="ci")

    @classmethod
    def paper(cls) -> "DPSTConfig":
        """Luan et al.'s settings: Gamma 1e2, lambda 1e4 on the paper's sums, two stages, 1000 steps each."""
        return cls(content_weight=1.0, style_weight=1e2, photorealism_weight=1e4, loss_reduction="paper",
                   stages=2, steps=1000, profile="paper")

    def deviations(self) -> list[dict[str, str]]:
        """Rows ``{parameter, paper, ours, why}`` for the settings that differ from the paper."""
        why = {
            "style_weight": "same role (Gamma); our Grams are mean-normalised with 1/C_l^2 layer weights "
                            "as in our Gatys baseline, so the number differs",
            "photorealism_weight": "same role (lambda); our L_m is divided by the pixel count so the balance "
                                   "does not change with resolution",
            "loss_reduction": "mean-normalised losses: one set of weights for every image size",
            "stages": "the authors' code first runs the segmented Neural Style, then adds L_m starting from "
                      "its result; one stage from the content photo converges in fewer CPU steps",
            "steps": "CPU budget (L-BFGS evaluations per stage)",
        }
        return deviation_rows(self, self.paper(), why)


# ----------------------------------------------------------------------------- masks
def region_masks(content_labels: torch.Tensor | None, style_labels: torch.Tensor | None,
                 content_size: Sequence[int], style_size: Sequence[int],
                 min_fraction: float = 0.002) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Channel masks ``[1, K, H, W]`` for the K labels the two label maps share, and those labels.

    Without label maps (either is ``None``) there is one region: the whole image.
    """
    if content_labels is None or style_labels is None:
        return torch.ones(1, 1, *content_size), torch.ones(1, 1, *style_size), []
    labels = shared_labels(content_labels, style_labels, min_fraction)
    if not labels:
        raise ValueError("dpst: the content and style masks share no label; pass segmented=False to ignore them")
    cm = one_hot(content_labels)[:, labels]
    sm = one_hot(style_labels)[:, labels]
    if tuple(cm.shape[-2:]) != tuple(content_size) or tuple(sm.shape[-2:]) != tuple(style_size):
        raise ValueError(f"dpst: mask sizes {tuple(cm.shape[-2:])} and {tuple(sm.shape[-2:])} differ from the "
                         f"images' {tuple(content_size)} and {tuple(style_size)}")
    return cm, sm, labels


def pair_labels(pair, content: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The label maps of a DPST :class:`~stylelib.data.refs.Pair`, resized to the loaded images."""
    if not pair.has_masks:
        raise ValueError(f"dpst: pair {pair.name!r} has no segmentation masks")
    return (load_mask(pair.content_mask, size=content.shape[-2:]),
            load_mask(pair.style_mask, size=style.shape[-2:]))


def _masked_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Gram matrix of ``features * mask`` divided by the mask's area: ``[N, C, C]``."""
    f = (features * mask).flatten(2)
    return torch.bmm(f, f.transpose(1, 2)) / mask.sum().clamp_min(1e-6)


# ----------------------------------------------------------------------------- objective
class DPSTObjective:
    """Eq. 5 for one content/style pair: content, segmented style and photorealism terms."""

    def __init__(self, content: torch.Tensor, style: torch.Tensor, config: DPSTConfig, *,
                 content_labels: torch.Tensor | None = None, style_labels: torch.Tensor | None = None,
                 vgg: VGG19Features | None = None, laplacian: MattingLaplacian | None = None):
        self.config = config
        self.base = GatysObjective(content, style, config.gatys_config(), vgg=vgg)
        use = config.segmented and content_labels is not None and style_labels is not None
        cm, sm, self.labels = region_masks(content_labels if use else None, style_labels if use else None,
                                           content.shape[-2:], style.shape[-2:], config.min_label_fraction)
        with torch.no_grad():
            fc, fs = self.base.features(content), self.base.features(style)
        self.content_masks: dict[str, torch.Tensor] = {}
        self.style_grams: dict[str, list[torch.Tensor]] = {}
        for name in config.style_layers:
            self.content_masks[name] = F.interpolate(cm, size=fc[name].shape[-2:], mode="area")
            smask = F.interpolate(sm, size=fs[name].shape[-2:], mode="area")
            self.style_grams[name] = [_masked_gram(fs[name], smask[:, k:k + 1]) for k in range(smask.shape[1])]
        self.laplacian = laplacian if laplacian is not None else MattingLaplacian(
            content, eps=config.matting_eps, radius=config.matting_radius)
        self.n_pixels = content.shape[-2] * content.shape[-1]

    def photorealism(self, image: torch.Tensor) -> torch.Tensor:
        """``L_m = sum_c V_c[O]^T M_I V_c[O]`` (divided by the pixel count for ``loss_reduction="mean"``)."""
        lm = self.laplacian.quadratic(image[0], method=self.config.laplacian)
        return lm / self.n_pixels if self.config.loss_reduction == "mean" else lm

    def style(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """The augmented style loss: per region, Gram of the masked output features vs the style's."""
        sw = self.base.sw
        total = torch.zeros((), device=next(iter(feats.values())).device)
        for name in self.config.style_layers:
            masks = self.content_masks[name]
            for k, target in enumerate(self.style_grams[name]):
                diff = (_masked_gram(feats[name], masks[:, k:k + 1]) - target).pow(2).mean()
                if self.config.loss_reduction == "paper":
                    diff = diff / 4.0
                total = total + sw[name] * diff
        return total

    def __call__(self, image: torch.Tensor, photorealism_weight: float | None = None
                 ) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        lam = cfg.photorealism_weight if photorealism_weight is None else photorealism_weight
        feats = self.base.features(image)
        red = cfg.loss_reduction
        lc = sum(self.base.cw[n] * content_loss(feats[n], self.base.content_targets[n], red) for n in cfg.content_layers)
        ls = self.style(feats)
        total = cfg.content_weight * lc + cfg.style_weight * ls
        lm = self.photorealism(image) if lam else torch.zeros(())
        total = total + lam * lm
        return total, {"loss": float(total.detach()), "content_loss": float(cfg.content_weight * lc.detach()),
                       "style_loss": float(cfg.style_weight * ls.detach()),
                       "photorealism_loss": float(lam * lm.detach())}


# ----------------------------------------------------------------------------- run
def stylize_dpst(
    content: torch.Tensor,
    style: torch.Tensor,
    config: DPSTConfig | None = None,
    *,
    content_labels: torch.Tensor | None = None,
    style_labels: torch.Tensor | None = None,
    progress: bool = True,
    callback: Callable[[int, torch.Tensor, dict], None] | None = None,
    vgg: VGG19Features | None = None,
) -> GatysResult:
    """Stylise ``content`` [1,3,H,W] with the photo ``style`` (Luan et al., CVPR 2017).

    ``content_labels`` / ``style_labels`` are ``[H, W]`` palette label maps
    (:func:`stylelib.masks.load_mask`, or :func:`pair_labels` for a benchmark
    pair) at the images' sizes; without them the style loss has one region.
    Returns the image and the loss history (``stage`` column: 1 or 2).
    """
    cfg = config if config is not None else DPSTConfig()
    check_image(content, "stylize_dpst: content", batch=1, min_side=16)
    check_image(style, "stylize_dpst: style", batch=1, min_side=16)
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    objective = DPSTObjective(content, style, cfg, content_labels=content_labels, style_labels=style_labels,
                              vgg=vgg)
    gcfg = cfg.gatys_config()
    image = content.clone() if cfg.init == "content" else torch.rand(
        content.shape, generator=torch.Generator().manual_seed(cfg.seed))
    rows: list[dict] = []
    stage_weights = [0.0, cfg.photorealism_weight] if cfg.stages == 2 else [cfg.photorealism_weight]
    for stage, lam in enumerate(stage_weights, 1):
        image, stage_rows = optimise_image(lambda x, lam=lam: objective(x, lam), image, gcfg, progress=progress,
                                           callback=callback, t0=t0, desc=f"dpst stage {stage}")
        rows += [{**r, "stage": stage} for r in stage_rows]
    history = pd.DataFrame(rows, columns=["stage", "step", "loss", "content_loss", "style_loss",
                                          "photorealism_loss", "seconds"])
    return GatysResult(image=image, history=history, seconds=time.perf_counter() - t0, config=cfg)


def dpst(content: torch.Tensor, style: torch.Tensor, *, progress: bool = True, **options) -> torch.Tensor:
    """Registry entry: :func:`stylize_dpst` with ``DPSTConfig(**options)`` and no masks; returns the image."""
    cfg = DPSTConfig(**{k: v for k, v in options.items() if v is not None})
    return stylize_dpst(content, style, cfg, progress=progress).image
