"""Markdown tables for the figures folder and the notebooks (our own writer: no dependency on ``tabulate``)."""

from __future__ import annotations

import math
from typing import Any, Sequence


def format_value(value: Any) -> str:
    """One table cell as text: numbers rounded for reading, everything else ``str``."""
    if value is None:
        return ""
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value == 0:
            return "0"
        a = abs(value)
        if 1e-3 <= a < 1e4:
            return f"{value:.4g}"
        if 1e4 <= a < 1e7:
            return f"{value:.0f}"
        return f"{value:.3e}"
    text = str(value)
    # A cell is one line; a pipe would end the cell.
    return text.replace("\r", " ").replace("\n", " ").replace("|", "\\|")


def _is_number(value: Any) -> bool:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover
        pass
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def markdown_table(df) -> str:
    """A GitHub-flavoured Markdown table for a pandas DataFrame.

    Numeric columns are right-aligned and rounded by :func:`format_value`; a
    non-default index becomes the first column.  Ends with a newline.
    """
    import pandas as pd

    frame = df
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        frame = frame.reset_index()
    headers = [format_value(str(c)) for c in frame.columns]
    rows = [[format_value(v) for v in rec] for rec in frame.itertuples(index=False, name=None)]
    numeric = []
    for j, col in enumerate(frame.columns):
        values = [v for v in frame.iloc[:, j].tolist() if v is not None and not (isinstance(v, float) and math.isnan(v))]
        numeric.append(bool(values) and all(_is_number(v) for v in values))
    widths = [max([3, len(h)] + [len(r[j]) for r in rows]) for j, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = []
        for j, c in enumerate(cells):
            out.append(c.rjust(widths[j]) if numeric[j] else c.ljust(widths[j]))
        return "| " + " | ".join(out) + " |"

    sep = "| " + " | ".join(("-" * (w - 1) + ":") if numeric[j] else "-" * w for j, w in enumerate(widths)) + " |"
    return "\n".join([line(headers), sep] + [line(r) for r in rows]) + "\n"


def as_markdown(df):
    """A DataFrame for display in a notebook, rendered by :func:`markdown_table`.

    Unlike a DataFrame's HTML, the output does not change with the pandas
    version, so nbval can compare it with the committed notebook.
    """
    from IPython.display import Markdown

    return Markdown(markdown_table(df))
