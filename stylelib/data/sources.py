"""Public origin of every benchmark file, for ``make data``.

Each relative path of ``sha256sums.txt`` maps to a raw-file URL on GitHub,
``https://raw.githubusercontent.com/OWNER/REPO/REF/PATH``.  The rules below
rename our files back to their names at the origin (we add ``et_`` to ETNet
images and ``sb_`` to StyleBank styles to keep the three origins apart in one
folder).

Verification (done against an index of public GitHub repositories, without
network access to GitHub itself):

* luanfujun/deep-photo-styletransfer: ``examples/input/in<N>.png``,
  ``examples/style/tar<N>.png`` and ``examples/segmentation/{in,tar}<N>.png``
  are listed in the repository; branch ``master`` is confirmed by third-party
  raw URLs (``.../deep-photo-styletransfer/master/examples/input/in30.png``).
* naoto0804/pytorch-AdaIN: the index holds the code but not ``input/``.  The
  folder layout ``input/content``, ``input/style`` and the names (cornell,
  woman_with_hat_matisse, avril, picasso_self_portrait, ...) are confirmed by
  the repository README; the remaining names by a fork
  (alexus37/pytorch-AdaIN ``input/``) and by third-party code that cites
  ``input/style/{asheville,mondrian,sketch.png}`` and
  ``input/content/{modern,chicago,blonde_girl}``.  Branch ``master`` is
  confirmed by third-party raw URLs
  (``.../naoto0804/pytorch-AdaIN/master/input``).
* zhijieW94/ETNet: all 17 + 17 files of ``image/input/content`` and
  ``image/input/style`` are listed with exactly our names minus ``et_``.
  Branch NOT verified; ``HEAD`` is used, which raw.githubusercontent.com
  resolves to the default branch.
* ichunyeh/StyleBank: ``data/style/style/05.jpg`` is listed and the README
  shows ``data/style/style/{00,03,06,10}.jpg``, so ``sb_NN.jpg`` is ``NN.jpg``
  there (00..15, 16 styles per its README).  Branch NOT verified; ``HEAD``.

Hashes were not compared with the origins (no network); a file that changed
upstream is reported by the downloader as a hash mismatch.
"""

from __future__ import annotations

from typing import Mapping
from urllib.parse import quote

from ..errors import DataError
from .checksums import expected_sums

RAW = "https://raw.githubusercontent.com"

#: repository key -> (owner/name, ref)
REPOS: dict[str, tuple[str, str]] = {
    "dpst": ("luanfujun/deep-photo-styletransfer", "master"),
    "adain": ("naoto0804/pytorch-AdaIN", "master"),
    "etnet": ("zhijieW94/ETNet", "HEAD"),
    "stylebank": ("ichunyeh/StyleBank", "HEAD"),
}

#: (our folder, our file-name prefix) -> (repository key, folder at the origin).
#: Entries with a prefix are tried first; the prefix is removed from the name.
RULES: tuple[tuple[str, str, str, str], ...] = (
    ("dpst/content", "", "dpst", "examples/input"),
    ("dpst/style", "", "dpst", "examples/style"),
    ("dpst/segmentation", "", "dpst", "examples/segmentation"),
    ("art/content", "et_", "etnet", "image/input/content"),
    ("art/content", "", "adain", "input/content"),
    ("art/style", "et_", "etnet", "image/input/style"),
    ("art/style", "sb_", "stylebank", "data/style/style"),
    ("art/style", "", "adain", "input/style"),
)


def origin(rel: str) -> tuple[str, str, str]:
    """``(owner/repo, ref, path at the origin)`` for one of our relative paths."""
    folder, _, fname = rel.rpartition("/")
    for our_folder, prefix, key, their_folder in RULES:
        if folder == our_folder and fname.startswith(prefix):
            repo, ref = REPOS[key]
            return repo, ref, f"{their_folder}/{fname[len(prefix):]}"
    raise DataError(f"{rel}: no known public origin for this path")


def origin_url(rel: str) -> str:
    """The raw GitHub URL of one of our relative paths."""
    repo, ref, path = origin(rel)
    return f"{RAW}/{repo}/{ref}/{quote(path)}"


def mirror_url(base: str, rel: str) -> str:
    """The URL of ``rel`` on a mirror laid out like the data folder (``http(s)://`` or ``file://``)."""
    return f"{base.rstrip('/')}/{quote(rel)}"


def source_urls(rels, mirror: str | None = None, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each relative path to its download URL.

    ``overrides`` (rel -> URL) wins, then a ``mirror`` base URL, then the
    public origin.
    """
    overrides = overrides or {}
    out = {}
    for rel in rels:
        if rel in overrides:
            out[rel] = overrides[rel]
        elif mirror:
            out[rel] = mirror_url(mirror, rel)
        else:
            out[rel] = origin_url(rel)
    return out


def all_origin_urls() -> dict[str, str]:
    """The origin URL of every file in the packaged checksum list."""
    return {rel: origin_url(rel) for rel in expected_sums()}


#: Every relative path of ``sha256sums.txt`` -> its public origin URL.
SOURCES: dict[str, str] = all_origin_urls()
