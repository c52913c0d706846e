"""The matting Laplacian of Levin, Lischinski & Weiss.

"A Closed-Form Solution to Natural Image Matting", A. Levin, D. Lischinski,
Y. Weiss, CVPR 2006 / TPAMI 30(2) 2008, Sec. 3.  Within every small window
``w_k`` the colours of an image are assumed to lie on a line, so any
locally-linear function of the colours costs nothing; the cost of a vector
``x`` (one value per pixel) is ``x^T L x`` with::

    L_ij = sum_{k : i, j in w_k} ( delta_ij - 1/|w_k| (1 + (I_i - mu_k)^T
                                   (Sigma_k + eps/|w_k| I_3)^{-1} (I_j - mu_k)) )

where ``mu_k`` and ``Sigma_k`` are the mean colour and 3x3 colour covariance
(divided by ``|w_k|``) of window ``k``.  Windows are ``(2r+1) x (2r+1)``
(3x3 for ``radius=1``) and, as in Levin et al., only windows that lie fully
inside the image are used, so border pixels belong to fewer windows.

Two papers of notebook 01 use it, both with 3x3 windows and ``eps = 1e-7``
for colours in [0, 1]:

* Deep Photo Style Transfer (Luan, Paris, Shechtman & Bala, CVPR 2017): the
  photorealism regularisation ``sum_c V_c[O]^T L V_c[O]`` over the output's colour
  channels.  :meth:`MattingLaplacian.apply` computes ``L x`` without building
  the matrix and is differentiable in ``x``; :meth:`MattingLaplacian.quadratic`
  is that loss.
* PhotoWCT (Li, Liu, Li, Yang & Kautz, ECCV 2018): the smoothing step
  uses the *matting affinity* ``W`` (the bracketed window term without the
  delta, summed over windows) with degree ``D = diag(W 1)``.  Because every
  window's terms sum to one over ``j``, ``D_ii`` is the number of windows
  that contain pixel ``i`` and ``L = D - W`` exactly.  ``W`` keeps its
  diagonal and may have negative entries; it is positive semi-definite (a sum
  of per-window PSD blocks), so ``D^{-1/2} W D^{-1/2}`` has eigenvalues in
  [0, 1].  (The authors' ``photo_smooth.py`` builds the same ``W``.)

The matrix-free product uses the local linear model directly.  For each
window, ``a_k = (Sigma_k + eps/|w| I)^{-1} cov_k(I, x)`` and
``b_k = mean_k(x) - a_k^T mu_k`` are the coefficients of the regularised
linear fit ``x ~ a_k^T I + b_k``, and

    (L x)_i = sum_{k : i in w_k} ( x_i - a_k^T I_i - b_k )
            = n_i x_i - I_i^T (sum_k a_k) - sum_k b_k

(He, Sun & Tang, "Fast Matting Using Large Kernel Matting Laplacian
Matrices", CVPR 2010, use the same identity).  So the product is window
means (``avg_pool2d`` over full windows), one 3x3 inverse per window
(computed once per image) and the sums of ``a_k`` and ``b_k`` over the
windows that contain each pixel (the adjoint box sum).  It needs no N x N
matrix and little memory, but on a CPU the sparse product is faster
(512 x 512, 3 channels, 2 busy cores: about 0.3 s matrix-free against 0.03 s
for scipy's CSR product, once the matrix is built, which takes about 3 s).
Everything runs in float64: with ``eps = 1e-7`` the regularised covariance
of a flat window is 1e-8, and its inverse needs the precision.
The image's window covariances are computed from centred colours (two
passes) and shared by the sparse and the matrix-free paths.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import torch
import torch.nn.functional as F

from ..checks import InputError, check_choice, check_int, check_positive, check_single

__all__ = ["MattingLaplacian", "matting_affinity", "matting_laplacian", "matting_laplacian_apply"]

#: Levin et al.'s regulariser for colours in [0, 1]; Deep Photo Style Transfer and PhotoWCT use it too.
DEFAULT_EPS = 1e-7


def _as_image(image) -> torch.Tensor:
    """An RGB image ``[3, H, W]`` or ``[1, 3, H, W]`` (tensor or array) as a float64 tensor ``[3, H, W]``."""
    t = image if isinstance(image, torch.Tensor) else torch.as_tensor(np.asarray(image))
    return check_single(t, "matting Laplacian: the RGB image", channels=3, finite=True).detach().to(torch.float64)


class MattingLaplacian:
    """The matting Laplacian of one image, its window statistics computed once.

    ``image``: RGB ``[3, H, W]`` or ``[1, 3, H, W]`` with values in [0, 1]
    (a tensor or an array); ``eps``: the regulariser (1e-7 in the papers);
    ``radius``: windows are ``(2r+1) x (2r+1)``.  The image is a constant: no
    gradient flows to it.
    """

    def __init__(self, image, eps: float = DEFAULT_EPS, radius: int = 1):
        check_int(radius, "matting Laplacian", "radius", minimum=1)
        check_positive(eps, "matting Laplacian", "eps")
        img = _as_image(image)
        _, h, w = img.shape
        d = 2 * radius + 1
        if h < d or w < d:
            raise InputError(f"matting Laplacian: the image ({h}x{w} pixels) is smaller than one {d}x{d} window")
        self.eps, self.radius, self.height, self.width = float(eps), radius, h, w
        self.diameter, self.window_size = d, d * d
        self.image = img
        self.mu, self.inv = self._window_stats(img)
        self._cache: dict[torch.device, tuple[torch.Tensor, ...]] = {}

    # ------------------------------------------------------------------ window statistics
    @property
    def n_pixels(self) -> int:
        return self.height * self.width

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_pixels, self.n_pixels)

    def _offsets(self):
        return [(dy, dx) for dy in range(self.diameter) for dx in range(self.diameter)]

    def _patch(self, t: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
        """The pixel at offset ``(dy, dx)`` of every full window: ``t[..., dy:dy+Hk, dx:dx+Wk]``."""
        hk, wk = self.height - 2 * self.radius, self.width - 2 * self.radius
        return t[..., dy:dy + hk, dx:dx + wk]

    def _window_stats(self, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Window means ``[3, Hk, Wk]`` and inverses of the regularised covariances ``[Hk, Wk, 3, 3]``."""
        m = self.window_size
        mu = sum(self._patch(img, dy, dx) for dy, dx in self._offsets()) / m
        cov = 0
        for dy, dx in self._offsets():
            c = self._patch(img, dy, dx) - mu
            cov = cov + torch.einsum("ihw,jhw->hwij", c, c)
        cov = cov / m + (self.eps / m) * torch.eye(3, dtype=torch.float64, device=img.device)
        inv = torch.linalg.inv(cov)
        return mu, 0.5 * (inv + inv.transpose(-1, -2))

    def _tensors_on(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        """Image ``[3, H, W]``, window means ``[3, Hk, Wk]``, inverses ``[3, 3, Hk, Wk]``, window counts ``[H, W]``."""
        if device not in self._cache:
            inv = self.inv.permute(2, 3, 0, 1).contiguous()
            count = torch.from_numpy(self.degree().reshape(self.height, self.width))
            self._cache[device] = tuple(t.to(device) for t in (self.image, self.mu, inv, count))
        return self._cache[device]

    # ------------------------------------------------------------------ sparse matrices
    def _window_blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel indices of every window ``[K, m]`` and its affinity block ``[K, m, m]``."""
        h, w, r = self.height, self.width, self.radius
        idx = np.arange(h * w).reshape(h, w)
        hk, wk = h - 2 * r, w - 2 * r
        win = np.stack([idx[dy:dy + hk, dx:dx + wk].ravel() for dy, dx in self._offsets()], axis=1)
        colours = self.image.cpu().numpy().reshape(3, -1).T[win]  # [K, m, 3]
        centred = colours - self.mu.cpu().numpy().reshape(3, -1).T[:, None, :]
        inv = self.inv.cpu().numpy().reshape(-1, 3, 3)
        blocks = (1.0 + (centred @ inv) @ centred.transpose(0, 2, 1)) / self.window_size
        return win, blocks

    def affinity(self) -> scipy.sparse.csr_matrix:
        """The matting affinity ``W`` (N x N, N = H*W): the window terms without the delta, summed."""
        win, blocks = self._window_blocks()
        m, n = self.window_size, self.n_pixels
        rows = np.repeat(win, m, axis=1).ravel()  # block entry (a, b) of window k -> (win[k, a], win[k, b])
        cols = np.tile(win, (1, m)).ravel()
        W = scipy.sparse.coo_matrix((blocks.ravel(), (rows, cols)), shape=(n, n)).tocsr()  # duplicates add up
        return ((W + W.T) * 0.5).tocsr()  # exact symmetry (the blocks are symmetric up to rounding)

    def degree(self) -> np.ndarray:
        """``D_ii``: the number of full windows containing pixel ``i`` (= the row sums of ``W``), ``[N]``."""
        r = self.radius

        def per_axis(n: int) -> np.ndarray:  # window centres c with r <= c <= n-1-r and |c - i| <= r
            i = np.arange(n)
            return np.minimum(n - 1 - r, i + r) - np.maximum(r, i - r) + 1

        return (per_axis(self.height)[:, None] * per_axis(self.width)[None, :]).ravel().astype(np.float64)

    def matrix(self) -> scipy.sparse.csr_matrix:
        """The matting Laplacian ``L = D - W`` (N x N, symmetric positive semi-definite, ``L 1 = 0``)."""
        return (scipy.sparse.diags(self.degree()) - self.affinity()).tocsr()

    # ------------------------------------------------------------------ matrix-free product
    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """``L x`` for ``x`` ``[C, H, W]`` (or ``[1, C, H, W]``), one product per channel, differentiable in ``x``.

        Computed in float64 and returned in ``x``'s dtype and shape.
        """
        if not isinstance(x, torch.Tensor):
            raise InputError(f"matting Laplacian: x must be a tensor, got {type(x).__name__}")
        batched = x.dim() == 4 and x.shape[0] == 1
        xs = x[0] if batched else x
        if xs.dim() != 3 or tuple(xs.shape[1:]) != (self.height, self.width):
            raise InputError(f"matting Laplacian: x must be [C, {self.height}, {self.width}] (the image's size), "
                             f"got shape {tuple(x.shape)}")
        out = self._apply64(xs.to(torch.float64)).to(x.dtype)
        return out[None] if batched else out

    __call__ = apply

    def _apply64(self, xs: torch.Tensor) -> torch.Tensor:
        """``L x`` for a float64 ``x`` ``[C, H, W]``."""
        c, h, w = xs.shape
        img, mu, inv, count = self._tensors_on(xs.device)
        r, d, m = self.radius, self.diameter, self.window_size
        hk, wk = h - 2 * r, w - 2 * r
        window_mean = lambda t: F.avg_pool2d(t, d, stride=1)  # over full windows only: [.., Hk, Wk]
        mean_x = window_mean(xs)  # [C, Hk, Wk]
        mean_ix = window_mean((img[None] * xs[:, None]).reshape(c * 3, h, w)).reshape(c, 3, hk, wk)
        cov_ix = mean_ix - mu[None] * mean_x[:, None]  # [C, 3, Hk, Wk]
        a = (inv[None] * cov_ix[:, None]).sum(2)  # a_k = inv_k cov_k(I, x): the window's linear fit of x
        b = mean_x - (a * mu[None]).sum(1)  # fit: x ~ a_k^T I + b_k in window k
        # sum a_k and b_k over the windows that contain each pixel (the adjoint of the window mean)
        ab = torch.cat([a.reshape(c * 3, hk, wk), b], 0)
        ab = F.avg_pool2d(F.pad(ab, (2 * r,) * 4), d, stride=1) * m  # [4C, H, W]
        return count * xs - (ab[:c * 3].reshape(c, 3, h, w) * img[None]).sum(1) - ab[c * 3:]

    def quadratic(self, x: torch.Tensor, method: str = "matrix_free") -> torch.Tensor:
        """``sum_c x_c^T L x_c``: Deep Photo Style Transfer's photorealism loss for ``x`` ``[C, H, W]``.

        Differentiable in ``x`` (the gradient is ``2 L x``).  ``method="matrix_free"``
        uses :meth:`apply`; ``"sparse"`` builds the CSR matrix once (cached) and
        multiplies with scipy, which is faster on a CPU when called many times.
        """
        check_choice(method, "matting Laplacian", "method", ("matrix_free", "sparse"))
        if method == "sparse":
            if not hasattr(self, "_csr"):
                self._csr = self.matrix()
            return _SparseQuadratic.apply(x, self._csr)
        xs = x.to(torch.float64)
        return (xs * self.apply(xs)).sum().to(x.dtype)


class _SparseQuadratic(torch.autograd.Function):
    """``sum_c x_c^T L x_c`` with a scipy CSR ``L``; backward ``2 L x`` (``L`` is symmetric)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, csr: scipy.sparse.csr_matrix) -> torch.Tensor:
        shape = x.shape
        flat = x.detach().to("cpu", torch.float64).reshape(-1, csr.shape[0]).numpy().T  # [N, C]
        lx = torch.from_numpy(np.ascontiguousarray((csr @ flat).T)).reshape(shape)
        ctx.save_for_backward(lx.to(x.device))
        ctx.dtype = x.dtype
        return (x.detach().to(torch.float64).cpu() * lx).sum().to(device=x.device, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (lx,) = ctx.saved_tensors
        return (2.0 * grad.to(torch.float64) * lx).to(ctx.dtype), None


# ---------------------------------------------------------------------- functional forms
def matting_laplacian(image, eps: float = DEFAULT_EPS, radius: int = 1) -> scipy.sparse.csr_matrix:
    """The matting Laplacian of an RGB image ``[3, H, W]`` / ``[1, 3, H, W]`` in [0, 1] as an N x N CSR matrix.

    Pixel ``(y, x)`` is row ``y * W + x``.  Levin et al. (TPAMI 2008), full windows only.
    """
    return MattingLaplacian(image, eps, radius).matrix()


def matting_affinity(image, eps: float = DEFAULT_EPS, radius: int = 1) -> scipy.sparse.csr_matrix:
    """The matting affinity ``W`` (``L = D - W``, ``D = diag(W 1)``) used by PhotoWCT's smoothing step."""
    return MattingLaplacian(image, eps, radius).affinity()


def matting_laplacian_apply(image, x: torch.Tensor, eps: float = DEFAULT_EPS, radius: int = 1) -> torch.Tensor:
    """``L x`` for ``x`` ``[C, H, W]`` without building ``L``; differentiable in ``x``.

    To apply the Laplacian of one image many times (an optimisation loop), build a
    :class:`MattingLaplacian` once and call it.
    """
    return MattingLaplacian(image, eps, radius).apply(x)
