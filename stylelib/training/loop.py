"""The one training loop every model in the suite uses.

:func:`fit` runs ``step_fn`` (which computes the losses of one batch) under
an optimizer until an iteration budget or a time budget is spent, with

* a tqdm progress bar showing the running loss;
* periodic atomic checkpoints in ``run_dir``: the trainable weights
  (``checkpoint.safetensors``), the optimizer state, the RNG states and the
  step (``state.pt``), the configuration (``config.json``) and the loss
  history so far (``history.csv``);
* resumption from that checkpoint (``resume=True``), which ends with exactly
  the weights an uninterrupted run with the same seed would have: batches are
  drawn from a generator seeded by ``(seed, step)``, so they do not depend on
  how many steps ran before an interruption;
* a checkpoint on Ctrl-C before the interruption is passed on.

The loop is extended by callbacks (:class:`Callback`: ``on_step_start``
before the step, ``after_backward`` between ``loss.backward()`` and
``optimizer.step()``, ``on_step_end`` with the logged row), not by more
keyword arguments: :class:`LRSchedule` sets the learning rate of each step,
:class:`GradientHook` rescales gradients (StyleBank's balancing, Chen et al.,
CVPR 2017) and :class:`OnStep` watches the rows.
For schedules that do not fit one optimizer (StyleBank's alternating
branches), :class:`BranchOptimizers` bundles several optimizers behind
the one-optimizer interface, stepping the one the step function selected;
its state (all optimizers, and a small ``memory`` dict) is checkpointed and
restored like a single optimizer's.

The loss history comes back as a pandas DataFrame (one row per step: the
step, the seconds since the start, and every loss term ``step_fn``
returned) and is saved as ``history.csv``.
"""

from __future__ import annotations

import io
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save
from torch import nn
from tqdm.auto import tqdm

from ..atomic import atomic_write_bytes, atomic_write_text
from ..errors import StylelibError

CHECKPOINT = "checkpoint.safetensors"
STATE = "state.pt"
CONFIG = "config.json"
HISTORY = "history.csv"
#: configuration keys that may change on resume (a run can be extended with a larger budget)
BUDGET_KEYS = frozenset({"steps", "seconds", "checkpoint_every"})


class TrainingError(StylelibError, RuntimeError):
    """A training run cannot start or resume (bad budget, mismatched checkpoint...)."""


class Callback:
    """A hook into :func:`fit`; subclasses override the events they need (each does nothing here)."""

    def on_step_start(self, step: int, optimizer) -> None:
        """Before ``step_fn(step, ...)``."""

    def after_backward(self, step: int) -> None:
        """After ``loss.backward()``, before ``optimizer.step()``: gradients may be rescaled."""

    def on_step_end(self, step: int, row: Mapping[str, float]) -> None:
        """After the optimizer step; ``row`` is the logged history row (``step`` counts steps done)."""


class LRSchedule(Callback):
    """Each step's learning rate: ``factor(step)`` times the optimizer's initial rates."""

    def __init__(self, factor: Callable[[int], float]):
        self.factor = factor

    def on_step_start(self, step: int, optimizer) -> None:
        f = self.factor(step)
        for g in optimizer.param_groups:
            g["lr"] = g["initial_lr"] * f


def warmup(steps: int, decay: float = 0.0) -> Callable[[int], float]:
    """The factor of a linear warm-up over ``steps`` steps, then ``1 / (1 + decay * step)``."""
    return lambda step: min(1.0, (step + 1) / max(steps, 1)) / (1.0 + decay * step)


class GradientHook(Callback):
    """Calls ``fn(step)`` between ``loss.backward()`` and ``optimizer.step()``."""

    def __init__(self, fn: Callable[[int], None]):
        self.fn = fn

    def after_backward(self, step: int) -> None:
        self.fn(step)


class OnStep(Callback):
    """Calls ``fn(step, row)`` after every step."""

    def __init__(self, fn: Callable[[int, Mapping[str, float]], None]):
        self.fn = fn

    def on_step_end(self, step: int, row: Mapping[str, float]) -> None:
        self.fn(step, row)


@dataclass
class Budget:
    """When to stop and how often to checkpoint.

    ``steps`` is the total number of optimizer steps of the run (a resumed
    run continues up to it); ``seconds`` stops earlier when the wall time of
    this invocation exceeds it (``None``: no time limit).
    """

    steps: int
    seconds: float | None = None
    checkpoint_every: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise TrainingError(f"the iteration budget must be at least 1 step, got {self.steps}")
        if self.seconds is not None and self.seconds <= 0:
            raise TrainingError(f"the time budget must be positive, got {self.seconds} s")
        if self.checkpoint_every < 1:
            raise TrainingError(f"checkpoint_every must be at least 1, got {self.checkpoint_every}")


@dataclass
class TrainResult:
    history: pd.DataFrame
    steps: int  # optimizer steps done in total (including those before a resume)
    seconds: float  # wall time in total (including the time before a resume)
    stopped_by: str  # "steps" or "time"
    run_dir: Path | None = None


class BranchOptimizers:
    """Several optimizers behind one optimizer's interface; ``select(name)`` picks the one to step.

    ``zero_grad`` clears every parameter of every optimizer; ``step`` steps
    only the selected one; ``param_groups`` lists the groups of all of them
    (so a learning-rate schedule applies to each); ``state_dict`` holds every
    optimizer's state, the current selection and :attr:`memory`, a dict of
    floats the step function may keep between steps (such as a gradient norm
    from an earlier branch), so that a resumed run continues exactly.
    """

    def __init__(self, optimizers: Mapping[str, torch.optim.Optimizer], first: str | None = None):
        if not optimizers:
            raise TrainingError("BranchOptimizers needs at least one optimizer")
        self.optimizers = dict(optimizers)
        self.current = first if first is not None else next(iter(self.optimizers))
        self.select(self.current)
        self.memory: dict[str, float] = {}

    def select(self, name: str) -> torch.optim.Optimizer:
        if name not in self.optimizers:
            raise TrainingError(f"no optimizer named {name!r}; have {', '.join(self.optimizers)}")
        self.current = name
        return self.optimizers[name]

    @property
    def param_groups(self) -> list[dict]:
        return [g for opt in self.optimizers.values() for g in opt.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        self.optimizers[self.current].step()

    def state_dict(self) -> dict[str, Any]:
        return {"optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}, "current": self.current,
                "memory": dict(self.memory)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if set(state.get("optimizers", {})) != set(self.optimizers):
            raise TrainingError(f"checkpoint has optimizers {sorted(state.get('optimizers', {}))}, "
                                f"this run {sorted(self.optimizers)}")
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.current = state["current"]
        self.memory = dict(state["memory"])


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random generator for the batch of ``step``: a function of ``(seed, step)`` only."""
    g = torch.Generator()
    g.manual_seed((int(seed) * 1_000_003 + int(step)) % (2**63 - 1))
    return g


def _rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def _trainable(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state without its frozen parameters (a frozen encoder is not saved)."""
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    return {k: v.detach().contiguous() for k, v in model.state_dict().items() if k not in frozen}


def save_checkpoint(run_dir: Path, model: nn.Module, optimizer: "torch.optim.Optimizer | BranchOptimizers", step: int,
                    seconds: float, config: Mapping[str, Any], history: list[dict]) -> None:
    """Write the four checkpoint files atomically (each file is complete or absent)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.clone() for k, v in _trainable(model).items()}
    atomic_write_bytes(run_dir / CHECKPOINT, save(state, metadata={"step": str(step)}))
    buf = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "rng": _rng_state(), "step": step, "seconds": seconds}, buf)
    atomic_write_bytes(run_dir / STATE, buf.getvalue())
    atomic_write_text(run_dir / CONFIG, json.dumps(dict(config), indent=2, sort_keys=True, default=str) + "\n")
    atomic_write_text(run_dir / HISTORY, pd.DataFrame(history).to_csv(index=False))


def load_checkpoint(run_dir: Path, model: nn.Module, optimizer: "torch.optim.Optimizer | BranchOptimizers",
                    config: Mapping[str, Any]) -> tuple[int, float, list[dict]]:
    """Restore weights, optimizer and RNG states from ``run_dir``; return ``(step, seconds, history)``."""
    missing = [n for n in (CHECKPOINT, STATE, CONFIG) if not (run_dir / n).is_file()]
    if missing:
        raise TrainingError(f"{run_dir}: cannot resume, no checkpoint there (missing {', '.join(missing)})")
    saved = json.loads((run_dir / CONFIG).read_text())
    now = json.loads(json.dumps(dict(config), sort_keys=True, default=str))
    diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k) and k not in BUDGET_KEYS)
    if diff:
        raise TrainingError(f"{run_dir}: the checkpoint was made with a different configuration "
                            f"({', '.join(diff[:4])} differ); use another run folder or the same settings")
    weights = load_file(str(run_dir / CHECKPOINT))
    result = model.load_state_dict(weights, strict=False)
    if result.unexpected_keys:
        raise TrainingError(f"{run_dir / CHECKPOINT}: unexpected weights {result.unexpected_keys[:3]}")
    state = torch.load(run_dir / STATE, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    _set_rng_state(state["rng"])
    history = pd.read_csv(run_dir / HISTORY).to_dict("records") if (run_dir / HISTORY).is_file() else []
    history = [r for r in history if r["step"] <= state["step"]]
    return int(state["step"]), float(state["seconds"]), history


def fit(
    model: nn.Module,
    step_fn: Callable[[int, torch.Generator], Mapping[str, torch.Tensor]],
    optimizer: "torch.optim.Optimizer | BranchOptimizers",
    budget: Budget,
    *,
    run_dir: str | Path | None = None,
    config: Mapping[str, Any] | None = None,
    resume: bool = False,
    progress: bool = True,
    desc: str = "train",
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train ``model`` with ``optimizer`` until ``budget`` is spent.

    ``step_fn(step, generator)`` computes the losses of step ``step`` (its
    batch drawn with ``generator``) and returns a mapping of scalar tensors
    whose ``"loss"`` entry is minimised; the others are logged.
    ``callbacks`` (:class:`Callback`) run at each step's start, after its
    backward pass and at its end, in the order given.  Checkpoints go to
    ``run_dir`` when it is given; ``resume=True`` continues from them.
    ``optimizer`` may be a :class:`BranchOptimizers`.
    """
    config = dict(config or {})
    run_path = Path(run_dir) if run_dir is not None else None
    if resume and run_path is None:
        raise TrainingError("resume=True needs the run folder of the interrupted run")
    torch.manual_seed(budget.seed)
    np.random.seed(budget.seed % 2**32)
    random.seed(budget.seed)
    start, before, history = 0, 0.0, []
    if resume:
        start, before, history = load_checkpoint(run_path, model, optimizer, config)
    base_lrs = [g["lr"] for g in optimizer.param_groups] if "initial_lr" not in optimizer.param_groups[0] else \
        [g["initial_lr"] for g in optimizer.param_groups]
    for g, lr in zip(optimizer.param_groups, base_lrs):
        g["initial_lr"] = lr
    model.train()
    t0 = time.perf_counter()
    stopped_by = "steps"
    step = start
    running = None
    bar = tqdm(total=budget.steps, initial=start, desc=desc, disable=not progress, dynamic_ncols=True)
    try:
        while step < budget.steps:
            if budget.seconds is not None and time.perf_counter() - t0 >= budget.seconds:
                stopped_by = "time"
                break
            for cb in callbacks:
                cb.on_step_start(step, optimizer)
            losses = step_fn(step, step_generator(budget.seed, step))
            loss = losses["loss"]
            if not torch.isfinite(loss):
                raise TrainingError(f"{desc}: the loss became {loss.item()} at step {step}; lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for cb in callbacks:
                cb.after_backward(step)
            optimizer.step()
            step += 1
            row = {"step": step, "seconds": before + time.perf_counter() - t0}
            row.update({k: float(v.detach()) for k, v in losses.items()})
            history.append(row)
            running = row["loss"] if running is None else 0.95 * running + 0.05 * row["loss"]
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4g}")
            for cb in callbacks:
                cb.on_step_end(step, row)
            if run_path is not None and (step % budget.checkpoint_every == 0 or step == budget.steps):
                save_checkpoint(run_path, model, optimizer, step, before + time.perf_counter() - t0, config, history)
    except KeyboardInterrupt:
        if run_path is not None and step > start:
            save_checkpoint(run_path, model, optimizer, step, before + time.perf_counter() - t0, config, history)
            bar.write(f"{desc}: interrupted at step {step}; checkpoint saved in {run_path} (resume to continue)")
        raise
    finally:
        bar.close()
    seconds = before + time.perf_counter() - t0
    if run_path is not None and (not history or history[-1]["step"] % budget.checkpoint_every):
        save_checkpoint(run_path, model, optimizer, step, seconds, config, history)
    model.eval()
    frame = pd.DataFrame(history, columns=None if history else ["step", "seconds", "loss"])
    return TrainResult(frame, step, seconds, stopped_by, run_path)
