"""Figures for the notebooks: image grids, loss curves, keypoints and flow fields.

Both functions build a :class:`matplotlib.figure.Figure` directly (no pyplot),
so they work under any backend, including Agg on a headless machine, and do
not accumulate open figures.  In a notebook, the returned figure displays when
it is the last expression of a cell; save it with
:meth:`stylelib.report.outputs.Outputs.save_figure`.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..images import to_array


def wrap_title(title: str, inches: float) -> str:
    """``title`` broken at spaces into lines of at most about 11 characters per inch (10 pt text)."""
    width = max(8, int(inches * 11))
    return "\n".join(textwrap.fill(line, width, break_long_words=False) for line in title.split("\n"))


def image_grid(
    rows: Sequence[Sequence[Any]],
    row_titles: Sequence[str] | None = None,
    col_titles: Sequence[str] | None = None,
    size: float = 2.5,
) -> Figure:
    """A grid of images, one list per row; ``None`` leaves a cell empty.

    Images keep their aspect ratio inside square-ish cells of ``size`` inches.
    ``row_titles`` label the rows on the left, ``col_titles`` the columns on top;
    a column title longer than its cell is wrapped at spaces (about 11
    characters per inch of ``size``) so that neighbouring titles do not overlap.
    """
    rows = [list(r) for r in rows]
    if not rows or not any(rows):
        raise ValueError("image_grid: no images given")
    nrows = len(rows)
    ncols = max(len(r) for r in rows)
    if row_titles is not None and len(row_titles) != nrows:
        raise ValueError(f"image_grid: {len(row_titles)} row titles for {nrows} rows")
    if col_titles is not None and len(col_titles) != ncols:
        raise ValueError(f"image_grid: {len(col_titles)} column titles for {ncols} columns")
    fig = Figure(figsize=(ncols * size, nrows * size), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i in range(nrows):
        for j in range(ncols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            image = rows[i][j] if j < len(rows[i]) else None
            if image is not None:
                arr = to_array(image)
                # matplotlib's default "antialiased" interpolation: smooth when shrinking, nearest
                # neighbour when enlarging a lot, so small outputs show their real pixels.
                ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1)
            if col_titles is not None and i == 0:
                ax.set_title(wrap_title(str(col_titles[j]), size), fontsize=10)
            if row_titles is not None and j == 0:
                ax.set_ylabel(str(row_titles[i]), fontsize=9)
    return fig


def loss_curves(
    histories: Mapping[str, Any],
    x: str = "step",
    ys: Sequence[str] = ("loss",),
    logy: bool = True,
    size: tuple[float, float] = (4.5, 3.2),
) -> Figure:
    """One panel per column in ``ys``, one line per run in ``histories`` (name -> DataFrame).

    Columns a history lacks are skipped.  With ``logy``, values that are not
    positive are left out (a log axis cannot show them).
    """
    if isinstance(ys, str):
        ys = (ys,)
    ys = list(ys)
    if not histories:
        raise ValueError("loss_curves: no histories given")
    if not ys:
        raise ValueError("loss_curves: no columns to plot")
    ncols = min(len(ys), 3)
    nrows = math.ceil(len(ys) / ncols)
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, col in zip(axes, ys):
        plotted = 0
        for name, df in histories.items():
            if df is None or col not in df or x not in df:
                continue
            xs = np.asarray(df[x], dtype=float)
            vs = np.asarray(df[col], dtype=float)
            keep = np.isfinite(vs) & np.isfinite(xs)
            if logy:
                keep &= vs > 0
            if not keep.any():
                continue
            ax.plot(xs[keep], vs[keep], label=str(name), linewidth=1.3, marker="." if keep.sum() < 20 else None)
            plotted += 1
        if logy and plotted:
            ax.set_yscale("log")
        ax.set_title(col)
        ax.set_xlabel(x)
        ax.grid(True, alpha=0.3, which="both" if logy else "major")
        if plotted == 0:
            ax.text(0.5, 0.5, f"no data for {col!r}", ha="center", va="center", transform=ax.transAxes)
        elif plotted > 1 or len(histories) == 1:
            ax.legend(fontsize=7, loc="best")
    for ax in axes[len(ys):]:
        ax.set_visible(False)
    return fig


def keypoint_pairs(image_a: Any, image_b: Any, points_a: Any, points_b: Any, *,
                   titles: Sequence[str] = ("content", "style"), size: float = 3.0) -> Figure:
    """Two images side by side with matching keypoints (``(row, col)`` pixels) in the same colour and number."""
    fig = Figure(figsize=(2 * size, size), layout="constrained")
    axes = fig.subplots(1, 2)
    pa, pb = np.asarray(points_a, float), np.asarray(points_b, float)
    colours = [f"C{i % 10}" for i in range(len(pa))]
    for ax, image, pts, title in zip(axes, (image_a, image_b), (pa, pb), titles):
        ax.imshow(to_array(image), vmin=0, vmax=1)
        if len(pts):
            ax.scatter(pts[:, 1], pts[:, 0], s=14, c=colours, edgecolors="white", linewidths=0.5)
        ax.set_title(f"{title} ({len(pts)} points)", fontsize=10)
        ax.set_axis_off()
    return fig


def keypoint_moves(image: Any, sources: Any, targets: Any, *, title: str = "", ax=None, size: float = 3.0):
    """Arrows from each keypoint to its target on ``image`` (``(row, col)`` pixels); a new figure without ``ax``."""
    fig = None
    if ax is None:
        fig = Figure(figsize=(size, size), layout="constrained")
        ax = fig.subplots()
    s, t = np.asarray(sources, float), np.asarray(targets, float)
    ax.imshow(to_array(image), vmin=0, vmax=1)
    if len(s):
        ax.quiver(s[:, 1], s[:, 0], t[:, 1] - s[:, 1], t[:, 0] - s[:, 0], angles="xy", scale_units="xy", scale=1,
                  color="yellow", width=0.006)
        ax.scatter(s[:, 1], s[:, 0], s=8, c="red")
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    return fig if fig is not None else ax


def flow_figure(image: Any, flow: Any, *, step: int = 8, title: str = "TPS flow", size: float = 3.0) -> Figure:
    """The flow field ``[2, H, W]`` (row, col pixels) as arrows every ``step`` pixels over ``image``, and its magnitude."""
    f = np.asarray(flow.detach().cpu() if hasattr(flow, "detach") else flow, float)
    fig = Figure(figsize=(2 * size, size), layout="constrained")
    ax_i, ax_m = fig.subplots(1, 2)
    ax_i.imshow(to_array(image), vmin=0, vmax=1)
    rows, cols = np.mgrid[0:f.shape[1]:step, 0:f.shape[2]:step]
    ax_i.quiver(cols, rows, f[1, ::step, ::step], f[0, ::step, ::step], angles="xy", scale_units="xy", scale=1,
                color="yellow", width=0.005)
    ax_i.set_title(title, fontsize=10)
    ax_i.set_axis_off()
    im = ax_m.imshow(np.hypot(f[0], f[1]), cmap="magma")
    fig.colorbar(im, ax=ax_m, shrink=0.8, label="pixels")
    ax_m.set_title("flow magnitude", fontsize=10)
    ax_m.set_axis_off()
    return fig
