"""Colour preservation for style transfer.

Gatys, Bethge, Hertzmann & Shechtman, "Preserving Color in Neural Artistic
Style Transfer" (arXiv 1606.05897, 2016) give two ways to keep the content
photo's colours:

* :func:`match_color` - colour histogram matching: an affine map of the
  style image's RGB values that gives them the content's mean and covariance,
  applied *before* stylisation.
* :func:`luminance_transfer` - luminance-only transfer: keep the stylised
  image's luminance and take the chroma (the I and Q channels of YIQ) from
  the content, applied *after* stylisation.
"""

from __future__ import annotations

import torch

from .checks import check_image

# RGB -> YIQ (NTSC), as in Gatys et al. 2016b.
_RGB2YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]], dtype=torch.float64
)
PRESERVE_COLOR = ("none", "histogram", "luminance")


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    check_image(x, "rgb_to_yiq")
    m = _RGB2YIQ.to(dtype=x.dtype, device=x.device)
    return torch.einsum("ij,njhw->nihw", m, x)


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    check_image(x, "yiq_to_rgb")
    m = torch.linalg.inv(_RGB2YIQ).to(dtype=x.dtype, device=x.device)
    return torch.einsum("ij,njhw->nihw", m, x)


def _sqrtm(cov: torch.Tensor, inverse: bool = False, eps: float = 1e-8) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(eps)
    d = vals.rsqrt() if inverse else vals.sqrt()
    return vecs @ torch.diag_embed(d) @ vecs.transpose(-1, -2)


def match_color(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Return ``source`` with its per-image RGB mean and covariance replaced by ``target``'s.

    ``x' = C_t^{1/2} C_s^{-1/2} (x - mu_s) + mu_t`` (symmetric square roots,
    computed in float64).  The result is clamped to [0, 1].
    """
    check_image(source, "match_color source")
    check_image(target, "match_color target")
    n, _, h, w = source.shape
    xs = source.double().reshape(n, 3, -1)
    xt = target.double().reshape(target.shape[0], 3, -1).expand(n, -1, -1) if target.shape[0] == 1 else \
        target.double().reshape(n, 3, -1)
    mu_s, mu_t = xs.mean(-1, keepdim=True), xt.mean(-1, keepdim=True)
    cs = (xs - mu_s) @ (xs - mu_s).transpose(1, 2) / xs.shape[-1]
    ct = (xt - mu_t) @ (xt - mu_t).transpose(1, 2) / xt.shape[-1]
    a = _sqrtm(ct) @ _sqrtm(cs, inverse=True)
    out = a @ (xs - mu_s) + mu_t
    return out.reshape(n, 3, h, w).clamp(0, 1).to(source.dtype)


def luminance_transfer(stylised: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Keep ``stylised``'s luminance (Y) and ``content``'s chroma (I, Q); clamp to [0, 1]."""
    check_image(stylised, "luminance_transfer stylised")
    check_image(content, "luminance_transfer content")
    if stylised.shape[-2:] != content.shape[-2:]:
        raise ValueError("luminance_transfer: stylised and content images differ in size")
    ys = rgb_to_yiq(stylised.double())
    yc = rgb_to_yiq(content.double()).expand_as(ys)
    mixed = torch.cat([ys[:, :1], yc[:, 1:]], 1)
    return yiq_to_rgb(mixed).clamp(0, 1).to(stylised.dtype)
