"""The ``art`` set: photos and paintings used by arbitrary-style-transfer papers.

Layout under ``$STYLELIB_DATA``: ``art/content/*.jpg`` (28 photos) and
``art/style/*`` (53 paintings, all JPEG except the ``sketch.png`` drawing).
The file-name prefix tells the origin of each image:

=========  ============================================================  ========  ======
prefix     origin                                                        contents  styles
=========  ============================================================  ========  ======
(none)     demo images of AdaIN (naoto0804/pytorch-AdaIN ``input/``)       11        20
``et_``    demo images of ETNet (zhijieW94/ETNet ``image/input/``)         17        17
``sb_``    the 16 training styles of StyleBank (ichunyeh/StyleBank)        0         16
=========  ============================================================  ========  ======

Pairs follow a fixed rule, so that every run sees the same list:

1. every AdaIN content photo (alphabetical) with each of :data:`ADAIN_PAIR_STYLES`
   (22 pairs), then
2. the ETNet content photos and ETNet styles, both sorted by name, matched
   one-to-one in that order (17 pairs).

Pair names are ``art_<content>__<style>``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .checksums import expected_sums
from .locate import set_root
from .refs import ImageRef, ImageSet, Pair

NAME = "art"

#: group name -> file-name prefix
GROUPS: dict[str, str] = {"adain": "", "etnet": "et_", "stylebank": "sb_"}
_PREFIXES = tuple(p for p in GROUPS.values() if p)

#: The AdaIN demo styles paired with every AdaIN content photo (the pairing of
#: the pytorch-AdaIN README example, plus a second, more abstract painting).
ADAIN_PAIR_STYLES: tuple[str, ...] = ("woman_with_hat_matisse", "antimonocromatismo")


def _prefix_of(name: str) -> str:
    for p in _PREFIXES:
        if name.startswith(p):
            return p
    return ""


def _normalise_group(prefix: str | None) -> str | None:
    """Map a group name or prefix ("stylebank", "sb", "sb_", "", None...) to a prefix; None = all."""
    if prefix is None:
        return None
    key = prefix.strip().lower()
    if key in GROUPS:
        return GROUPS[key]
    if key in ("", "none"):
        return ""
    key = key if key.endswith("_") else key + "_"
    if key in _PREFIXES:
        return key
    valid = ", ".join(repr(g) for g in (*GROUPS, *_PREFIXES))
    raise DataError(f"unknown art group {prefix!r}; valid: {valid}")


def _refs(root: Path, kind: str) -> list[ImageRef]:
    rels = sorted(rel for rel in expected_sums(NAME) if rel.startswith(f"{NAME}/{kind}/"))
    return [ImageRef(Path(rel).stem, root / rel) for rel in rels]


def _filter(refs: list[ImageRef], prefix: str | None) -> list[ImageRef]:
    want = _normalise_group(prefix)
    return refs if want is None else [r for r in refs if _prefix_of(r.name) == want]


def art_set() -> ImageSet:
    """Build the ``art`` set (DataError when it is absent or incomplete)."""
    root = set_root(NAME)
    contents = _refs(root, "content")
    styles = _refs(root, "style")
    by_style = {s.name: s for s in styles}
    pairs: list[Pair] = []
    for c in _filter(contents, ""):
        for s in ADAIN_PAIR_STYLES:
            if s in by_style:
                pairs.append(Pair(f"art_{c.name}__{s}", c, by_style[s]))
    for c, s in zip(_filter(contents, "et_"), _filter(styles, "et_")):
        pairs.append(Pair(f"art_{c.name}__{s.name}", c, s))
    return ImageSet(NAME, root / NAME, contents, styles, pairs)


def art_styles(prefix: str | None = None) -> list[ImageRef]:
    """The ``art`` styles of one origin, sorted by name.

    ``prefix`` is a group name (``"adain"``, ``"stylebank"``, ``"etnet"``) or a
    file-name prefix (``"sb_"``, ``"et_"``; ``""`` means no prefix, i.e. the
    AdaIN demo styles); ``None`` returns all 53.
    """
    return _filter(art_set().styles, prefix)


def art_contents(prefix: str | None = None) -> list[ImageRef]:
    """The ``art`` content photos of one origin (same ``prefix`` rules as :func:`art_styles`)."""
    return _filter(art_set().contents, prefix)
