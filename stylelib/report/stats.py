"""The spread behind a comparison: when is a difference between two arms a difference?

Two ways to measure it, both used with
:func:`stylelib.report.claims.within_spread`:

* :func:`paired_difference` — the same pairs evaluated with arm A and arm B:
  the mean of the per-pair differences and the half-width of its 95 %
  Student-t interval.  This is the pair-to-pair spread; it does not include
  the training-seed spread of a network trained once.
* :func:`seed_spread` — the same arm run with several seeds: the range
  (max − min) of its results.  When two arms have each run with several seeds,
  :func:`arms_spread` is the larger of the two ranges.

A difference counts only when it exceeds the spread; otherwise the verdict is
"no measurable difference".
"""

from __future__ import annotations

import math
from typing import Sequence


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """``mean(a - b)``, its ``half_width`` (Student t at ``confidence``), ``n`` and the per-pair ``sd``.

    With one pair the half-width is infinite: nothing can be called.
    """
    from scipy import stats

    if len(a) != len(b):
        raise ValueError(f"paired_difference: {len(a)} values against {len(b)}; pair them one to one")
    d = [float(x) - float(y) for x, y in zip(a, b)]
    n = len(d)
    if n == 0:
        raise ValueError("paired_difference: no pairs")
    mean = sum(d) / n
    if n == 1:
        return {"mean": mean, "half_width": math.inf, "n": 1, "sd": math.nan}
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    t = float(stats.t.ppf(0.5 + confidence / 2, n - 1))
    return {"mean": mean, "half_width": t * sd / math.sqrt(n), "n": n, "sd": sd}


def seed_spread(values: Sequence[float]) -> float:
    """The range of one arm's results over seeds (0 for a single run, which shows no spread: avoid)."""
    if not values:
        raise ValueError("seed_spread: no values")
    return float(max(values) - min(values))


def arms_spread(*arms: Sequence[float]) -> float:
    """The largest :func:`seed_spread` among the arms."""
    return max(seed_spread(v) for v in arms)
