"""WCT2's recipe: train the wavelet decoder (from WCT's relu4_1 decoder), register, load, the CLI entry.

The paper itself (wavelet pooling, the progressive transfer) is :mod:`stylelib.models.wct2`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import torch

from ..models.wct2 import TOP, WCT2Config, WCT2Net, WaveDecoder
from ..training import registry
from ..training.loop import Budget, LRSchedule, TrainResult, fit, warmup
from .wct import decoder_training_images

# ----------------------------------------------------------------------------- training
def init_from_wct(decoder: WaveDecoder, name: str) -> None:
    """Copy the registered WCT relu4_1 mirror decoder's convolutions ``name`` into ``decoder``.

    Both scale their input by 1 / ACTIVATION_SCALE["relu4_1"] (the WCT decoder when it was trained with
    ``scale_inputs``); the convolutions are the same, in the same order.
    """
    state, rec = registry.load(name)
    if rec.config.get("level") != TOP or not rec.config.get("scale_inputs"):
        raise ValueError(f"cannot start the WCT2 decoder from {name!r}: it must be a relu4_1 WCT decoder "
                         f"trained with scaled inputs")
    weights = [k for k in state if k.endswith(".weight")]
    convs = list(decoder.convs)
    if len(weights) != len(convs):
        raise ValueError(f"{name!r} has {len(weights)} convolutions, the WCT2 decoder {len(convs)}")
    with torch.no_grad():
        for conv, key in zip(convs, sorted(weights, key=lambda k: int(k.split(".")[1]))):
            conv.weight.copy_(state[key])
            conv.bias.copy_(state[key[:-len("weight")] + "bias"])


def train_wct2(cfg: WCT2Config | None = None, *, run_dir=None, resume: bool = False, progress: bool = True
               ) -> tuple[WCT2Net, TrainResult, str]:
    """Train the wavelet decoder to reconstruct photos (pixel + feature loss); the held-out DPST pairs are
    left out (:func:`stylelib.data.training.photo_training_images`)."""
    cfg = cfg or WCT2Config()
    images, data = decoder_training_images(cfg, progress, photos_only=True)
    torch.manual_seed(cfg.seed)
    net = WCT2Net(cfg)
    if cfg.init_from and not resume:
        init_from_wct(net.decoder, cfg.init_from)
    opt = torch.optim.Adam(net.decoder.parameters(), lr=cfg.lr)

    def step_fn(step: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        return net.reconstruction_losses(images.sample(cfg.batch_size, g))

    budget = Budget(cfg.steps, cfg.seconds, cfg.checkpoint_every, cfg.seed)
    result = fit(net.decoder, step_fn, opt, budget, run_dir=run_dir, resume=resume, progress=progress,
                 config=dataclasses.asdict(cfg), desc=f"wct2 ({cfg.profile})",
                 callbacks=[LRSchedule(warmup(cfg.warmup))])
    return net, result, data


def reconstruction_psnr(net: WCT2Net, size: int = 256) -> dict[str, float | int | str]:
    """Median PSNR of the decoder's reconstructions of the held-out photos."""
    from ..data.training import held_out_psnr

    return held_out_psnr(net.reconstruct, size)


def train_and_register(profile: str = "quick", *, run_dir=None, resume: bool = False, progress: bool = True,
                       name: str | None = None, **overrides) -> list[registry.Entry]:
    """``stylelib train wct2``: train the decoder, measure held-out PSNR, register as ``wct2-<profile>``."""
    cfg = WCT2Config.for_profile(profile).replace(**overrides)
    net, result, data = train_wct2(cfg, run_dir=run_dir, resume=resume, progress=progress)
    metrics = reconstruction_psnr(net)
    metrics["final_loss_mean_last_50"] = float(result.history["loss"].tail(50).mean())
    metrics["stopped_by"] = result.stopped_by
    name = name or f"wct2-{profile}"
    entry = registry.register(name, net.decoder.state_dict(), model="wct2", profile=profile,
                              config=dataclasses.asdict(cfg), data=data, iterations=result.steps,
                              seconds=result.seconds, metrics=metrics)
    registry.save_history(name, result.history, ("step", "seconds", "loss", "pixel", "feature"))
    return [entry]


# ----------------------------------------------------------------------------- inference
@functools.lru_cache(maxsize=2)
def load_wct2(weights: str = "wct2-quick") -> WCT2Net:
    """The registered WCT2 network ``weights`` (sha256 checked), in eval mode."""
    state, rec = registry.load(weights)
    net = WCT2Net(WCT2Config.from_record(rec.config))
    net.decoder.load_state_dict(state)
    net.eval()
    return net


@torch.no_grad()
def stylize_wct2(content: torch.Tensor, style: torch.Tensor, *, alpha: float = 1.0, weights: str = "wct2-quick",
                 transfer_at: Sequence[str] | None = None, net: WCT2Net | None = None,
                 progress: bool = False) -> torch.Tensor:
    """Stylise ``content`` [1,3,H,W] with the photo ``style`` in one progressive pass."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    net = net or load_wct2(weights)
    return net.stylize(content, style, transfer_at=transfer_at, alpha=alpha)
