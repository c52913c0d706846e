"""K-means with k-means++ seeding, in torch (no scikit-learn dependency).

Lloyd's algorithm (S. Lloyd, "Least squares quantization in PCM", IEEE
Trans. Inf. Theory 28(2), 1982) started from k-means++ seeds (D. Arthur and
S. Vassilvitskii, "k-means++: The Advantages of Careful Seeding", SODA 2007):
the first centre is a random point, each next one a point drawn with
probability proportional to its squared distance to the nearest centre
chosen so far.  ``n_init`` seeded restarts keep the run with the lowest
inertia (sum of squared distances to the assigned centres).  StyleBank's
region fusion (Chen et al., CVPR 2017) segments the content with it.
"""

from __future__ import annotations

import torch

from .checks import InputError, check_tensor


def _sq_dists(points: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    return (points.pow(2).sum(1, keepdim=True) - 2 * points @ centres.T + centres.pow(2).sum(1)).clamp_min(0)


def kmeans_pp_init(points: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """``k`` initial centres ``[k, d]`` drawn by k-means++ from ``points`` ``[n, d]``."""
    n = points.shape[0]
    centres = [points[int(torch.randint(n, (1,), generator=generator))]]
    d2 = _sq_dists(points, centres[0][None])[:, 0]
    for _ in range(1, k):
        total = float(d2.sum())
        if total <= 0:  # every point coincides with a centre: any point will do
            idx = int(torch.randint(n, (1,), generator=generator))
        else:
            idx = int(torch.multinomial(d2 / total, 1, generator=generator))
        centres.append(points[idx])
        d2 = torch.minimum(d2, _sq_dists(points, points[idx][None])[:, 0])
    return torch.stack(centres)


def lloyd(points: torch.Tensor, centres: torch.Tensor, max_iter: int = 100,
          tol: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Lloyd iterations from ``centres``; returns ``(labels [n], centres [k, d], inertia)``.

    A centre left without points keeps its position.
    """
    k = centres.shape[0]
    for _ in range(max_iter):
        labels = _sq_dists(points, centres).argmin(1)
        sums = torch.zeros_like(centres).index_add_(0, labels, points)
        counts = torch.bincount(labels, minlength=k).to(points.dtype)[:, None]
        new = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
        shift = float((new - centres).pow(2).sum())
        centres = new
        if shift <= tol:
            break
    d = _sq_dists(points, centres)
    labels = d.argmin(1)
    return labels, centres, float(d.gather(1, labels[:, None]).sum())


def kmeans(points: torch.Tensor, k: int, *, seed: int = 0, n_init: int = 10,
           max_iter: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster ``points`` ``[n, d]`` into ``k`` groups: ``(labels [n], centres [k, d])``, best of ``n_init``.

    Deterministic for a given ``seed``.
    """
    check_tensor(points, "kmeans", dims=2, expected="floating points [n, d]")
    if not points.is_floating_point():
        raise InputError(f"kmeans: expected floating points [n, d], got {points.dtype}")
    if not 1 <= k <= points.shape[0]:
        raise ValueError(f"kmeans: k must be between 1 and the number of points ({points.shape[0]}), got {k}")
    if n_init < 1:
        raise ValueError(f"kmeans: n_init must be at least 1, got {n_init}")
    g = torch.Generator().manual_seed(int(seed))
    x = points.detach().double()
    best = None
    for _ in range(n_init):
        labels, centres, inertia = lloyd(x, kmeans_pp_init(x, k, g), max_iter)
        if best is None or inertia < best[2]:
            best = (labels, centres, inertia)
    assert best is not None
    return best[0], best[1].to(points.dtype)
