# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# [← all notebooks](index.ipynb) · the method in our own words, with what its paper states and what we
# reconstructed: `docs/methods/03_consistency_pair.md` in the repository
#
# # 03 · Photo style transfer with consistency losses: two networks from two photos
#
# X. Yao, G. Puy, P. Pérez, *Photo style transfer with consistency losses*, ICIP 2019
# (arXiv 2005.04408).
#
# **The idea.** Take two photos, `a` and `b`, and nothing else: no training set, no pretrained
# decoder. Train two feed-forward networks, `f_ab` (photo `a` rendered in `b`'s style) and `f_ba`
# (the reverse). They share every convolution and differ only in their normalisation layers:
# conditional instance normalisation (CIN, Dumoulin et al. 2017), one `(gamma, beta)` per channel
# and per style. Besides a Gram-matrix style loss and a content loss, two consistency losses keep
# the output a photograph:
#
# * **cycle**: `f_ba(f_ab(a)) ≈ a` and `f_ab(f_ba(b)) ≈ b`: the two transfers must undo each other;
# * **self**: `f_ab(b) ≈ b` and `f_ba(a) ≈ a`: giving a photo its own style must change nothing.
#
# Because a style is only a set of normalisation parameters (3,206 numbers here, against 1.7 million
# shared convolution weights), a new style can be learnt by training those alone, with everything
# else frozen; the slides show 500 and 1000 iterations of such retraining. The paper publishes no
# numbers, no loss weights and no code, so the model (`stylelib/models/consistency_pair.py`; its
# training, adaptation and registration in `stylelib/recipes/consistency_pair.py`) is our
# reconstruction (its docstring gives the losses and what each rests on); the deviations table at the end
# says where and why.
#
# **What runs live and what was trained before.** This notebook trains live (with progress bars):
# the four arms of the ablation (both consistency losses, no cycle, no self, neither) on one pair,
# and one normalisation-only adaptation to a new style, timed side by side with the full training
# steps. A longer-trained pair (`stylelib train consistency_pair`: the pair, its adaptation at 500
# and 1000 iterations and a full retraining for the new style, all in one run, side by side) is
# registered in `stylelib.training.registry` and used for the generalisation section and for the
# adaptation-versus-retraining comparison at the full budget, because the full retraining does not
# fit in this notebook's time.
#
# **Running it.** The parameters below are the *quick* values (`params/quick/03_consistency_pair.yaml`): the
# outputs stored in this notebook come from `make reproduce`, the same run that wrote
# `figures/03_consistency_pair/`, and "Run All" gives them again on a laptop CPU (the index notebook lists
# the measured run time). `make test` runs this notebook with the tiny *ci* values instead
# (`params/ci/03_consistency_pair.yaml`, executed into `tests/notebooks/03_consistency_pair.ipynb` for nbval). With
# `figures_dir = None` nothing is written anywhere; `make lab` opens a copy of the notebooks, so
# what you change or save here never touches the repository.

# %% tags=["parameters"]
profile = "quick"
size = 208  # long side of the evaluation images, pixels
crop = 64  # training crops, pixels
load_size = 128  # short side of the photos before cropping, pixels
ablation_steps = 200  # live iterations of each ablation arm
ablation_arms = ["both", "neither"]  # of both, no cycle, no self, neither
ablation_seeds = 3  # seeds per arm: a difference counts only beyond their spread
live_adapt_steps = 500  # live normalisation-only iterations
pair_weights = "consistency_pair-quick"
n_unseen = 4  # unseen photos for the generalisation section
compare_baselines = True  # AdaIN and PhotoWCT (or its WCT + smoothing stand-in) on the same pair
figures_dir = None
seed = 0

# %%
# %matplotlib inline

import pandas as pd
import torch
from IPython.display import display

from stylelib import catalog
from stylelib.data import available_sets
from stylelib.errors import WeightsError
from stylelib.images import load_image
from stylelib.metrics import edge_ssim, gram_distance, ssim
from stylelib.models.consistency_pair import STYLE_A, STYLE_B, ConsistencyConfig, PairGenerator, count_parameters
from stylelib.recipes.consistency_pair import (adaptation_experiment, adaptation_row, load_consistency_pair,
                                               photo_roles, train_pair)
from stylelib.baselines import towards_style, trivial_baselines
from stylelib.report.claims import Claim, all_of, claims_table, compare_seeds, save_claims
from stylelib.report.markdown import as_markdown
from stylelib.report.outputs import Outputs
from stylelib.report.plotting import image_grid, loss_curves
from stylelib.smoothing import smooth_closed_form
from stylelib.training import registry

torch.manual_seed(seed)
outputs = Outputs(figures_dir, notebook="03_consistency_pair", profile=profile)
outputs

# %% [markdown]
# ## 1 · The photos
#
# With the DPST benchmark present (`$STYLELIB_DATA`), photo `a` is the input of DPST example 3 (a
# city by day) and photo `b` its reference (a city at dusk); the new style `c` of section 5 is the
# reference of example 1 (a red sky), and the unseen photos of section 4 are the inputs of other city
# and landscape examples. Without benchmark data, the same roles go to scikit-image's embedded
# photos (coffee, the cat, the astronaut; the rocket and the motorcycle unseen).

# %% tags=["nbval-ignore-output"]
roles = photo_roles()
print(f"data sets present: {', '.join(available_sets())}; photos from {roles['set']!r}")
for k in ("a", "b", "c"):
    print(f"  {k}: {roles[k].name}")
print("  unseen:", ", ".join(r.name for r in roles["unseen"][:n_unseen]))
a, b, c = (load_image(roles[k].path, size=size) for k in ("a", "b", "c"))
unseen = [load_image(r.path, size=size) for r in roles["unseen"][:n_unseen]]
fig = image_grid([[a, b, c]], col_titles=["photo a", "photo b", "new style c"], size=2.2)
outputs.save_figure(fig, "photos")
fig

# %% [markdown]
# ## 2 · The model
#
# One generator `G(x; W, theta_s)`: a 9×9 convolution, two stride-2 convolutions, five residual
# blocks at 128 channels, two nearest-neighbour upsamplings and a 9×9 output convolution, each
# followed by CIN (ReLU inside, sigmoid at the end). `f_ab = G(·; W, theta_b)` and
# `f_ba = G(·; W, theta_a)`. The counts below are those of the model as built.

# %%
G = PairGenerator(2, input_shortcut=ConsistencyConfig().input_shortcut)
counts = pd.DataFrame([
    {"parameters": "shared convolutions W", "count": count_parameters(G.conv_parameters())},
    {"parameters": "one style theta_s (gamma and beta of 16 CIN layers)", "count": count_parameters(G.style_parameters(0))},
    {"parameters": "the pair (W, theta_a, theta_b)", "count": count_parameters(G.parameters())},
])
as_markdown(counts)

# %% [markdown]
# ## 3 · Training on the pair, live, and the ablation
#
# Each arm trains a fresh pair on crops of `a` and `b` (`crop` px crops of the photos resized to a
# short side of `load_size` px, random flips, one crop of each per step, Adam at 1e-3, ten times lower
# for the last 20% of the steps) for `ablation_steps` iterations. The arms differ only in the
# consistency weights: both (cycle 10, self 5), no cycle, no self, neither. For each arm and
# direction we measure, on the whole photo at `size` px: SSIM and edge SSIM to the content photo
# (photorealism: structure kept) and the Gram distance to the style photo (`stylelib.metrics`:
# relative, relu1_1–relu5_1; 0 = the style's statistics). *Gram dist. content→style* is the untouched
# photo's distance, which a transfer should beat.
#
# The consistency terms are expected to raise SSIM to the content at a similar Gram distance; without
# them the style loss is free to paint texture into the photo. Each arm (`ablation_arms`) runs with
# `ablation_seeds` seeds (different initial weights and crops): a difference between two arms counts
# only when it exceeds the larger of the two arms' ranges over seeds.

# %% tags=["nbval-ignore-output"]
base_cfg = ConsistencyConfig.for_profile("quick").replace(crop=crop, load_size=load_size, steps=ablation_steps,
                                                          seed=seed, profile=profile)
base_w = {"cycle_weight": base_cfg.cycle_weight, "self_weight": base_cfg.self_weight}
all_arms = {
    "both": base_w,
    "no cycle": {**base_w, "cycle_weight": 0.0},
    "no self": {**base_w, "self_weight": 0.0},
    "neither": {"cycle_weight": 0.0, "self_weight": 0.0},
}
arms = {k: all_arms[k] for k in ablation_arms}
trained, seeded = {}, {}
for arm, weights in arms.items():
    for k in range(ablation_seeds):
        pair, res = train_pair(roles["a"].path, roles["b"].path, base_cfg.replace(**weights, seed=seed + k),
                               names=(roles["a"].name, roles["b"].name))
        seeded[arm, k] = (pair, res)
        print(f"{arm:<9} seed {seed + k}: {res.steps} it in {res.seconds:.1f} s "
              f"({res.seconds / res.steps:.3f} s per iteration)")
    trained[arm] = seeded[arm, 0]

# %% tags=["nbval-ignore-output"]
before_ab, before_ba = gram_distance(a, b), gram_distance(b, a)
rows = []
for (arm, k), (pair, res) in seeded.items():
    for direction, x, s, idx in (("a→b", a, b, STYLE_B), ("b→a", b, a, STYLE_A)):
        y = pair.G.stylize(x, idx)
        rows.append({"arm": arm, "seed": seed + k, "direction": direction, "SSIM to content": ssim(y, x),
                     "edge SSIM": edge_ssim(y, x), "Gram dist. output→style": gram_distance(y, s),
                     "Gram dist. content→style": before_ab if direction == "a→b" else before_ba,
                     "train seconds": res.seconds})
ablation = pd.DataFrame(rows)
outputs.save_table(ablation, "ablation")
as_markdown(ablation)

# %% tags=["nbval-ignore-output"]
per_seed = ablation.groupby(["arm", "seed"], sort=False)[["SSIM to content", "edge SSIM",
                                                         "Gram dist. output→style"]].mean().reset_index()
ablation_mean = per_seed.groupby("arm", sort=False)[["SSIM to content", "edge SSIM", "Gram dist. output→style"]].agg(
    ["mean", lambda v: v.max() - v.min()]).rename(columns={"<lambda_0>": "range over seeds"}, level=1)
ablation_mean.columns = [f"{m} ({st})" for m, st in ablation_mean.columns]
ablation_mean.index.name = "arm (mean of both directions, then over seeds)"
outputs.save_table(ablation_mean, "ablation_summary")
display(as_markdown(ablation_mean))
fig = image_grid(
    [[a, *[p.G.stylize(a, STYLE_B) for p, _ in trained.values()], b],
     [b, *[p.G.stylize(b, STYLE_A) for p, _ in trained.values()], a]],
    row_titles=["a → b", "b → a"], col_titles=["content", *trained, "style"], size=2.0)
outputs.save_figure(fig, "ablation")
fig

# %% tags=["nbval-ignore-output"]
fig = loss_curves({arm: res.history for arm, (_, res) in trained.items()},
                  ys=("loss", "style", "content", "cycle", "self"))
outputs.save_figure(fig, "ablation_losses")
fig

# %% [markdown]
# ## 4 · The registered pair, and photos it never saw
#
# `stylelib train consistency_pair` trained the same pair for longer (the weights table below says how
# long, on which photos and machine). Both directions are shown, and then `f_ab` is applied to unseen
# photos of similar scenes: the paper's claim is that a network trained on two photos still carries
# the style to new ones. When the registered pair's photos are not present here (no benchmark data),
# the live "both" arm plays its part.

# %% tags=["nbval-ignore-output"]
entries = registry.entries()
have_registered = pair_weights in entries and entries[pair_weights].config.get("pair") == roles["pair"]
if have_registered:
    reg = entries[pair_weights]
    base = load_consistency_pair(pair_weights)
    weights_table = registry.weights_table(
        [n for n in (pair_weights, f"{pair_weights}-retrained") if n in entries],
        extra={"styles": lambda e: ", ".join(e.config.get("names", [])), "pair": "pair"})
    outputs.save_table(weights_table, "weights")
    display(as_markdown(weights_table))
else:
    why = "not registered" if pair_weights not in entries else f"trained on {entries[pair_weights].config.get('pair')}"
    print(f"{pair_weights} {why}; photos here: {roles['pair']}; using the live 'both' arm instead")
    base = trained["both"][0]
base_name = pair_weights if have_registered else f"live 'both' arm ({ablation_steps} it)"
ab, ba = base.a_to_b(a), base.b_to_a(b)
unseen_out = [base.a_to_b(u) for u in unseen]
def generalisation_row(label, photo, output):
    v = towards_style(output, photo, b, kind="photorealistic")
    return {"photo": label, "SSIM to photo": ssim(output, photo), "edge SSIM": v.structure,
            "Gram dist. photo→b": v.baselines["content photo"],
            "Gram dist. colour transfer→b": v.baselines["colour transfer"], "Gram dist. output→b": v.gram,
            "moves towards the style": v.ok}


gen_rows = [generalisation_row("a (trained on)", a, ab)]
gen_rows += [generalisation_row(f"{r.name} (unseen)", u, y) for r, u, y in zip(roles["unseen"], unseen, unseen_out)]
generalisation = pd.DataFrame(gen_rows)
outputs.save_table(generalisation, "generalisation")
display(as_markdown(generalisation))
fig = image_grid([[a, ab, b, ba], *[[u, y, None, None] for u, y in zip(unseen, unseen_out)]],
                 row_titles=["pair", *[f"unseen {r.name}" for r in roles["unseen"][:n_unseen]]],
                 col_titles=["photo", "→ style b", "photo b", "b → style a"], size=2.2)
outputs.save_figure(fig, "pair_and_unseen")
fig

# %% [markdown]
# ## 5 · A new style by retraining the normalisation only
#
# `adapt` adds `theta_c` (initialised from `theta_b`), freezes `W`, `theta_a` and `theta_b`, and trains
# `theta_c` alone with the same losses, `b` replaced by `c`: the style of `f_ac(a)`, the content
# loss, the cycle back through the frozen `f_ca = G(·; theta_a)` and the self term `f_ac(c) ≈ c`.
# Adam runs at `adapt_lr` = 5e-3 (the full training at 1e-3; see the deviations: at 1e-3 the
# 1000-iteration result stayed further from the full retraining).
# Only 3,206 numbers train; the backward pass still goes through every layer, but computes no
# convolution-weight gradients, and the `b → a` half of the losses is not needed.
#
# **Live**: `live_adapt_steps` iterations from the pair of section 4, timed, beside the full training
# steps of section 3 (same crops, same machine, same run).

# %% tags=["nbval-ignore-output"]
adapted = load_consistency_pair(pair_weights) if have_registered else trained["both"][0]
checkpoints = sorted({max(1, live_adapt_steps // 2), live_adapt_steps})
live = adaptation_experiment(adapted, roles["a"].path, roles["c"].path, checkpoints=checkpoints,
                             name=roles["c"].name, run_full=False, crop=crop, load_size=load_size)
full_res = trained["both"][1]
adapt_per_it = live["adapt_result"].seconds / live["adapt_result"].steps
full_per_it = full_res.seconds / full_res.steps
rows = [adaptation_row("start: theta_b (f_ab)", adapted, a, c, STYLE_B, seconds=0.0, **{"trained parameters": 0})]
rows += [adaptation_row(f"normalisation only, {n} it", adapted, a, c, s, seconds=live["seconds"][n],
                        **{"trained parameters": count_parameters(G.style_parameters(0))})
         for n, s in live["styles"].items()]
live_table = pd.DataFrame(rows)
outputs.save_table(live_table, "adaptation_live")
print(f"seconds per iteration: normalisation only {adapt_per_it:.3f}, full training (section 3, 'both') "
      f"{full_per_it:.3f}: ratio {adapt_per_it / full_per_it:.2f}")
as_markdown(live_table)

# %% [markdown]
# **At the full budget** (registered, `stylelib train consistency_pair`): the pair was adapted to `c`
# for 500 and 1000 iterations and, in the same run, a new pair was trained on `(a, c)` from scratch
# with the budget of the original pair. Both are evaluated here on the whole photo: the style loss
# (our training loss: Gram matrices of VGG-19 relu1_2…relu4_4 against photo `c`, lower is closer),
# the Gram distance, SSIM and edge SSIM to `a`, and the cycle loss back through `theta_a`. The times
# are those the training run measured, side by side. The acceptance aim: after 1000 iterations the
# style loss is within 25% of the full retraining's.

# %% tags=["nbval-ignore-output"]
retrained_name = f"{pair_weights}-retrained"
have_full = have_registered and retrained_name in entries
if have_full:
    reg_pair = load_consistency_pair(pair_weights)
    full_pair = load_consistency_pair(retrained_name)
    adapt_styles = {int(k): v for k, v in reg.config["adapt_styles"].items()}
    adapt_secs = {int(k): v for k, v in reg.metrics["adapt_seconds"].items()}
    full_secs = reg.metrics["full_retraining_seconds"]
    cmp_rows = [adaptation_row("start: theta_b (f_ab)", reg_pair, a, c, STYLE_B, seconds=0.0,
                               **{"iterations": 0, "trained parameters": 0})]
    for n, s in sorted(adapt_styles.items()):
        cmp_rows.append(adaptation_row(f"normalisation only, {n} it", reg_pair, a, c, s, seconds=adapt_secs[n],
                                       **{"iterations": n,
                                          "trained parameters": count_parameters(reg_pair.G.style_parameters(s))}))
    cmp_rows.append(adaptation_row("full retraining on (a, c)", full_pair, a, c, STYLE_B, seconds=full_secs,
                                   **{"iterations": entries[retrained_name].iterations,
                                      "trained parameters": count_parameters(full_pair.G.parameters())}))
    comparison = pd.DataFrame(cmp_rows)
    full_style = comparison.iloc[-1]["style loss"]
    comparison["style loss / full"] = comparison["style loss"] / full_style
    comparison["time / full"] = comparison["seconds"] / full_secs
    outputs.save_table(comparison, "adaptation_vs_retraining")
    display(as_markdown(comparison))
    n_max = max(adapt_styles)
    fig = image_grid([[a, c, reg_pair.G.stylize(a, STYLE_B),
                       *[reg_pair.G.stylize(a, s) for _, s in sorted(adapt_styles.items())], full_pair.a_to_b(a)]],
                     col_titles=["photo a", "new style c", "start (theta_b)",
                                 *[f"CIN only, {n} it" for n in sorted(adapt_styles)], "full retraining"], size=2.0)
    outputs.save_figure(fig, "adaptation")
else:
    comparison = None
    print("the registered adaptation experiment needs the registered pair's photos; not available here")
    fig = image_grid([[a, c, *[adapted.G.stylize(a, s) for s in live["styles"].values()]]],
                     col_titles=["photo a", "new style c", *[f"CIN only, {n} it (live)" for n in live["styles"]]],
                     size=2.0)
    outputs.save_figure(fig, "adaptation")
fig

# %% [markdown]
# ## 6 · Against PhotoWCT and AdaIN on the same pair
#
# The paper compares with photorealistic methods such as PhotoWCT (Li et al., ECCV 2018) and DPST. We
# run, on `a → b` at `size` px: AdaIN with the committed `adain-quick` decoder (an artistic baseline),
# and PhotoWCT with its registered decoders when `photowct-quick` exists; otherwise a clearly labelled
# **stand-in**: WCT (committed `wct-quick` decoders) followed by PhotoWCT's closed-form smoothing
# (`stylelib.smoothing`), which is not PhotoWCT (no max-unpooling decoders).

# %% tags=["nbval-ignore-output"]
if compare_baselines:
    others = {"AdaIN": catalog.get("adain").fn(a, b)}
    try:
        others["PhotoWCT"] = catalog.get("photowct").fn(a, b)
    except WeightsError as exc:
        print(f"PhotoWCT unavailable ({exc}); using the WCT + smoothing stand-in")
        others["WCT + smoothing (stand-in, not PhotoWCT)"] = smooth_closed_form(catalog.get("wct").fn(a, b),
                                                                               a).clamp(0, 1)
    ours = {f"ours ({base_name})": ab,
            **({"ours, live 'no consistency' arm": trained["neither"][0].G.stylize(a, STYLE_B)}
               if "neither" in trained else {})}
    no_ops = trivial_baselines(a, b)
    no_op_gram = {k: gram_distance(v, b) for k, v in no_ops.items()}
    compared = {**ours, **others, **no_ops}
    baseline_table = pd.DataFrame([
        {"method": m, "SSIM to content": ssim(y, a), "edge SSIM": edge_ssim(y, a),
         "Gram dist. output→style": gram_distance(y, b),
         "moves towards the style": towards_style(y, a, b, kind="photorealistic", baselines=no_op_gram).ok}
        for m, y in compared.items()])
    outputs.save_table(baseline_table, "baselines")
    display(as_markdown(baseline_table))
    fig = image_grid([[a, b, *compared.values()]], col_titles=["content a", "style b", *compared], size=2.0)
    outputs.save_figure(fig, "baselines")
else:
    baseline_table, fig = None, None
fig

# %% [markdown]
# ## 7 · Deviations from the paper, and measured results vs the paper's claims
#
# The paper gives almost no settings; the "paper" column is our reconstruction of them (`docs/methods/03_consistency_pair.md`)
# (`ConsistencyConfig.paper()`), and every difference is listed with its reason:

# %%
deviations = pd.DataFrame(ConsistencyConfig().deviations())
deviations = pd.concat([deviations, pd.DataFrame([
    {"parameter": "hardware", "paper": "a GPU", "ours": "CPU (2 cores)",
     "why": "the reference machine has no GPU; budgets are minutes, not hours"},
    {"parameter": "live training in this notebook", "paper": "10k iterations per pair",
     "ours": "the ablation_steps parameter (quick: see params/quick/03_consistency_pair.yaml)",
     "why": "the registered pair is trained longer by stylelib train consistency_pair"},
])], ignore_index=True)
outputs.save_table(deviations, "deviations")
as_markdown(deviations)

# %% [markdown]
# The paper's claims (from the abstract and the slides; it reports no numbers) next to this run's
# measurements. The *ci* profile is far too short for conclusions: read the *quick* run under
# `figures/03_consistency_pair/`.

# %% tags=["nbval-ignore-output"]
claims = [
    compare_seeds("The consistency losses keep the result photorealistic: a higher SSIM to the content with them.",
                  per_seed, "both", "neither", "SSIM to content", higher_is_better=True, label="neither"),
    compare_seeds("... at a similar Gram distance to the style (ours: not more than the arm without them; lower "
                  "is closer).", per_seed, "both", "neither", "Gram dist. output→style", higher_is_better=False,
                  label="neither"),
    Claim("The pair stylises its own training photo a with the style of b.",
          value={"photo": generalisation.iloc[0]["Gram dist. photo→b"],
                 "colour": generalisation.iloc[0]["Gram dist. colour transfer→b"],
                 "output": generalisation.iloc[0]["Gram dist. output→b"],
                 "edge": generalisation.iloc[0]["edge SSIM"],
                 "moved": [bool(generalisation.iloc[0]["moves towards the style"])]},
          measured="Gram distance to b: photo {photo:.3f}, colour transfer {colour:.3f}, output {output:.3f}; "
                   "edge SSIM {edge:.2f}",
          criterion=all_of("moved", "photo a (Gram 10 % below the best no-op output, edge SSIM ≥ 0.5)")),
    Claim("Two networks trained on two photos stylise unseen photos.",
          value={"per photo": "; ".join(f"{r['photo']}: Gram dist. to b {r['Gram dist. photo→b']:.3f} → "
                                        f"{r['Gram dist. output→b']:.3f} (colour transfer "
                                        f"{r['Gram dist. colour transfer→b']:.3f})"
                                        for _, r in generalisation.iloc[1:].iterrows()),
                 "moved": [bool(x) for x in generalisation.iloc[1:]["moves towards the style"]]},
          measured="{per photo}", criterion=all_of("moved", "every unseen photo (beats the no-op outputs by 10 %, "
                                                   "edge SSIM ≥ 0.5)"),
          fails="not on every photo"),
]
if comparison is not None:
    first, last = min(adapt_styles), max(adapt_styles)
    at = {n: comparison[comparison["iterations"] == n].iloc[0] for n in (first, last)}
    claims.append(Claim(
        "Retraining only the normalisation parameters adapts the pair to a new style (slides: 500 and 1000 "
        "iterations); ours: within 25% of the full retraining's style loss after 1000 iterations.",
        value={"first": first, "last": last, "style first": at[first]["style loss / full"],
               "style loss / full at the last checkpoint": at[last]["style loss / full"],
               "time first": at[first]["time / full"], "time last": at[last]["time / full"],
               "trained": int(at[last]["trained parameters"]),
               "all": int(comparison.iloc[-1]["trained parameters"])},
        measured="style loss / full retraining: {style first:.2f} at {first} it, "
                 "{style loss / full at the last checkpoint:.2f} at {last} it; time / full retraining "
                 "{time first:.2f} and {time last:.2f}; {trained} trained parameters instead of {all}",
        criterion=None, untested="not judged: adapt_lr (5e-3) was chosen on this very pair and style, and is not "
        "yet confirmed on another (our aim: a ratio of 1.25 or less)"))
else:
    claims.append(Claim(
        "Retraining only the normalisation parameters adapts the pair to a new style.",
        value=", ".join(f"{r['run']}: style loss {r['style loss']:.3g}" for _, r in live_table.iterrows()),
        measured="the registered comparison needs the DPST photos; live run only: {value}"))
claims.append(Claim(
    "Training is part of each transfer (no other data); inference is one forward pass.",
    value={"seconds": full_res.seconds, "steps": full_res.steps, "per it": full_per_it,
           "ratio": adapt_per_it / full_per_it},
    measured="one live pair: {seconds:.0f} s for {steps} it ({per it:.2f} s per it) on this CPU; "
             "normalisation-only iterations cost {ratio:.2f} of a full one",
    untested="measured (no paper number)"))
claims = claims_table(claims)
save_claims(outputs, claims)
as_markdown(claims)

# %% [markdown]
# ## Saving the run
#
# `outputs.finish` writes `run.json` (profile, date, duration, versions, data, weights) next to the
# figures; with `figures_dir = None` it does nothing.

# %%
saved = outputs.finish({
    "parameters": dict(size=size, crop=crop, load_size=load_size, ablation_steps=ablation_steps,
                       live_adapt_steps=live_adapt_steps, pair_weights=pair_weights, n_unseen=n_unseen,
                       compare_baselines=compare_baselines, seed=seed),
    "data_sets": {roles["set"]: [roles[k].name for k in ("a", "b", "c")] + [r.name for r in roles["unseen"][:n_unseen]]},
    "weights": {n: entries[n].sha256 for n in (pair_weights, f"{pair_weights}-retrained") if n in entries},
})
print("saved:", "nothing (figures_dir is None)" if saved is None else f"{len(outputs.files)} files in {outputs.dir}")

# %% [markdown]
# ## Try it yourself
#
# The widget below runs a pair of networks trained live on your two photos at 128 px (the knob is the
# number of training iterations; each takes a fraction of a second here). Pick a content photo and a style
# from the suite's images, or upload your own (PNG or JPEG, at most 20 MB), set the knob (where the method
# has one) and press the button: the result appears next to the inputs with its run time, its Gram
# distance to the style (beside the content photo's and a plain colour transfer's, the two no-op outputs
# every stylizer must beat) and its SSIM to the content photo. Nothing is saved. A file that is not an
# image gets a one-line message in the status line.

# %% tags=["try-it", "nbval-ignore-output"]
from stylelib.widgets import try_it

try_it("consistency_pair", size=128)
