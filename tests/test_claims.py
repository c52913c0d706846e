"""The claims helper: prose and verdict come from the same value."""

from __future__ import annotations

import pytest

from stylelib.report.claims import COLUMNS, Claim, above, all_of, at_least, at_most, below, claims_table, is_true


def test_the_verdict_follows_the_value_the_prose_shows():
    met = Claim("reconstructs", "PSNR {psnr:.1f} dB", {"psnr": 21.04}, at_least(20, "psnr", " dB"))
    missed = Claim("reconstructs", "PSNR {psnr:.1f} dB", {"psnr": 13.8}, at_least(20, "psnr", " dB"))
    assert met.row() == dict(zip(COLUMNS, ("reconstructs", "PSNR 21.0 dB", "psnr ≥ 20 dB", "consistent")))
    assert missed.ok is False and missed.verdict == "not reproduced"
    assert missed.row()["measured here"] == "PSNR 13.8 dB"


def test_comparisons_between_measured_quantities():
    v = {"ours": 0.2, "photo": 0.5, "flags": [True, True, False]}
    assert Claim("x", "{ours}", v, below("ours", "photo")).ok is True
    assert Claim("x", "{ours}", v, above("ours", "photo")).ok is False
    assert Claim("x", "{ours}", v, all_of("flags", "3 photos")).ok is False
    assert Claim("x", "{ours}", {"flags": []}, all_of("flags")).ok is False  # nothing measured holds nothing
    both = at_most(0.3, "ours") & below("ours", "photo")
    assert both.text == "ours ≤ 0.3 and ours < photo" and both(v)


def test_scalar_values_notes_and_untested_claims():
    c = Claim("fast", "{value:.2f} s", 0.1234, at_most(0.15), holds="met", fails="not met", note="ratio {value:.3f}")
    assert c.verdict == "met; ratio 0.123"
    g = Claim("real time on a GPU", "{value} ms on a CPU", 75, untested="not comparable (CPU here)")
    assert g.ok is None and g.row()["criterion"] == "" and g.verdict == "not comparable (CPU here)"
    assert Claim("x", "tests pass", True, is_true("the unit tests pass")).verdict == "consistent"


def test_table_columns():
    table = claims_table([Claim("a", "b", 1, at_least(0))])
    assert list(table.columns) == list(COLUMNS) and table.iloc[0]["verdict"] == "consistent"


def test_strict_bounds_and_verdict_words_formatted_from_the_value():
    from stylelib.report.claims import less_than, more_than

    v = {"ratio": 1.0, "k": 3, "n": 5}
    assert Claim("x", "{ratio}", v, more_than(1, "ratio")).ok is False
    assert Claim("x", "{ratio}", v, at_least(1, "ratio")).ok is True
    assert Claim("x", "{ratio}", v, less_than(1, "ratio")).ok is False
    assert more_than(1, "ratio", "×").text == "ratio > 1×" and less_than(0.5).text == "< 0.5"
    c = Claim("x", "{ratio}", v, less_than(1, "ratio"), fails="only {k} of {n}", holds="all {n}")
    assert c.verdict == "only 3 of 5"


def test_within_spread_makes_small_differences_inconclusive():
    from stylelib.report.claims import within_spread

    c = Claim("SCP helps", "{full:.3f} vs {no:.3f} ± {spread:.3f}", {"full": 0.50, "no": 0.52, "spread": 0.03},
              below("full", "no"), inconclusive=within_spread("full", "no", "spread"))
    assert c.ok is True and c.undecided and c.verdict == "no measurable difference"
    assert c.row()["criterion"] == "full < no, unless |full − no| ≤ spread"
    far = Claim("x", "", {"full": 0.40, "no": 0.52, "spread": 0.03}, below("full", "no"),
                inconclusive=within_spread("full", "no", "spread"))
    assert far.verdict == "consistent"
    worse = Claim("x", "", {"full": 0.60, "no": 0.52, "spread": 0.03}, below("full", "no"),
                  inconclusive=within_spread("full", "no", "spread"))
    assert worse.verdict == "not reproduced"


def test_saved_claims_recompute_to_the_same_verdicts(tmp_path):
    import json

    import numpy as np

    from stylelib.report.claims import at_least_count, from_spec, recompute, save_claims, within_spread
    from stylelib.report.outputs import Outputs

    crit = at_most(0.3, "ours") & below("ours", "photo")
    assert from_spec(json.loads(json.dumps(crit.spec))).text == crit.text
    claims = [
        Claim("a", "{ours}", {"ours": np.float64(0.2), "photo": 0.5}, crit),
        Claim("b", "{k} of {n}", {"k": np.int64(3), "n": 5}, at_least_count("k", "n"), fails="only {k} of {n}"),
        Claim("c", "{a} {b} {s}", {"a": 1.0, "b": 1.01, "s": 0.1}, below("a", "b"),
              inconclusive=within_spread("a", "b", "s")),
        Claim("d", "flags", {"flags": [True, False]}, all_of("flags")),
        Claim("e", "GPU", 3, untested="not comparable"),
    ]
    out = Outputs(tmp_path, notebook="x", profile="ci")
    path = save_claims(out, claims_table(claims))
    assert path.name == "claims.json" and (tmp_path / "claims.csv").is_file()
    got = recompute(path)
    assert [g[1] for g in got] == ["consistent", "consistent", "no measurable difference", "not reproduced",
                                   "not comparable"]
    assert all(saved == again for _, saved, again in got)
    assert save_claims(Outputs(None, notebook="x", profile="ci"), claims_table(claims)) is None


def test_hand_made_criteria_cannot_be_saved(tmp_path):
    import pytest

    from stylelib.report.claims import Criterion, save_claims
    from stylelib.report.outputs import Outputs

    table = claims_table([Claim("a", "{value}", 1, Criterion("positive", lambda v: v > 0))])
    with pytest.raises(ValueError, match="made by hand and cannot be saved"):
        save_claims(Outputs(tmp_path, notebook="x", profile="ci"), table)
    assert not (tmp_path / "claims.csv").exists()


def test_registry_entries_at_different_data_or_budget_are_refused(tmp_path):
    import pytest
    import torch

    from stylelib.report.claims import IncomparableError, comparable_entries
    from stylelib.training import registry

    state = {"w": torch.zeros(2)}
    cfg = {"batch_size": 4, "crop": 128, "load_size": 256}
    registry.register("m-full", state, model="m", profile="quick", config=cfg, data="dpst (98) + embedded (5)",
                      iterations=349, seconds=1500, root=tmp_path)
    registry.register("m-same", state, model="m", profile="quick", config=cfg, data="dpst (98) + embedded (5)",
                      iterations=349, seconds=1300, root=tmp_path)
    registry.register("m-few", state, model="m", profile="quick", config=cfg, data="embedded (5 photos)",
                      iterations=318, seconds=1500, root=tmp_path)
    registry.register("m-crop", state, model="m", profile="quick", config=cfg | {"crop": 64},
                      data="dpst (98) + embedded (5)", iterations=349, seconds=1500, root=tmp_path)

    class Reg:
        @staticmethod
        def entry(name):
            return registry.entry(name, root=tmp_path)

    assert set(comparable_entries("m-full", "m-same", registry=Reg)) == {"m-full", "m-same"}
    with pytest.raises(IncomparableError, match=r"m-few cannot be compared with m-full: data 'embedded \(5 photos\)'"
                                                r" vs 'dpst \(98\) \+ embedded \(5\)'; 318 vs 349 iterations"):
        comparable_entries("m-full", "m-same", "m-few", registry=Reg)
    with pytest.raises(IncomparableError, match="crop 64 vs 128"):
        comparable_entries("m-full", "m-crop", registry=Reg)


def test_every_committed_claims_verdict_recomputes_from_its_saved_numbers():
    """Each figures/*/claims.csv has a claims.json beside it, and every verdict follows from the saved value."""
    from pathlib import Path

    import pandas as pd

    from stylelib.report.claims import recompute

    figures = Path(__file__).resolve().parents[1] / "figures"
    tables = sorted(figures.glob("*/claims.csv"))
    assert tables, "no committed claims tables"
    for csv in tables:
        saved = csv.with_suffix(".json")
        assert saved.is_file(), f"{csv.parent.name}: claims.csv without claims.json (rerun the notebook)"
        got = recompute(saved)
        verdicts = pd.read_csv(csv)["verdict"].fillna("").tolist()
        assert [g[1] for g in got] == verdicts, csv
        for claim, before, again in got:
            assert before == again, f"{csv.parent.name}: {claim[:60]!r} saved {before!r}, recomputed {again!r}"


def test_arm_comparisons_call_a_difference_only_beyond_the_spread():
    import pandas as pd

    from stylelib.report.claims import compare_arms, compare_seeds
    from stylelib.report.stats import paired_difference

    pairs = [f"p{i}" for i in range(5)]
    full = [0.50, 0.52, 0.48, 0.51, 0.49]
    close = [0.51, 0.50, 0.49, 0.52, 0.50]   # mean diff -0.004, spread ~0.015
    far = [x + 0.10 for x in full]
    t = pd.DataFrame([{"variant": v, "pair": p, "gram": x} for v, xs in (("full", full), ("close", close),
                                                                        ("far", far)) for p, x in zip(pairs, xs)])
    d = paired_difference(full, close)
    assert d["n"] == 5 and d["half_width"] > abs(d["mean"])
    assert compare_arms("c", t, "full", "close", "gram", higher_is_better=False).verdict == "no measurable difference"
    assert compare_arms("c", t, "full", "far", "gram", higher_is_better=False).verdict == "consistent"
    assert compare_arms("c", t, "far", "full", "gram", higher_is_better=False).verdict == "not reproduced"
    assert compare_arms("c", t, "full", "absent", "gram", higher_is_better=False).ok is None
    seeds = pd.DataFrame([{"arm": a, "seed": s, "ssim": x} for a, xs in (("both", [0.74, 0.73, 0.75]),
                                                                        ("neither", [0.72, 0.745, 0.73]))
                          for s, x in enumerate(xs)])
    c = compare_seeds("c", seeds, "both", "neither", "ssim", higher_is_better=True)
    assert c.value["spread"] == pytest.approx(0.025) and c.verdict == "no measurable difference"
    one = compare_seeds("c", seeds[seeds["seed"] == 0], "both", "neither", "ssim", higher_is_better=True)
    assert one.ok is None and "fewer than two seeds" in one.verdict


def test_the_readme_results_block_is_generated_from_figures():
    from pathlib import Path

    from stylelib.report.index import README_BEGIN, README_END, results_block

    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text(encoding="utf-8")
    block = text[text.index(README_BEGIN): text.index(README_END) + len(README_END)]
    assert block == results_block(root / "figures"), "README's results block is stale: run " \
        "`python -m stylelib.report.notebooks index figures`"
