"""The ``dpst`` set: the Deep Photo Style Transfer benchmark.

Luan et al., "Deep Photo Style Transfer", CVPR 2017, published 60 examples:
content photo ``in<N>``, style photo ``tar<N>`` and a colour-coded segmentation
of each (see :mod:`stylelib.masks`).  Layout under ``$STYLELIB_DATA``::

    dpst/content/in<N>.png   dpst/style/tar<N>.png
    dpst/segmentation/in<N>.png   dpst/segmentation/tar<N>.png

Pairs are ``dpst_01`` .. ``dpst_60`` in numeric order.  Some content photos are
repeated with different styles (in3 = in4, in11 = in12, in48 = in49) and
``tar23`` is the content photo itself (a self-style check).
"""

from __future__ import annotations

import re

from .checksums import expected_sums
from .locate import set_root
from .refs import ImageRef, ImageSet, Pair

NAME = "dpst"

_CONTENT = re.compile(r"^dpst/content/in(\d+)\.png$")


def example_numbers() -> list[int]:
    """The example numbers N in the checksum list, ascending (1..60)."""
    nums = {int(m.group(1)) for rel in expected_sums(NAME) if (m := _CONTENT.match(rel))}
    return sorted(nums)


def dpst_set() -> ImageSet:
    """Build the ``dpst`` set (DataError when it is absent or incomplete)."""
    root = set_root(NAME)
    base = root / NAME
    contents: list[ImageRef] = []
    styles: list[ImageRef] = []
    pairs: list[Pair] = []
    for n in example_numbers():
        content = ImageRef(f"in{n}", base / "content" / f"in{n}.png")
        style = ImageRef(f"tar{n}", base / "style" / f"tar{n}.png")
        contents.append(content)
        styles.append(style)
        pairs.append(
            Pair(
                f"dpst_{n:02d}",
                content,
                style,
                content_mask=base / "segmentation" / f"in{n}.png",
                style_mask=base / "segmentation" / f"tar{n}.png",
            )
        )
    return ImageSet(NAME, base, contents, styles, pairs)
