"""Tests of stylelib.report.bench: the feedforward_inference benchmark end to end, at a tiny size.

The benchmark loads registered weights by name.  Training even the ci-profile
decoders takes too long for a unit test, so the test registers *untrained*
AdaIN and WCT decoders in a temporary registry (``$STYLELIB_WEIGHTS``): the
timings do not depend on what the weights are.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from stylelib.report import bench
from stylelib.training import registry
from stylelib.models import adain as adain_mod, wct as wct_mod
from stylelib.recipes.adain import load_adain
from stylelib.recipes.wct import load_wct


@pytest.fixture
def untrained_weights(tmp_path, monkeypatch):
    monkeypatch.setenv(registry.WEIGHTS_ENV, str(tmp_path / "weights"))
    torch.manual_seed(0)
    a_net = adain_mod.AdaINNet(adain_mod.AdaINConfig.for_profile("ci"))
    registry.register("adain-untrained", a_net.decoder.state_dict(), model="adain", profile="ci",
                      config=dataclasses.asdict(a_net.cfg), data="none (untrained)", iterations=0, seconds=0.0)
    w_net = wct_mod.WCTNet(wct_mod.WCTConfig.for_profile("ci"))
    for level in wct_mod.LEVELS:
        registry.register(f"wct-untrained-{level}", w_net.decoders[level].state_dict(), model="wct", profile="ci",
                          config=dataclasses.asdict(w_net.cfg) | {"level": level}, data="none (untrained)",
                          iterations=0, seconds=0.0)
    # load_adain / load_wct cache by name only: make sure no other registry's nets are reused
    load_adain.cache_clear()
    load_wct.cache_clear()
    yield tmp_path / "weights"
    load_adain.cache_clear()
    load_wct.cache_clear()


def test_feedforward_inference_reports_every_size_and_method(untrained_weights, tmp_path, capsys):
    out = tmp_path / "bench"
    rc = bench.main(["--only", "feedforward_inference", "--sizes", "64", "--repeats", "1", "--gatys-steps", "2",
                     "--adain-weights", "adain-untrained", "--wct-weights", "wct-untrained", "--out", str(out)])
    assert rc == 0
    result = json.loads((out / "feedforward_inference.json").read_text())
    assert result["benchmark"] == "feedforward_inference"
    assert result["sizes"] == [64] and result["repeats"] == 1 and result["gatys_steps"] == 2
    assert result["weights"] == {"adain": "adain-untrained", "wct": "wct-untrained"}
    assert set(result["medians"]) == set(bench.FEEDFORWARD_METHODS)
    for method in bench.FEEDFORWARD_METHODS:
        assert len(result["seconds"][method]["64"]) == 1
        assert result["medians"][method]["64"] > 0, method
        assert result["peak_memory_mb"][method]["64"] >= 0, method
    assert result["gatys_run_seconds"]["64"][0] > result["medians"]["gatys_step"]["64"]
    ratios = result["ratios"]["64"]
    assert set(ratios) == {"wct_over_adain", "gatys_step_over_adain", "gatys_step_over_wct"}
    assert all(v > 0 for v in ratios.values())
    assert ratios["wct_over_adain"] == pytest.approx(result["medians"]["wct"]["64"] / result["medians"]["adain"]["64"])
    assert result["ratio_wct_over_adain_64px"] == ratios["wct_over_adain"]
    assert {"cpu", "cores", "torch", "date"} <= set(result["machine"])
    assert "ratio_wct_over_adain_64px" in capsys.readouterr().err


def test_feedforward_inference_missing_weights_is_one_line(untrained_weights, tmp_path, capsys):
    rc = bench.main(["--only", "feedforward_inference", "--sizes", "64", "--repeats", "1",
                     "--adain-weights", "adain-nope", "--out", str(tmp_path / "bench")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error: feedforward_inference: no weights named 'adain-nope'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "bench" / "feedforward_inference.json").exists()


@pytest.mark.parametrize("argv, message", [
    (["--sizes", "16"], "at least 32 px"),
    (["--sizes", "256,big"], "comma-separated"),
    (["--gatys-steps", "1"], "at least 2"),
])
def test_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--only", "feedforward_inference", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.fixture
def untrained_photoreal(tmp_path, monkeypatch):
    from stylelib.models import fa_scp, photowct, wct2

    monkeypatch.setenv(registry.WEIGHTS_ENV, str(tmp_path / "weights"))
    torch.manual_seed(0)
    f_net = fa_scp.FASCPNet(fa_scp.FASCPConfig.for_profile("ci"))
    registry.register("fa_scp-untrained", f_net.decoder.state_dict(), model="fa_scp", profile="ci",
                      config=dataclasses.asdict(f_net.cfg), data="none (untrained)", iterations=0, seconds=0.0)
    p_net = photowct.PhotoWCTNet(photowct.PhotoWCTConfig.for_profile("ci"))
    for level in photowct.LEVELS:
        registry.register(f"photowct-untrained-{level}", p_net.decoders[level].state_dict(), model="photowct",
                          profile="ci", config=dataclasses.asdict(p_net.cfg) | {"level": level},
                          data="none (untrained)", iterations=0, seconds=0.0)
    w_net = wct2.WCT2Net(wct2.WCT2Config.for_profile("ci"))
    registry.register("wct2-untrained", w_net.decoder.state_dict(), model="wct2", profile="ci",
                      config=dataclasses.asdict(w_net.cfg), data="none (untrained)", iterations=0, seconds=0.0)
    from stylelib.recipes import fa_scp as fa_recipe, photowct as pw_recipe, wct2 as w2_recipe

    loaders = (fa_recipe.load_fa_scp, pw_recipe.load_photowct, w2_recipe.load_wct2)
    for fn in loaders:
        fn.cache_clear()
    yield
    for fn in loaders:
        fn.cache_clear()


def test_photoreal_inference_reports_every_method_and_the_claim_ratios(untrained_photoreal, tmp_path):
    out = tmp_path / "bench"
    rc = bench.main(["--only", "photoreal_inference", "--photo-sizes", "64", "--repeats", "1", "--dpst-steps", "2",
                     "--fa-scp-weights", "fa_scp-untrained", "--photowct-weights", "photowct-untrained",
                     "--wct2-weights", "wct2-untrained", "--out", str(out)])
    assert rc == 0
    result = json.loads((out / "photoreal_inference.json").read_text())
    assert set(result["medians"]) == set(bench.PHOTOREAL_METHODS)
    assert all(result["medians"][m]["64"] > 0 for m in bench.PHOTOREAL_METHODS)
    ratios = result["ratios"]["64"]
    assert set(ratios) == {f"fa_scp_over_{m}" for m in bench.PHOTOREAL_METHODS if m != "fa_scp"}
    assert ratios["fa_scp_over_wct2"] == pytest.approx(result["medians"]["fa_scp"]["64"] /
                                                       result["medians"]["wct2"]["64"])
    parts = result["photowct_parts_medians"]
    # PhotoWCT's total is its stylisation plus its smoothing, measured in the same call
    assert result["medians"]["photowct_fast"]["64"] == pytest.approx(
        parts["photowct_fast_stylize"]["64"] + parts["photowct_fast_smooth"]["64"], rel=1e-9)
    assert result["claim_ratio_at_most"] == 0.28 and result["dpst_steps"] == 2


def test_a_benchmark_whose_weights_are_missing_is_skipped_unless_asked_for(untrained_weights, tmp_path, capsys,
                                                                         monkeypatch):
    """`make bench` (no --only) reports photoreal_inference as skipped while its networks are untrained."""
    monkeypatch.setattr(bench, "BENCHMARKS", {"photoreal_inference": bench.BENCHMARKS["photoreal_inference"]})
    assert bench.main(["--out", str(tmp_path / "b"), "--fa-scp-weights", "nope"]) == 0
    assert "photoreal_inference: skipped, no weights named 'nope'" in capsys.readouterr().err
    assert bench.main(["--only", "photoreal_inference", "--out", str(tmp_path / "b"),
                       "--fa-scp-weights", "nope"]) == 2
    assert "error: photoreal_inference: no weights named 'nope'" in capsys.readouterr().err


def test_interleaved_runs_round_robin_and_by_size_builds_the_record():
    calls = []
    runners = {f"{m}@{s}": (lambda m=m, s=s: calls.append(f"{m}@{s}") or (2.0 if m == "b" else 1.0) * s)
               for s in (8, 16) for m in ("a", "b")}
    raw = bench.interleaved(runners, 3)
    assert calls == ["a@8", "b@8", "a@16", "b@16"] * 3
    timing = bench.by_size(raw, ("a", "b"), [8, 16], {"b_over_a": ("b", "a")})
    assert timing["seconds"]["a"]["16"] == [16.0] * 3
    assert timing["medians"] == {"a": {"8": 8.0, "16": 16.0}, "b": {"8": 16.0, "16": 32.0}}
    assert timing["ratios"] == {"8": {"b_over_a": 2.0}, "16": {"b_over_a": 2.0}}
    assert timing["flat"] == {"ratio_b_over_a_8px": 2.0, "ratio_b_over_a_16px": 2.0}
    assert bench.stopwatch(sum, [1, 2])() >= 0.0


def test_metered_records_memory_and_gatys_step_timer_times_steps_two_to_n():
    memory = []
    run = bench.metered(torch.ones, 256, 256, memory=memory)
    seconds = [run(), run()]
    assert len(memory) == 2 and all(mb >= 0.0 for mb in memory) and all(s > 0.0 for s in seconds)

    from stylelib.models.gatys import GatysConfig

    c, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    runs = []
    per_step = bench.gatys_step_timer(c, s, GatysConfig.for_profile("ci").replace(steps=3), runs=runs)()
    [r] = runs
    assert 0.0 < per_step and r["first"] + 2 * per_step <= r["seconds"] * 1.001
    with pytest.raises(ValueError, match="at least 2 steps"):
        bench.gatys_step_timer(c, s, GatysConfig.for_profile("ci").replace(steps=1))
