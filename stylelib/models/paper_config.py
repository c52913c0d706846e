"""Paper-versus-ours tables for the hyper-parameter dataclasses of the models.

Each model keeps its settings in one dataclass whose ``paper()`` classmethod
gives the paper's values; :func:`deviation_rows` lists the fields where our
settings differ, with the reason for each.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping


def deviation_rows(ours: Any, paper: Any, why: Mapping[str, str]) -> list[dict[str, str]]:
    """Rows ``{parameter, paper, ours, why}`` for every dataclass field where ``ours`` and ``paper`` differ."""
    rows = []
    for f in dataclasses.fields(ours):
        a, b = getattr(paper, f.name), getattr(ours, f.name)
        if a != b:
            rows.append({"parameter": f.name, "paper": str(a), "ours": str(b), "why": why.get(f.name, "")})
    return rows
