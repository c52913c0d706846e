"""WCT's recipe: train the five reconstruction decoders, register them, load them, the CLI entry.

The per-level decoder helpers here (:func:`decoder_training_images`, :func:`train_decoders`,
:func:`register_decoders`, :func:`per_level`, :func:`init_decoder`) are shared by the other
decoder-based recipes (PhotoWCT, WCT2, FA+SCP, AdaIN).  The paper itself (the transforms, the
networks, the multi-level transfer) is :mod:`stylelib.models.wct`.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Sequence

import torch

from ..data.training import held_out_psnr
from ..models.decoders import MirrorDecoder
from ..models.wct import LEVELS, WCTConfig, WCTNet, stylize
from ..training import registry
from ..training.loop import Budget, LRSchedule, TrainResult, fit, warmup
from ..vgg import ACTIVATION_SCALE


# ----------------------------------------------------------------------------- shared decoder helpers
def decoder_training_images(cfg, progress: bool = True, photos_only: bool = False):
    """Crops of the training images for reconstruction decoders, and where they came from.

    The artistic decoders (WCT, AdaIN) see photos and paintings; ``photos_only`` gives the photorealistic
    ones (PhotoWCT, WCT2) photos alone, with the held-out DPST pairs of notebook 01 left out
    (:func:`stylelib.data.training.photo_training_images`).
    """
    from ..data.training import CropSampler, photo_training_images, training_images

    if photos_only:
        files, desc = photo_training_images()
        return CropSampler(files, cfg.crop, load_size=cfg.load_size, progress=progress), f"photos only: {desc}"
    content_files, content_desc = training_images("content")
    style_files, style_desc = training_images("style")
    images = CropSampler(content_files + style_files, cfg.crop, load_size=cfg.load_size, progress=progress)
    return images, f"photos and paintings: {content_desc} + {style_desc}"


def train_decoders(net: torch.nn.Module, cfg, images, levels: Sequence[str], *, run_dir=None, resume: bool = False,
                   progress: bool = True, desc: str = "wct") -> dict[str, TrainResult]:
    """Train ``net.decoders[level]`` for each of ``levels``, one after the other, on ``net.reconstruction_losses``.

    ``cfg.steps`` / ``cfg.seconds`` hold one budget per entry of ``cfg.levels``; each level checkpoints
    in ``run_dir/<level>`` (and resumes from it with ``resume``).  WCT and PhotoWCT share this loop.
    """
    results: dict[str, TrainResult] = {}
    for level in levels:
        i = cfg.levels.index(level)
        decoder = net.decoders[level]
        opt = torch.optim.Adam(decoder.parameters(), lr=cfg.lr)
        level_dir = Path(run_dir) / level if run_dir is not None else None
        budget = Budget(cfg.steps[i], None if cfg.seconds is None else cfg.seconds[i], cfg.checkpoint_every,
                        cfg.seed + i)

        def step_fn(step: int, g: torch.Generator, level=level) -> dict[str, torch.Tensor]:
            return net.reconstruction_losses(level, images.sample(cfg.batch_size, g))

        resume_level = resume and level_dir is not None and (level_dir / "state.pt").is_file()
        results[level] = fit(decoder, step_fn, opt, budget, run_dir=level_dir, resume=resume_level,
                             progress=progress, config=dataclasses.asdict(cfg) | {"level": level},
                             desc=f"{desc} {level} ({cfg.profile})", callbacks=[LRSchedule(warmup(cfg.warmup))])
    return results


def register_decoders(net: torch.nn.Module, cfg, results: dict[str, TrainResult], *, model: str, base: str,
                      profile: str, data: str) -> list[registry.Entry]:
    """Register each trained decoder as ``<base>-<level>`` with its held-out PSNR and its loss history."""
    out = []
    for level, res in results.items():
        metrics = held_out_psnr(lambda img: net.reconstruct(img, level))
        metrics["final_loss_mean_last_50"] = float(res.history["loss"].tail(50).mean())
        metrics["stopped_by"] = res.stopped_by
        out.append(registry.register(f"{base}-{level}", net.decoders[level].state_dict(), model=model,
                                     profile=profile, config=dataclasses.asdict(cfg) | {"level": level}, data=data,
                                     iterations=res.steps, seconds=res.seconds, metrics=metrics))
        registry.save_history(f"{base}-{level}", res.history, ("step", "seconds", "loss", "pixel", "feature"))
    return out


def per_level(overrides: dict) -> dict:
    """One ``steps`` / ``seconds`` number from the command line applies to every decoder."""
    for key in ("steps", "seconds"):
        if isinstance(overrides.get(key), (int, float)):
            overrides[key] = (overrides[key],) * len(LEVELS)
    return overrides


def init_decoder(decoder: MirrorDecoder, name: str) -> None:
    """Copy the registered decoder ``name`` (same layer and architecture) into ``decoder``.

    A source decoder that scales its input features (``input_scale`` != 1,
    as the WCT decoders do) has that factor folded into its first
    convolution, since ``conv(s * x) = (s W) * x + b``.
    """
    state, rec = registry.load(name)
    level = rec.config.get("level", rec.config.get("encoder_layer"))
    if level != decoder.layer:
        raise ValueError(f"cannot start the {decoder.layer} decoder from {name!r}, a {level} decoder")
    scale = 1.0 / ACTIVATION_SCALE[level] if rec.config.get("scale_inputs") else 1.0
    first_conv = next(key for key, _ in decoder.named_parameters() if key.endswith(".weight"))
    state = dict(state)
    state[first_conv] = state[first_conv] * scale / decoder.input_scale
    decoder.load_state_dict(state)


# ----------------------------------------------------------------------------- WCT's training job
def train_wct(cfg: WCTConfig | None = None, *, run_dir=None, resume: bool = False, progress: bool = True,
              levels: Sequence[str] | None = None) -> tuple[WCTNet, dict[str, TrainResult], str]:
    """Train the reconstruction decoders one after the other (finest first)."""
    cfg = cfg or WCTConfig()
    images, data = decoder_training_images(cfg, progress)
    torch.manual_seed(cfg.seed)
    net = WCTNet(cfg)
    todo = [lv for lv in cfg.levels if levels is None or lv in levels]
    return net, train_decoders(net, cfg, images, todo, run_dir=run_dir, resume=resume, progress=progress), data


def train_and_register(profile: str = "quick", *, run_dir=None, resume: bool = False, progress: bool = True,
                       name: str | None = None, levels: Sequence[str] | None = None,
                       **overrides) -> list[registry.Entry]:
    """``stylelib train wct``: train the decoders (all, or ``levels``), register each as ``wct-<profile>-<level>``."""
    cfg = WCTConfig.for_profile(profile).replace(**per_level(overrides))
    net, results, data = train_wct(cfg, run_dir=run_dir, resume=resume, progress=progress, levels=levels)
    return register_decoders(net, cfg, results, model="wct", base=name or f"wct-{profile}", profile=profile, data=data)


# ----------------------------------------------------------------------------- registered weights
@functools.lru_cache(maxsize=2)
def load_wct(weights: str = "wct-quick") -> WCTNet:
    """The WCT network with the decoders registered as ``<weights>-relu1_1`` ... (sha256 checked)."""
    net = None
    for level in LEVELS:
        state, rec = registry.load(f"{weights}-{level}")
        if net is None:
            net = WCTNet(WCTConfig.from_record(rec.config))
        net.decoders[level].load_state_dict(state)
    assert net is not None
    net.eval()
    return net


def stylize_wct(content: torch.Tensor, style: torch.Tensor, *, alpha: float = 1.0,
                levels: Sequence[str] | None = None, weights: str = "wct-quick", net: WCTNet | None = None,
                progress: bool = False) -> torch.Tensor:
    """``stylelib stylize wct``: :func:`stylelib.models.wct.stylize` with the registered decoders ``weights``."""
    return stylize(net or load_wct(weights), content, style, alpha=alpha, levels=levels, progress=progress)
