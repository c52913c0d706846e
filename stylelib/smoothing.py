"""PhotoWCT's photorealistic smoothing step, exact and fast.

"A Closed-form Solution to Photorealistic Image Stylization", Y. Li, M.-Y. Liu,
X. Li, M.-H. Yang, J. Kautz, ECCV 2018.  After the stylisation step
(PhotoWCT) the output ``Y`` can have neighbouring pixels of the same content
region stylised differently.  The smoothing step asks pixels that look alike
*in the content photo* to get alike outputs, while staying close to ``Y``
(Eq. 5, a manifold-ranking objective)::

    argmin_r  1/2 ( sum_ij w_ij || r_i / sqrt(d_ii) - r_j / sqrt(d_jj) ||^2  +  lambda sum_i || r_i - y_i ||^2 )

with the closed-form solution (Eq. 6, one linear system per colour channel)::

    R* = (1 - alpha) (I - alpha S)^{-1} Y,    S = D^{-1/2} W D^{-1/2},    alpha = 1 / (1 + lambda)

``W`` is the pixel affinity of the content photo, ``D = diag(W 1)`` its degree.
We use the matting affinity (Levin et al., TPAMI 2008) with 3x3 windows and
``eps = 1e-7``, as the authors' code (``photo_smooth.py``) does: it builds
exactly the ``W`` of :func:`stylelib.kernels.matting.matting_affinity` and
uses ``alpha = 0.9999`` (``lambda ~ 1e-4``, the paper's value; we use
``alpha = 1 / (1 + 1e-4)``).

:func:`smooth_closed_form` -- two normalisations:

* ``normalisation="symmetric"`` is Eq. 6 as printed.  Its smoothness term is
  zero for ``r`` proportional to ``sqrt(d)``, not for a constant, and the
  degree is smaller near the border (1 to 6 windows instead of 9 for 3x3
  windows, on the outer two rows and columns).  With the paper's tiny lambda
  a constant grey therefore does *not* come back unchanged: the corners
  darken most, the interior a little (``tests/test_smoothing.py`` measures
  it).  The authors' code hides most of this by padding both images by 2
  pixels (edge replication) and cropping the result; we do not copy that.
* ``normalisation="random_walk"`` (our default) is the same closed form with
  the random-walk normalisation ``P = D^{-1} W`` in place of ``S``::

      R* = (1 - alpha) (I - alpha P)^{-1} Y  =  lambda (L + lambda D)^{-1} D Y,    L = D - W

  i.e. the objective with un-normalised differences ``r_i - r_j`` and a
  degree-weighted fidelity term.  ``P 1 = 1``, so a constant image is left
  unchanged exactly, wherever the degree varies.  ``P`` and ``S`` are similar
  matrices (``S = D^{1/2} P D^{-1/2}``), so the two solutions are related by
  ``R_rw(Y) = D^{-1/2} R_sym(D^{1/2} Y)``; away from the border, where
  ``D = 9 I``, the smoothing operators are the same.

Both are solved through the same symmetric positive-definite matrix
``M = L + lambda D`` (``R_sym = lambda D^{1/2} M^{-1} D^{1/2} Y``), with a sparse
LU factorisation reused for the three channels (``solver="direct"``, like the
authors' ``scipy.sparse.linalg.factorized`` but with a minimum-degree
ordering) or Jacobi-preconditioned conjugate gradients (``solver="cg"``).
The LU's fill grows faster than the pixel count, so the direct solver's time
and memory rise steeply with the image size; ``make bench``
(``figures/bench/photoreal_inference.json``) and notebook 01 measure both
solvers against :func:`smooth_fast`.

:func:`smooth_fast` -- the fast approximation.  PhotoWCT's code offers a fast
mode that replaces the smoothing step by the guided image filter (He, Sun &
Tang, "Guided Image Filtering", ECCV 2010 / TPAMI 35(6) 2013), which is
linked to the matting Laplacian (He et al. show that the filter's kernel is
built from the same per-window terms) and costs O(1) per pixel.  The values are
those of the authors' code (``GIFSmoothing(r=35, eps=0.001)``), which calls
OpenCV's ``ximgproc.guidedFilter`` on 8-bit images; OpenCV converts them to
float *without* rescaling, so that ``eps`` is in units of 255^2 and equals
``1e-3 / 255^2 ~ 1.5e-8`` for images in [0, 1] (:data:`FAST_EPS`).  We could
not check the values against the paper's text.  Our :func:`guided_filter`
follows He et al.'s colour-guide algorithm with box means truncated at the
border, as in their reference code (OpenCV reflects the image at the border
instead).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

from .checks import InputError, check_choice, check_int, check_positive, check_single
from .kernels.box import box_mean
from .kernels.matting import DEFAULT_EPS as MATTING_EPS
from .kernels.matting import MattingLaplacian

__all__ = ["FAST_EPS", "FAST_RADIUS", "LAMBDA", "guided_filter", "smooth_closed_form", "smooth_fast"]

#: lambda of Eq. 5 (the paper's value; the authors' code uses alpha = 0.9999).
LAMBDA = 1e-4
#: Guided-filter radius of the authors' fast mode (a 71 x 71 window).
FAST_RADIUS = 35
#: Guided-filter eps of the authors' fast mode (0.001 on 8-bit values), for images in [0, 1].
FAST_EPS = 1e-3 / 255.0 ** 2


def _stylised_and_content(stylised, content, who: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Both images as ``[C, H, W]`` (finite; the content RGB; the same size)."""
    y = check_single(stylised, f"{who}: the stylised image", finite=True)
    i = check_single(content, f"{who}: the content image", finite=True)
    if i.shape[0] != 3:
        raise InputError(f"{who}: the content image must be RGB (3 channels), got {i.shape[0]}")
    if y.shape[1:] != i.shape[1:]:
        raise InputError(f"{who}: the stylised image is {y.shape[1]}x{y.shape[2]} but the content image is "
                         f"{i.shape[1]}x{i.shape[2]}; they must have the same size")
    return y, i


# ----------------------------------------------------------------------------- closed form (Eqs. 5-6)
def smooth_closed_form(stylised: torch.Tensor, content: torch.Tensor, lam: float = LAMBDA, *,
                       normalisation: str = "random_walk", eps: float = MATTING_EPS, radius: int = 1,
                       solver: str = "direct", tol: float = 1e-10, maxiter: int | None = None) -> torch.Tensor:
    """Smooth ``stylised`` ``[C, H, W]`` with the matting affinity of ``content`` (RGB, same size): Eq. 6.

    ``lam``: lambda of Eq. 5; ``normalisation``: ``"random_walk"`` (keeps constants,
    our default) or ``"symmetric"`` (Eq. 6 as printed), see the module docstring;
    ``eps``, ``radius``: the matting affinity's regulariser and window radius;
    ``solver``: ``"direct"`` (sparse LU) or ``"cg"`` (``tol``, ``maxiter``).
    Returns a tensor with the shape, dtype and device of ``stylised``.
    """
    who = "smooth_closed_form"
    y, img = _stylised_and_content(stylised, content, who)
    check_positive(lam, who, "lambda")
    check_choice(normalisation, who, "normalisation", ("random_walk", "symmetric"))
    check_choice(solver, who, "solver", ("direct", "cg"))
    op = MattingLaplacian(img, eps, radius)
    deg = op.degree()
    m = (scipy.sparse.diags((1.0 + lam) * deg) - op.affinity()).tocsc()  # M = L + lambda D = (1 + lambda) D - W
    if normalisation == "symmetric":
        left, right = np.sqrt(deg), np.sqrt(deg)
    else:
        left, right = np.ones_like(deg), deg
    rhs = y.detach().to(torch.float64).cpu().numpy().reshape(y.shape[0], -1) * right  # [C, N]
    if solver == "direct":
        # minimum-degree ordering on M + M^T suits this symmetric 2-D stencil: about 3x faster than
        # scipy's default (COLAMD, what the authors' scipy.sparse.linalg.factorized uses) at 256 x 256
        lu = scipy.sparse.linalg.splu(m, permc_spec="MMD_AT_PLUS_A")
        sol = lu.solve(np.ascontiguousarray(rhs.T)).T
    else:
        precond = scipy.sparse.diags(1.0 / m.diagonal())
        cols = []
        for b in rhs:
            x, info = scipy.sparse.linalg.cg(m, b, rtol=tol, atol=0.0, maxiter=maxiter, M=precond)
            if info != 0:
                raise RuntimeError(f"{who}: conjugate gradients did not reach rtol={tol} in {info} iterations")
            cols.append(x)
        sol = np.stack(cols)
    out = torch.from_numpy(lam * left * sol).reshape(y.shape)
    return out.to(dtype=stylised.dtype, device=stylised.device).reshape(stylised.shape)


# ----------------------------------------------------------------------------- guided filter
def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """He et al.'s guided filter: filter ``src`` ``[(N,) C, H, W]`` guided by ``guide`` ``[(N,) G, H, W]``.

    Within each ``(2r+1)^2`` window the output is the ridge-regularised linear fit
    ``q = a^T I + b`` of ``src`` by the guide's channels (``eps`` is the ridge on
    ``a``); ``a`` and ``b`` are averaged over the windows that contain a pixel
    (He et al., TPAMI 2013, for a grey or a colour guide).  Box
    means are truncated at the border.  Computed in float64, returned in
    ``src``'s dtype; differentiable in both inputs.
    """
    who = "guided_filter"
    for name, t in (("guide", guide), ("src", src)):
        if not isinstance(t, torch.Tensor) or t.dim() not in (3, 4):
            raise InputError(f"{who}: {name} must be a tensor [C, H, W] or [N, C, H, W], got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
    if guide.dim() != src.dim() or guide.shape[-2:] != src.shape[-2:] or (
            guide.dim() == 4 and guide.shape[0] != src.shape[0]):
        raise InputError(f"{who}: guide {tuple(guide.shape)} and src {tuple(src.shape)} must have the same "
                         f"batch size, height and width")
    check_int(radius, who, "radius")
    check_positive(eps, who, "eps")
    g = guide.to(torch.float64)
    p = src.to(device=guide.device, dtype=torch.float64)
    mean = lambda t: box_mean(t, radius)
    mean_g = mean(g)  # [..., G, H, W]
    mean_p = mean(p)  # [..., C, H, W]
    # covariances over each window: guide-guide [..., G, G, H, W], src-guide [..., C, G, H, W]
    cov_gg = mean(g.unsqueeze(-3) * g.unsqueeze(-4)) - mean_g.unsqueeze(-3) * mean_g.unsqueeze(-4)
    cov_pg = mean(p.unsqueeze(-3) * g.unsqueeze(-4)) - mean_p.unsqueeze(-3) * mean_g.unsqueeze(-4)
    n_g = g.shape[-3]
    eye = torch.eye(n_g, dtype=torch.float64, device=g.device)
    # per pixel: a (C x G) = cov_pg (C x G) (cov_gg + eps I)^{-1}; the matrices are symmetric
    sigma = (cov_gg.movedim((-4, -3), (-2, -1)) + eps * eye)  # [..., H, W, G, G]
    a = torch.linalg.solve(sigma, cov_pg.movedim((-4, -3), (-1, -2)))  # [..., H, W, G, C]
    a = a.movedim((-2, -1), (-3, -4))  # [..., C, G, H, W]
    b = mean_p - (a * mean_g.unsqueeze(-4)).sum(-3)  # [..., C, H, W]
    q = (mean(a) * g.unsqueeze(-4)).sum(-3) + mean(b)
    return q.to(src.dtype)


def smooth_fast(stylised: torch.Tensor, content: torch.Tensor, radius: int = FAST_RADIUS,
                eps: float = FAST_EPS) -> torch.Tensor:
    """PhotoWCT's fast smoothing: the guided filter of ``stylised`` guided by ``content`` (RGB, same size).

    Defaults are the authors' fast mode, r = 35 and eps = 0.001 on 8-bit values
    (:data:`FAST_EPS` for [0, 1] images).  Shape, dtype and device follow ``stylised``.
    """
    y, img = _stylised_and_content(stylised, content, "smooth_fast")
    out = guided_filter(img.to(y.device), y, radius, eps)
    return out.reshape(stylised.shape)
