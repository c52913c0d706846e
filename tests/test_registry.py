"""The weights registry: round trip, sha256 refusal, clear errors, the committed files."""

from __future__ import annotations

import json

import pytest
import torch

from stylelib.training import registry
from stylelib.cli import main
from stylelib.errors import WeightsError


@pytest.fixture
def reg(tmp_path, monkeypatch):
    monkeypatch.setenv(registry.WEIGHTS_ENV, str(tmp_path))
    state = {"conv.weight": torch.randn(4, 3, 3, 3), "conv.bias": torch.randn(4), "count": torch.tensor([3])}
    rec = registry.register("toy-ci", state, model="toy", profile="ci", config={"lr": 1e-3}, data="unit test",
                            iterations=12, seconds=3.25, metrics={"psnr_median_db": 21.5})
    return tmp_path, state, rec


class TestRegistry:
    def test_round_trip_in_fp16(self, reg):
        root, state, rec = reg
        loaded, entry = registry.load("toy-ci")
        assert entry == rec and entry.dtype == "float16" and entry.iterations == 12
        assert loaded["conv.weight"].dtype == torch.float32
        assert torch.allclose(loaded["conv.weight"], state["conv.weight"], atol=2e-3, rtol=1e-3)
        assert torch.equal(loaded["count"], state["count"])
        assert registry.sha256_file(root / rec.file) == rec.sha256
        assert json.loads((root / registry.REGISTRY_FILE).read_text())["toy-ci"]["metrics"] == {"psnr_median_db": 21.5}

    def test_one_changed_byte_is_refused(self, reg):
        root, _, rec = reg
        path = root / rec.file
        data = bytearray(path.read_bytes())
        data[-1] ^= 0x01
        path.write_bytes(bytes(data))
        with pytest.raises(WeightsError) as err:
            registry.load("toy-ci")
        msg = str(err.value)
        assert str(path) in msg and "sha256" in msg and "stylelib train toy --profile ci" in msg
        assert "\n" not in msg
        assert registry.verify() == [("toy-ci", False, msg)]

    def test_missing_file_names_the_command(self, reg):
        root, _, rec = reg
        (root / rec.file).unlink()
        with pytest.raises(WeightsError, match=r"missing; make them with `stylelib train toy --profile ci`"):
            registry.load("toy-ci")

    def test_unknown_name(self, reg):
        with pytest.raises(WeightsError, match=r"no weights named 'adain-paper'.*stylelib train adain --profile paper"):
            registry.load("adain-paper")

    def test_registry_file_that_is_not_json(self, reg):
        root, _, _ = reg
        (root / registry.REGISTRY_FILE).write_text("{oops")
        with pytest.raises(WeightsError, match="not valid JSON"):
            registry.entries()

    def test_weights_table_rows_and_extra_columns(self, reg):
        table = registry.weights_table(["toy-ci"], extra={"lr": "lr", "psnr": lambda e: e.metrics["psnr_median_db"]})
        assert list(table.columns[:4]) == ["weights", "model", "lr", "psnr"]
        row = table.iloc[0]
        assert (row["weights"], row["lr"], row["psnr"], row["iterations"]) == ("toy-ci", 1e-3, 21.5, 12)
        assert row["wall time, min"] == pytest.approx(registry.entry("toy-ci").seconds / 60)
        with pytest.raises(WeightsError, match="no weights named 'toy-quick'.*stylelib train toy --profile quick"):
            registry.weights_table(["toy-ci", "toy-quick"])

    def test_cli_verify_exit_codes(self, reg, capsys):
        root, _, rec = reg
        assert main(["weights", "verify"]) == 0
        assert "ok  toy-ci" in capsys.readouterr().out
        assert main(["weights", "list"]) == 0
        assert "toy-ci" in capsys.readouterr().out
        (root / rec.file).write_bytes(b"x" + (root / rec.file).read_bytes()[1:])
        assert main(["weights", "verify"]) == 2
        out = capsys.readouterr()
        assert "BAD toy-ci" in out.out and "failed verification" in out.err


class TestCommittedWeights:
    """The weights committed with the package: present, intact, small, fp16."""

    def test_every_committed_file_verifies_and_is_small(self, monkeypatch):
        monkeypatch.delenv(registry.WEIGHTS_ENV, raising=False)
        found = registry.entries()
        assert {"adain-quick", *(f"wct-quick-relu{i}_1" for i in range(1, 6))} <= set(found)
        for name, ok, message in registry.verify():
            assert ok, message
            rec = found[name]
            assert rec.size_bytes <= registry.MAX_COMMITTED_BYTES, name
            assert rec.dtype == "float16"
            assert rec.iterations > 0 and rec.seconds > 0 and rec.data


class TestHistory:
    def test_history_round_trip_beside_the_weights(self, tmp_path):
        import pandas as pd

        frame = pd.DataFrame({"step": [1, 2, 3], "loss": [3.0, 2.0, 1.123456789], "extra": [0, 0, 0]})
        path = registry.save_history("net-ci", frame, columns=["step", "loss", "absent"], root=tmp_path)
        assert path == tmp_path / "net-ci-history.csv"
        back = registry.load_history("net-ci", root=tmp_path)
        assert list(back.columns) == ["step", "loss"] and back["loss"].iloc[-1] == pytest.approx(1.1235)
        with pytest.raises(WeightsError, match="no loss history"):
            registry.load_history("other", root=tmp_path)
