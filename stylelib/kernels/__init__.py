"""Numerical kernels shared by the models: one concept per file.

* :mod:`stylelib.kernels.box` -- box (moving-average) filters in O(1) per pixel
  from summed-area tables, with windows truncated at the image border.
* :mod:`stylelib.kernels.matting` -- the matting Laplacian of Levin, Lischinski
  & Weiss (CVPR 2006 / TPAMI 2008) as a sparse matrix, as a matrix-free
  differentiable product, and the matting affinity ``W = D - L``.
"""

from .box import box_count, box_mean, box_sum
from .matting import MattingLaplacian, matting_affinity, matting_laplacian, matting_laplacian_apply

__all__ = [
    "MattingLaplacian",
    "box_count",
    "box_mean",
    "box_sum",
    "matting_affinity",
    "matting_laplacian",
    "matting_laplacian_apply",
]
