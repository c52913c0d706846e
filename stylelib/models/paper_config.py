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


#: the reasons shared by the networks we train on a CPU in minutes; a config's own ``why`` overrides them
CPU_REASONS: Mapping[str, str] = {
    "batch_size": "2-core CPU",
    "crop": "CPU budget; the network is fully convolutional",
    "load_size": "keeps the 1:2 ratio of crop to resized image",
    "steps": "minutes on a CPU instead of hours on a GPU",
    "seconds": "the CPU run also stops at a wall-time budget",
    "warmup": "keeps the first Adam steps at the higher rate from overshooting",
    "precision": "bf16 autocast in the frozen encoder: faster on a CPU (stylelib.precision)",
}


def deviation_rows(ours: Any, paper: Any, why: Mapping[str, str]) -> list[dict[str, str]]:
    """Rows ``{parameter, paper, ours, why}`` for every field (bookkeeping aside) where ``ours`` and ``paper`` differ.

    A field without a reason in ``why`` takes the shared one of :data:`CPU_REASONS`, if any.
    """
    why = {**CPU_REASONS, **why}
    rows = []
    for f in dataclasses.fields(ours):
        a, b = getattr(paper, f.name), getattr(ours, f.name)
        if a != b and f.name not in BOOKKEEPING:
            rows.append({"parameter": f.name, "paper": str(a), "ours": str(b), "why": why.get(f.name, "")})
    return rows


def per_level_budgets(cfg: Any) -> None:
    """For a config that trains one decoder per level: ``levels``, ``transfer_levels``, ``steps`` and
    ``seconds`` (or None) as tuples, with one step count and one budget per level."""
    cfg.levels, cfg.transfer_levels = tuple(cfg.levels), tuple(cfg.transfer_levels)
    cfg.steps = tuple(int(s) for s in cfg.steps)
    if cfg.seconds is not None:
        cfg.seconds = tuple(float(s) for s in cfg.seconds)
    if len(cfg.steps) != len(cfg.levels) or (cfg.seconds is not None and len(cfg.seconds) != len(cfg.levels)):
        raise ValueError(f"{type(cfg).__name__}: steps and seconds need one value per level")


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


@dataclasses.dataclass
class TrainingConfig(ProfileConfig):
    """The settings every network trained on crops shares (a subclass re-declares a field to change its default)."""

    batch_size: int = 4
    #: training crop (px) out of photos resized to ``load_size`` on the short side
    crop: int = 128
    load_size: int = 256
    seed: int = 0
    #: "bf16": autocast on the CPU (stylelib.precision); "fp32": none
    precision: str = "bf16"
    checkpoint_every: int = 200
    profile: str = "quick"
