"""How StyleBank is trained, registered, loaded and compared (the paper itself is in stylelib.models.stylebank).

Training (the (T+1) schedule of Sec. 3.2 driven by :func:`stylelib.training.loop.fit`), the incremental
comparison of Sec. 3.3, registration, loading registered weights, the ``stylize`` CLI entry point and the
pandas analysis tables the notebook shows.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
import torch.nn.functional as F

from ..errors import StylelibError
from ..images import load_image
from ..losses import gram_matrix
from ..metrics import STYLE_LAYERS, gram_distance
from ..vgg import shared_vgg
from ..training import registry
from ..training.loop import BranchOptimizers, Budget, GradientHook, LRSchedule, TrainResult, fit
from ..models.stylebank import (StyleBankConfig, StyleBankError, StyleBankLoss, StyleBankNet, balance_gradients,
                                branch_of, style_ids_of)


def load_styles(cfg: StyleBankConfig, n: int, offset: int = 0,
                source: str = "auto") -> tuple[list[str], list[torch.Tensor], str]:
    """Style names and images (short side ``cfg.style_size``) ``offset .. offset+n-1`` of the style group.

    With the ``art`` set: its ``cfg.style_group`` styles (StyleBank's own
    training styles, ``sb_00`` ...); otherwise the ``embedded`` textures.
    """
    from ..data import available_sets, get_set
    from ..data.art import art_styles

    if source == "auto":
        source = "art" if "art" in available_sets() else "embedded"
    refs = art_styles(cfg.style_group) if source == "art" else list(get_set(source).styles)
    chosen = refs[offset:offset + n]
    if len(chosen) < n:
        raise StyleBankError(f"need styles {offset}..{offset + n - 1} of the {source} set, which has {len(refs)}")
    images = []
    for r in chosen:
        img = load_image(r.path)
        scale = cfg.style_size / min(img.shape[-2:])
        size = (max(16, round(img.shape[-2] * scale)), max(16, round(img.shape[-1] * scale)))
        img = F.interpolate(img, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)
        images.append(img.clamp(0, 1))
    return [r.name for r in chosen], images, f"{source} ({', '.join(r.name for r in chosen)})"


class StyleReferences:
    """What "distance to style i" is measured against for a trained bank ``net``.

    The training style images (short side ``size``) when they are on this
    machine; without the data, bank i's own output on the same photo, so a
    notebook still runs (``have_images`` says which).
    """

    def __init__(self, net: StyleBankNet, cfg: StyleBankConfig, size: int):
        self.net, n = net, len(net.style_names)
        try:
            names, images, _ = load_styles(cfg.replace(style_size=size), n)
            self.have_images = names == list(net.style_names)
        except StylelibError:
            self.have_images = False
        self.images: list[torch.Tensor | None] = images if self.have_images else [None] * n

    def __call__(self, i: int, photo: torch.Tensor) -> torch.Tensor:
        return self.images[i] if self.have_images else self.net.stylize(photo, i)


def train_stylebank(cfg: StyleBankConfig, style_names: Sequence[str], style_images: Sequence[torch.Tensor], *,
                    run_dir=None, resume: bool = False, progress: bool = True, content_source="auto",
                    desc: str | None = None) -> tuple[StyleBankNet, TrainResult, str]:
    """Train E, D and one bank per style from scratch with the (T+1)-step alternating schedule.

    Stylizing steps minimise ``L_K`` over E, D and the banks (optimiser
    ``style``); every (T+1)-th step minimises ``L_I`` over E and D (optimiser
    ``ae``), its gradients rescaled by ``lambda * mean|grad L_K| / mean|grad L_I|``
    when ``cfg.balance_gradients``.  Returns the net, the result and the content data description.
    """
    from ..data.training import CropSampler, training_images

    cfiles, cdesc = training_images("content", content_source)
    contents = CropSampler(cfiles, cfg.crop, load_size=cfg.load_size, progress=progress)
    torch.manual_seed(cfg.seed)
    net = StyleBankNet(style_names)
    crit = StyleBankLoss(cfg, style_images)
    shared_params = [*net.encoder.parameters(), *net.decoder.parameters()]
    opt = BranchOptimizers({"style": torch.optim.Adam(net.parameters(), lr=cfg.lr),
                            "ae": torch.optim.Adam(shared_params, lr=cfg.lr)})
    n = len(style_names)

    def step_fn(step: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        x = contents.sample(cfg.batch_size, g)
        branch = branch_of(step, cfg.T)
        opt.select(branch)
        if branch == "ae":
            out = net(x)
            return {"loss": F.mse_loss(out, x), "reconstruction": F.mse_loss(out.detach(), x)}
        ids = style_ids_of(step, cfg.T, cfg.batch_size, n)
        return crit(net(x, ids), x, ids)

    def balance(step: int) -> None:
        if cfg.balance_gradients:
            balance_gradients(shared_params, opt.memory, branch_of(step, cfg.T), cfg.balance_lambda)

    budget = Budget(cfg.steps, cfg.seconds, cfg.checkpoint_every, cfg.seed)
    config = dataclasses.asdict(cfg) | {"styles": list(style_names), "mode": "full"}
    result = fit(net, step_fn, opt, budget, run_dir=run_dir, resume=resume, progress=progress, config=config,
                 desc=desc or f"stylebank ({cfg.profile}, {n} styles)", callbacks=[GradientHook(balance),
                            LRSchedule(lambda step: cfg.lr_decay_factor ** (step // cfg.lr_decay_every))])
    return net, result, cdesc


def train_incremental(net: StyleBankNet, cfg: StyleBankConfig, style_name: str, style_image: torch.Tensor, *,
                      run_dir=None, resume: bool = False, progress: bool = True, content_source="auto",
                      steps: int | None = None, seconds: float | None = None) -> tuple[StyleBankNet, TrainResult, str]:
    """Incremental learning (Chen et al. 2017, Sec. 4): a new bank for ``style_name`` with E and D frozen.

    Only the new, randomly initialised bank is optimised, with ``L_K``; no
    auto-encoder step.  Returns a net holding E, D (shared with ``net``,
    untouched) and the single new bank.
    """
    from ..data.training import CropSampler, training_images

    cfiles, cdesc = training_images("content", content_source)
    contents = CropSampler(cfiles, cfg.crop, load_size=cfg.load_size, progress=progress)
    torch.manual_seed(cfg.seed + 1)
    new = StyleBankNet([])
    new.encoder, new.decoder = net.encoder, net.decoder
    new.add_bank(style_name)
    for p in [*new.encoder.parameters(), *new.decoder.parameters()]:
        p.requires_grad_(False)
    crit = StyleBankLoss(cfg, [style_image])
    opt = torch.optim.Adam(new.banks.parameters(), lr=cfg.lr)
    ids = [0] * cfg.batch_size

    def step_fn(step: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        x = contents.sample(cfg.batch_size, g)
        with torch.no_grad():
            f = new.encoder(x)
        return crit(new.decoder(new.bank(f, 0)), x, ids)

    budget = Budget(steps or cfg.incremental_steps, seconds if seconds is not None else cfg.incremental_seconds,
                    cfg.checkpoint_every, cfg.seed)
    config = dataclasses.asdict(cfg) | {"styles": [style_name], "mode": "incremental"}
    try:
        result = fit(new, step_fn, opt, budget, run_dir=run_dir, resume=resume, progress=progress, config=config,
                     desc=f"stylebank incremental ({style_name})")
    finally:
        for p in [*new.encoder.parameters(), *new.decoder.parameters()]:
            p.requires_grad_(True)
    return new, result, cdesc


def smoothed(history: pd.DataFrame, column: str, window: int = 20, full: bool = False) -> pd.DataFrame:
    """``step``, ``seconds`` and the rolling mean of ``column`` over its last ``window`` logged values.

    With ``full``, the first ``window - 1`` rows (whose mean would cover fewer values) are dropped.
    """
    h = history.dropna(subset=[column])
    out = pd.DataFrame({"step": h["step"], "seconds": h["seconds"],
                        column: h[column].rolling(window, min_periods=window if full else 1).mean()})
    return out.dropna() if full else out


def compare_incremental(inc: pd.DataFrame, full: pd.DataFrame, tolerance: float = 0.2,
                        window: int = 20) -> dict[str, float | None]:
    """Time and style loss of the incremental bank vs the whole network trained for the same style.

    Style losses are rolling means over ``window`` stylizing steps (full
    windows only); the incremental run's *matched* time is the first time its
    smoothed style loss is within ``tolerance`` of the full run's final one.
    """
    si, sf = smoothed(inc, "style", window, full=True), smoothed(full, "style", window, full=True)
    if si.empty or sf.empty:
        raise StyleBankError(f"compare_incremental: need at least {window} stylizing steps in each run")
    final_full, final_inc = float(sf["style"].iloc[-1]), float(si["style"].iloc[-1])
    hit = si[si["style"] <= (1 + tolerance) * final_full]
    matched = float(hit["seconds"].iloc[0]) if len(hit) else None
    full_seconds = float(full["seconds"].iloc[-1])
    return {
        "incremental_seconds": float(inc["seconds"].iloc[-1]), "full_seconds": full_seconds,
        "incremental_steps": int(inc["step"].iloc[-1]), "full_steps": int(full["step"].iloc[-1]),
        "incremental_final_style_loss": final_inc, "full_final_style_loss": final_full,
        "incremental_first_style_loss": float(si["style"].iloc[0]),
        "style_loss_ratio": final_inc / final_full,
        "incremental_seconds_to_match": matched,
        "time_ratio_to_match": matched / full_seconds if matched is not None else None,
        "tolerance": tolerance, "window": window,
    }


@torch.no_grad()
def gram_distances(images: Sequence[torch.Tensor], styles: Sequence[torch.Tensor]) -> torch.Tensor:
    """``[len(images), len(styles)]``: :func:`stylelib.metrics.gram_distance` of every image to every style.

    The same measure (relative squared Gram distance, averaged over
    ``metrics.STYLE_LAYERS``), with each image's Gram matrices computed once
    instead of once per pair: the notebook compares dozens of outputs with
    nine styles.
    """
    vgg = shared_vgg(tuple(STYLE_LAYERS))

    def grams_of(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: gram_matrix(v.double())[0] for k, v in vgg(x.detach().float()).items()}

    image_grams, style_grams = [grams_of(x) for x in images], [grams_of(s) for s in styles]
    out = torch.zeros(len(images), len(styles), dtype=torch.float64)
    for i, a in enumerate(image_grams):
        for j, b in enumerate(style_grams):
            out[i, j] = sum(((a[k] - b[k]).pow(2).sum() / b[k].pow(2).sum().clamp_min(1e-30)) for k in STYLE_LAYERS)
    return out / len(STYLE_LAYERS)


def reconstruction_psnr(net: StyleBankNet, size: int = 256) -> dict[str, float | int | str]:
    """PSNR of the auto-encoder branch over the held-out photos (median, min, max, count)."""
    from ..data.training import held_out_psnr

    return held_out_psnr(net.reconstruct, size)


#: the loss-history columns saved beside the weights (registry.save_history)
HISTORY_COLUMNS = ("step", "seconds", "loss", "content", "style", "tv", "reconstruction")


def train_and_register(profile: str = "quick", *, run_dir=None, resume: bool = False, progress: bool = True,
                       name: str | None = None, reuse_base: bool = False, **overrides) -> list[registry.Entry]:
    """``stylelib train stylebank``: the multi-style net, then the incremental comparison.

    Registers ``stylebank-<profile>`` (E, D and the first ``n_styles``
    banks), ``stylebank-<profile>-incremental`` (the bank for the next style,
    trained with E and D frozen) and ``stylebank-<profile>-single`` (a whole
    network trained from scratch for that style alone, budget ``single_*``), with
    their loss histories as CSV beside the weights and the comparison's
    numbers in the incremental entry's metrics.  ``reuse_base`` skips the
    multi-style run and starts the comparison from the registered
    ``stylebank-<profile>`` (its fp16 weights).
    """
    cfg = StyleBankConfig.for_profile(profile).replace(**overrides)
    base = name or f"stylebank-{profile}"
    run_root = Path(run_dir) if run_dir is not None else None
    stage_dir = (lambda part: run_root / part) if run_root is not None else (lambda part: None)
    names, images, sdesc = load_styles(cfg, cfg.n_styles)
    config = dataclasses.asdict(cfg) | {"styles": names}
    out = []
    if reuse_base:
        net = load_stylebank(base, incremental=False)
        cdesc = registry.entry(base).data.split(";")[0].removeprefix("content: ")
    else:
        net, res, cdesc = train_stylebank(cfg, names, images, run_dir=stage_dir("multi"), resume=resume, progress=progress)
        data = f"content: {cdesc}; styles: {sdesc}"
        metrics = reconstruction_psnr(net, cfg.psnr_size)
        metrics |= {"final_style_loss_mean_last_50": float(res.history["style"].dropna().tail(50).mean()),
                    "final_reconstruction_mse_mean_last_20":
                        float(res.history["reconstruction"].dropna().tail(20).mean()),
                    "stopped_by": res.stopped_by}
        out.append(registry.register(base, net.state_dict(), model="stylebank", profile=profile, config=config,
                                     data=data, iterations=res.steps, seconds=res.seconds, metrics=metrics))
        registry.save_history(base, res.history, HISTORY_COLUMNS)

    # incremental learning vs the whole network for one new style, one after the other on the same machine
    (new_name,), (new_image,), new_desc = load_styles(cfg, 1, offset=cfg.n_styles)
    inc, inc_res, _ = train_incremental(net, cfg, new_name, new_image, run_dir=stage_dir("incremental"), resume=resume,
                                        progress=progress)
    single_cfg = cfg.replace(steps=cfg.single_steps, seconds=cfg.single_seconds)
    single, single_res, _ = train_stylebank(single_cfg, [new_name], [new_image], run_dir=stage_dir("single"),
                                            resume=resume, progress=progress,
                                            desc=f"stylebank whole network ({new_name})")
    n_style_steps = min(int(h["style"].notna().sum()) for h in (inc_res.history, single_res.history))
    cmp = compare_incremental(inc_res.history, single_res.history, window=max(1, min(20, n_style_steps)))
    out.append(registry.register(f"{base}-incremental", inc.banks.state_dict(), model="stylebank", profile=profile,
                                 config=config | {"styles": [new_name], "mode": "incremental", "base": base},
                                 data=f"content: {cdesc}; style: {new_desc}", iterations=inc_res.steps,
                                 seconds=inc_res.seconds, metrics=cmp | {"stopped_by": inc_res.stopped_by}))
    registry.save_history(f"{base}-incremental", inc_res.history, HISTORY_COLUMNS)
    out.append(registry.register(f"{base}-single", single.state_dict(), model="stylebank", profile=profile,
                                 config=dataclasses.asdict(single_cfg) | {"styles": [new_name], "mode": "single"},
                                 data=f"content: {cdesc}; style: {new_desc}", iterations=single_res.steps,
                                 seconds=single_res.seconds,
                                 metrics=reconstruction_psnr(single, cfg.psnr_size)
                                 | {"stopped_by": single_res.stopped_by}))
    registry.save_history(f"{base}-single", single_res.history, HISTORY_COLUMNS)
    return out


# ----------------------------------------------------------------------------- inference
def _net_from_state(state: dict[str, torch.Tensor], styles: Sequence[str]) -> StyleBankNet:
    net = StyleBankNet(styles)
    net.load_state_dict(state)
    return net.eval()


@functools.lru_cache(maxsize=4)
def load_stylebank(weights: str = "stylebank-quick", incremental: bool = True) -> StyleBankNet:
    """The registered StyleBank ``weights`` (sha256 checked), in eval mode.

    With ``incremental``, the bank registered as ``<weights>-incremental``
    (trained later with E and D frozen) is appended when present.
    """
    state, rec = registry.load(weights)
    net = _net_from_state(state, rec.config["styles"])
    if incremental and f"{weights}-incremental" in registry.entries():
        bank_state, brec = registry.load(f"{weights}-incremental")
        index = net.add_bank(brec.config["styles"][0])
        net.banks[index].load_state_dict({k.split(".", 1)[1]: v for k, v in bank_state.items()})
    return net.eval()


def load_single(weights: str = "stylebank-quick-single") -> StyleBankNet:
    """The whole network trained for the incremental style alone (the comparison's other arm)."""
    state, rec = registry.load(weights)
    return _net_from_state(state, rec.config["styles"])


@torch.no_grad()
def stylize_stylebank(content: torch.Tensor, style: torch.Tensor | str | int, *, weights: str = "stylebank-quick",
                      net: StyleBankNet | None = None, progress: bool = False) -> torch.Tensor:
    """Stylise ``content`` with one of the trained styles.

    ``style`` is a bank (index or style name) or a style image: StyleBank
    cannot take a new style without training a bank, so an image selects the
    trained style whose relu2_2 Gram matrix is nearest to the image's.
    """
    net = net or load_stylebank(weights)
    if isinstance(style, torch.Tensor):
        style = nearest_style(net, style, weights)
    return net.stylize(content, style)


def nearest_style(net: StyleBankNet, image: torch.Tensor, weights: str = "stylebank-quick") -> int:
    """The bank whose training style image is nearest in Gram distance (relu2_2) to ``image``."""
    cfg = StyleBankConfig.quick()
    names = net.style_names
    refs = {}
    for offset in range(len(names)):
        try:
            (n,), (img,), _ = load_styles(cfg.replace(style_size=128), 1, offset=offset)
        except StylelibError:
            break
        refs[n] = img
    known = [i for i, n in enumerate(names) if n in refs]
    if not known:
        raise StyleBankError(f"{weights}: the training style images are not available; pass a style name "
                             f"({', '.join(names)})")
    return min(known, key=lambda i: gram_distance(image, refs[names[i]], layers=("relu2_2",)))


def config_of(weights: str) -> StyleBankConfig:
    rec = registry.entry(weights)
    return StyleBankConfig.from_record(rec.config)


@torch.no_grad()
def bank_independence(net: StyleBankNet, image: torch.Tensor, bank: int = 0, scale: float = 0.1,
                      seed: int = 0) -> dict[str, int | bool | float]:
    """Perturb one bank of a copy of ``net`` and see what changes (Chen et al., Sec. 3: banks are independent).

    The copy's bank ``bank`` gets Gaussian noise of ``scale`` times its weights'
    standard deviation; every other bank's output on ``image`` must stay
    bit-identical, and this bank's must change.  Measured on the trained
    network, not on random weights.
    """
    import copy

    twin = copy.deepcopy(net).eval()
    k = twin.banks[twin.index(bank)]
    g = torch.Generator().manual_seed(seed)
    k.weight.add_(torch.randn(k.weight.shape, generator=g) * scale * k.weight.std())
    others = [i for i in range(len(net.banks)) if i != twin.index(bank)]
    identical = [bool(torch.equal(net.stylize(image, i), twin.stylize(image, i))) for i in others]
    change = float((net.stylize(image, bank) - twin.stylize(image, bank)).abs().mean())
    return {"bank": twin.index(bank), "others": len(others), "identical": int(sum(identical)),
            "all identical": all(identical), "changed": change > 0, "mean change": change}
