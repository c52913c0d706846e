"""Download the ``dpst`` and ``art`` sets from their public origins (``make data``).

Every file named in the packaged ``sha256sums.txt`` is fetched from the URL
that :mod:`stylelib.data.sources` gives for it, unless a file with the right
SHA-256 is already in place.  Each file is streamed into a temporary file next
to its target, hashed on the way, and renamed over the target only when the
hash matches; a failed or interrupted download leaves nothing behind.

Command line::

    python -m stylelib.data.download [DEST] [--only dpst] [--mirror URL] [--quiet]

``DEST`` defaults to ``$STYLELIB_DATA`` or ``./data``.  Errors print one line
and exit with status 2.  ``--mirror`` (or ``$STYLELIB_DATA_MIRROR``) fetches
from a copy of the data folder instead of GitHub (``http(s)://`` or
``file://``), which is also how the tests exercise this module.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from ..atomic import atomic_open
from ..errors import DataError, StylelibError
from ..paths import DATA_ENV, data_root
from .checksums import expected_sums, file_sha256, select
from .sources import source_urls

MIRROR_ENV = "STYLELIB_DATA_MIRROR"
USER_AGENT = "stylelib-data/0.1 (+https://github.com; python urllib)"
CHUNK = 1 << 16
#: No benchmark file is near this size; a larger body is refused.
MAX_BYTES = 256 * 1024 * 1024


@dataclass
class DownloadResult:
    """What :func:`download` did: relative paths fetched and already correct."""

    dest: Path
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.downloaded)} downloaded, {len(self.skipped)} already present in {self.dest}"


class _Transient(Exception):
    """A network failure worth retrying (timeout, connection reset, HTTP 5xx)."""


def _fetch_into(url: str, fh, timeout: float) -> tuple[str, int]:
    """Stream ``url`` into ``fh``; return (sha256 hex, byte count)."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            while True:
                chunk = resp.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_BYTES:
                    raise DataError(f"{url}: response larger than {MAX_BYTES} bytes, refused")
                digest.update(chunk)
                fh.write(chunk)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
        raise DataError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise _Transient(f"timed out after {timeout:g} s") from None
        text = getattr(reason, "strerror", None) or str(reason)
        raise DataError(" ".join(str(text).split())) from None
    except (socket.timeout, TimeoutError):
        raise _Transient(f"timed out after {timeout:g} s") from None
    except (ConnectionError, OSError) as exc:
        if isinstance(exc, StylelibError):
            raise
        raise _Transient(" ".join(str(exc).split()) or type(exc).__name__) from None
    return digest.hexdigest(), size


def _missing_parents(path: Path) -> list[Path]:
    """The ancestors of ``path`` that do not exist yet, deepest first."""
    out = []
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        out.append(parent)
        parent = parent.parent
    return out


def fetch_file(url: str, target: Path, expected: str, *, rel: str | None = None,
               timeout: float = 60.0, retries: int = 2) -> None:
    """Download ``url`` to ``target`` atomically, checking its SHA-256 against ``expected``.

    On any failure the target is left as it was and no temporary file or newly
    created folder remains.  Raises DataError naming the file.
    """
    label = rel or str(target)
    created = _missing_parents(target)
    try:
        for attempt in range(retries + 1):
            try:
                with atomic_open(target, "wb", make_parents=True) as fh:
                    got, _ = _fetch_into(url, fh, timeout)
                    if got != expected.lower():
                        raise DataError(
                            f"{label}: sha256 mismatch (expected {expected.lower()}, got {got}) from {url}"
                        )
                return
            except _Transient as exc:
                if attempt == retries:
                    raise DataError(f"{label}: cannot download {url} ({exc})") from None
                time.sleep(min(2.0 ** attempt, 8.0))
            except DataError as exc:
                msg = str(exc)
                if msg.startswith(label):
                    raise
                raise DataError(f"{label}: cannot download {url} ({msg})") from None
    except BaseException:
        for folder in created:  # deepest first; stops at the first non-empty one
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _progress(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency, but stay usable without it
        return None
    return tqdm(total=total, unit="file", desc="stylelib data", file=sys.stderr, leave=True)


def download(
    dest: str | os.PathLike,
    only: str | Iterable[str] | None = None,
    progress: bool = True,
    *,
    mirror: str | None = None,
    urls: Mapping[str, str] | None = None,
    sums: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    retries: int = 2,
    max_failures: int = 5,
) -> DownloadResult:
    """Fetch every missing or wrong-hash benchmark file into ``dest``.

    Parameters
    ----------
    dest:
        the data folder (it becomes ``$STYLELIB_DATA``); created if needed.
    only:
        limit to set names, folders or files (``"dpst"``, ``"art/style"``...).
    progress:
        show a tqdm progress bar on stderr.
    mirror:
        base URL of a copy of the data folder to use instead of the public
        origins (default ``$STYLELIB_DATA_MIRROR``; ``http(s)://`` or ``file://``).
    urls:
        explicit ``{relative path: URL}`` overrides (tests).
    sums:
        ``{relative path: sha256}`` to fetch instead of the packaged list (tests).

    Files whose hash already matches are skipped.  Failures do not stop the
    other files (up to ``max_failures``); afterwards a DataError reports the
    first failure, e.g. ``"dpst/style/tar1.png: sha256 mismatch (expected ...,
    got ...) from URL"``, and how many others failed.
    """
    dest = Path(dest).expanduser()
    if dest.exists() and not dest.is_dir():
        raise DataError(f"{dest}: is not a folder")
    wanted = select(sums, only) if sums is not None else expected_sums(only)
    if not wanted:
        raise DataError(f"nothing to download: {only!r} matches no file of the benchmark list")
    mirror = mirror if mirror is not None else (os.environ.get(MIRROR_ENV, "").strip() or None)
    where = source_urls(wanted, mirror=mirror, overrides=urls)

    result = DownloadResult(dest)
    todo = []
    for rel, digest in wanted.items():
        target = dest / rel
        if target.is_file() and file_sha256(target) == digest.lower():
            result.skipped.append(rel)
        else:
            todo.append(rel)

    failures: list[str] = []
    bar = _progress(len(todo), progress)
    try:
        for rel in todo:
            if bar is not None:
                bar.set_postfix_str(rel, refresh=False)
            try:
                fetch_file(where[rel], dest / rel, wanted[rel], rel=rel, timeout=timeout, retries=retries)
            except DataError as exc:
                failures.append(str(exc))
                if len(failures) >= max_failures:
                    break
            else:
                result.downloaded.append(rel)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if failures:
        attempted = len(result.downloaded) + len(failures)
        rest = len(todo) - attempted
        extra = []
        if len(failures) > 1:
            extra.append(f"{len(failures) - 1} more failed")
        if rest:
            extra.append(f"{rest} not tried")
        tail = f" [{'; '.join(extra)}]" if extra else ""
        raise DataError(failures[0] + tail)
    return result


def default_dest() -> Path:
    """``$STYLELIB_DATA`` when set, else ``./data``."""
    return data_root() or Path("data")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m stylelib.data.download",
        description="Download the dpst and art benchmark images and check their SHA-256.",
    )
    parser.add_argument("dest", nargs="?", type=Path, default=None,
                        help=f"data folder (default: ${DATA_ENV} or ./data)")
    parser.add_argument("--only", action="append", default=None, metavar="SET_OR_PATH",
                        help="limit to a set or folder, e.g. dpst or art/style (repeatable)")
    parser.add_argument("--mirror", default=None,
                        help=f"base URL of a copy of the data folder (default: ${MIRROR_ENV} or GitHub)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    dest = args.dest if args.dest is not None else default_dest()
    try:
        result = download(dest, only=args.only, progress=not args.quiet,
                          mirror=args.mirror, timeout=args.timeout)
    except StylelibError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    print(result.summary())
    if dest != data_root():
        print(f"use it with: export {DATA_ENV}={dest.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
