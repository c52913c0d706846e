"""How the consistency pair is trained, adapted, registered, loaded and evaluated (the paper itself is in
stylelib.models.consistency_pair).

Training a pair on two photos (:func:`train_pair`, driven by :func:`stylelib.training.loop.fit`), the
normalisation-only adaptation to a new style (:func:`adapt`) and the slides' comparison with a full
retraining (:func:`adaptation_experiment`), the photos each role is played by (:func:`photo_roles`), the
registered pair (:func:`train_and_register`, :func:`load_consistency_pair`), the ``stylize`` CLI entry
point and the rows of the notebook's tables.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import tempfile
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch

from ..checks import check_image
from ..images import load_image, save_image
from ..metrics import edge_ssim, gram_distance, ssim
from ..training import registry
from ..training.loop import Budget, LRSchedule, OnStep, TrainResult, fit
from ..models.consistency_pair import (STYLE_A, STYLE_B, ConsistencyConfig, ConsistencyError, ConsistencyPair,
                                       PairGenerator, PairLosses)

StepHook = Callable[[int, Mapping[str, float]], None]


# ----------------------------------------------------------------------------- training
def _crop_sampler(photo: str | Path | torch.Tensor, cfg: ConsistencyConfig, tmp: Path, name: str):
    """A :class:`~stylelib.data.training.CropSampler` over one photo (a file, or a tensor saved losslessly)."""
    from ..data.training import CropSampler

    if isinstance(photo, torch.Tensor):
        check_image(photo, f"photo {name}", batch=1)
        photo = save_image(photo.clamp(0, 1), tmp / f"{name}.png")
    return CropSampler([photo], cfg.crop, load_size=cfg.load_size, flips=cfg.flips)


def _schedule(cfg: ConsistencyConfig, steps: int) -> Callable[[int], float]:
    """The learning-rate factor of each step: 1, then 0.1 for the last ``final_decay_fraction`` of ``steps``."""
    start_decay = round(steps * (1 - cfg.final_decay_fraction))
    return lambda step: 0.1 if step >= start_decay else 1.0


def _full_grams(loss_net: PairLosses, sampler) -> dict[str, torch.Tensor]:
    """Gram targets of the whole (resized) photo held by a one-image CropSampler."""
    return loss_net.style_grams(sampler.images[0].unsqueeze(0).float().div(255))


def _callbacks(cfg: ConsistencyConfig, steps: int, on_step: StepHook | None) -> list:
    return [LRSchedule(_schedule(cfg, steps))] + ([OnStep(on_step)] if on_step else [])


def train_pair(photo_a, photo_b, cfg: ConsistencyConfig | None = None, *, names: Sequence[str] = ("a", "b"),
               run_dir=None, resume: bool = False, progress: bool = True,
               on_step: StepHook | None = None) -> tuple[ConsistencyPair, TrainResult]:
    """Train ``f_ab`` and ``f_ba`` (shared ``W``, ``theta_a``, ``theta_b``) from two photos.

    ``photo_a`` and ``photo_b`` are image files or ``[1, 3, H, W]`` tensors;
    each step draws ``batch_size`` random crops (with flips) of each.  Every
    parameter of the generator is trained (Adam; the rate drops tenfold for
    the last ``final_decay_fraction`` of the steps) with :func:`stylelib.training.loop.fit`.
    """
    cfg = cfg or ConsistencyConfig()
    torch.manual_seed(cfg.seed)
    pair = ConsistencyPair(cfg, 2, style_names=names)
    with tempfile.TemporaryDirectory() as tmp:
        crops_a = _crop_sampler(photo_a, cfg, Path(tmp), "a")
        crops_b = _crop_sampler(photo_b, cfg, Path(tmp), "b")
    grams_a = _full_grams(pair.loss_net, crops_a) if cfg.style_target == "image" else None
    grams_b = _full_grams(pair.loss_net, crops_b) if cfg.style_target == "image" else None

    def step_fn(step: int, rng: torch.Generator) -> dict[str, torch.Tensor]:
        xa, xb = crops_a.sample(cfg.batch_size, rng), crops_b.sample(cfg.batch_size, rng)
        return pair.loss_net(pair.G, xa, xb, STYLE_A, STYLE_B, grams_a=grams_a, grams_b=grams_b)

    opt = torch.optim.Adam(pair.G.parameters(), lr=cfg.lr)
    budget = Budget(cfg.steps, cfg.seconds, cfg.checkpoint_every, cfg.seed)
    result = fit(pair.G, step_fn, opt, budget, run_dir=run_dir, resume=resume, progress=progress,
                 config=dataclasses.asdict(cfg) | {"names": list(names)}, desc=f"consistency pair ({cfg.profile})",
                 callbacks=_callbacks(cfg, cfg.steps, on_step))
    pair.eval()
    return pair, result


def _replace_given(cfg: ConsistencyConfig, **changes) -> ConsistencyConfig:
    """``cfg`` with the changes that are not None."""
    return cfg.replace(**{k: v for k, v in changes.items() if v is not None})


def adapt(pair: ConsistencyPair, photo_a, photo_c, *, steps: int | None = None, name: str = "c",
          init: str | None = None, run_dir=None, progress: bool = True, on_step: StepHook | None = None,
          crop: int | None = None, load_size: int | None = None) -> tuple[int, TrainResult]:
    """New-style adaptation: add ``theta_c`` to ``pair`` and train only it, ``W`` and every other theta frozen.

    The losses are those of training with photo b replaced by ``photo_c``:
    the style of ``f_ac(I_a) = G(I_a; theta_c)`` against ``I_c``, the cycle
    back through the frozen ``f_ca = G(.; theta_a)``, the content loss and the
    self term ``f_ac(I_c) = I_c``.  ``init`` is ``"target"`` (start from
    photo b's theta) or ``"identity"`` (gamma 1, beta 0); default the
    config's ``adapt_init``.  ``crop`` and ``load_size`` override the pair's
    training crops.  Returns the new style's index and the result.
    """
    cfg = _replace_given(pair.cfg, crop=crop, load_size=load_size)
    init = init or cfg.adapt_init
    if init not in ("target", "identity"):
        raise ConsistencyError(f"adapt: init must be 'target' or 'identity', got {init!r}")
    steps = cfg.adapt_steps if steps is None else steps
    G = pair.G
    for p in G.parameters():
        p.requires_grad_(False)
    new_style = G.add_style(STYLE_B if init == "target" else None)
    pair.style_names.append(name)
    theta_c = G.style_parameters(new_style)
    for p in theta_c:
        p.requires_grad_(True)
    with tempfile.TemporaryDirectory() as tmp:
        crops_a = _crop_sampler(photo_a, cfg, Path(tmp), "a")
        crops_c = _crop_sampler(photo_c, cfg, Path(tmp), "c")
    grams_c = _full_grams(pair.loss_net, crops_c) if cfg.style_target == "image" else None

    def step_fn(step: int, rng: torch.Generator) -> dict[str, torch.Tensor]:
        xa, xc = crops_a.sample(cfg.batch_size, rng), crops_c.sample(cfg.batch_size, rng)
        return pair.loss_net(G, xa, xc, STYLE_A, new_style, grams_b=grams_c, train_ba=False)

    opt = torch.optim.Adam(theta_c, lr=cfg.adapt_lr or cfg.lr)
    budget = Budget(steps, None, cfg.checkpoint_every, cfg.seed + 1)
    result = fit(G, step_fn, opt, budget, run_dir=run_dir, progress=progress,
                 config=dataclasses.asdict(cfg) | {"adapt": name, "init": init},
                 desc=f"adapt to a new style ({steps} it)", callbacks=_callbacks(cfg, steps, on_step))
    pair.eval()
    return new_style, result


# ----------------------------------------------------------------------------- the adaptation experiment
def snapshot_style(G: PairGenerator, style: int) -> list[torch.Tensor]:
    """Copies of ``theta_style`` (to keep the state of an adaptation part-way)."""
    return [p.detach().clone() for p in G.style_parameters(style)]


def add_style_from(G: PairGenerator, theta: Sequence[torch.Tensor]) -> int:
    """A new style holding the parameters ``theta`` (as returned by :func:`snapshot_style`); its index."""
    style = G.add_style()
    with torch.no_grad():
        for p, v in zip(G.style_parameters(style), theta):
            p.copy_(v)
    return style


def adaptation_experiment(pair: ConsistencyPair, photo_a, photo_c, *, checkpoints: Sequence[int] = (500, 1000),
                          full_steps: int | None = None, name: str = "c", progress: bool = True,
                          run_full: bool = True, crop: int | None = None, load_size: int | None = None) -> dict:
    """The slides' comparison, side by side in one process: normalisation-only adaptation of ``pair`` to
    ``photo_c`` for ``max(checkpoints)`` iterations (``theta_c`` kept at every checkpoint), then a full
    retraining of a new pair on ``(photo_a, photo_c)`` for ``full_steps`` (default the config's ``steps``).

    ``pair`` gains one style per checkpoint, named ``"<name> (<n> it)"``.  Returns ``{"styles": {n: index},
    "seconds": {n: wall time to reach n}, "full": (new pair, its TrainResult) or None, "full_seconds",
    "adapt_result"}``.  ``crop`` and ``load_size`` override the pair's training crops (both runs).
    """
    checkpoints = sorted(int(n) for n in checkpoints)
    if not checkpoints or checkpoints[0] < 1:
        raise ConsistencyError(f"adaptation checkpoints must be positive iteration counts, got {checkpoints}")
    new_style = pair.G.n_styles  # the index adapt() gives theta_c
    kept: dict[int, list[torch.Tensor]] = {}
    seconds: dict[int, float] = {}

    def keep(step: int, row: Mapping[str, float]) -> None:
        if step in checkpoints:
            kept[step] = snapshot_style(pair.G, new_style)
            seconds[step] = float(row["seconds"])

    last, adapt_result = adapt(pair, photo_a, photo_c, steps=checkpoints[-1], name=f"{name} ({checkpoints[-1]} it)",
                               progress=progress, on_step=keep, crop=crop, load_size=load_size)
    styles = {checkpoints[-1]: last}
    for n in checkpoints[:-1]:
        styles[n] = add_style_from(pair.G, kept[n])
        pair.style_names.append(f"{name} ({n} it)")
    out = {"styles": dict(sorted(styles.items())), "seconds": seconds, "adapt_result": adapt_result, "full": None,
           "full_seconds": None}
    if run_full:
        cfg = _replace_given(pair.cfg, steps=full_steps, crop=crop, load_size=load_size)
        full, full_result = train_pair(photo_a, photo_c, cfg, names=(pair.style_names[STYLE_A], name),
                                       progress=progress)
        out["full"], out["full_seconds"] = (full, full_result), full_result.seconds
    return out


# ----------------------------------------------------------------------------- photos and evaluation
#: DPST examples of the registered pair (content a -> style b), the new style c (another example's
#: reference) and unseen photos of similar scenes (city views), when the dpst set is present
DPST_PAIR, DPST_NEW_STYLE, DPST_UNSEEN = "dpst_03", "dpst_01", ("dpst_01", "dpst_05", "dpst_07", "dpst_31")
#: the same roles from the embedded set (photos only), when no benchmark data is present
EMBEDDED_PHOTOS = {"a": "coffee", "b": "chelsea", "c": "astronaut", "unseen": ("rocket", "motorcycle_left")}


def photo_roles() -> dict:
    """Paths of photos a, b, c and the unseen photos, with the set they come from.

    DPST when present (:data:`DPST_PAIR` and friends), else the embedded photos.
    """
    from ..data import available_sets, get_set

    if "dpst" in available_sets():
        dpst = get_set("dpst")
        pair, new_style = dpst.pair(DPST_PAIR), dpst.pair(DPST_NEW_STYLE)
        return {"set": "dpst", "pair": pair.name, "a": pair.content, "b": pair.style, "c": new_style.style,
                "unseen": [dpst.pair(n).content for n in DPST_UNSEEN]}
    by_name = {r.name: r for r in get_set("embedded").contents}
    return {"set": "embedded", "pair": f"embedded_{EMBEDDED_PHOTOS['a']}__{EMBEDDED_PHOTOS['b']}",
            **{k: by_name[EMBEDDED_PHOTOS[k]] for k in ("a", "b", "c")},
            "unseen": [by_name[n] for n in EMBEDDED_PHOTOS["unseen"]]}


def evaluate_direction(pair: ConsistencyPair, content: torch.Tensor, style: torch.Tensor, style_index: int,
                       back_index: int | None = None) -> dict[str, float]:
    """SSIM and edge SSIM to the content, Gram distance to the style, and the training losses at full size."""
    y = pair.G.stylize(content, style_index)
    row = {"ssim": ssim(y, content), "edge_ssim": edge_ssim(y, content), "gram_distance": gram_distance(y, style)}
    row.update({f"{k} loss": v for k, v in pair.evaluate_losses(content, style, style_index, back_index).items()})
    return row


#: :func:`evaluate_direction`'s keys as the headers of the adaptation tables (content a, new style c)
ADAPTATION_HEADERS = {"ssim": "SSIM to a", "edge_ssim": "edge SSIM", "gram_distance": "Gram dist. output→c"}


def adaptation_row(run: str, pair: ConsistencyPair, content: torch.Tensor, style: torch.Tensor, style_index: int,
                   *, seconds: float, **columns) -> dict:
    """One row of the adaptation tables: ``run``, ``columns``, :func:`evaluate_direction` of
    ``G(content; theta_style_index)`` (cycle back through ``theta_a``) under :data:`ADAPTATION_HEADERS`,
    and ``seconds``."""
    measured = evaluate_direction(pair, content, style, style_index, STYLE_A)
    return {"run": run, **columns, **{ADAPTATION_HEADERS.get(k, k): v for k, v in measured.items()},
            "seconds": seconds}


# ----------------------------------------------------------------------------- the registered pair
def _base_pair(cfg: ConsistencyConfig, base_weights: str, pair_name: str) -> tuple[ConsistencyPair, registry.Entry]:
    """``W``, ``theta_a`` and ``theta_b`` of the registered pair ``base_weights`` (trained on ``pair_name``)."""
    old = registry.entry(base_weights)
    if old.config.get("pair") != pair_name:
        raise ConsistencyError(f"{base_weights} was trained on {old.config.get('pair')}, not {pair_name}")
    registered = load_consistency_pair(base_weights)
    pair = ConsistencyPair(cfg, 2, style_names=registered.style_names[:2])
    shared_and_ab = {k: v for k, v in registered.G.state_dict().items()
                     if not (".gamma." in k or ".beta." in k) or int(k.rsplit(".", 1)[1]) < 2}
    pair.G.load_state_dict(shared_and_ab)
    pair.eval()
    return pair, old


def train_and_register(profile: str = "quick", *, run_dir=None, resume: bool = False, progress: bool = True,
                       name: str | None = None, base_weights: str | None = None,
                       **overrides) -> list[registry.Entry]:
    """``stylelib train consistency_pair``: the pair, its adaptation and the full retraining, side by side.

    1. trains the pair (a, b) of :func:`photo_roles` (``registered_steps`` iterations),
       or, with ``base_weights``, takes ``W``, ``theta_a`` and ``theta_b`` of that registered pair;
    2. adapts it to the new style c by normalisation-only training, keeping ``theta_c`` after each of
       ``adapt_checkpoints`` iterations (the slides' 500 and 1000) as extra styles of the same generator;
    3. retrains a new pair on (a, c) from scratch with the same budget as step 1.

    Registers ``consistency_pair-<profile>`` (the generator with styles a, b, c@1000, c@500) and
    ``consistency_pair-<profile>-retrained`` (the (a, c) pair), with the wall times of the runs and
    their losses at ``eval_size`` px in the metrics.
    """
    cfg = ConsistencyConfig.for_profile(profile)
    cfg = cfg.replace(**({"steps": cfg.registered_steps} | overrides))
    roles = photo_roles()
    if base_weights is None:
        pair, result = train_pair(roles["a"].path, roles["b"].path, cfg, names=(roles["a"].name, roles["b"].name),
                                  run_dir=run_dir, resume=resume, progress=progress)
        base_steps, base_seconds, stopped = result.steps, result.seconds, result.stopped_by
        final_loss = float(result.history["loss"].tail(50).mean())
    else:
        pair, old = _base_pair(cfg, base_weights, roles["pair"])
        base_steps, base_seconds = old.iterations, old.seconds
        stopped, final_loss = old.metrics.get("stopped_by"), old.metrics.get("final_loss_mean_last_50")
    experiment = adaptation_experiment(pair, roles["a"].path, roles["c"].path, checkpoints=cfg.adapt_checkpoints,
                                       name=roles["c"].name, progress=progress)
    full, full_result = experiment["full"]
    a, b, c = (load_image(roles[k].path, size=cfg.eval_size) for k in ("a", "b", "c"))
    metrics = {"eval_size": cfg.eval_size, "stopped_by": stopped, "final_loss_mean_last_50": final_loss,
               "base_from": base_weights or "trained in this run",
               "ab": evaluate_direction(pair, a, b, STYLE_B, STYLE_A),
               "ba": evaluate_direction(pair, b, a, STYLE_A, STYLE_B),
               "adapt_seconds": experiment["seconds"], "full_retraining_seconds": experiment["full_seconds"],
               "adapt": {str(n): evaluate_direction(pair, a, c, s, STYLE_A) for n, s in experiment["styles"].items()},
               "full_retraining_ac": evaluate_direction(full, a, c, STYLE_B, STYLE_A)}
    base = name or f"consistency_pair-{profile}"
    data = f"{roles['set']}: a = {roles['a'].name}, b = {roles['b'].name}, new style c = {roles['c'].name}"
    config = dataclasses.asdict(cfg) | {"names": pair.style_names, "pair": roles["pair"],
                                        "adapt_styles": {str(n): s for n, s in experiment["styles"].items()}}
    main = registry.register(base, pair.G.state_dict(), model="consistency_pair", profile=profile, config=config,
                             data=data, iterations=base_steps, seconds=base_seconds, metrics=metrics)
    retrained = registry.register(
        f"{base}-retrained", full.G.state_dict(), model="consistency_pair", profile=profile,
        config=dataclasses.asdict(full.cfg) | {"names": full.style_names,
                                               "pair": f"{roles['a'].name}__{roles['c'].name}"},
        data=f"{roles['set']}: a = {roles['a'].name}, b = {roles['c'].name} (full retraining for the new style)",
        iterations=full_result.steps, seconds=full_result.seconds, metrics={"ac": metrics["full_retraining_ac"]})
    return [main, retrained]


@functools.lru_cache(maxsize=4)
def _load_cached(weights: str) -> ConsistencyPair:
    state, rec = registry.load(weights)
    cfg = ConsistencyConfig.from_record(rec.config)
    n_styles = 1 + max(int(k.rsplit(".", 1)[1]) for k in state if ".gamma." in k)
    pair = ConsistencyPair(cfg, n_styles, style_names=rec.config.get("names"))
    pair.G.load_state_dict(state)
    pair.eval()
    return pair


def load_consistency_pair(weights: str = "consistency_pair-quick") -> ConsistencyPair:
    """A fresh copy of the registered pair ``weights`` (sha256 checked), in eval mode.

    A copy, so that :func:`adapt` (which adds a style) never changes the cached one.
    """
    cached = _load_cached(weights)
    pair = ConsistencyPair(cached.cfg, cached.G.n_styles, style_names=cached.style_names)
    pair.G.load_state_dict(copy.deepcopy(cached.G.state_dict()))
    pair.eval()
    return pair


def stylize_consistency_pair(content: torch.Tensor, style: torch.Tensor, *, steps: int | None = None,
                             profile: str = "quick", progress: bool = False) -> torch.Tensor:
    """Train a pair on ``(content, style)`` (the method needs no other data) and return ``f_ab(content)``.

    Training is part of each transfer: ``steps`` iterations (default the
    profile's) at the profile's crop size, then one full-resolution pass.
    """
    cfg = ConsistencyConfig.for_profile(profile)
    if steps is not None:
        cfg = cfg.replace(steps=int(steps))
    t0 = time.perf_counter()
    pair, _ = train_pair(content, style, cfg, progress=progress)
    out = pair.a_to_b(content)
    if progress:
        print(f"consistency_pair: trained and applied in {time.perf_counter() - t0:.0f} s")
    return out
