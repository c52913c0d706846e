"""The one table of methods: what ``stylelib methods``, ``stylelib stylize``, ``stylelib train``,
``make weights`` and the tests read.

Each :class:`Method` names a paper's stylisation entry point (a function
``fn(content, style, **options) -> Tensor`` on RGB batches in [0, 1]) and, for
the methods with a trained network, its training job
(``train_and_register(profile, ...)``, see :mod:`stylelib.training.jobs`).
Functions are given as ``"module:function"`` and imported on first use, so
listing the methods imports no model.

:data:`METHODS` is in training order: a model whose training starts from
another's weights comes after it (PhotoWCT, AdaIN and WCT2 start from the
WCT decoders).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Method:
    """One row of the table."""

    name: str
    summary: str
    #: ``"module:function"`` of the stylisation entry point
    stylize: str
    #: the command-line options (``--alpha`` ...) the entry point takes
    options: tuple[str, ...] = ()
    #: ``"module:function"`` of ``train_and_register``; None for methods that train nothing
    train: str | None = None
    #: ablation variants besides ``full`` (``stylelib train NAME --variant V``) that ``make weights`` trains
    variants: tuple[str, ...] = ()

    @property
    def fn(self) -> Callable[..., torch.Tensor]:
        return _resolve(self.stylize)

    @property
    def trainer(self) -> Callable:
        if self.train is None:
            raise ValueError(f"{self.name} trains no network; trainable: {', '.join(trainable())}")
        return _resolve(self.train)


def _resolve(target: str) -> Callable:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


METHODS: tuple[Method, ...] = (
    Method("gatys", "optimisation-based transfer (Gatys et al., CVPR 2016)", "stylelib.models.gatys:gatys",
           options=("steps", "optimizer", "init", "preserve_color", "style_weight", "precision")),
    Method("dpst", "Deep Photo Style Transfer (Luan et al., CVPR 2017): Gatys + matting-Laplacian photorealism "
                   "(whole-image regions from the command line)", "stylelib.models.dpst:dpst",
           options=("steps", "style_weight", "photorealism_weight")),
    Method("strotss", "STROTSS (Kolkin et al., CVPR 2019): relaxed optimal transport and self-similarity, by "
                      "optimisation (DST's base method without the warp)", "stylelib.recipes.dst:strotss",
           options=("steps", "seed")),
    Method("dst", "Deformable Style Transfer (Kim et al., ECCV 2020): NBB keypoints and a thin-plate-spline warp "
                  "optimised with the pixels", "stylelib.recipes.dst:dst",
           options=("steps", "seed", "base", "keypoints", "save_keypoints")),
    Method("wct", "WCT (Li et al., NeurIPS 2017): whitening and colouring, five decoders",
           "stylelib.recipes.wct:stylize_wct", options=("alpha", "weights"),
           train="stylelib.recipes.wct:train_and_register"),
    Method("photowct", "PhotoWCT (Li et al., ECCV 2018): unpooling WCT cascade + matting-affinity smoothing",
           "stylelib.recipes.photowct:stylize_photowct", options=("alpha", "weights"),
           train="stylelib.recipes.photowct:train_and_register"),
    Method("adain", "AdaIN (Huang & Belongie, ICCV 2017): feed-forward, any style",
           "stylelib.recipes.adain:stylize_adain", options=("alpha", "preserve_color", "weights"),
           train="stylelib.recipes.adain:train_and_register"),
    Method("stylebank", "StyleBank (Chen et al., CVPR 2017): a filter bank per trained style",
           "stylelib.recipes.stylebank:stylize_stylebank", options=("weights",),
           train="stylelib.recipes.stylebank:train_and_register"),
    Method("consistency_pair", "Yao, Puy & Pérez (ICIP 2019): a pair of networks trained on the two photos with "
                               "cycle and self-consistency losses (trains for minutes)",
           "stylelib.recipes.consistency_pair:stylize_consistency_pair", options=("steps",),
           train="stylelib.recipes.consistency_pair:train_and_register"),
    Method("wct2", "WCT2 (Yoo et al., ICCV 2019): wavelet pooling, progressive WCT, photorealistic",
           "stylelib.recipes.wct2:stylize_wct2", options=("alpha", "weights"),
           train="stylelib.recipes.wct2:train_and_register"),
    Method("fa_scp", "FA+SCP (Wu, Ni & Li, IJCNN 2020; reconstructed from the abstract): one-pass photorealistic "
                     "stylizer", "stylelib.recipes.fa_scp:stylize_fa_scp", options=("weights",),
           train="stylelib.recipes.fa_scp:train_and_register", variants=("no_scp", "adain_fa", "no_restyle")),
)
_BY_NAME = {m.name: m for m in METHODS}


def names() -> list[str]:
    """Every method's name, sorted."""
    return sorted(_BY_NAME)


def get(name: str) -> Method:
    """The method ``name``; a one-line ValueError listing the others when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(names())}") from None


def trainable() -> list[str]:
    """The methods with a training job, in training order."""
    return [m.name for m in METHODS if m.train is not None]


def weights_jobs() -> list[tuple[str, str | None]]:
    """``(model, variant)`` for every network ``make weights`` trains, in training order (variant None: full)."""
    return [(m.name, v) for m in METHODS if m.train is not None for v in (None, *m.variants)]
