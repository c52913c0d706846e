"""The shared training loop: budgets, checkpoints, bit-exact resume, history."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from stylelib.training.loop import (CHECKPOINT, CONFIG, HISTORY, STATE, BranchOptimizers, Budget, Callback,
                                    GradientHook, LRSchedule, OnStep, TrainingError, fit, step_generator, warmup)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))


def _setup(model: nn.Module):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def step_fn(step: int, g: torch.Generator):
        x = torch.rand(2, 3, 12, 12, generator=g)
        noise = torch.randn(2, 3, 12, 12) * 0.01  # global RNG: restored on resume too
        loss = (model(x + noise) - x).pow(2).mean()
        return {"loss": loss, "half": loss / 2}

    return opt, step_fn


def _fit(budget: Budget, **kwargs):
    """A fresh model (as a new process would build it) trained by ``fit`` for ``budget``; the model and result."""
    model = _model()
    opt, step_fn = _setup(model)
    return model, fit(model, step_fn, opt, budget, progress=False, **kwargs)


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


class TestBudget:
    def test_rejects_bad_budgets(self):
        with pytest.raises(TrainingError, match="at least 1 step"):
            Budget(0)
        with pytest.raises(TrainingError, match="positive"):
            Budget(5, seconds=0)
        with pytest.raises(TrainingError, match="checkpoint_every"):
            Budget(5, checkpoint_every=0)

    def test_step_generator_depends_only_on_seed_and_step(self):
        a = torch.rand(4, generator=step_generator(3, 7))
        b = torch.rand(4, generator=step_generator(3, 7))
        c = torch.rand(4, generator=step_generator(3, 8))
        assert torch.equal(a, b) and not torch.equal(a, c)


class TestFit:
    def test_loss_falls_and_history_is_complete(self, tmp_path):
        model = _model()
        opt, step_fn = _setup(model)
        res = fit(model, step_fn, opt, Budget(40, checkpoint_every=10), run_dir=tmp_path, progress=False,
                  config={"lr": 1e-2})
        h = res.history
        assert list(h["step"]) == list(range(1, 41))
        assert {"seconds", "loss", "half"} <= set(h.columns)
        assert h["loss"].tail(5).mean() < 0.5 * h["loss"].head(5).mean()
        assert res.stopped_by == "steps" and res.steps == 40
        for name in (CHECKPOINT, STATE, CONFIG, HISTORY):
            assert (tmp_path / name).is_file()
        saved = pd.read_csv(tmp_path / HISTORY)
        assert len(saved) == 40 and saved["loss"].iloc[-1] == pytest.approx(h["loss"].iloc[-1])
        assert json.loads((tmp_path / CONFIG).read_text()) == {"lr": 0.01}
        ck = load_file(str(tmp_path / CHECKPOINT))
        for k, v in model.state_dict().items():
            assert torch.equal(ck[k], v)

    def test_resumed_run_ends_with_identical_weights(self, tmp_path):
        full, _ = _fit(Budget(8, checkpoint_every=3, seed=5))
        _, first = _fit(Budget(3, checkpoint_every=3, seed=5), run_dir=tmp_path)
        assert first.steps == 3
        again, res = _fit(Budget(8, checkpoint_every=3, seed=5), run_dir=tmp_path, resume=True)
        assert res.steps == 8 and len(res.history) == 8
        for k, v in _weights(full).items():
            assert torch.equal(again.state_dict()[k], v), k

    def test_ctrl_c_saves_a_checkpoint_that_resumes_exactly(self, tmp_path):
        full, _ = _fit(Budget(6, checkpoint_every=100, seed=1))

        def interrupt(step, row):
            if step == 4:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            _fit(Budget(6, checkpoint_every=100, seed=1), run_dir=tmp_path, callbacks=[OnStep(interrupt)])
        model, res = _fit(Budget(6, checkpoint_every=100, seed=1), run_dir=tmp_path, resume=True)
        assert list(res.history["step"]) == [1, 2, 3, 4, 5, 6]
        for k, v in full.state_dict().items():
            assert torch.equal(model.state_dict()[k], v), k

    def test_time_budget_stops_early(self):
        model = _model()
        opt, step_fn = _setup(model)
        res = fit(model, step_fn, opt, Budget(10_000, seconds=0.2), progress=False)
        assert res.stopped_by == "time" and 0 < res.steps < 10_000

    def test_resume_without_checkpoint_is_a_clear_error(self, tmp_path):
        model = _model()
        opt, step_fn = _setup(model)
        with pytest.raises(TrainingError, match="no checkpoint"):
            fit(model, step_fn, opt, Budget(2), run_dir=tmp_path / "none", resume=True, progress=False)
        with pytest.raises(TrainingError, match="run folder"):
            fit(model, step_fn, opt, Budget(2), resume=True, progress=False)

    def test_resume_with_other_settings_is_refused(self, tmp_path):
        model = _model()
        opt, step_fn = _setup(model)
        fit(model, step_fn, opt, Budget(2), run_dir=tmp_path, config={"lr": 1}, progress=False)
        with pytest.raises(TrainingError, match="different configuration"):
            fit(model, step_fn, opt, Budget(4), run_dir=tmp_path, config={"lr": 2}, resume=True, progress=False)

    def test_non_finite_loss_stops_with_an_error(self):
        model = _model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        with pytest.raises(TrainingError, match="learning rate"):
            fit(model, lambda s, g: {"loss": torch.tensor(float("nan"), requires_grad=True)}, opt, Budget(3),
                progress=False)

    def test_frozen_parameters_are_not_checkpointed(self, tmp_path):
        model = _model()
        for p in model[0].parameters():
            p.requires_grad_(False)
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        _, step_fn = _setup(model)
        fit(model, step_fn, opt, Budget(2), run_dir=tmp_path, progress=False)
        assert set(load_file(str(tmp_path / CHECKPOINT))) == {"2.weight", "2.bias"}

    def test_scheduler_sets_the_learning_rate(self):
        model = _model()
        opt, step_fn = _setup(model)
        seen = []
        fit(model, step_fn, opt, Budget(3), progress=False,
            callbacks=[LRSchedule(lambda s: 1.0 / (s + 1)), OnStep(lambda s, row: seen.append(opt.param_groups[0]["lr"]))])
        assert seen == pytest.approx([1e-2, 5e-3, 1e-2 / 3])

    def test_warmup_then_decay(self):
        f = warmup(4, decay=0.5)
        assert [f(s) for s in range(6)] == pytest.approx([0.25 / 1, 0.5 / 1.5, 0.75 / 2, 1 / 2.5, 1 / 3, 1 / 3.5])
        assert warmup(0)(0) == 1.0

    def test_callbacks_run_in_order_at_each_event(self):
        model = _model()
        opt, step_fn = _setup(model)
        events = []

        class Recorder(Callback):
            def __init__(self, tag):
                self.tag = tag

            def on_step_start(self, step, optimizer):
                events.append((self.tag, "start", step))

            def after_backward(self, step):
                events.append((self.tag, "backward", step))

            def on_step_end(self, step, row):
                events.append((self.tag, "end", row["step"]))

        fit(model, step_fn, opt, Budget(2), progress=False, callbacks=[Recorder("a"), Recorder("b")])
        assert events == [("a", "start", 0), ("b", "start", 0), ("a", "backward", 0), ("b", "backward", 0),
                          ("a", "end", 1), ("b", "end", 1), ("a", "start", 1), ("b", "start", 1),
                          ("a", "backward", 1), ("b", "backward", 1), ("a", "end", 2), ("b", "end", 2)]


class TestBranchesAndHooks:
    """The two extensions for alternating schedules: a :class:`GradientHook` and :class:`BranchOptimizers`."""

    @staticmethod
    def _branches(model: nn.Module):
        first, second = list(model[0].parameters()), list(model[2].parameters())
        opt = BranchOptimizers({"a": torch.optim.Adam(first + second, lr=1e-2),
                                "b": torch.optim.SGD(second, lr=1e-2, momentum=0.9)})
        _, inner = _setup(model)

        def step_fn(step: int, g: torch.Generator):
            opt.select("a" if step % 3 else "b")
            losses = dict(inner(step, g))
            opt.memory["last"] = float(losses["loss"].detach())
            return losses

        return opt, step_fn

    def test_after_backward_runs_between_backward_and_step(self):
        model = _model()
        before = _weights(model)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        _, step_fn = _setup(model)
        seen = []

        def zero_grads(step: int) -> None:
            seen.append((step, all(p.grad is not None for p in model.parameters())))
            for p in model.parameters():
                p.grad.zero_()

        fit(model, step_fn, opt, Budget(3), progress=False, callbacks=[GradientHook(zero_grads)])
        assert seen == [(0, True), (1, True), (2, True)]
        for k, v in before.items():  # the hook zeroed every gradient, so SGD moved nothing
            assert torch.equal(model.state_dict()[k], v)

    def test_only_the_selected_optimizer_steps(self):
        model = _model()
        opt, step_fn = self._branches(model)
        first = [p.detach().clone() for p in model[0].parameters()]
        fit(model, step_fn, opt, Budget(1), progress=False)  # step 0 uses "b", which holds only model[2]
        assert all(torch.equal(a, b) for a, b in zip(first, model[0].parameters()))
        assert opt.current == "b" and opt.memory["last"] > 0

    def test_resume_restores_every_optimizer_and_the_memory(self, tmp_path):
        full = _model()
        opt, step_fn = self._branches(full)
        fit(full, step_fn, opt, Budget(7, seed=2), progress=False)
        part = _model()
        opt_p, step_fn = self._branches(part)
        fit(part, step_fn, opt_p, Budget(4, checkpoint_every=4, seed=2), run_dir=tmp_path, progress=False)
        again = _model()
        opt_a, step_fn = self._branches(again)
        fit(again, step_fn, opt_a, Budget(7, checkpoint_every=4, seed=2), run_dir=tmp_path, resume=True,
            progress=False)
        for k, v in _weights(full).items():
            assert torch.equal(again.state_dict()[k], v), k
        assert opt_a.memory == opt.memory

    def test_mismatched_or_unknown_optimizers_are_refused(self):
        model = _model()
        opt, _ = self._branches(model)
        with pytest.raises(TrainingError, match="no optimizer named 'c'"):
            opt.select("c")
        other = BranchOptimizers({"a": torch.optim.SGD(model.parameters(), lr=1)})
        with pytest.raises(TrainingError, match="checkpoint has optimizers"):
            other.load_state_dict(opt.state_dict())
        with pytest.raises(TrainingError, match="at least one"):
            BranchOptimizers({})


def test_a_resumed_run_may_extend_its_budget(tmp_path):
    model = _model()
    opt, step_fn = _setup(model)
    fit(model, step_fn, opt, Budget(2), run_dir=tmp_path, config={"lr": 1, "steps": 2}, progress=False)
    res = fit(model, step_fn, opt, Budget(4), run_dir=tmp_path, config={"lr": 1, "steps": 4}, resume=True,
              progress=False)
    assert res.steps == 4


def test_variants_train_into_their_own_checkpoint_folders(monkeypatch, tmp_path):
    """``stylelib train fa_scp --variant no_scp`` must not resume or overwrite the full model's run."""
    from stylelib.training.jobs import default_run_dir

    monkeypatch.setenv("STYLELIB_CACHE", str(tmp_path))
    full = default_run_dir("fa_scp", "quick")
    assert full == default_run_dir("fa_scp", "quick", "full") == tmp_path / "runs" / "fa_scp-quick"
    assert default_run_dir("fa_scp", "quick", "no_scp") == tmp_path / "runs" / "fa_scp-quick-no_scp"
    assert len({full, default_run_dir("fa_scp", "quick", "no_scp"), default_run_dir("fa_scp", "quick", "adain_fa")}) == 3
