"""Claims written once: a paper's claim, the measured value, the criterion and the verdict from one place.

A notebook states each claim of its paper as a :class:`Claim`: the claim in
words, the measured ``value`` (a number, or a mapping of numbers), the prose
of what was measured as a format string over that value, and a
:class:`Criterion` that decides the verdict.  The table row's "measured here"
text and its verdict are both computed from the same ``value``, so the prose
cannot say one thing while the check decides another::

    Claim("The decoder reconstructs photos.",
          value={"psnr": 13.8, "n": 28},
          measured="median PSNR {psnr:.1f} dB on {n} held-out photos",
          criterion=at_least(20, "psnr", unit=" dB"))

Claims that this suite cannot test (a GPU speed, a qualitative figure) have no
criterion and state why in ``untested``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

COLUMNS = ("paper's claim (paraphrased)", "measured here", "criterion", "verdict")


@dataclass(frozen=True)
class Criterion:
    """A test of a measured value and the words for it (``text`` is shown in the claims table)."""

    text: str
    test: Callable[[Any], bool]

    def __call__(self, value: Any) -> bool:
        return bool(self.test(value))

    def __and__(self, other: "Criterion") -> "Criterion":
        return Criterion(f"{self.text} and {other.text}", lambda v: self(v) and other(v))


def _pick(value: Any, key: str | None) -> Any:
    return value if key is None else value[key]


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def at_least(bound: float, key: str | None = None, unit: str = "") -> Criterion:
    """``value[key] >= bound`` (``value`` itself when no key)."""
    what = f"{key} " if key else ""
    return Criterion(f"{what}≥ {_fmt(bound)}{unit}", lambda v: _pick(v, key) >= bound)


def at_most(bound: float, key: str | None = None, unit: str = "") -> Criterion:
    """``value[key] <= bound``."""
    what = f"{key} " if key else ""
    return Criterion(f"{what}≤ {_fmt(bound)}{unit}", lambda v: _pick(v, key) <= bound)


def more_than(bound: float, key: str | None = None, unit: str = "") -> Criterion:
    """``value[key] > bound`` (strictly)."""
    what = f"{key} " if key else ""
    return Criterion(f"{what}> {_fmt(bound)}{unit}", lambda v: _pick(v, key) > bound)


def less_than(bound: float, key: str | None = None, unit: str = "") -> Criterion:
    """``value[key] < bound`` (strictly)."""
    what = f"{key} " if key else ""
    return Criterion(f"{what}< {_fmt(bound)}{unit}", lambda v: _pick(v, key) < bound)


def below(key: str, other: str) -> Criterion:
    """``value[key] < value[other]``: one measured quantity under another (a baseline's)."""
    return Criterion(f"{key} < {other}", lambda v: v[key] < v[other])


def above(key: str, other: str) -> Criterion:
    """``value[key] > value[other]``."""
    return Criterion(f"{key} > {other}", lambda v: v[key] > v[other])


def all_of(key: str | None = None, what: str = "every case") -> Criterion:
    """Every flag in ``value[key]`` (a sequence of booleans) is true."""
    return Criterion(f"holds on {what}", lambda v: len(_pick(v, key)) > 0 and all(_pick(v, key)))


def is_true(text: str, key: str | None = None) -> Criterion:
    """A yes/no fact measured elsewhere (``value[key]`` is a boolean, e.g. a test's outcome)."""
    return Criterion(text, lambda v: bool(_pick(v, key)))


@dataclass(frozen=True)
class Claim:
    """One row of a claims table.

    ``measured`` (and the verdict words ``holds``, ``fails``, ``untested``,
    ``note``) are formatted with the fields of ``value`` (a mapping) or with
    ``value=`` (anything else).  Without a criterion the verdict is
    ``untested``, which should say why.
    """

    claim: str
    measured: str
    value: Any = None
    criterion: Criterion | None = None
    holds: str = "consistent"
    fails: str = "not reproduced"
    untested: str = "not tested here"
    #: extra words after the verdict, formatted like ``measured``
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def _format(self, text: str) -> str:
        fields = dict(self.value) if isinstance(self.value, Mapping) else {"value": self.value}
        return text.format(**fields, **self.extra)

    @property
    def ok(self) -> bool | None:
        """Whether the criterion holds (None without one)."""
        return None if self.criterion is None else self.criterion(self.value)

    @property
    def verdict(self) -> str:
        ok = self.ok
        text = self.untested if ok is None else (self.holds if ok else self.fails)
        return self._format(text) + (f"; {self._format(self.note)}" if self.note else "")

    def row(self) -> dict[str, str]:
        return dict(zip(COLUMNS, (self.claim, self._format(self.measured),
                                  "" if self.criterion is None else self.criterion.text, self.verdict)))


def claims_table(claims: Sequence[Claim]):
    """The claims as a DataFrame with :data:`COLUMNS`."""
    import pandas as pd

    return pd.DataFrame([c.row() for c in claims], columns=list(COLUMNS))
