"""Benchmark image sets for style transfer.

Three sets are known (:data:`SETS`):

``embedded``
    sample photos and textures shipped inside scikit-image; always available.
``dpst``
    the 60 examples of Deep Photo Style Transfer (Luan et al., CVPR 2017) with
    their segmentation masks (read them with :func:`stylelib.masks.load_mask`).
``art``
    content photos and paintings from the AdaIN, ETNet and StyleBank demos.

``dpst`` and ``art`` are not part of the repository: they are read from the
folder named by ``$STYLELIB_DATA`` and can be fetched from their public
origins with ``make data`` / ``python -m stylelib.data.download DEST``.

Example::

    from stylelib.data import default_pairs, load_pair
    pair = default_pairs(1)[0]
    content, style = load_pair(pair, size=512)   # [1, 3, H, W] in [0, 1], long side 512
"""

from __future__ import annotations

from .art import ADAIN_PAIR_STYLES, GROUPS as ART_GROUPS, art_contents, art_styles
from .refs import ImageRef, ImageSet, Pair
from .sets import SETS, available_sets, default_pairs, get_set, load_pair, spread

__all__ = [
    "SETS",
    "ImageRef",
    "ImageSet",
    "Pair",
    "get_set",
    "available_sets",
    "default_pairs",
    "load_pair",
    "spread",
    "art_styles",
    "art_contents",
    "ART_GROUPS",
    "ADAIN_PAIR_STYLES",
]
