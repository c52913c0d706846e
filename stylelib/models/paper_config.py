"""The base of every hyper-parameter dataclass: profiles, records and the paper-versus-ours table.

Each model keeps its settings in one dataclass on :class:`ProfileConfig`:
the dataclass defaults are our ``quick`` profile, ``paper()`` gives the
paper's values and ``ci()`` a few steps for tests.  :func:`deviation_rows`
lists the fields where ours differ from the paper's, with the reason for each.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from ..precision import check_precision

PROFILES = ("ci", "quick", "paper")
#: fields that say how a run is kept, not how the method is set: never rows of a deviations table
BOOKKEEPING = frozenset({"checkpoint_every", "profile"})


def deviation_rows(ours: Any, paper: Any, why: Mapping[str, str]) -> list[dict[str, str]]:
    """Rows ``{parameter, paper, ours, why}`` for every field (bookkeeping aside) where ``ours`` and ``paper`` differ."""
    rows = []
    for f in dataclasses.fields(ours):
        a, b = getattr(paper, f.name), getattr(ours, f.name)
        if a != b and f.name not in BOOKKEEPING:
            rows.append({"parameter": f.name, "paper": str(a), "ours": str(b), "why": why.get(f.name, "")})
    return rows


class ProfileConfig:
    """Base of the hyper-parameter dataclasses: the three profiles, ``replace`` and ``from_record``.

    A subclass defines ``paper()`` (the paper's settings) and ``ci()`` (a few
    steps, for tests); ``quick()`` (our committed settings) is the dataclass
    defaults.  A ``precision`` field, where there is one, is checked here; a
    subclass's ``__post_init__`` calls ``super().__post_init__()``.
    """

    def __post_init__(self) -> None:
        if hasattr(self, "precision"):
            check_precision(self.precision, type(self).__name__)

    @classmethod
    def quick(cls):
        return cls()

    @classmethod
    def for_profile(cls, profile: str):
        """``ci`` (seconds, for tests), ``quick`` (minutes on a CPU, our committed weights) or ``paper``."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose {', '.join(PROFILES[:-1])} or {PROFILES[-1]}")
        return getattr(cls, profile)()

    @classmethod
    def from_record(cls, config: Mapping[str, Any]):
        """The config a registry entry recorded (``Entry.config``); keys that are not fields are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in config.items() if k in names})

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
