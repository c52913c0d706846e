"""Perceptual losses shared by every method in the suite.

All functions take feature maps ``[N, C, H, W]`` (or images for
:func:`tv_loss`) and return a scalar tensor that can be back-propagated.

References:
    Gatys, Ecker & Bethge, "Image Style Transfer Using Convolutional Neural
    Networks", CVPR 2016 (content loss, Gram-matrix style loss).
    Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive
    Instance Normalization", ICCV 2017 (mean/std style loss).
    Mahendran & Vedaldi, CVPR 2015 (total variation prior).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from .checks import check_features
import torch.nn.functional as F

GRAM_NORMALISATIONS = ("hw", "chw", "none")


def content_loss(features: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Squared error between feature maps.

    ``reduction="mean"`` is the mean squared error (independent of image size);
    ``"paper"`` is Gatys et al.'s ``1/2 * sum((F - P)^2)``.
    """
    check_features(features, "content_loss")
    if features.shape != target.shape:
        raise ValueError(f"content_loss: shapes differ, {tuple(features.shape)} vs {tuple(target.shape)}")
    if reduction == "mean":
        return F.mse_loss(features, target)
    if reduction == "paper":
        return 0.5 * (features - target).pow(2).sum()
    raise ValueError(f"content_loss: reduction must be 'mean' or 'paper', got {reduction!r}")


def gram_matrix(features: torch.Tensor, normalize: str = "hw") -> torch.Tensor:
    """Per-sample Gram matrix ``F F^T`` of features ``[N, C, H, W]`` -> ``[N, C, C]``.

    ``normalize``: ``"hw"`` divides by the number of positions (so Gram
    matrices of different image sizes are comparable), ``"chw"`` also by the
    channel count, ``"none"`` is the raw sum of Gatys et al.
    """
    check_features(features, "gram_matrix")
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    g = torch.bmm(f, f.transpose(1, 2))
    if normalize == "hw":
        return g / (h * w)
    if normalize == "chw":
        return g / (c * h * w)
    if normalize == "none":
        return g
    raise ValueError(f"gram_matrix: normalize must be one of {GRAM_NORMALISATIONS}, got {normalize!r}")


def gram_style_loss(
    features: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float] | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Weighted sum over layers of the squared distance between Gram matrices.

    ``target_grams`` hold Gram matrices computed with ``normalize="hw"``.
    ``reduction="mean"`` averages the squared differences over the ``C x C``
    entries; ``"paper"`` gives Gatys et al.'s ``E_l = 1/(4 N^2 M^2) sum (G - A)^2``,
    which equals a quarter of the ``"mean"`` value for ``hw``-normalised Grams.
    A target with batch size 1 is broadcast over the batch.
    """
    if reduction not in ("mean", "paper"):
        raise ValueError(f"gram_style_loss: reduction must be 'mean' or 'paper', got {reduction!r}")
    total = None
    for name, target in target_grams.items():
        if name not in features:
            raise KeyError(f"gram_style_loss: no features for layer {name!r}")
        g = gram_matrix(features[name], "hw")
        diff = (g - target.expand_as(g)).pow(2).mean()
        if reduction == "paper":
            diff = diff / 4.0
        w = 1.0 if layer_weights is None else float(layer_weights.get(name, 0.0))
        term = w * diff
        total = term if total is None else total + term
    if total is None:
        raise ValueError("gram_style_loss: no layers given")
    return total


def mean_std(features: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel-wise mean and standard deviation ``[N, C, 1, 1]`` over the spatial positions."""
    check_features(features, "mean_std")
    n, c = features.shape[:2]
    flat = features.reshape(n, c, -1)
    mean = flat.mean(-1).view(n, c, 1, 1)
    std = (flat.var(-1, unbiased=False) + eps).sqrt().view(n, c, 1, 1)
    return mean, std


def mean_std_style_loss(
    features: Mapping[str, torch.Tensor] | Sequence[torch.Tensor],
    targets: Mapping[str, torch.Tensor] | Sequence[torch.Tensor],
) -> torch.Tensor:
    """AdaIN's style loss: sum over layers of the MSE between channel means and between channel stds.

    Huang & Belongie (ICCV 2017), Eq. 12.  ``targets`` are style feature maps
    (batch 1 is broadcast).
    """
    if isinstance(features, Mapping):
        keys = list(targets.keys()) if isinstance(targets, Mapping) else list(features.keys())
        pairs = [(features[k], targets[k]) for k in keys]
    else:
        pairs = list(zip(features, targets))
    if not pairs:
        raise ValueError("mean_std_style_loss: no layers given")
    total = None
    for f, t in pairs:
        m, s = mean_std(f)
        mt, st = mean_std(t)
        term = F.mse_loss(m, mt.expand_as(m)) + F.mse_loss(s, st.expand_as(s))
        total = term if total is None else total + term
    return total


def tv_loss(image: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Total variation of an image batch: mean absolute (``l1``) or squared (``l2``) neighbour differences."""
    check_features(image, "tv_loss: image")
    if kind not in ("l1", "l2"):
        raise ValueError(f"tv_loss: kind must be 'l1' or 'l2', got {kind!r}")
    total = image.new_zeros(())
    for d in (image[:, :, 1:, :] - image[:, :, :-1, :], image[:, :, :, 1:] - image[:, :, :, :-1]):
        if d.numel():  # an image one pixel high (or wide) has no differences along that axis
            total = total + (d.abs().mean() if kind == "l1" else d.pow(2).mean())
    return total
