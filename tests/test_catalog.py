"""The one table of methods: every row resolves, and the registry holds what `make weights` makes."""

from __future__ import annotations

import pytest

from stylelib import catalog
from stylelib.cli import main
from stylelib.training import registry
from stylelib.training.jobs import train


@pytest.mark.parametrize("name", catalog.names())
def test_every_method_resolves_to_functions(name):
    method = catalog.get(name)
    assert callable(method.fn)
    if method.train is not None:
        assert callable(method.trainer)
    else:
        with pytest.raises(ValueError, match="trains no network"):
            method.trainer


def test_unknown_method_lists_the_others():
    with pytest.raises(ValueError, match="unknown method 'nope'; available: adain, consistency_pair"):
        catalog.get("nope")


def test_weights_jobs_follow_training_order():
    jobs = catalog.weights_jobs()
    order = [m for m, _ in jobs]
    # the decoders that others start from are trained first
    assert order.index("wct") < min(order.index(m) for m in ("photowct", "adain", "wct2"))
    assert ("fa_scp", "no_scp") in jobs and ("fa_scp", None) in jobs
    assert set(order) == set(catalog.trainable())


def test_the_committed_registry_holds_every_quick_job(monkeypatch):
    monkeypatch.delenv(registry.WEIGHTS_ENV, raising=False)
    models = {e.model for e in registry.entries().values()}
    assert models == set(catalog.trainable())
    names = set(registry.entries())
    for model, variant in catalog.weights_jobs():
        prefix = f"{model}-quick" + (f"-{variant}" if variant else "")
        assert any(n == prefix or n.startswith(prefix + "-") for n in names), prefix


def test_variants_are_checked_against_the_table(tmp_path):
    with pytest.raises(ValueError, match="adain has no variants"):
        train("adain", "ci", run_dir=tmp_path, variant="no_scp")
    with pytest.raises(ValueError, match="fa_scp has no variant 'bogus'; choose full, no_scp, adain_fa, no_restyle"):
        train("fa_scp", "ci", run_dir=tmp_path, variant="bogus")
    with pytest.raises(ValueError, match="no trainable model 'gatys'"):
        train("gatys", "ci", run_dir=tmp_path)


def test_methods_command_lists_every_row(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in catalog.names():
        assert name in out
    assert "variants: no_scp, adain_fa, no_restyle" in out
