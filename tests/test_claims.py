"""The claims helper: prose and verdict come from the same value."""

from __future__ import annotations

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
