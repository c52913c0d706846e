"""Benchmarks: ``python -m stylelib.report.bench [--only NAME] [--out figures/bench]``.

Each benchmark runs the things it compares side by side in one process,
interleaved (A, B, C, A, B, C, ...), and reports medians and ratios, because
absolute times on a shared machine are noisy while ratios measured together
are not.  Results are written as JSON (atomically) to ``<out>/<name>.json``
(the committed ones: ``figures/bench/``).  :func:`interleaved`, :func:`stopwatch`
and :func:`medians` are the pieces to time things the same way from a notebook;
:func:`by_size` builds the per-size part of the records.  (``torch.utils.benchmark``
is not used: its ``Timer`` times one statement in blocks of its own and cannot
interleave several runners, nor take the seconds a runner measures itself, e.g.
the steady-state loop of an optimisation.)

Benchmarks:

``gatys_vs_pastiche``
    Our Gatys implementation against the ``pastiche`` package with the same
    weights, layers, loss weights and optimizer (L-BFGS, one loss evaluation
    per step), 256 px, 100 steps.  Ours runs in fp32 as pastiche does
    ("plain"), in fp32 with a channels-last layout and subnormals flushed to
    zero (our default), and in bf16.  Both end-to-end times (weights, targets,
    all steps) and steady-state loop times (steps 2..N) are reported.

``feedforward_inference``
    Inference time and peak memory of AdaIN (Huang & Belongie, ICCV 2017) and
    WCT (Li et al., NeurIPS 2017) with their registered decoders
    (``--adain-weights``, ``--wct-weights``; default ``adain-quick`` and
    ``wct-quick``), one image each at every square size in ``--sizes``
    (default 256, 512, 1024; style encoding included), next to the time of
    one L-BFGS step of our Gatys implementation (default configuration, fp32)
    at the same sizes, measured over ``--gatys-steps`` steps (steps 2..N, so
    VGG set-up and the targets are not counted).  Everything runs on the CPU,
    interleaved over ``--repeats`` rounds after one warm-up call of each
    feed-forward method; times are medians, memory
    (:func:`stylelib.metrics.measure`: resident-set growth during the call) is
    the largest over the rounds.  Ratios per size: ``wct_over_adain``,
    ``gatys_step_over_adain`` and ``gatys_step_over_wct``.

``photoreal_inference``
    The run-time claim of FA+SCP (Wu, Ni & Li, IJCNN 2020: "at least 72%"
    less than earlier photorealistic methods, i.e. a ratio of 0.28 or less):
    one square photo pair at every size in ``--photo-sizes`` (default 512)
    through FA+SCP (one pass), PhotoWCT with its closed-form smoothing and
    with the fast guided-filter smoothing (stylisation and smoothing timed
    separately too), WCT2 (one progressive pass) and Deep Photo Style
    Transfer (``--dpst-steps`` L-BFGS evaluations, the quick profile's
    200 by default; one DPST run per size, as a run is long: see
    ``figures/bench/photoreal_inference.json``), side by
    side after one warm-up call of each feed-forward method.  Ratios per
    size: ``fa_scp_over_<method>``.

``dst_stages``
    Deformable Style Transfer (Kim et al., ECCV 2020) on one pair at
    ``--dst-size`` (default 256): the time and peak memory of each stage --
    NBB at its quick profile (the anchor: the authors' NBB in its fast mode
    took 115 s for a 256 px pair on a cloud GPU; we aim at 60 s or less on
    this CPU), the cleaning, and the joint optimisation over
    ``--dst-iterations`` iterations per scale -- next to STROTSS alone (the
    same optimisation without the warp), interleaved over ``--repeats``
    rounds.  Ratio: ``dst_over_strotss`` (optimisation only).

Example: ``python -m stylelib.report.bench --only feedforward_inference --sizes 256,512 --repeats 5``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

from ..atomic import atomic_write_text
from ..errors import StylelibError, WeightsError

BENCHMARKS: dict[str, Callable[[argparse.Namespace], dict]] = {}


def benchmark(name: str):
    def deco(fn):
        BENCHMARKS[name] = fn
        return fn

    return deco


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def interleaved(runners: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Call each runner ``repeats`` times, round-robin; each returns its own measured seconds.

    Round-robin (A, B, C, A, B, C, ...) so that a slow spell of a shared
    machine hits every runner alike.  From a notebook:
    ``interleaved({"adain": stopwatch(stylize_adain, c, s, net=net), ...}, 5)``.
    """
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            times[name].append(run())
    return times


def stopwatch(fn: Callable, *args, **kwargs) -> Callable[[], float]:
    """A runner for :func:`interleaved`: calls ``fn(*args, **kwargs)`` and returns its wall-clock seconds."""
    def run() -> float:
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        return time.perf_counter() - t0

    return run


def metered(fn: Callable, *args, memory: list[float] | None = None, **kwargs) -> Callable[[], float]:
    """A runner like :func:`stopwatch` that also appends each call's peak memory (MB) to ``memory``.

    Time and memory come from :func:`stylelib.metrics.measure`.
    """
    from ..metrics import measure

    def run() -> float:
        _, seconds, mb = measure(fn, *args, **kwargs)
        if memory is not None:
            memory.append(mb)
        return seconds

    return run


def gatys_step_timer(content: torch.Tensor, style: torch.Tensor, config, *, runs: list[dict] | None = None
                     ) -> Callable[[], float]:
    """A runner that optimises once with ``config`` (at least 2 steps) and returns the seconds per L-BFGS step.

    The per-step time is taken over steps 2..N, after the VGG-19 and the
    targets are set up.  Each call appends ``{"seconds": whole run,
    "first": set-up and first step, "MB": peak memory}`` to ``runs``.
    """
    from ..metrics import measure
    from ..models.gatys import stylize_gatys

    if config.steps < 2:
        raise ValueError(f"gatys_step_timer: needs at least 2 steps (the per-step time uses steps 2..N), "
                         f"got {config.steps}")

    def run() -> float:
        res, seconds, mb = measure(stylize_gatys, content, style, config, progress=False)
        first = float(res.history["seconds"].iloc[0])
        if runs is not None:
            runs.append({"seconds": seconds, "first": first, "MB": mb})
        return (res.seconds - first) / (len(res.history) - 1)

    return run


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    """The median of each runner's times."""
    return {k: statistics.median(v) for k, v in times.items()}


def by_size(raw: dict[str, list[float]], methods: tuple[str, ...], sizes: list[int],
            ratios: dict[str, tuple[str, str]]) -> dict:
    """The per-size part of a benchmark record from :func:`interleaved`'s ``raw`` times keyed ``"method@size"``.

    ``ratios`` names each ratio: ``{"wct_over_adain": ("wct", "adain"), ...}``
    (median of the first over median of the second, at each size).  Returns
    ``seconds`` and ``medians`` (method -> size -> ...), ``ratios`` (size ->
    name -> ratio) and the flat ``ratio_<name>_<size>px`` entries.
    """
    seconds = {m: {str(s): raw[f"{m}@{s}"] for s in sizes} for m in methods}
    median = {m: medians(times) for m, times in seconds.items()}
    table = {str(s): {name: median[a][str(s)] / median[b][str(s)] for name, (a, b) in ratios.items()}
             for s in sizes}
    flat = {f"ratio_{name}_{s}px": value for s in sizes for name, value in table[str(s)].items()}
    return {"seconds": seconds, "medians": median, "ratios": table, "flat": flat}


def _bench_images(size: int, folder: Path) -> tuple[Path, Path]:
    """A content photo and a style texture from scikit-image, saved as PNGs of exactly ``size`` x ``size``."""
    from PIL import Image
    from skimage import data

    content, style = folder / "content.png", folder / "style.png"
    Image.fromarray(data.astronaut()).resize((size, size), Image.LANCZOS).save(content)
    Image.fromarray(data.coffee()).resize((size, size), Image.LANCZOS).save(style)
    return content, style


def _bench_pairs(sizes: list[int]) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """The :func:`_bench_images` pair at every size, loaded as ``[1, 3, size, size]`` tensors."""
    from ..images import load_image

    images: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            folder = Path(tmp) / str(size)
            folder.mkdir()
            content_path, style_path = _bench_images(size, folder)
            images[size] = (load_image(content_path), load_image(style_path))
    return images


def pastiche_equivalent_config(steps: int, **overrides):
    """Our GatysConfig with pastiche 1.6.0's default loss: content 0.01 * MSE(relu4_2),
    style sum_l 10 / C_l^2 * MSE(Gram_l), L-BFGS with lr 1, content initialisation."""
    from ..models.gatys import GatysConfig

    cfg = dict(steps=steps, content_weight=0.01, style_weight=10.0, style_layer_weights="inverse_channels_sq",
               optimizer="lbfgs", init="content", pooling="max")
    cfg.update(overrides)
    return GatysConfig(**cfg)


def run_pastiche(content: Path, style: Path, steps: int) -> tuple[list[float], float, float]:
    """Run pastiche's own optimiser for ``steps`` draws.

    Returns its loss per step, the end-to-end seconds (weights, targets and
    steps) and the seconds of steps 2..N (the steady-state loop).
    """
    from pastiche.pastiche import PasticheArtist

    t0 = time.perf_counter()
    artist = PasticheArtist(str(content), [str(style)], device="cpu", optimizer="lbfgs")
    losses = []
    t_first = t0
    for i in range(steps):
        artist.draw()
        losses.append(float(artist.loss))
        if i == 0:
            t_first = time.perf_counter()
    end = time.perf_counter()
    return losses, end - t0, end - t_first


#: Our variants: name -> GatysConfig overrides.
GATYS_VARIANTS = {
    "ours_fp32_plain": dict(precision="fp32", channels_last=False, flush_denormal=False),
    "ours_fp32": dict(precision="fp32"),
    "ours_bf16": dict(precision="bf16"),
}


@benchmark("gatys_vs_pastiche")
def gatys_vs_pastiche(args: argparse.Namespace) -> dict:
    from ..images import load_image
    from ..models.gatys import stylize_gatys

    size, steps, repeats = args.size, args.steps, args.repeats
    variants = {k: v for k, v in GATYS_VARIANTS.items() if not (args.no_bf16 and v["precision"] == "bf16")}
    loop: dict[str, list[float]] = {k: [] for k in ["pastiche", *variants]}
    final: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        content_path, style_path = _bench_images(size, Path(tmp))

        def ours(name: str) -> Callable[[], float]:
            def run() -> float:
                t0 = time.perf_counter()
                content, style = load_image(content_path), load_image(style_path)
                res = stylize_gatys(content, style, pastiche_equivalent_config(steps, **variants[name]),
                                    progress=False)
                total = time.perf_counter() - t0
                sec = res.history["seconds"]
                # steps 2..N: from the end of the first evaluation to the end of the run
                loop[name].append(res.seconds - float(sec.iloc[0]))
                final[name] = float(res.history["loss"].iloc[-1])
                return total

            return run

        def theirs() -> float:
            losses, total, steady = run_pastiche(content_path, style_path, steps)
            loop["pastiche"].append(steady)
            final["pastiche"] = losses[-1]
            return total

        runners = {"pastiche": theirs, **{name: ours(name) for name in variants}}
        times = interleaved(runners, repeats)
    med, med_loop = medians(times), medians(loop)
    result = {
        "benchmark": "gatys_vs_pastiche",
        "what": f"{size} px, {steps} L-BFGS steps (one loss evaluation each), same weights, layers and loss weights",
        "variants": {"pastiche": "pastiche 1.6.0, fp32", **{k: str(v) for k, v in variants.items()}},
        "size": size,
        "steps": steps,
        "repeats": repeats,
        "end_to_end_seconds": times,
        "loop_seconds": loop,
        "median_end_to_end_seconds": med,
        "median_loop_seconds": med_loop,
        "final_loss": final,
        "goal": "ours / pastiche <= 0.5 (end to end)",
        "machine": machine_info(),
    }
    for name in variants:
        result[f"ratio_{name}_over_pastiche"] = med[name] / med["pastiche"]
        result[f"loop_ratio_{name}_over_pastiche"] = med_loop[name] / med_loop["pastiche"]
    return result


#: The methods of ``feedforward_inference``, in the order they run within each round.
FEEDFORWARD_METHODS = ("adain", "wct", "gatys_step")


@benchmark("feedforward_inference")
def feedforward_inference(args: argparse.Namespace) -> dict:
    from ..models.gatys import GatysConfig
    from ..recipes.adain import load_adain, stylize_adain
    from ..recipes.wct import load_wct, stylize_wct

    sizes, repeats, steps = list(args.sizes), args.repeats, args.gatys_steps
    if steps < 2:
        raise ValueError(f"--gatys-steps must be at least 2 (the per-step time uses steps 2..N), got {steps}")
    adain_net = load_adain(args.adain_weights)  # loaded (and sha256-checked) before any timing
    wct_net = load_wct(args.wct_weights)
    images = _bench_pairs(sizes)
    # warm-up: first calls pay for lazy initialisation (allocator, oneDNN primitives)
    stylize_adain(*images[sizes[0]], net=adain_net)
    stylize_wct(*images[sizes[0]], net=wct_net)

    peak: dict[str, dict[str, list[float]]] = {m: {str(s): [] for s in sizes} for m in FEEDFORWARD_METHODS}
    gatys_runs: dict[str, list[dict]] = {str(s): [] for s in sizes}
    runners: dict[str, Callable[[], float]] = {}
    for size in sizes:  # one round: every method at every size, side by side
        runners[f"adain@{size}"] = metered(stylize_adain, *images[size], net=adain_net, memory=peak["adain"][str(size)])
        runners[f"wct@{size}"] = metered(stylize_wct, *images[size], net=wct_net, memory=peak["wct"][str(size)])
        runners[f"gatys_step@{size}"] = gatys_step_timer(*images[size], GatysConfig(steps=steps),
                                                         runs=gatys_runs[str(size)])
    raw = interleaved(runners, repeats)
    for size, runs in gatys_runs.items():
        peak["gatys_step"][size] = [r["MB"] for r in runs]
    gatys_run = {size: [r["seconds"] for r in runs] for size, runs in gatys_runs.items()}
    timing = by_size(raw, FEEDFORWARD_METHODS, sizes, {"wct_over_adain": ("wct", "adain"),
                                                       "gatys_step_over_adain": ("gatys_step", "adain"),
                                                       "gatys_step_over_wct": ("gatys_step", "wct")})
    result = {
        "benchmark": "feedforward_inference",
        "what": (f"one {'/'.join(map(str, sizes))} px square image: AdaIN and WCT inference (style encoding "
                 f"included) and one L-BFGS step of Gatys et al. (median of steps 2..{steps}); CPU"),
        "weights": {"adain": args.adain_weights, "wct": args.wct_weights},
        "sizes": sizes,
        "repeats": repeats,
        "gatys_steps": steps,
        "seconds": timing["seconds"],
        "medians": timing["medians"],
        "peak_memory_mb": {m: {s: max(v) for s, v in per_size.items()} for m, per_size in peak.items()},
        "gatys_run_seconds": gatys_run,
        "ratios": timing["ratios"],
        "machine": machine_info(),
        **timing["flat"],
    }
    return result


PHOTOREAL_METHODS = ("fa_scp", "photowct_closed_form", "photowct_fast", "wct2", "dpst")


@benchmark("photoreal_inference")
def photoreal_inference(args: argparse.Namespace) -> dict:
    from ..metrics import measure
    from ..models.dpst import DPSTConfig, stylize_dpst
    from ..models.photowct import smooth
    from ..recipes.fa_scp import load_fa_scp, stylize_fa_scp
    from ..recipes.photowct import load_photowct
    from ..recipes.wct2 import load_wct2, stylize_wct2

    sizes, repeats = list(args.photo_sizes), args.repeats
    fa_net = load_fa_scp(args.fa_scp_weights)  # loaded (and sha256-checked) before any timing
    pw_net = load_photowct(args.photowct_weights)
    w2_net = load_wct2(args.wct2_weights)
    images = _bench_pairs(sizes)
    small = images[sizes[0]]
    stylize_fa_scp(*small, net=fa_net)  # warm-up
    pw_net.stylize(*small)
    stylize_wct2(*small, net=w2_net)

    peak: dict[str, dict[str, list[float]]] = {m: {str(s): [] for s in sizes} for m in PHOTOREAL_METHODS}
    parts: dict[str, dict[str, list[float]]] = {f"photowct_{m}_{step}": {str(s): [] for s in sizes}
                                                for m in ("closed_form", "fast") for step in ("stylize", "smooth")}

    def timed(method: str, size: int, fn, *a, **kw) -> Callable[[], float]:
        def run() -> float:
            _, seconds, mb = measure(fn, *a, **kw)
            peak[method][str(size)].append(mb)
            return seconds
        return run

    def photowct(size: int, method: str) -> Callable[[], float]:
        content, style = images[size]

        def run() -> float:
            t0 = time.perf_counter()
            out = pw_net.stylize(content, style)
            t1 = time.perf_counter()
            _, smooth_seconds, mb = measure(smooth, out, content, pw_net.cfg, method)
            parts[f"photowct_{method}_stylize"][str(size)].append(t1 - t0)
            parts[f"photowct_{method}_smooth"][str(size)].append(smooth_seconds)
            peak[f"photowct_{method}"][str(size)].append(mb)
            return t1 - t0 + smooth_seconds
        return run

    runners: dict[str, Callable[[], float]] = {}
    for size in sizes:
        c, s = images[size]
        runners[f"fa_scp@{size}"] = timed("fa_scp", size, stylize_fa_scp, c, s, net=fa_net)
        runners[f"photowct_closed_form@{size}"] = photowct(size, "closed_form")
        runners[f"photowct_fast@{size}"] = photowct(size, "fast")
        runners[f"wct2@{size}"] = timed("wct2", size, stylize_wct2, c, s, net=w2_net)
    raw = interleaved(runners, repeats)
    dpst_cfg = DPSTConfig(steps=args.dpst_steps)
    for size in sizes:  # one DPST run per size (its time: figures/bench/photoreal_inference.json)
        raw[f"dpst@{size}"] = [timed("dpst", size, stylize_dpst, *images[size], dpst_cfg, progress=False)()]
    timing = by_size(raw, PHOTOREAL_METHODS, sizes,
                     {f"fa_scp_over_{m}": ("fa_scp", m) for m in PHOTOREAL_METHODS if m != "fa_scp"})
    result = {
        "benchmark": "photoreal_inference",
        "what": (f"one {'/'.join(map(str, sizes))} px square photo pair through FA+SCP, PhotoWCT (closed-form or "
                 f"fast smoothing), WCT2 and DPST ({args.dpst_steps} L-BFGS evaluations); CPU; the FA+SCP paper "
                 f"claims a ratio of at most 0.28 against earlier photorealistic methods"),
        "weights": {"fa_scp": args.fa_scp_weights, "photowct": args.photowct_weights, "wct2": args.wct2_weights},
        "sizes": sizes,
        "repeats": repeats,
        "dpst_steps": args.dpst_steps,
        "dpst_repeats": 1,
        "seconds": timing["seconds"],
        "medians": timing["medians"],
        "photowct_parts_medians": {k: medians(times) for k, times in parts.items()},
        "peak_memory_mb": {m: {s: max(v) for s, v in per_size.items()} for m, per_size in peak.items()},
        "ratios": timing["ratios"],
        "claim_ratio_at_most": 0.28,
        "machine": machine_info(),
        **timing["flat"],
    }
    return result


@benchmark("dst_stages")
def dst_stages(args: argparse.Namespace) -> dict:
    from ..metrics import measure
    from ..models.dst import DSTConfig, clean_keypoints, resize_long_side, stylize_dst
    from ..models.nbb import NBBConfig, nbb

    content_path, style_path = _bench_images(args.dst_size, Path(tempfile.mkdtemp(prefix="stylelib-bench-")))
    from ..images import load_image

    cfg = DSTConfig(size=args.dst_size, iterations=(args.dst_iterations,) * 3)
    content = resize_long_side(load_image(content_path), cfg.size)
    style = resize_long_side(load_image(style_path), cfg.size)
    nbb_cfg = NBBConfig(size=args.dst_size)
    found, nbb_s, nbb_mb = measure(nbb, content, style, nbb_cfg, progress=False)
    keypoints, clean_s, _ = measure(clean_keypoints, found, tuple(content.shape[-2:]), cfg)
    memory: dict[str, list[float]] = {"dst": [], "strotss": []}
    runners = {
        "dst": metered(stylize_dst, content, style, cfg, keypoints=keypoints, progress=False,
                       memory=memory["dst"]),
        "strotss": metered(stylize_dst, content, style, cfg.replace(warp=False), progress=False,
                           memory=memory["strotss"]),
    }
    raw = interleaved(runners, args.repeats)
    med = medians(raw)
    return {
        "benchmark": "dst_stages",
        "what": (f"one {args.dst_size} px pair: NBB (quick profile), DST's cleaning, and the joint optimisation "
                 f"({args.dst_iterations} iterations per scale, STROTSS base) next to STROTSS alone; CPU"),
        "size": args.dst_size,
        "iterations_per_scale": args.dst_iterations,
        "repeats": args.repeats,
        "nbb_seconds": nbb_s,
        "nbb_peak_memory_mb": nbb_mb,
        "nbb_pairs": len(found),
        "nbb_anchor_seconds": 115.0,
        "nbb_aim_seconds": 60.0,
        "cleaning_seconds": clean_s,
        "keypoints": len(keypoints.sources),
        "seconds": raw,
        "medians": med,
        "peak_memory_mb": {k: max(v) for k, v in memory.items()},
        "ratio_dst_over_strotss": med["dst"] / med["strotss"],
        "ratio_nbb_over_anchor": nbb_s / 115.0,
        "machine": machine_info(),
    }


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes such as 256,512, got {text!r}") from None
    if not sizes or min(sizes) < 32:
        raise argparse.ArgumentTypeError(f"sizes must be at least 32 px (WCT needs relu5_1 positions), got {text!r}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylelib.report.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="figures/bench", help="folder for the JSON results")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--size", type=int, default=256, help="gatys_vs_pastiche: image size")
    parser.add_argument("--steps", type=int, default=100, help="gatys_vs_pastiche: L-BFGS steps")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (medians are over these)")
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16 variants")
    parser.add_argument("--sizes", type=_sizes, default=[256, 512, 1024],
                        help="feedforward_inference: comma-separated square sizes (default 256,512,1024)")
    parser.add_argument("--gatys-steps", type=int, default=3,
                        help="feedforward_inference: L-BFGS steps per Gatys run (reported per step)")
    parser.add_argument("--adain-weights", default="adain-quick", help="registered AdaIN weights")
    parser.add_argument("--wct-weights", default="wct-quick", help="registered WCT weights (<name>-relu1_1 ...)")
    parser.add_argument("--photo-sizes", type=_sizes, default=[512],
                        help="photoreal_inference: comma-separated square sizes (default 512)")
    parser.add_argument("--dpst-steps", type=int, default=200, help="photoreal_inference: DPST L-BFGS evaluations")
    parser.add_argument("--fa-scp-weights", default="fa_scp-quick", help="registered FA+SCP weights")
    parser.add_argument("--photowct-weights", default="photowct-quick",
                        help="registered PhotoWCT decoders (<name>-relu1_1 ...)")
    parser.add_argument("--wct2-weights", default="wct2-quick", help="registered WCT2 weights")
    parser.add_argument("--dst-size", type=int, default=256, help="dst_stages: long side of the pair")
    parser.add_argument("--dst-iterations", type=int, default=10, help="dst_stages: iterations per scale")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.gatys_steps < 2:
        parser.error(f"--gatys-steps must be at least 2 (the per-step time uses steps 2..N), got {args.gatys_steps}")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: {out}: cannot create the output folder ({exc.strerror})", file=sys.stderr)
        return 2
    status = 0
    for name in args.only or sorted(BENCHMARKS):
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            result = BENCHMARKS[name](args)
        except WeightsError as exc:
            if args.only:  # asked for by name: its weights must be there
                print(f"error: {name}: {exc}", file=sys.stderr)
                status = 2
            else:  # `make bench` runs what it can; a network not trained yet is reported, not fatal
                print(f"[bench] {name}: skipped, {exc}", file=sys.stderr)
            continue
        except StylelibError as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            status = 2
            continue
        path = out / f"{name}.json"
        atomic_write_text(path, json.dumps(result, indent=2) + "\n")
        ratios = {k: round(v, 3) for k, v in result.items() if k.startswith("ratio_") and isinstance(v, float)}
        print(f"[bench] {name}: {ratios} -> {path}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
