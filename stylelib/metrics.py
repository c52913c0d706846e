"""Metrics used in every notebook's tables.

* :func:`ssim` - structural similarity (Wang et al., IEEE TIP 2004) of the
  grayscale images, Gaussian window sigma 1.5, as in scikit-image with
  ``gaussian_weights=True``; :func:`edge_ssim` - the same on Sobel edge maps
  (the photorealism score of the WCT2 / FA+SCP evaluations).
* :func:`gram_distance` - how far an image's style statistics are from a style
  image: the relative squared Frobenius distance between Gram matrices
  ``||G(x) - G(s)||^2 / ||G(s)||^2`` averaged over relu1_1..relu5_1 of VGG-19.
  0 means identical Gram matrices; the content photo typically scores near 1.
* :func:`content_distance` - relative squared distance of relu4_2 features,
  ``||phi(x) - phi(c)||^2 / ||phi(c)||^2``.
* :func:`lpips_distance` - LPIPS (Zhang et al., CVPR 2018) through the
  ``lpips`` package, only when its backbone weights are already on disk;
  otherwise ``None`` and :func:`lpips_status` says why.  Never computed with
  random weights.
* :func:`measure` - wall time and peak memory of a call.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from .checks import check_image, check_same_size
from .losses import gram_matrix
from .vgg import shared_vgg

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
_LUMA = (0.299, 0.587, 0.114)


def _image_pair(a: torch.Tensor, b: torch.Tensor, who: str, same_size: bool = True) -> None:
    check_image(a, who, channels=(1, 3))
    check_image(b, who, channels=(1, 3))
    if same_size:
        check_same_size(a, b, who)


def to_gray(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma of an RGB batch, shape ``[N, 1, H, W]``."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def _gaussian_window(size: int, sigma: float, dtype, device) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = (g / g.sum()).to(dtype=dtype, device=device)
    return g


def ssim(a: torch.Tensor, b: torch.Tensor, *, data_range: float = 1.0, sigma: float = 1.5) -> float:
    """Mean SSIM between the grayscale versions of two images (batch-averaged).

    Matches ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1)``: the mean is taken
    over positions at least 3 sigma from the border.
    """
    _image_pair(a, b, "ssim")
    x = to_gray(a.detach().double())
    y = to_gray(b.detach().double())
    return float(_ssim_map(x, y, data_range, sigma).mean())


def _ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float, sigma: float) -> torch.Tensor:
    size = int(2 * round(3.5 * sigma) + 1)  # 11 for sigma 1.5, as in skimage (truncate=3.5)
    if min(x.shape[-2:]) < size:
        raise ValueError(f"ssim: images must be at least {size}x{size} pixels, got {tuple(x.shape[-2:])}")
    g = _gaussian_window(size, sigma, x.dtype, x.device)
    gh, gw = g.view(1, 1, size, 1), g.view(1, 1, 1, size)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, gh), gw)  # 'valid' filtering: border crop as in skimage

    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return num / den


def sobel_edges(x: torch.Tensor) -> torch.Tensor:
    """Gradient magnitude of the grayscale image (Sobel), scaled to [0, 1] per image."""
    g = to_gray(x.detach().double())
    kx = torch.tensor([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=g.dtype, device=g.device).view(1, 1, 3, 3) / 4
    ky = kx.transpose(-1, -2)
    p = F.pad(g, (1, 1, 1, 1), mode="replicate")
    mag = torch.sqrt(F.conv2d(p, kx) ** 2 + F.conv2d(p, ky) ** 2)
    peak = mag.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return mag / peak


def edge_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """SSIM between Sobel edge maps: a photorealism score that ignores colour changes."""
    _image_pair(a, b, "edge_ssim")
    return float(_ssim_map(sobel_edges(a), sobel_edges(b), 1.0, 1.5).mean())


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB (RGB, averaged over everything)."""
    _image_pair(a, b, "psnr")
    mse = F.mse_loss(a.detach().double(), b.detach().double()).item()
    return float("inf") if mse == 0 else 10.0 * torch.log10(torch.tensor(data_range**2 / mse)).item()


@torch.no_grad()
def gram_distance(x: torch.Tensor, style: torch.Tensor, layers=STYLE_LAYERS) -> float:
    """Relative squared Gram distance to the style, averaged over ``layers`` (see module docstring).

    The two images may have different sizes: Gram matrices are normalised by
    the number of positions.
    """
    _image_pair(x, style, "gram_distance", same_size=False)
    vgg = shared_vgg(tuple(layers))
    fx, fs = vgg(x.detach().float()), vgg(style.detach().float())
    total = 0.0
    for name in layers:
        gx = gram_matrix(fx[name].double())
        gs = gram_matrix(fs[name].double()).expand_as(gx)
        total += ((gx - gs).pow(2).sum((1, 2)) / gs.pow(2).sum((1, 2)).clamp_min(1e-30)).mean().item()
    return total / len(layers)


@torch.no_grad()
def content_distance(x: torch.Tensor, content: torch.Tensor, layer: str = CONTENT_LAYER) -> float:
    """Relative squared distance between ``layer`` features of ``x`` and of the content image."""
    _image_pair(x, content, "content_distance")
    vgg = shared_vgg((layer,))
    fx, fc = vgg(x.detach().float())[layer].double(), vgg(content.detach().float())[layer].double()
    fc = fc.expand_as(fx)
    per_sample = (fx - fc).pow(2).sum((1, 2, 3)) / fc.pow(2).sum((1, 2, 3)).clamp_min(1e-30)
    return float(per_sample.mean().item())


# ---------------------------------------------------------------- LPIPS
_LPIPS_BACKBONES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth", "squeeze": "squeezenet1_1-b8a52dc0.pth"}


def lpips_status(net: str = "alex") -> tuple[bool, str]:
    """Whether LPIPS can be computed here, and if not, why."""
    try:
        import lpips  # noqa: F401
    except ImportError:
        return False, "the lpips package is not installed"
    path = Path(torch.hub.get_dir()) / "checkpoints" / _LPIPS_BACKBONES[net]
    if not path.is_file():
        return False, f"{net} backbone weights not in the torch cache ({path}); stylelib never downloads them"
    return True, f"lpips {net} ({path.name})"


@functools.lru_cache(maxsize=2)
def _lpips_model(net: str):
    import lpips

    return lpips.LPIPS(net=net, pretrained=True, pnet_rand=False, verbose=False).eval()


@torch.no_grad()
def lpips_distance(a: torch.Tensor, b: torch.Tensor, net: str = "alex") -> float | None:
    """LPIPS distance, or ``None`` when the backbone weights are not on disk (see :func:`lpips_status`)."""
    _image_pair(a, b, "lpips_distance")
    ok, _ = lpips_status(net)
    if not ok:
        return None
    model = _lpips_model(net)
    return float(model(a.float() * 2 - 1, b.float() * 2 - 1).mean().item())


def evaluate(output: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> dict[str, float | None]:
    """The standard metric row: SSIM and edge SSIM to the content, Gram distance to the style,
    content distance, and LPIPS to the content (``None`` when unavailable)."""
    if output.shape[-2:] != content.shape[-2:]:
        raise ValueError(
            f"evaluate: output {tuple(output.shape[-2:])} and content {tuple(content.shape[-2:])} differ in size"
        )
    return {
        "ssim": ssim(output, content),
        "edge_ssim": edge_ssim(output, content),
        "gram_distance": gram_distance(output, style),
        "content_distance": content_distance(output, content),
        "lpips": lpips_distance(output, content),
    }


# ---------------------------------------------------------------- time and memory
def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _PeakSampler(threading.Thread):
    def __init__(self, interval: float = 0.002):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = _rss_bytes()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, _rss_bytes())
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        self.peak = max(self.peak, _rss_bytes())
        return self.peak


def measure(fn: Callable[..., Any], *args, device: str | torch.device | None = None, **kwargs) -> tuple[Any, float, float]:
    """Run ``fn(*args, **kwargs)``; return ``(result, seconds, peak_memory_mb)``.

    On the CPU the peak is the resident-set growth over the call, sampled
    every 2 ms by a background thread; on CUDA it is
    ``torch.cuda.max_memory_allocated`` over the call.
    """
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        torch.cuda.synchronize(dev)
        seconds = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated(dev) - base
        return result, seconds, peak / 2**20
    sampler = _PeakSampler()
    base = sampler.peak
    sampler.start()
    t0 = time.perf_counter()
    try:
        result = fn(*args, **kwargs)
    finally:
        seconds = time.perf_counter() - t0
        peak = sampler.stop()
    return result, seconds, max(0, peak - base) / 2**20
