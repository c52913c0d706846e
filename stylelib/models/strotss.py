"""STROTSS: style transfer by relaxed optimal transport and self-similarity (the base method of DST).

"Style Transfer by Relaxed Optimal Transport and Self-Similarity", N. Kolkin,
J. Salavon, G. Shakhnarovich, CVPR 2019; in the form Deformable Style Transfer
(Kim et al., ECCV 2020) optimises it (the authors' loss.py).

Images are described by *hypercolumns*: the RGB value and the activations of
nine VGG layers, sampled bilinearly at the same image positions.  The style
loss compares the output's hypercolumns with the style's as point clouds::

    L_style = REMD_cos(X, S) + mean|mu_X - mu_S| + mean|Sigma_X - Sigma_S| + REMD_L2(YUV(X), YUV(S)) / max(a_s, 1)
    REMD(C)  = max( mean_i min_j C_ij , mean_j min_i C_ij )        (a relaxed earth mover's distance)

and the content loss compares the self-similarity of the output's hypercolumns
with the content's (``D_ij = 1 - cos(x_i, x_j)``, each column normalised to
sum 1; ``L_content = N * mean|D^X - D^C|``).  This module holds the features
and the losses; :mod:`stylelib.models.dst` holds the optimisation (with the
warp switched off it is STROTSS itself).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..vgg import VGG19Features

#: the hypercolumn layers: DST's VGG-16 relu1_1, 1_2, 2_1, 2_2, 3_1, 3_2, 3_3, 4_3, 5_3, with the last ReLU
#: of blocks 3-5 of our VGG-19 standing in for VGG-16's
HYPERCOLUMN_LAYERS = ("relu1_1", "relu1_2", "relu2_1", "relu2_2", "relu3_1", "relu3_2", "relu3_4", "relu4_4",
                      "relu5_4")


class Hypercolumns:
    """RGB plus the :data:`HYPERCOLUMN_LAYERS` of ``vgg``, each layer divided by a fixed scale.

    ``scales`` (one per layer) default to the mean activation of each layer on
    ``reference`` (the style image), so that every layer contributes on a
    scale near 1 whatever the weights' units.
    """

    def __init__(self, vgg: VGG19Features, reference: torch.Tensor, scales: dict[str, float] | None = None):
        self.vgg = vgg
        if scales is None:
            with torch.no_grad():
                feats = vgg(reference, HYPERCOLUMN_LAYERS)
            scales = {k: float(v.mean().clamp_min(1e-6)) for k, v in feats.items()}
        self.scales = scales

    @property
    def dims(self) -> int:
        from ..vgg import CHANNELS

        return 3 + sum(CHANNELS[n] for n in HYPERCOLUMN_LAYERS)

    def maps(self, image: torch.Tensor) -> list[torch.Tensor]:
        """The RGB image and every scaled layer, ``[1, C_l, h_l, w_l]`` each."""
        feats = self.vgg(image, HYPERCOLUMN_LAYERS)
        return [image, *[feats[n] / self.scales[n] for n in HYPERCOLUMN_LAYERS]]

    @staticmethod
    def sample(maps: list[torch.Tensor], rows: torch.Tensor, cols: torch.Tensor, height: int, width: int
               ) -> torch.Tensor:
        """Hypercolumns ``[n, D]`` at pixel positions ``(rows, cols)`` of a ``height x width`` image (bilinear)."""
        grid = torch.stack([(2 * cols.float() + 1) / width - 1, (2 * rows.float() + 1) / height - 1], -1)
        grid = grid.view(1, 1, -1, 2)
        return torch.cat([F.grid_sample(m, grid.to(m.dtype), mode="bilinear", padding_mode="border",
                                        align_corners=False)[0, :, 0].T for m in maps], 1)


def cosine_cost(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``1 - cos(x_i, y_j)`` for rows of ``x`` ``[n, D]`` and ``y`` ``[m, D]``."""
    return 1 - F.normalize(x, dim=1) @ F.normalize(y, dim=1).T


def euclidean_cost(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``|x_i - y_j|`` (with a floor inside the square root, so its gradient is finite at 0)."""
    return (x.pow(2).sum(1, keepdim=True) + y.pow(2).sum(1)[None] - 2 * x @ y.T).clamp_min(1e-8).sqrt()


def remd(cost: torch.Tensor) -> torch.Tensor:
    """The relaxed earth mover's distance of a cost matrix: the larger of the two one-sided nearest-match means."""
    return torch.maximum(cost.min(1).values.mean(), cost.min(0).values.mean())


def moments(x: torch.Tensor, blocks: list[int] | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Mean ``[D]`` and covariance of rows ``[n, D]``: the full matrix, or one per block of ``blocks`` columns."""
    mu = x.mean(0)
    centred = x - mu
    n = max(len(x) - 1, 1)
    if blocks is None:
        return mu, [centred.T @ centred / n]
    return mu, [part.T @ part / n for part in torch.split(centred, blocks, 1)]


def moment_loss(mu_x: torch.Tensor, cov_x: list[torch.Tensor], mu_s: torch.Tensor, cov_s: list[torch.Tensor]
                ) -> torch.Tensor:
    """``mean|mu_x - mu_s| + mean|Sigma_x - Sigma_s|`` (the mean over every covariance entry)."""
    total = sum(float(c.numel()) for c in cov_x)
    return (mu_x - mu_s).abs().mean() + sum((a - b).abs().sum() for a, b in zip(cov_x, cov_s)) / total


def self_similarity_loss(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """STROTSS's content loss between output and content hypercolumns ``[n, D]`` at the same positions."""
    dx, dc = cosine_cost(x, x), cosine_cost(c, c)
    dx = dx / dx.sum(0, keepdim=True).clamp_min(1e-8)
    dc = dc / dc.sum(0, keepdim=True).clamp_min(1e-8)
    return len(x) * (dx - dc).abs().mean()


def rgb_to_yuv_rows(rgb: torch.Tensor) -> torch.Tensor:
    """YUV of RGB rows ``[n, 3]`` in [0, 1] (kornia's conversion)."""
    from kornia.color import rgb_to_yuv

    return rgb_to_yuv(rgb.T[:, :, None])[:, :, 0].T
