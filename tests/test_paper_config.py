"""The hyper-parameter dataclasses' shared machinery: profiles and paper-vs-ours rows."""

from __future__ import annotations

import pytest


class TestProfileConfig:
    """The shared profile switch of the hyper-parameter dataclasses (models/paper_config.py)."""

    def test_every_config_has_the_three_profiles(self):
        from stylelib.models.adain import AdaINConfig
        from stylelib.models.dpst import DPSTConfig
        from stylelib.models.fa_scp import FASCPConfig
        from stylelib.models.photowct import PhotoWCTConfig
        from stylelib.models.wct import WCTConfig
        from stylelib.models.wct2 import WCT2Config

        for cls in (AdaINConfig, WCTConfig, DPSTConfig, WCT2Config, PhotoWCTConfig, FASCPConfig):
            assert [cls.for_profile(p).profile for p in ("ci", "quick", "paper")] == ["ci", "quick", "paper"], cls
            assert cls.for_profile("quick") == cls()
            assert cls().replace(profile="x").profile == "x"
            with pytest.raises(ValueError, match="unknown profile 'fast'; choose ci, quick or paper"):
                cls.for_profile("fast")
