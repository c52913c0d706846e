"""PhotoWCT's recipe: fine-tune the unpooling decoders from WCT's, register, load, the CLI entry.

The paper itself (the unpooling cascade, Eq. 6 smoothing) is :mod:`stylelib.models.photowct`.
"""

from __future__ import annotations

import functools
from typing import Sequence

import torch

from ..models.photowct import LEVELS, SMOOTHING, PhotoWCTConfig, PhotoWCTNet, smooth
from ..training import registry
from ..training.loop import TrainResult
from .wct import decoder_training_images, per_level, register_decoders, train_decoders

# ----------------------------------------------------------------------------- training
def init_from_wct(net: PhotoWCTNet, name: str, levels: Sequence[str]) -> None:
    """Load the registered WCT decoders ``<name>-<level>`` into the unpooling decoders (same parameters)."""
    for level in levels:
        state, rec = registry.load(f"{name}-{level}")
        if rec.config.get("level") != level or bool(rec.config.get("scale_inputs")) != net.cfg.scale_inputs:
            raise ValueError(f"cannot start the {level} PhotoWCT decoder from {name}-{level}")
        net.decoders[level].load_state_dict(state)


def train_photowct(cfg: PhotoWCTConfig | None = None, *, run_dir=None, resume: bool = False, progress: bool = True,
                   levels: Sequence[str] | None = None) -> tuple[PhotoWCTNet, dict[str, TrainResult], str]:
    """Train (or fine-tune) the unpooling decoders one after the other, finest first (WCT's loop)."""
    cfg = cfg or PhotoWCTConfig()
    images, data = decoder_training_images(cfg, progress, photos_only=True)
    torch.manual_seed(cfg.seed)
    net = PhotoWCTNet(cfg)
    todo = [lv for lv in cfg.levels if levels is None or lv in levels]
    if cfg.init_from and not resume:
        init_from_wct(net, cfg.init_from, todo)
    results = train_decoders(net, cfg, images, todo, run_dir=run_dir, resume=resume, progress=progress,
                             desc="photowct")
    return net, results, data


def train_and_register(profile: str = "quick", *, run_dir=None, resume: bool = False, progress: bool = True,
                       name: str | None = None, levels: Sequence[str] | None = None,
                       **overrides) -> list[registry.Entry]:
    """``stylelib train photowct``: train the decoders, register each as ``photowct-<profile>-<level>``."""
    cfg = PhotoWCTConfig.for_profile(profile).replace(**per_level(overrides))
    net, results, data = train_photowct(cfg, run_dir=run_dir, resume=resume, progress=progress, levels=levels)
    return register_decoders(net, cfg, results, model="photowct", base=name or f"photowct-{profile}",
                             profile=profile, data=data)


# ----------------------------------------------------------------------------- inference
@functools.lru_cache(maxsize=2)
def load_photowct(weights: str = "photowct-quick") -> PhotoWCTNet:
    """The registered PhotoWCT decoders ``<weights>-<level>`` (sha256 checked), in eval mode."""
    states, cfg = {}, None
    for level in LEVELS:
        state, rec = registry.load(f"{weights}-{level}")
        states[level] = state
        if cfg is None:
            cfg = PhotoWCTConfig.from_record(rec.config)
    net = PhotoWCTNet(cfg)
    for level, state in states.items():
        net.decoders[level].load_state_dict(state)
    net.eval()
    return net


@torch.no_grad()
def stylize_photowct(content: torch.Tensor, style: torch.Tensor, *, alpha: float = 1.0,
                     smoothing: str = "closed_form", content_labels: torch.Tensor | None = None,
                     style_labels: torch.Tensor | None = None, weights: str = "photowct-quick",
                     net: PhotoWCTNet | None = None, progress: bool = False) -> torch.Tensor:
    """Stylise ``content`` [1,3,H,W] with the photo ``style``: PhotoWCT, then ``smoothing``."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if smoothing not in SMOOTHING:
        raise ValueError(f"photowct: smoothing must be one of {SMOOTHING}, got {smoothing!r}")
    net = net or load_photowct(weights)
    out = net.stylize(content, style, content_labels=content_labels, style_labels=style_labels, alpha=alpha)
    return smooth(out, content, net.cfg, smoothing)
