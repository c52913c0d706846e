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
# reconstructed: `docs/methods/02_stylebank.md` in the repository
#
# # 02 · StyleBank (CVPR 2017): one auto-encoder, an explicit filter bank per style
#
# D. Chen, L. Yuan, J. Liao, N. Yu, G. Hua, *StyleBank: An Explicit Representation for Neural Image
# Style Transfer*, CVPR 2017 (arXiv 1703.09210).
#
# **The idea.** A feed-forward stylizer usually hides its style somewhere in its weights. StyleBank
# makes it explicit: one encoder `E` and one decoder `D` are shared by every style, and each style `i`
# is a single linear 3×3 convolution `K_i` (its *filter bank*) applied to the encoder's features:
#
# * auto-encoder branch: `O = D(E(I))`, trained to reproduce the photo (`L_I`, MSE);
# * stylizing branch: `O_i = D(K_i ∗ E(I))`, trained with a content, a Gram style and a TV loss (`L_K`).
#
# The two are trained in turn (**T** stylizing steps, then one auto-encoder step; T = 2), each with its own
# Adam optimiser; in the auto-encoder step the gradients of `E` and `D` are rescaled to the magnitude of the
# latest stylizing step. Because `D(E(I))` must give the photo back, the style cannot live in `E` and `D`:
# it is pushed into the banks. That gives three things the paper shows and this notebook measures:
#
# 1. **incremental learning**: a new style is a new bank trained alone, with `E` and `D` frozen;
# 2. **linear fusion**: `D((Σ w_i K_i) ∗ F)` blends styles;
# 3. **region fusion** (paper Eq. 6): `D(Σ K_i ∗ (M_i × F))` paints each region `M_i` with its own style,
#    the regions found by K-means on the features.
#
# The model is `stylelib/models/stylebank.py`; its weights were trained on this project's reference
# machine (2 CPU cores, shared) by `stylelib train stylebank --profile quick`, which also ran the
# incremental-learning comparison and recorded its numbers in the registry. This notebook imports, sets
# parameters, runs and plots.
#
# **Running it.** The parameters below are the *quick* values (`params/quick/02_stylebank.yaml`): the
# outputs stored in this notebook come from `make reproduce`, the same run that wrote
# `figures/02_stylebank/`, and "Run All" gives them again on a laptop CPU (the index notebook lists
# the measured run time). `make test` runs this notebook with the tiny *ci* values instead
# (`params/ci/02_stylebank.yaml`, executed into `tests/notebooks/02_stylebank.ipynb` for nbval). With
# `figures_dir = None` nothing is written anywhere; `make lab` opens a copy of the notebooks, so
# what you change or save here never touches the repository.
# Every profile uses the committed weights.

# %% tags=["parameters"]
profile = "quick"
size = 256
n_photos = 4
n_recon = 28
fusion_styles = "most_different"
fusion_weights = [0.0, 0.25, 0.5, 0.75, 1.0]
kmeans_k = 2
kmeans_n_init = 10
timing_size = 512
weights = "stylebank-quick"
figures_dir = None
seed = 0

# %%
# %matplotlib inline
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from stylelib.training import registry
from stylelib.report.bench import machine_info
from stylelib.data import available_sets, get_set, spread
from stylelib.data.training import held_out_photos
from stylelib.images import load_image
from stylelib.masks import load_mask, mask_to_rgb, one_hot
from stylelib.metrics import measure, psnr
from stylelib.models.stylebank import StyleBankConfig, kmeans_masks
from stylelib.recipes.stylebank import (StyleReferences, bank_independence, config_of, gram_distances, load_single, load_stylebank,
                                        smoothed)
from stylelib.report.claims import Claim, all_of, at_least, claims_table, save_claims
from stylelib.report.plotting import image_grid, loss_curves
from stylelib.report.markdown import as_markdown
from stylelib.report.outputs import Outputs

torch.manual_seed(seed)
outputs = Outputs(figures_dir, notebook="02_stylebank", profile=profile)
outputs

# %% [markdown]
# ## 1 · The trained networks
#
# Three registry entries come from one `stylelib train stylebank` run: `stylebank-quick` (E, D and the
# banks of the first styles, trained together), `stylebank-quick-incremental` (one bank for a style the
# first run never saw, trained afterwards with E and D frozen) and `stylebank-quick-single` (a whole
# network, E, D and one bank, trained from scratch for that same style alone, with three times the
# bank's time budget: the other arm of the comparison in section 5). With the `art` set the styles are
# StyleBank's own training paintings (`sb_00` …); without it, the embedded textures.

# %% tags=["nbval-ignore-output"]
present = available_sets()
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; data sets present: {', '.join(present)}")
names = [weights, f"{weights}-incremental", f"{weights}-single"]
known = registry.entries()
weights_table = registry.weights_table(names, extra={"mode": lambda e: e.config.get("mode", "full"),
                                                   "styles": lambda e: ", ".join(e.config["styles"])})
outputs.save_table(weights_table, "weights")
as_markdown(weights_table)

# %% tags=["nbval-ignore-output"]
net = load_stylebank(weights)  # E, D, the jointly trained banks, and the incremental bank appended last
single = load_single(f"{weights}-single")
cfg = config_of(weights)
n_joint = len(known[weights].config["styles"])
style_names = net.style_names
style_ref = StyleReferences(net, cfg, size)
style_images = style_ref.images
if not style_ref.have_images:
    print("the training style images are not on this machine (set $STYLELIB_DATA); Gram distances below are "
          "measured to each bank's own output on the same photo instead")
print(f"{n_joint} jointly trained banks + 1 incremental: {', '.join(style_names)}")

# %% [markdown]
# ## 2 · Training curves, per branch
#
# The loss history of the multi-style run, as logged by the training loop: the stylizing branch's style
# and content terms (two of every three steps), and the auto-encoder branch's reconstruction MSE (every
# third step). Each curve is a rolling mean over 20 of its steps.

# %% tags=["nbval-ignore-output"]
hist = registry.load_history(weights)
curves = {"stylizing branch": pd.concat([smoothed(hist, "style"), smoothed(hist, "content")["content"]], axis=1),
          "auto-encoder branch": smoothed(hist, "reconstruction")}
fig = loss_curves(curves, x="step", ys=["style", "content", "reconstruction"])
outputs.save_figure(fig, "training_curves")
fig

# %% [markdown]
# ## 3 · Every trained style on held-out photos
#
# Rows: held-out photos (`held_out_photos()`: the `art` contents, which no network here trained on);
# columns: the photo, the auto-encoder's reconstruction, then each bank. The last column is the
# incremental bank. The top row shows the style images.

# %% tags=["nbval-ignore-output"]
photo_files, photo_desc = held_out_photos()
photos = [load_image(p, size=size) for p in spread(photo_files, n_photos)]
# the photo that picks the fusion banks (section 6) is not one the fusion is judged on
selection_photo = load_image(next(p for p in photo_files if p not in spread(photo_files, n_photos)), size=size)
grid = [[None, None, *style_images]]
for img in photos:
    grid.append([img, net.reconstruct(img), *[net.stylize(img, i) for i in range(len(style_names))]])
titles = ["photo", "auto-encoder", *[n + (" (incremental)" if i >= n_joint else "") for i, n in enumerate(style_names)]]
fig = image_grid(grid, row_titles=["style", *[p.stem for p in spread(photo_files, n_photos)]], col_titles=titles,
                 size=1.5)
outputs.save_figure(fig, "styles_grid")
print(photo_desc)
fig

# %% [markdown]
# ## 4 · The auto-encoder reconstructs, and does not stylise
#
# PSNR of `D(E(I))` against `I` on held-out photos at a long side of `size` pixels. Then the check that
# the style lives in the banks, not in `E` and `D`: for every style, the Gram distance to the style
# (`stylelib.metrics.gram_distance`, relative, relu1_1…relu5_1; `gram_distances` computes it for many
# images at once) of the reconstruction divided by that of
# the photo itself. A reconstruction carrying style would have ratios well below 1; the stylized
# outputs are shown for comparison.

# %% tags=["nbval-ignore-output"]
recon_rows = []
for path in spread(photo_files, n_recon):
    img = load_image(path, size=size)
    recon_rows.append({"photo": path.stem, "PSNR, dB": psnr(net.reconstruct(img), img)})
recon = pd.DataFrame(recon_rows)
psnr_median = float(recon["PSNR, dB"].median())
print(f"auto-encoder: median PSNR {psnr_median:.2f} dB over {len(recon)} held-out photos at {size} px "
      f"(min {recon['PSNR, dB'].min():.2f}, max {recon['PSNR, dB'].max():.2f})")
outputs.save_table(recon, "reconstruction_psnr")

style_rows = []
for img in photos:
    rec = net.reconstruct(img)
    stylized = [net.stylize(img, i) for i in range(len(style_names))]
    refs = [style_ref(i, img) for i in range(len(style_names))]
    d = gram_distances([img, rec, *stylized], refs)  # rows: photo, reconstruction, each bank; columns: styles
    for i, name in enumerate(style_names):
        style_rows.append({"style": name, "reconstruction / photo": float(d[1, i] / d[0, i]),
                           "stylized / photo": float(d[2 + i, i] / d[0, i])})
not_stylised = pd.DataFrame(style_rows).groupby("style", sort=False).median()
not_stylised.index.name = "style (median over photos): Gram distance to the style, relative to the photo's"
outputs.save_table(not_stylised, "autoencoder_not_stylised")
as_markdown(not_stylised)

# %% [markdown]
# ## 5 · Incremental learning: a new bank alone vs the whole network
#
# `stylelib train stylebank` trained, one after the other on the same machine, (a) a new bank for a style
# that was not in the first run, with `E` and `D` frozen (the paper's incremental learning), for
# `incremental_seconds` (4 minutes at the quick profile), and (b) a whole network (E, D and one bank, with
# the alternating schedule) from scratch for that style alone, for `single_seconds` (12 minutes). Style
# losses are the training loss's style term, a rolling mean over 20 stylizing steps; the *matched time*
# is when the incremental run's curve first comes within 20% of the whole network's final value.

# %% tags=["nbval-ignore-output"]
inc_entry, single_entry = known[f"{weights}-incremental"], known[f"{weights}-single"]
cmp = inc_entry.metrics
inc_hist = registry.load_history(f"{weights}-incremental")
single_hist = registry.load_history(f"{weights}-single")
new_name = inc_entry.config["styles"][0]
comparison = pd.DataFrame([
    {"run": "new bank only (E, D frozen)", "steps": cmp["incremental_steps"],
     "wall time, s": cmp["incremental_seconds"], "final style loss": cmp["incremental_final_style_loss"]},
    {"run": "whole network, this style alone", "steps": cmp["full_steps"], "wall time, s": cmp["full_seconds"],
     "final style loss": cmp["full_final_style_loss"]},
])
style_ratio = cmp["style_loss_ratio"]
time_ratio = cmp["time_ratio_to_match"]
print(f"style {new_name}: final style loss ratio (bank / whole network) = {style_ratio:.3f}; the bank's first "
      f"{cmp['window']} steps average {cmp['incremental_first_style_loss']:.3g}, "
      f"its last {cmp['incremental_final_style_loss']:.3g}")
print("incremental run within 20% of the whole network's final style loss after "
      + (f"{cmp['incremental_seconds_to_match']:.0f} s = {time_ratio:.3f} of the whole network's time"
         if time_ratio is not None else "never (within its budget)"))
outputs.save_table(comparison, "incremental")
as_markdown(comparison)

# %% tags=["nbval-ignore-output"]
fig = Figure(figsize=(9, 3.2), layout="constrained")
ax_t, ax_s = fig.subplots(1, 2)
for label, h in (("new bank only", inc_hist), ("whole network", single_hist)):
    sm = smoothed(h, "style")
    ax_t.plot(sm["seconds"], sm["style"], label=label)
    ax_s.plot(sm["step"], sm["style"], label=label)
ax_t.axhline(1.2 * cmp["full_final_style_loss"], color="gray", ls="--", lw=0.8, label="1.2 × whole network, final")
for ax, xl in ((ax_t, "wall time, s"), (ax_s, "step")):
    ax.set_yscale("log")
    ax.set_xlabel(xl)
    ax.set_ylabel("style loss (rolling mean)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
fig.suptitle(f"incremental learning of {new_name}")
outputs.save_figure(fig, "incremental_curves")
fig

# %% tags=["nbval-ignore-output"]
inc_index = style_names.index(new_name)
fig = image_grid([[img, style_images[inc_index], net.stylize(img, inc_index), single.stylize(img, 0)]
                  for img in photos],
                 col_titles=["photo", f"style {new_name}", "new bank (E, D frozen)", "whole network"], size=1.8)
outputs.save_figure(fig, "incremental_images")
fig

# %% [markdown]
# ## 6 · Linear fusion
#
# `D((w K_A + (1 − w) K_B) ∗ F)` for `w` in `fusion_weights`. Since the bank is linear, this is also
# `D(w K_A ∗ F + (1 − w) K_B ∗ F)`. A and B are the banks `fusion_styles`, or, with
# `fusion_styles = "most_different"`, the two banks whose outputs on a *selection* photo (held out, and
# not among the photos the fusion is then judged on) are furthest apart
# in Gram distance (many of our briefly trained banks still look alike, and fusing two look-alikes tests
# nothing). The plot gives the Gram distance of each fused image to style A and to style B against the
# weight, for every photo; the claim to check is that the distance to a style falls monotonically as the
# weight moves towards it, which we test for both A and B.

# %% tags=["nbval-ignore-output"]
if fusion_styles == "most_different":
    first_outputs = [net.stylize(selection_photo, i) for i in range(len(style_names))]
    apart = gram_distances(first_outputs, first_outputs)
    apart = apart + apart.T
    b, a = sorted(divmod(int(apart.argmax()), len(style_names)))
    fusion_styles = [a, b]
a, b = fusion_styles
fusion_rows, strips = [], []
for k, img in enumerate(photos):
    strip = [net.fuse_linear(img, {a: w, b: 1 - w}) for w in fusion_weights]
    strips.append(strip)
    d = gram_distances(strip, [style_ref(a, img), style_ref(b, img)])
    for w, (to_a, to_b) in zip(fusion_weights, d.tolist()):
        fusion_rows.append({"photo": k, "weight on A": w, "Gram dist. to A": to_a, "Gram dist. to B": to_b})
fusion = pd.DataFrame(fusion_rows)
monotone = {k: bool((sub["Gram dist. to A"].diff().dropna() < 0).all()) for k, sub in fusion.groupby("photo")}
monotone_b = {k: bool((sub["Gram dist. to B"].diff().dropna() > 0).all()) for k, sub in fusion.groupby("photo")}
n_monotone, n_monotone_b = sum(monotone.values()), sum(monotone_b.values())
print(f"A = {style_names[a]}, B = {style_names[b]}: the Gram distance to A falls monotonically as the weight moves "
      f"towards A on {n_monotone} of {len(monotone)} photos; the distance to B as it moves towards B on "
      f"{n_monotone_b} of {len(monotone_b)}")
outputs.save_table(fusion, "linear_fusion")
# the same check for the first two banks, whatever they look like (no choice involved)
first_pair = (0, 1)
first_pair_monotone = 0
for img in photos:
    strip0 = [net.fuse_linear(img, {first_pair[0]: w, first_pair[1]: 1 - w}) for w in fusion_weights]
    d0 = gram_distances(strip0, [style_ref(first_pair[0], img)])[:, 0]
    first_pair_monotone += bool((d0.diff() < 0).all())
print(f"for comparison, A = {style_names[first_pair[0]]}, B = {style_names[first_pair[1]]} (the first two banks): "
      f"monotone towards A on {first_pair_monotone} of {len(photos)} photos")
as_markdown(fusion[fusion["photo"] == 0])

# %% tags=["nbval-ignore-output"]
fig = image_grid([[style_images[b], *strips[0], style_images[a]]],
                 col_titles=[f"B: {style_names[b]}", *[f"w_A = {w:g}" for w in fusion_weights],
                             f"A: {style_names[a]}"], size=1.6)
outputs.save_figure(fig, "linear_fusion_strip")
fig

# %% tags=["nbval-ignore-output"]
fig = Figure(figsize=(5, 3.2), layout="constrained")
ax = fig.subplots()
for k, sub in fusion.groupby("photo"):
    ax.plot(sub["weight on A"], sub["Gram dist. to A"], "o-", color="C0", alpha=0.6,
            label="to A" if k == 0 else None)
    ax.plot(sub["weight on A"], sub["Gram dist. to B"], "s--", color="C1", alpha=0.6,
            label="to B" if k == 0 else None)
ax.set_xlabel("fusion weight on A")
ax.set_ylabel("Gram distance (relative)")
ax.set_yscale("log")
ax.grid(True, alpha=0.3)
ax.legend()
outputs.save_figure(fig, "linear_fusion_gram")
fig

# %% [markdown]
# ## 7 · Region fusion
#
# `D(Σ_i K_i ∗ (M_i × F))` (paper Eq. 6). The paper segments the content "automatically with K-means";
# we cluster the encoder features (each position's 128-vector normalised to unit length, k-means++,
# `kmeans_n_init` restarts, `stylelib.kmeans`) into `kmeans_k` regions and give region `i` the bank
# `i` of `fusion_styles` (cycling). When the `dpst` set is present, a DPST photo is also fused with its
# hand-made segmentation masks (its two largest labels; DPST photos were training content, so this one
# is not held out).

# %% tags=["nbval-ignore-output"]
region_styles = [fusion_styles[i % len(fusion_styles)] for i in range(kmeans_k)]
img = photos[0]
masks = kmeans_masks(net, img, kmeans_k, seed=seed, n_init=kmeans_n_init)
fused = net.fuse_regions(img, region_styles, masks)
mask_images = [F.interpolate(m[None, None], size=img.shape[-2:], mode="nearest").expand(1, 3, -1, -1) for m in masks]
rows = [[img, *mask_images, *[net.stylize(img, s) for s in region_styles[:2]], fused]]
row_titles = ["K-means"]
if "dpst" in present:
    pair = get_set("dpst").pairs[0]
    dimg = load_image(pair.content.path, size=size)
    labels = load_mask(pair.content_mask, size=dimg.shape[-2:])
    counts = torch.bincount(labels.flatten(), minlength=9)
    top = torch.argsort(counts, descending=True)[:2]
    onehot = one_hot(labels)[0]
    dmasks = torch.stack([onehot[top[0]], 1 - onehot[top[0]]])  # the largest region, and everything else
    rows.append([dimg, mask_to_rgb(labels), dmasks[0].expand(1, 3, -1, -1), net.stylize(dimg, fusion_styles[0]),
                 net.stylize(dimg, fusion_styles[1]), net.fuse_regions(dimg, fusion_styles[:2], dmasks)])
    row_titles.append(f"DPST masks ({pair.content.name})")
    print(f"DPST photo {pair.content.name}: region 1 = label {int(top[0])} ({counts[top[0]] / labels.numel():.0%}), "
          "region 2 = the rest")
ncols = max(len(r) for r in rows)
col_titles = (["photo", *[f"mask {i + 1} → {style_names[s]}" for i, s in enumerate(region_styles)],
               *[f"{style_names[s]} alone" for s in region_styles[:2]], "region fusion"]
              + [""] * ncols)[:ncols]
fig = image_grid(rows, row_titles=row_titles, col_titles=col_titles, size=1.8)
outputs.save_figure(fig, "region_fusion")
print(f"K-means regions on {img.shape[-1]}x{img.shape[-2]} px: "
      + ", ".join(f"{float(m.mean()):.0%}" for m in masks) + " of the features")
fig

# %% [markdown]
# ## 8 · Speed
#
# One stylization (encoder, bank, decoder) of a `timing_size` × `timing_size` image on this machine
# (median of 3, after a warm-up); the paper reports real time on a GPU.

# %% tags=["nbval-ignore-output"]
square = torch.rand(1, 3, timing_size, timing_size, generator=torch.Generator().manual_seed(seed))
net.stylize(square, 0)
seconds = sorted(measure(net.stylize, square, 0)[1] for _ in range(3))[1]
machine = machine_info()
device_desc = f"CPU: {machine['cpu']}, {machine['cores']} cores, {machine['torch_threads']} torch threads"
print(f"{seconds * 1000:.1f} ms per {timing_size} px image ({1 / seconds:.1f} images/s); {device_desc}")

# %% [markdown]
# ## 9 · Deviations from the paper, and measured results vs the paper's claims
#
# Where our training differs from the paper (rows from `StyleBankConfig.deviations()`, comparing the
# quick profile with `StyleBankConfig.paper()`, which holds the paper's values as far as our reconstruction (`docs/methods/02_stylebank.md`)
# could establish them), and what is the same:

# %%
deviations = pd.concat([
    pd.DataFrame(StyleBankConfig.for_profile("quick").deviations()),
    pd.DataFrame([
        {"parameter": "style targets", "paper": "random 512 px crops of the style image, like the content",
         "ours": "Gram matrices of the whole style image at style_size, computed once",
         "why": "saves a VGG pass per step on the CPU"},
        {"parameter": "content photos", "paper": "about 1000 MS-COCO images",
         "ours": "the DPST photos (training_images('content')), or the embedded set",
         "why": "no download at run time; the art photos are held out for evaluation"},
        {"parameter": "hardware", "paper": "one GPU", "ours": "one core of a 2-core CPU, shared",
         "why": "the reference machine has no GPU"},
    ]),
], ignore_index=True)
outputs.save_table(deviations, "deviations")
as_markdown(deviations)

# %% [markdown]
# The paper's claims next to what this run measured. The *ci* profile uses tiny images, so read the
# *quick* output under `figures/02_stylebank/`.

# %% tags=["nbval-ignore-output"]
recon_ratio = float(not_stylised["reconstruction / photo"].median())
stylized_ratio = float(not_stylised["stylized / photo"].median())
inc_minutes, full_minutes = cmp["incremental_seconds"] / 60, cmp["full_seconds"] / 60
fusion_first = fusion[fusion["photo"] == 0]["Gram dist. to A"]
quick_match = time_ratio is not None and cmp["incremental_first_style_loss"] <= 1.2 * cmp["full_final_style_loss"]
independence = bank_independence(net, photos[0], bank=a, seed=seed)
claims = claims_table([
    Claim("The auto-encoder branch reconstructs photos: the style is not in E and D.",
          value={"psnr": psnr_median, "n": len(recon), "size": size, "recon": recon_ratio, "stylized": stylized_ratio,
                 "not stylised": list(not_stylised["reconstruction / photo"] > 0.8),
                 "closer": int((not_stylised["reconstruction / photo"] <= 0.8).sum()), "styles": len(not_stylised),
                 "aim": "at least" if psnr_median >= 20 else "below"},
          measured="median PSNR {psnr:.1f} dB on {n} held-out photos at {size} px; Gram distance to the styles, "
                   "relative to the photo's: reconstruction {recon:.2f}, stylized outputs {stylized:.2f}",
          criterion=all_of("not stylised", "every style (reconstruction / photo > 0.8)"),
          fails="partly: the reconstruction is itself closer than the photo to {closer} of the {styles} styles "
                "(ratio ≤ 0.8), so E and D still carry some common style",
          note="PSNR {aim} our 20 dB aim"),
    Claim("Each bank holds one style; banks are independent.",
          value=independence | {"name": style_names[a],
                                "flags": [independence["all identical"], independence["changed"]]},
          measured="the trained network with bank {name} perturbed (10 % noise): {identical} of the other "
                   "{others} banks give bit-identical outputs; bank {name}'s output moves by {mean change:.3g}",
          criterion=all_of("flags", "every other bank bit-identical, and the perturbed bank's output changed")),
    Claim("Linear fusion of banks blends styles.",
          value={"A": style_names[a], "B": style_names[b], "monotone A": list(monotone.values()),
                 "n A": n_monotone, "n B": n_monotone_b, "photos A": len(monotone), "photos B": len(monotone_b),
                 "at 0": fusion_first.iloc[0], "at 1": fusion_first.iloc[-1],
                 "first": style_names[first_pair[0]], "second": style_names[first_pair[1]],
                 "n first": first_pair_monotone, "photos": len(photos),
                 "for B": " and B" if n_monotone_b == len(monotone_b)
                 else f"; for B only on {n_monotone_b}/{len(monotone_b)} photos (flat near B)"},
          measured="banks {A} (A) and {B} (B): the Gram distance to A falls monotonically as the weight moves "
                   "towards A on {n A}/{photos A} photos ({at 0:.3g} at w = 0 → {at 1:.3g} at w = 1 on the first); "
                   "the distance to B as it moves towards B on {n B}/{photos B}; banks {first} → {second} "
                   "(the first two): {n first}/{photos}",
          criterion=all_of("monotone A", "every photo (distance to A falls as the weight moves towards A)"),
          holds="consistent for A{for B}; for the first two banks: {n first}/{photos}",
          fails="not on every photo"),
    Claim("Region fusion: regions found by K-means, each with its own bank (Eq. 6).",
          value={"k": kmeans_k, "dpst": "; DPST masks too" if "dpst" in present else ""},
          measured="{k} K-means regions on the encoder features{dpst}",
          untested="shown (qualitative, as in the paper)"),
    Claim("Incremental learning: a new style is learnt with E and D frozen, much faster than a whole network "
          "(minutes rather than hours; 20-40× is quoted by a summary, unverified).",
          value={"inc": inc_minutes, "full": full_minutes, "style": style_ratio,
                 "speed-up": (1 / time_ratio if time_ratio else float("inf")) if time_ratio is not None else 0.0,
                 "when": (f"within 20% after {time_ratio:.2f} of the whole network's time" if time_ratio is not None
                          else "never within 20% in its budget")
                 + (" (already in its first 20 steps: the frozen, trained decoder does most of the work)"
                    if quick_match else "")},
          measured="after {inc:.1f} min the bank's style loss is {style:.2f}× that of the whole network after "
                   "{full:.1f} min; {when}; tests: every E and D weight bit-identical",
          criterion=at_least(20, "speed-up", unit="×"), fails="not reproduced at this budget",
          note="{speed-up:.1f}× faster to reach the whole network's style loss"),
    Claim("Real-time stylization (GPU).",
          value={"ms": seconds * 1000, "size": timing_size, "device": device_desc},
          measured="{ms:.0f} ms per {size} px image; {device}", untested="not comparable (CPU here)"),
])
save_claims(outputs, claims)
as_markdown(claims)

# %% [markdown]
# ## Saving the run
#
# `outputs.finish` writes `run.json` next to the figures (nothing with `figures_dir = None`).

# %%
saved = outputs.finish({
    "parameters": dict(size=size, n_photos=n_photos, n_recon=n_recon, fusion_styles=fusion_styles,
                       fusion_weights=fusion_weights, kmeans_k=kmeans_k, kmeans_n_init=kmeans_n_init,
                       timing_size=timing_size, weights=weights, seed=seed),
    "data_sets": present,
    "weights": {n: known[n].sha256 for n in names if n in known},
})
print("saved:", "nothing (figures_dir is None)" if saved is None else f"{len(outputs.files)} files in {outputs.dir}")

# %% [markdown]
# ## Try it yourself
#
# The widget below runs the committed StyleBank network; it holds only its trained styles, so a style
# image of your own selects the bank whose training style is nearest in Gram distance. Pick a content
# photo and a style from the suite's images, or upload your own (PNG or JPEG, at most 20 MB), set the knob
# (where the method has one) and press the button: the result appears next to the inputs with its run
# time, its Gram distance to the style (beside the content photo's and a plain colour transfer's, the two
# no-op outputs every stylizer must beat) and its SSIM to the content photo. Nothing is saved. A file that
# is not an image gets a one-line message in the status line.

# %% tags=["try-it", "nbval-ignore-output"]
from stylelib.widgets import try_it

try_it("stylebank")
