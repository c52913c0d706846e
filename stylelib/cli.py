"""The ``stylelib`` command.

    stylelib stylize --method gatys CONTENT STYLE -o OUT [--size N] [--steps N]
    stylelib methods
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
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    st = sub.add_parser("stylize", help="stylise a content image with a style image")
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
    st.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("methods", help="list the stylisation methods")

    dt = sub.add_parser("data", help="download the benchmark images and check their sha256")
    dt.add_argument("dest", nargs="?", default=None, help="folder (default: $STYLELIB_DATA or ./data)")
    return parser


def _stylize(args: argparse.Namespace) -> int:
    from . import methods
    from .images import SAVE_FORMATS, load_image, save_image

    out = Path(args.output)
    if out.suffix.lower() not in SAVE_FORMATS:  # checked before the (slow) stylisation starts
        raise ValueError(f"{out}: unsupported output format {out.suffix or '(no suffix)'}; use one of "
                         f"{', '.join(sorted(SAVE_FORMATS))}")
    if out.is_dir():
        raise ValueError(f"{out}: is a directory; give a file name such as {out / 'result.png'}")
    if not out.parent.exists() and str(out.parent) not in ("", "."):
        raise ValueError(f"{out}: output folder {out.parent} does not exist")
    method = methods.get(args.method)
    content = load_image(args.content, size=args.size)
    style = load_image(args.style, size=args.style_size or args.size)
    options = {
        "steps": args.steps, "optimizer": args.optimizer, "init": args.init, "style_weight": args.style_weight,
        "preserve_color": args.preserve_color, "precision": args.precision, "seed": args.seed,
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
    from . import methods

    for name in methods.names():
        m = methods.get(name)
        print(f"{name:12s} {m.summary}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from .data.download import main as download_main

    return download_main([args.dest] if args.dest else [])


def main(argv: list[str] | None = None) -> int:
    from .errors import StylelibError

    parser = build_parser()
    args = parser.parse_args(argv)
    handler = {"stylize": _stylize, "methods": _methods, "data": _data}[args.command]
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
