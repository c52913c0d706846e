"""The ``stylelib`` command.

    stylelib stylize --method METHOD CONTENT STYLE -o OUT [--size N] [--steps N] [--alpha A] ...
    stylelib stylize --method dst CONTENT STYLE -o OUT [--base strotss|gatys] [--keypoints F] [--save-keypoints F]
    stylelib methods                      the methods (stylelib.catalog), with what each trains
    stylelib train MODEL --profile quick [--variant V] [--resume] [--run-dir DIR]
    stylelib train all --profile quick    every network the notebooks use (make weights)
    stylelib weights list|verify
    stylelib data [DEST]

Any error a user can cause (a missing or broken image, an unwritable output,
a bad option) prints one line ``stylelib: error: ...`` and exits with status
2; no output file is written in that case (outputs are written atomically, and
only after the result is complete).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse's own convention)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _unit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stylelib", description="Neural style transfer methods from the stylelib suite.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    st = commands.add_parser("stylize", help="stylise a content image with a style image")
    st.add_argument("content", help="content image (PNG, JPEG, WebP, TIFF, BMP, GIF)")
    st.add_argument("style", help="style image")
    st.add_argument("-o", "--output", required=True, help="output image; the format follows the suffix")
    st.add_argument("--method", default="gatys", help="stylisation method (see `stylelib methods`)")
    st.add_argument("--size", type=_positive, default=512, help="long side of the content image in pixels")
    st.add_argument("--style-size", type=_positive, default=None, help="long side of the style image (default: --size)")
    st.add_argument("--steps", type=_positive, default=None, help="optimisation steps (optimisation methods)")
    st.add_argument("--optimizer", choices=("lbfgs", "adam"), default=None)
    st.add_argument("--init", choices=("content", "noise", "style"), default=None)
    st.add_argument("--style-weight", type=float, default=None)
    st.add_argument("--preserve-color", choices=("none", "histogram", "luminance"), default=None)
    st.add_argument("--precision", choices=("fp32", "bf16"), default=None)
    st.add_argument("--seed", type=int, default=None)
    st.add_argument("--alpha", type=_unit, default=None, help="content (0) to style (1) trade-off (feed-forward methods)")
    st.add_argument("--weights", default=None, help="registered weights to use (see `stylelib weights list`)")
    st.add_argument("--base", choices=("strotss", "gatys"), default=None, help="DST's base method")
    st.add_argument("--keypoints", default=None, help="DST: a keypoint CSV to use instead of NBB")
    st.add_argument("--save-keypoints", default=None, help="DST: write the cleaned keypoints to this CSV")
    st.add_argument("--quiet", action="store_true", help="no progress bar")

    commands.add_parser("methods", help="list the stylisation methods")

    tr = commands.add_parser("train", help="train a model's network and register its weights")
    tr.add_argument("model", help="model to train (`stylelib methods` lists them), or `all` for every network "
                                   "the notebooks use")
    tr.add_argument("--profile", default="quick", choices=("ci", "quick", "paper"))
    tr.add_argument("--resume", action="store_true", help="continue the interrupted run in --run-dir")
    tr.add_argument("--run-dir", default=None, help="checkpoint folder (default: the cache, runs/MODEL-PROFILE)")
    tr.add_argument("--steps", type=_positive, default=None, help="override the profile's iteration budget")
    tr.add_argument("--seconds", type=_positive, default=None, help="override the profile's time budget")
    tr.add_argument("--name", default=None, help="registry name (default MODEL-PROFILE)")
    tr.add_argument("--variant", default=None, help="a model's ablation variant (`stylelib methods` lists them)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")

    wt = commands.add_parser("weights", help="list the registered weights or verify their sha256")
    wt.add_argument("action", choices=("list", "verify"))

    dt = commands.add_parser("data", help="download the benchmark images and check their sha256")
    dt.add_argument("dest", nargs="?", default=None, help="folder (default: $STYLELIB_DATA or ./data)")
    return parser


def _stylize(args: argparse.Namespace) -> int:
    from . import catalog
    from .images import SAVE_FORMATS, load_image, save_image

    out = Path(args.output)
    if out.suffix.lower() not in SAVE_FORMATS:  # checked before the (slow) stylisation starts
        raise ValueError(f"{out}: unsupported output format {out.suffix or '(no suffix)'}; use one of "
                         f"{', '.join(sorted(SAVE_FORMATS))}")
    if out.is_dir():
        raise ValueError(f"{out}: is a directory; give a file name such as {out / 'result.png'}")
    if not out.parent.exists() and str(out.parent) not in ("", "."):
        raise ValueError(f"{out}: output folder {out.parent} does not exist")
    method = catalog.get(args.method)
    content = load_image(args.content, size=args.size)
    style = load_image(args.style, size=args.style_size or args.size)
    options = {
        "steps": args.steps, "optimizer": args.optimizer, "init": args.init, "style_weight": args.style_weight,
        "preserve_color": args.preserve_color, "precision": args.precision, "seed": args.seed,
        "alpha": args.alpha, "weights": args.weights, "base": args.base, "keypoints": args.keypoints,
        "save_keypoints": args.save_keypoints,
    }
    unsupported = [k for k, v in options.items() if v is not None and k not in method.options]
    if unsupported:
        raise ValueError(f"method {method.name!r} does not take --{unsupported[0].replace('_', '-')}")
    options = {k: v for k, v in options.items() if v is not None}
    result = method.fn(content, style, progress=not args.quiet, **options)
    save_image(result, out)
    print(f"wrote {out} ({result.shape[-1]}x{result.shape[-2]})", file=sys.stderr)
    return 0


def _methods(_: argparse.Namespace) -> int:
    from . import catalog

    names = catalog.names()
    width = max(map(len, names))
    for name in names:
        method = catalog.get(name)
        trains = "" if method.train is None else " [trainable" + (
            f"; variants: {', '.join(method.variants)}]" if method.variants else "]")
        print(f"{name:<{width}}  {method.summary}{trains}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .training import jobs as training_jobs

    overrides = {k: v for k, v in (("steps", args.steps), ("seconds", args.seconds), ("variant", args.variant))
                 if v is not None}
    if args.model == "all":
        if overrides or args.run_dir or args.name or args.resume:
            raise ValueError("`stylelib train all` takes only --profile and --quiet")
        recs = training_jobs.train_all(args.profile, progress=not args.quiet)
    else:
        recs = training_jobs.train(args.model, args.profile, run_dir=args.run_dir, resume=args.resume,
                                   progress=not args.quiet, name=args.name, **overrides)
    for rec in recs:
        print(f"registered {rec.name}: {rec.file} ({rec.size_bytes / 2**20:.1f} MB), {rec.iterations} iterations "
              f"in {rec.seconds / 60:.1f} min; {', '.join(f'{k}={v}' for k, v in rec.metrics.items())}",
              file=sys.stderr)
    return 0


def _weights(args: argparse.Namespace) -> int:
    from .training import registry

    if args.action == "list":
        found = registry.entries()
        if not found:
            print(f"no weights registered in {registry.weights_dir()}")
        for name, rec in found.items():
            print(f"{name:20s} {rec.model:8s} {rec.profile:6s} {rec.iterations:7d} it {rec.seconds / 60:6.1f} min "
                  f"{rec.size_bytes / 2**20:5.1f} MB  {rec.data}")
        return 0
    bad = 0
    for name, ok, message in registry.verify():
        print(f"{'ok ' if ok else 'BAD'} {name}: {message}")
        bad += not ok
    if bad:
        print(f"stylelib: error: {bad} registered weights file(s) failed verification", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _data(args: argparse.Namespace) -> int:
    from .data.download import main as download_main

    return download_main([args.dest] if args.dest else [])


def main(argv: list[str] | None = None) -> int:
    from .errors import StylelibError

    parser = build_parser()
    args = parser.parse_args(argv)
    handler = {"stylize": _stylize, "methods": _methods, "data": _data, "train": _train,
               "weights": _weights}[args.command]
    try:
        return handler(args)
    except (StylelibError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"stylelib: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("stylelib: interrupted; no output written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
