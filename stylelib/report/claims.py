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

Two arms compared from noisy runs (an ablation, adaptation against
retraining) carry an ``inconclusive`` criterion, usually :func:`within_spread`:
when it holds, the verdict is "no measurable difference" whatever the main
criterion says, so that a difference smaller than the run-to-run (or
pair-to-pair) spread is never called.

Every criterion built from the functions here carries a ``spec`` (a small
JSON list), so :func:`save_claims` can store each claim's value, criterion and
verdict in ``claims.json`` and a test can recompute every committed verdict
from the saved numbers (:func:`recompute`).  Registry entries are compared
only through :func:`comparable_entries`, which refuses arms trained on
different data or budgets.
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
    #: how to rebuild it (:func:`from_spec`); None for a hand-made criterion, which cannot be saved
    spec: tuple | None = None

    def __call__(self, value: Any) -> bool:
        return bool(self.test(value))

    def __and__(self, other: "Criterion") -> "Criterion":
        spec = ("and", self.spec, other.spec) if self.spec is not None and other.spec is not None else None
        return Criterion(f"{self.text} and {other.text}", lambda v: self(v) and other(v), spec)


def _pick(value: Any, key: str | None) -> Any:
    return value if key is None else value[key]


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def at_least(bound: float, key: str | None = None, unit: str = "") -> Criterion:
    """``value[key] >= bound`` (``value`` itself when no key)."""
    what = f"{key} " if key else ""
    return Criterion(f"{what}≥ {_fmt(bound)}{unit}", lambda v: _pick(v, key) >= bound, ("at_least", bound, key, unit))


def at_most(bound: float, key: str | None = None, unit: str = "") -> Criterion:
    """``value[key] <= bound``."""
    what = f"{key} " if key else ""
    return Criterion(f"{what}≤ {_fmt(bound)}{unit}", lambda v: _pick(v, key) <= bound, ("at_most", bound, key, unit))


def more_than(bound: float, key: str | None = None, unit: str = "") -> Criterion:
    """``value[key] > bound`` (strictly)."""
    what = f"{key} " if key else ""
    return Criterion(f"{what}> {_fmt(bound)}{unit}", lambda v: _pick(v, key) > bound, ("more_than", bound, key, unit))


def less_than(bound: float, key: str | None = None, unit: str = "") -> Criterion:
    """``value[key] < bound`` (strictly)."""
    what = f"{key} " if key else ""
    return Criterion(f"{what}< {_fmt(bound)}{unit}", lambda v: _pick(v, key) < bound, ("less_than", bound, key, unit))


def below(key: str, other: str) -> Criterion:
    """``value[key] < value[other]``: one measured quantity under another (a baseline's)."""
    return Criterion(f"{key} < {other}", lambda v: v[key] < v[other], ("below", key, other))


def above(key: str, other: str) -> Criterion:
    """``value[key] > value[other]``."""
    return Criterion(f"{key} > {other}", lambda v: v[key] > v[other], ("above", key, other))


def all_of(key: str | None = None, what: str = "every case") -> Criterion:
    """Every flag in ``value[key]`` (a sequence of booleans) is true."""
    return Criterion(f"holds on {what}", lambda v: len(_pick(v, key)) > 0 and all(_pick(v, key)), ("all_of", key, what))


def is_true(text: str, key: str | None = None) -> Criterion:
    """A yes/no fact measured elsewhere (``value[key]`` is a boolean, e.g. a test's outcome)."""
    return Criterion(text, lambda v: bool(_pick(v, key)), ("is_true", text, key))


def at_least_count(count_key: str, of_key: str, fraction: float = 0.5, what: str = "most pairs") -> Criterion:
    """``value[count_key] > fraction * value[of_key]``: a claim that holds on most cases (strictly more than half)."""
    return Criterion(f"{count_key} > {fraction:g} × {of_key} ({what})",
                     lambda v: v[count_key] > fraction * v[of_key], ("at_least_count", count_key, of_key, fraction, what))


def within_spread(key: str, other: str, spread: str) -> Criterion:
    """``|value[key] - value[other]| <= value[spread]``: the two arms differ by no more than their spread."""
    return Criterion(f"|{key} − {other}| ≤ {spread}", lambda v: abs(v[key] - v[other]) <= v[spread],
                     ("within_spread", key, other, spread))


def from_spec(spec) -> Criterion:
    """The criterion that ``spec`` (a :attr:`Criterion.spec`, possibly read back from JSON) describes."""
    name, *args = spec
    if name == "and":
        return from_spec(args[0]) & from_spec(args[1])
    makers = {"at_least": at_least, "at_most": at_most, "more_than": more_than, "less_than": less_than,
              "below": below, "above": above, "all_of": all_of, "is_true": is_true,
              "at_least_count": at_least_count, "within_spread": within_spread}
    if name not in makers:
        raise ValueError(f"unknown criterion {name!r} in a saved claim")
    return makers[name](*args)


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
    #: when this holds (e.g. :func:`within_spread`), the verdict is ``inconclusive_text`` instead
    inconclusive: Criterion | None = None
    inconclusive_text: str = "no measurable difference"
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
    def undecided(self) -> bool:
        """Whether the difference is within the spread (the ``inconclusive`` criterion holds)."""
        return self.criterion is not None and self.inconclusive is not None and self.inconclusive(self.value)

    @property
    def verdict(self) -> str:
        ok = self.ok
        if ok is None:
            text = self.untested
        elif self.undecided:
            text = self.inconclusive_text
        else:
            text = self.holds if ok else self.fails
        return self._format(text) + (f"; {self._format(self.note)}" if self.note else "")

    @property
    def criterion_text(self) -> str:
        if self.criterion is None:
            return ""
        if self.inconclusive is None:
            return self.criterion.text
        return f"{self.criterion.text}, unless {self.inconclusive.text}"

    def row(self) -> dict[str, str]:
        return dict(zip(COLUMNS, (self.claim, self._format(self.measured), self.criterion_text, self.verdict)))

    def record(self) -> dict[str, Any]:
        """Everything needed to recompute the verdict: value, criterion specs and verdict words."""
        for c in (self.criterion, self.inconclusive):
            if c is not None and c.spec is None:
                raise ValueError(f"claim {self.claim[:60]!r}: its criterion {c.text!r} was made by hand and "
                                 "cannot be saved; build it from stylelib.report.claims")
        return {"claim": self.claim, "measured": self.measured, "value": _jsonable(self.value),
                "criterion": None if self.criterion is None else list(self.criterion.spec),
                "inconclusive": None if self.inconclusive is None else list(self.inconclusive.spec),
                "holds": self.holds, "fails": self.fails, "untested": self.untested,
                "inconclusive_text": self.inconclusive_text, "note": self.note, "extra": _jsonable(dict(self.extra)),
                "row": self.row()}

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> "Claim":
        return cls(rec["claim"], rec["measured"], rec["value"],
                   None if rec["criterion"] is None else from_spec(rec["criterion"]),
                   holds=rec["holds"], fails=rec["fails"], untested=rec["untested"],
                   inconclusive=None if rec["inconclusive"] is None else from_spec(rec["inconclusive"]),
                   inconclusive_text=rec["inconclusive_text"], note=rec["note"], extra=rec["extra"])


def _jsonable(x: Any) -> Any:
    """``x`` with numpy scalars, tuples and similar made JSON-friendly (floats stay exact)."""
    import numbers

    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, str)) or x is None:
        return x
    if hasattr(x, "item") and not isinstance(x, (list, tuple)):
        try:
            return _jsonable(x.item())
        except (ValueError, TypeError):
            pass
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return float(x)
    if hasattr(x, "tolist"):
        return _jsonable(x.tolist())
    return str(x)


def claims_table(claims: Sequence[Claim]):
    """The claims as a DataFrame with :data:`COLUMNS`; ``.attrs["claims"]`` keeps the claims for :func:`save_claims`."""
    import pandas as pd

    claims = list(claims)
    df = pd.DataFrame([c.row() for c in claims], columns=list(COLUMNS))
    df.attrs["claims"] = claims
    return df


CLAIMS_JSON = "claims.json"


def save_claims(outputs, table, name: str = "claims"):
    """Write ``name``.csv/.md (the table) and ``name``.json (values, criteria, verdicts) through ``outputs``.

    ``table`` is what :func:`claims_table` returned.  Returns the JSON path, or
    ``None`` when ``outputs`` writes nothing.
    """
    import json

    from ..atomic import atomic_write_text

    claims = table.attrs.get("claims")
    if claims is None:
        raise ValueError("save_claims: pass the DataFrame returned by claims_table (it carries the claims)")
    records = [c.record() for c in claims]  # refuses hand-made criteria before anything is written
    if outputs.save_table(table, name) is None:
        return None
    path = outputs.dir / f"{name}.json"
    atomic_write_text(path, json.dumps({"columns": list(COLUMNS), "claims": records}, indent=1,
                                       ensure_ascii=False, allow_nan=True) + "\n")
    return outputs._record(path)


def recompute(path) -> list[tuple[str, str, str]]:
    """``(claim, saved verdict, recomputed verdict)`` for every claim saved in ``path`` (a claims.json)."""
    import json
    from pathlib import Path

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for rec in data["claims"]:
        claim = Claim.from_record(rec)
        out.append((rec["claim"], rec["row"]["verdict"], claim.verdict))
    return out


# ----------------------------------------------------------------------------- comparing trained arms
class IncomparableError(ValueError):
    """Two registry entries that an ablation would compare were trained on different data or budgets."""


#: the training settings that must agree between two arms of a comparison (besides ``data`` and iterations)
BUDGET_KEYS = ("batch_size", "crop", "load_size")


def comparable_entries(reference: str, *others: str, registry=None) -> dict[str, Any]:
    """The registry records of ``reference`` and ``others``, after checking that they can be compared.

    Raises :class:`IncomparableError` naming the entries and what differs:
    the training data (``data``), the number of iterations, or one of
    :data:`BUDGET_KEYS` in their configs.  Every ablation claim goes through
    this, so an arm trained on 5 photos cannot be ruled against one trained on
    103.
    """
    if registry is None:
        from ..training import registry
    recs = {name: registry.entry(name) for name in (reference, *others)}
    ref = recs[reference]
    for name, rec in recs.items():
        problems = []
        if rec.data != ref.data:
            problems.append(f"data {rec.data!r} vs {ref.data!r}")
        if rec.iterations != ref.iterations:
            problems.append(f"{rec.iterations} vs {ref.iterations} iterations")
        for key in BUDGET_KEYS:
            a, b = (rec.config or {}).get(key), (ref.config or {}).get(key)
            if a != b:
                problems.append(f"{key} {a} vs {b}")
        if problems:
            raise IncomparableError(f"{name} cannot be compared with {reference}: " + "; ".join(problems))
    return recs


def compare_arms(claim: str, table, reference: str, other: str, metric: str, *, higher_is_better: bool,
                 arm_column: str = "variant", pair_column: str = "pair", label: str | None = None) -> Claim:
    """The claim "``reference`` beats ``other`` on ``metric``", judged beyond the pair-to-pair spread.

    ``table`` has one row per (arm, pair); the arms are paired on
    ``pair_column`` and compared by their means, with the 95 % half-width of
    the paired difference (:func:`stylelib.report.stats.paired_difference`) as
    the spread: within it, the verdict is "no measurable difference".  An arm
    missing from the table makes the claim untested.
    """
    from .stats import paired_difference

    arms = set(table[arm_column]) if len(table) else set()
    if reference not in arms or other not in arms:
        missing = ", ".join(a for a in (reference, other) if a not in arms)
        return Claim(claim, "{value}", f"{missing}: not compared", untested="not compared")
    ref = table[table[arm_column] == reference].set_index(pair_column)[metric]
    arm = table[table[arm_column] == other].set_index(pair_column)[metric].reindex(ref.index)
    if arm.isna().any():
        raise ValueError(f"compare_arms: {other} lacks pairs that {reference} has")
    d = paired_difference(ref.tolist(), arm.tolist())
    return _arm_claim(claim, ref.mean(), arm.mean(), d["half_width"], metric, reference, label or other,
                      f"means over {d['n']} pairs; 95 % half-width of the paired difference {{spread:.3f}}",
                      higher_is_better)


def _arm_claim(claim: str, ref: float, arm: float, spread: float, metric: str, reference: str, other: str,
               how: str, higher_is_better: bool) -> Claim:
    """The claim "``reference`` beats ``other``", called only beyond ``spread`` (``how`` says which spread)."""
    value = {"reference": float(ref), "arm": float(arm), "spread": float(spread), "metric": metric,
             "reference name": reference, "arm name": other}
    return Claim(claim, value=value, measured="{metric}: {reference name} {reference:.3f}, {arm name} {arm:.3f} (" + how + ")",
                 criterion=above("reference", "arm") if higher_is_better else below("reference", "arm"),
                 inconclusive=within_spread("reference", "arm", "spread"))


def compare_seeds(claim: str, table, reference: str, other: str, metric: str, *, higher_is_better: bool,
                  arm_column: str = "arm", seed_column: str = "seed", label: str | None = None) -> Claim:
    """The claim "``reference`` beats ``other`` on ``metric``", each arm run with several seeds.

    ``table`` has one row per (arm, seed) (average anything else first); the
    arms are compared by their means over seeds, and the spread is the larger
    of the two arms' ranges over seeds (:func:`stylelib.report.stats.arms_spread`):
    within it, the verdict is "no measurable difference".
    """
    from .stats import arms_spread

    ref = table[table[arm_column] == reference][metric]
    arm = table[table[arm_column] == other][metric]
    if len(ref) < 2 or len(arm) < 2:
        return Claim(claim, "{value}", f"{len(ref)} and {len(arm)} seeds: no spread to judge by",
                     untested="not judged (fewer than two seeds per arm)")
    return _arm_claim(claim, ref.mean(), arm.mean(), arms_spread(ref.tolist(), arm.tolist()), metric, reference,
                      label or other, f"means over {min(len(ref), len(arm))} seeds; largest range over seeds "
                      "{spread:.3f}", higher_is_better)
