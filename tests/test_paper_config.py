"""The hyper-parameter dataclasses' shared machinery: profiles, records, precision and paper-vs-ours rows."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from stylelib.models.paper_config import BOOKKEEPING, ProfileConfig

#: every paper's hyper-parameter dataclass
CONFIGS = [
    ("stylelib.models.gatys", "GatysConfig"), ("stylelib.models.adain", "AdaINConfig"),
    ("stylelib.models.wct", "WCTConfig"), ("stylelib.models.dpst", "DPSTConfig"),
    ("stylelib.models.wct2", "WCT2Config"), ("stylelib.models.photowct", "PhotoWCTConfig"),
    ("stylelib.models.fa_scp", "FASCPConfig"), ("stylelib.models.stylebank", "StyleBankConfig"),
    ("stylelib.models.consistency_pair", "ConsistencyConfig"),
]


@pytest.fixture(params=CONFIGS, ids=[c for _, c in CONFIGS])
def cls(request):
    module, name = request.param
    return getattr(importlib.import_module(module), name)


class TestProfileConfig:
    """The shared profile switch of the hyper-parameter dataclasses (models/paper_config.py)."""

    def test_three_profiles_and_the_quick_default(self, cls):
        assert issubclass(cls, ProfileConfig)
        assert [cls.for_profile(p).profile for p in ("ci", "quick", "paper")] == ["ci", "quick", "paper"]
        assert cls.for_profile("quick") == cls() and cls().profile == "quick"
        assert cls().replace(profile="x").profile == "x"
        with pytest.raises(ValueError, match="unknown profile 'fast'; choose ci, quick or paper"):
            cls.for_profile("fast")

    def test_a_record_round_trips(self, cls):
        for profile in ("ci", "quick", "paper"):
            cfg = cls.for_profile(profile)
            record = dataclasses.asdict(cfg) | {"not_a_field": 1}
            assert cls.from_record(record) == cfg

    def test_one_precision_check(self, cls):
        if "precision" in {f.name for f in dataclasses.fields(cls)}:
            with pytest.raises(ValueError, match="precision must be 'fp32' or 'bf16', got 'fp16'"):
                cls().replace(precision="fp16")

    def test_deviations_leave_bookkeeping_out(self, cls):
        rows = cls().deviations()
        params = set(rows["parameter"]) if hasattr(rows, "columns") else {r["parameter"] for r in rows}
        assert params and not params & BOOKKEEPING
