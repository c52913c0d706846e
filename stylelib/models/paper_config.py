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


PROFILES = ("ci", "quick", "paper")


class ProfileConfig:
    """Base of the hyper-parameter dataclasses: the three profiles and ``replace``.

    A subclass defines ``paper()`` (the paper's settings) and ``ci()`` (a few
    steps, for tests); ``quick()`` (our committed settings) defaults to the
    dataclass defaults.
    """

    @classmethod
    def quick(cls):
        return cls()

    @classmethod
    def for_profile(cls, profile: str):
        """``ci`` (seconds, for tests), ``quick`` (minutes on a CPU, our committed weights) or ``paper``."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose {', '.join(PROFILES[:-1])} or {PROFILES[-1]}")
        return getattr(cls, profile)()

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
