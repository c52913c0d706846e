"""The manifest of benchmark files: relative path -> SHA-256.

``sha256sums.txt`` next to this module is a verbatim copy of the
``SHA256SUMS`` file that accompanies the shared data folder (output of
``sha256sum``: ``<hex>  ./<relative path>``).  It lists every file of the
``dpst`` and ``art`` sets, so it doubles as the list of files a complete set
must contain.  It holds hashes only; the images themselves are never stored in
the repository.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from ..errors import DataError

SUMS_FILE = Path(__file__).with_name("sha256sums.txt")

_CHUNK = 1 << 20


def parse_sums(text: str, source: str = "sha256sums") -> dict[str, str]:
    """Parse ``sha256sum`` output into ``{relative posix path: lowercase hex}``.

    Accepts the text and binary markers (``"  "`` and ``" *"``) and strips a
    leading ``./`` from paths.  Blank lines and ``#`` comments are skipped.
    """
    sums: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        digest, sep, rel = line.partition(" ")
        rel = rel.lstrip(" *")
        if not sep or len(digest) != 64 or not rel or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise DataError(f"{source}:{lineno}: not a sha256sum line: {raw!r}")
        if rel.startswith("./"):
            rel = rel[2:]
        if rel.startswith("/") or ".." in rel.split("/"):
            raise DataError(f"{source}:{lineno}: unsafe path {rel!r}")
        sums[rel] = digest.lower()
    return sums


@lru_cache(maxsize=1)
def _packaged_sums() -> tuple[tuple[str, str], ...]:
    try:
        text = SUMS_FILE.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{SUMS_FILE}: cannot read the packaged checksum list ({exc.strerror})") from None
    return tuple(parse_sums(text, str(SUMS_FILE)).items())


def expected_sums(only: str | Iterable[str] | None = None) -> dict[str, str]:
    """The packaged manifest, optionally limited by :func:`select` patterns."""
    return select(dict(_packaged_sums()), only)


def _matches(rel: str, pattern: str) -> bool:
    pattern = pattern.strip().strip("/")
    if pattern.startswith("./"):
        pattern = pattern[2:]
    return not pattern or rel == pattern or rel.startswith(pattern + "/")


def select(sums: Mapping[str, str], only: str | Iterable[str] | None) -> dict[str, str]:
    """Keep the entries under any of ``only`` (set names, folders or files, e.g.
    ``"dpst"``, ``"art/style"``, ``"dpst/content/in1.png"``); ``None`` keeps all."""
    if only is None:
        return dict(sums)
    patterns = [only] if isinstance(only, str) else list(only)
    return {rel: h for rel, h in sums.items() if any(_matches(rel, p) for p in patterns)}


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, as lowercase hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def missing_files(root: Path, only: str | Iterable[str] | None = None) -> list[str]:
    """Relative paths from the manifest that are not files under ``root``."""
    return [rel for rel in expected_sums(only) if not (root / rel).is_file()]


def bad_files(root: Path, only: str | Iterable[str] | None = None) -> list[str]:
    """Relative paths that are missing under ``root`` or whose hash differs (reads every file)."""
    bad = []
    for rel, digest in expected_sums(only).items():
        p = root / rel
        if not p.is_file() or file_sha256(p) != digest:
            bad.append(rel)
    return bad
