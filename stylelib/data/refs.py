"""The records that describe an image set: images, content/style pairs, sets."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError


@dataclass(frozen=True)
class ImageRef:
    """One image of a set: a short name (the file stem) and a real file path."""

    name: str
    path: Path


@dataclass(frozen=True)
class Pair:
    """A content image and the style image to transfer onto it.

    ``content_mask`` and ``style_mask`` are the colour-coded segmentation
    files of the DPST benchmark (see :mod:`stylelib.masks`); other sets have none.
    """

    name: str
    content: ImageRef
    style: ImageRef
    content_mask: Path | None = None
    style_mask: Path | None = None

    @property
    def has_masks(self) -> bool:
        return self.content_mask is not None and self.style_mask is not None


@dataclass
class ImageSet:
    """A named collection of content images, style images and fixed pairs."""

    name: str
    root: Path
    contents: list[ImageRef] = field(default_factory=list)
    styles: list[ImageRef] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)

    def pair(self, name: str) -> Pair:
        """The pair called ``name``; DataError listing a few valid names otherwise."""
        for p in self.pairs:
            if p.name == name:
                return p
        sample = ", ".join(p.name for p in self.pairs[:5])
        more = ", ..." if len(self.pairs) > 5 else ""
        raise DataError(f"set {self.name!r} has no pair {name!r} (pairs: {sample}{more})")

    def image(self, name: str) -> ImageRef:
        """The content or style image called ``name``."""
        for ref in (*self.contents, *self.styles):
            if ref.name == name:
                return ref
        raise DataError(f"set {self.name!r} has no image {name!r}")
