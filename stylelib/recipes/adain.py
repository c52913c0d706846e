"""AdaIN's recipe: train the decoder, measure and register it, load it, the CLI entry.

The paper itself (Eq. 8, the network, the losses, the test-time controls) is :mod:`stylelib.models.adain`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import torch

from ..models.adain import AdaINConfig, AdaINNet, stylize
from ..training import registry
from ..training.loop import Budget, LRSchedule, TrainResult, fit, warmup
from .wct import init_decoder


def train_adain(cfg: AdaINConfig | None = None, *, run_dir=None, resume: bool = False, progress: bool = True,
                content_source="auto", style_source="auto") -> tuple[AdaINNet, TrainResult, str]:
    """Train the decoder; return the network, the training result and a description of the data."""
    from ..data.training import CropSampler, training_images

    cfg = cfg or AdaINConfig()
    content_files, content_desc = training_images("content", content_source)
    style_files, style_desc = training_images("style", style_source)
    contents = CropSampler(content_files, cfg.crop, load_size=cfg.load_size, progress=progress)
    styles = CropSampler(style_files, cfg.crop, load_size=cfg.load_size, progress=progress)
    torch.manual_seed(cfg.seed)
    net = AdaINNet(cfg)
    if cfg.init_from and not resume:
        init_decoder(net.decoder, cfg.init_from)
    opt = torch.optim.Adam(net.decoder.parameters(), lr=cfg.lr)
    n_self_styled = round(cfg.batch_size * cfg.self_style_fraction)

    def step_fn(step: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        content = contents.sample(cfg.batch_size, g)
        style = styles.sample(cfg.batch_size, g)
        if n_self_styled:
            keep = cfg.batch_size - n_self_styled
            style = torch.cat([style[:keep], content[keep:]])
        return net.losses(content, style)

    budget = Budget(cfg.steps, cfg.seconds, cfg.checkpoint_every, cfg.seed)
    result = fit(net.decoder, step_fn, opt, budget, run_dir=run_dir, resume=resume, progress=progress,
                 config=dataclasses.asdict(cfg), desc=f"adain ({cfg.profile})",
                 callbacks=[LRSchedule(warmup(cfg.warmup, cfg.lr_decay))])
    return net, result, f"content: {content_desc}; style: {style_desc}"


def reconstruction_psnr(net: AdaINNet, size: int = 256) -> dict[str, float | int | str]:
    """PSNR of ``g(f(c))`` against ``c`` over the held-out photos (median, min, max, count)."""
    from ..data.training import held_out_psnr

    return held_out_psnr(net.reconstruct, size)


def train_and_register(profile: str = "quick", *, run_dir=None, resume: bool = False, progress: bool = True,
                       name: str | None = None, **overrides) -> list[registry.Entry]:
    """``stylelib train adain``: train at ``profile``, measure held-out PSNR, register as ``adain-<profile>``."""
    cfg = AdaINConfig.for_profile(profile).replace(**overrides)
    net, result, data = train_adain(cfg, run_dir=run_dir, resume=resume, progress=progress)
    metrics = reconstruction_psnr(net)
    metrics["final_loss_mean_last_100"] = float(result.history["loss"].tail(100).mean())
    metrics["stopped_by"] = result.stopped_by
    return [registry.register(name or f"adain-{profile}", net.decoder.state_dict(), model="adain", profile=profile,
                              config=dataclasses.asdict(cfg), data=data, iterations=result.steps,
                              seconds=result.seconds, metrics=metrics)]


@functools.lru_cache(maxsize=4)
def load_adain(weights: str = "adain-quick") -> AdaINNet:
    """The registered AdaIN network ``weights`` (sha256 checked), in eval mode."""
    state, rec = registry.load(weights)
    net = AdaINNet(AdaINConfig.from_record(rec.config))
    net.decoder.load_state_dict(state)
    net.eval()
    return net


def stylize_adain(content: torch.Tensor, style: torch.Tensor | Sequence[torch.Tensor], *, alpha: float = 1.0,
                  style_weights: Sequence[float] | None = None, masks: Sequence[torch.Tensor] | None = None,
                  preserve_color: str = "none", weights: str = "adain-quick", net: AdaINNet | None = None,
                  progress: bool = False) -> torch.Tensor:
    """``stylelib stylize adain``: :func:`stylelib.models.adain.stylize` with the registered decoder ``weights``."""
    return stylize(net or load_adain(weights), content, style, alpha=alpha, style_weights=style_weights,
                   masks=masks, preserve_color=preserve_color)
