"""The ``embedded`` set: images shipped on disk inside scikit-image.

scikit-image keeps a handful of sample images in its installed package folder
(``skimage/data``); others are fetched on demand with ``pooch`` and are not
used here.  This set only names files that exist locally, so it is always
available offline and needs no download.  Contents are photographs; styles are
textures and other colourful images (the greyscale textures are expanded to
three channels by :func:`stylelib.images.load_image`).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .refs import ImageRef, ImageSet, Pair

#: name (as in ``skimage.data.<name>()``) -> file name in skimage's data folder
CONTENT_FILES: dict[str, str] = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
    "motorcycle_left": "motorcycle_left.png",
}

STYLE_FILES: dict[str, str] = {
    "hubble_deep_field": "hubble_deep_field.jpg",
    "immunohistochemistry": "ihc.png",
    "colorwheel": "color.png",
    "brick": "brick.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
}

#: The fixed (content, style) pairs, in order.  Pairs whose files are absent
#: from the installed scikit-image are dropped.
PAIRS: tuple[tuple[str, str], ...] = (
    ("astronaut", "hubble_deep_field"),
    ("chelsea", "immunohistochemistry"),
    ("coffee", "colorwheel"),
    ("rocket", "gravel"),
    ("motorcycle_left", "brick"),
    ("astronaut", "grass"),
)

MIN_PAIRS = 4


def skimage_data_dir() -> Path:
    """The folder of scikit-image's bundled sample images."""
    try:
        import skimage.data
    except ImportError as exc:  # pragma: no cover - scikit-image is a dependency
        raise DataError(f"set 'embedded' needs scikit-image ({exc})") from None
    return Path(skimage.data.__file__).resolve().parent


def _refs(folder: Path, files: dict[str, str]) -> list[ImageRef]:
    return [ImageRef(name, folder / fname) for name, fname in files.items() if (folder / fname).is_file()]


def embedded_set() -> ImageSet:
    """Build the ``embedded`` set from the files present in the installed scikit-image."""
    folder = skimage_data_dir()
    contents = _refs(folder, CONTENT_FILES)
    styles = _refs(folder, STYLE_FILES)
    by_name = {r.name: r for r in (*contents, *styles)}
    pairs = [
        Pair(f"embedded_{c}__{s}", by_name[c], by_name[s])
        for c, s in PAIRS
        if c in by_name and s in by_name
    ]
    if len(pairs) < MIN_PAIRS:
        raise DataError(
            f"set 'embedded': only {len(pairs)} of {len(PAIRS)} pairs found in {folder}; "
            "is scikit-image installed completely?"
        )
    return ImageSet("embedded", folder, contents, styles, pairs)
