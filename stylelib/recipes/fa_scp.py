"""FA+SCP's recipe: the two training stages, registration of the model and its ablations, loading, the CLI entry.

The paper itself (the FA layers, the decoder, the SCP loss) is :mod:`stylelib.models.fa_scp`.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from ..models.fa_scp import FASCPConfig, FASCPNet, SCPLoss, instance_norm
from ..training import registry
from ..training.loop import Budget, LRSchedule, TrainResult, fit, warmup

# ----------------------------------------------------------------------------- training
def _stage(net: FASCPNet, loss_fn: SCPLoss, contents, styles, cfg: FASCPConfig, stage: int, run_dir, resume,
           progress) -> TrainResult:
    opt = torch.optim.Adam(net.decoder.parameters(), lr=cfg.lr if stage == 1 else cfg.restyle_lr)

    def step_fn(step: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        c = contents.sample(cfg.batch_size, g)
        s = styles.sample(cfg.batch_size, g)
        with torch.no_grad():
            fc, fs = net.encode(c), net.encode(s)
        o1 = net.decoder(fc, fs)
        first = loss_fn(net.encode(o1), fc, fs)
        if cfg.identity_weight > 0:  # G(C, C) = C: anchors tones and structure (our reconstruction's photorealism term, docs/methods/01_fa_scp.md)
            n = min(cfg.identity_batch, c.shape[0])
            fc_n = {k: v[:n] for k, v in fc.items()}
            ident = net.decoder(fc_n, fc_n)
            idl = F.l1_loss(ident, c[:n]) + F.mse_loss(instance_norm(net.encode(ident)["relu4_1"]),
                                                      instance_norm(fc_n["relu4_1"]))
            first = first | {"loss": first["loss"] + cfg.identity_weight * idl, "identity": idl}
        if stage == 1:
            return first
        x = o1.detach() if cfg.detach_first else o1
        o2 = net.decoder(net.encode(x.clamp(0, 1)), fs)
        second = loss_fn(net.encode(o2), fc, fs)
        out = {k: second[k] + cfg.restyle_first_weight * first[k] for k in second}
        if "identity" in first:  # the identity term is counted once, on the first pass
            out["loss"] = out["loss"] + (1 - cfg.restyle_first_weight) * cfg.identity_weight * first["identity"]
            out["identity"] = first["identity"]
        out["loss_first_pass"] = first["loss"]
        return out

    steps, seconds = (cfg.steps, cfg.seconds) if stage == 1 else (cfg.restyle_steps, cfg.restyle_seconds)
    budget = Budget(steps, seconds, cfg.checkpoint_every, cfg.seed + stage)
    stage_dir = Path(run_dir) / f"stage{stage}" if run_dir is not None else None
    again = resume and stage_dir is not None and (stage_dir / "state.pt").is_file()
    return fit(net.decoder, step_fn, opt, budget, run_dir=stage_dir, resume=again, progress=progress,
               config=dataclasses.asdict(cfg) | {"stage": stage},
               desc=f"fa_scp stage {stage} ({cfg.profile})",
               callbacks=[LRSchedule(warmup(cfg.warmup))])


def train_fa_scp(cfg: FASCPConfig | None = None, *, run_dir=None, resume: bool = False, progress: bool = True
                 ) -> tuple[FASCPNet, dict[str, TrainResult], dict[str, torch.Tensor], str]:
    """Stage 1 (stylisation), then, when ``cfg.restylize``, stage 2 (re-stylisation).

    Returns the network, the result of each stage, the decoder's weights after
    stage 1 (the no-re-stylisation ablation) and a description of the data.
    """
    from ..data.training import CropSampler, photo_training_images

    cfg = cfg or FASCPConfig()
    files, desc = photo_training_images()
    contents = CropSampler(files, cfg.crop, load_size=cfg.load_size, progress=progress)
    styles = contents  # photo styles: the same pool, drawn independently
    torch.manual_seed(cfg.seed)
    net = FASCPNet(cfg)
    loss_fn = SCPLoss(cfg)
    results = {"stage1": _stage(net, loss_fn, contents, styles, cfg, 1, run_dir, resume, progress)}
    after_stage1 = {k: v.clone() for k, v in net.decoder.state_dict().items()}
    if cfg.restylize:
        results["stage2"] = _stage(net, loss_fn, contents, styles, cfg, 2, run_dir, resume, progress)
    return net, results, after_stage1, desc


def matched_budget(cfg: FASCPConfig, reference: registry.Entry) -> FASCPConfig:
    """``cfg`` with the iteration counts of the registered full model ``reference`` and no time limits.

    An ablation arm is compared with the full model at equal data and equal
    iterations: the full model's stages ran ``n1`` and ``n2`` iterations (a
    wall-time budget at the quick profile), so the arm runs ``n1`` + ``n2``
    (without stage 2, ``no_restyle`` runs all ``n1 + n2`` in stage 1).  Fixing
    the counts, rather than the wall time again, keeps the arms equal even when
    the machine is busy.
    """
    stages = reference.metrics.get("stages", {})
    n1 = int(stages.get("stage1", {}).get("iterations", reference.iterations))
    n2 = int(stages.get("stage2", {}).get("iterations", 0))
    if cfg.restylize:
        return cfg.replace(steps=n1, restyle_steps=n2, seconds=None, restyle_seconds=None)
    return cfg.replace(steps=n1 + n2, seconds=None, restyle_seconds=None)


def train_and_register(profile: str = "quick", *, run_dir=None, resume: bool = False, progress: bool = True,
                       name: str | None = None, variant: str = "full", **overrides) -> list[registry.Entry]:
    """``stylelib train fa_scp``: register ``fa_scp-<profile>`` (or ``...-<variant>``).

    A variant other than ``full`` trains for the registered full model's
    iteration counts (:func:`matched_budget`), so that notebook 01 compares
    arms at equal data and budget; the full model must be trained first.
    """
    cfg = FASCPConfig.for_profile(profile, variant).replace(**overrides)
    if variant != "full":
        reference = f"fa_scp-{profile}"
        if reference not in registry.entries():
            raise ValueError(f"fa_scp --variant {variant}: train the full model first (stylelib train fa_scp "
                             f"--profile {profile}); the variant copies its iteration counts")
        cfg = matched_budget(cfg, registry.entry(reference)).replace(**overrides)
    net, results, after_stage1, data = train_fa_scp(cfg, run_dir=run_dir, resume=resume, progress=progress)
    base = name or (f"fa_scp-{profile}" if variant == "full" else f"fa_scp-{profile}-{variant}")
    entries = []
    stage_rows = {k: {"iterations": r.steps, "seconds": round(r.seconds, 1), "stopped_by": r.stopped_by,
                      "final_loss_mean_last_50": float(r.history["loss"].tail(50).mean())} for k, r in results.items()}
    total_steps = sum(r.steps for r in results.values())
    total_seconds = sum(r.seconds for r in results.values())
    entries.append(registry.register(base, net.decoder.state_dict(), model="fa_scp", profile=profile,
                                     config=dataclasses.asdict(cfg) | {"variant": variant}, data=data,
                                     iterations=total_steps, seconds=total_seconds, metrics={"stages": stage_rows}))
    history = pd.concat([r.history.assign(stage=int(k[-1])) for k, r in results.items()], ignore_index=True)
    registry.save_history(base, history, ("stage", "step", "seconds", "loss", "coherence", "semantic", "content",
                                          "style", "identity", "loss_first_pass"))
    return entries


# ----------------------------------------------------------------------------- inference
@functools.lru_cache(maxsize=4)
def load_fa_scp(weights: str = "fa_scp-quick") -> FASCPNet:
    """The registered FA+SCP network ``weights`` (sha256 checked), in eval mode."""
    state, rec = registry.load(weights)
    net = FASCPNet(FASCPConfig.from_record(rec.config))
    net.decoder.load_state_dict(state)
    net.eval()
    return net


@torch.no_grad()
def stylize_fa_scp(content: torch.Tensor, style: torch.Tensor, *, weights: str = "fa_scp-quick", passes: int = 1,
                   net: FASCPNet | None = None, progress: bool = False) -> torch.Tensor:
    """Stylise ``content`` [1,3,H,W] with the photo ``style`` in one decoder pass (``passes=2``: twice)."""
    net = net or load_fa_scp(weights)
    return net.stylize(content, style, passes)
