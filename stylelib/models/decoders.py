"""Decoders that invert a truncated VGG-19: the mirror image of the encoder.

AdaIN (Huang & Belongie, ICCV 2017, Sec. 6) and WCT (Li et al., NeurIPS
2017, Sec. 3.1) both decode VGG-19 features back to an image with a network
that mirrors the encoder: the convolutions in reverse order with their input
and output widths swapped, each pooling layer replaced by a 2x nearest
upsampling, reflection padding instead of zero padding (fewer border
artefacts), a ReLU after every convolution but the last.

:func:`decoder_plan` lists the layers; :class:`MirrorDecoder` builds them.
Two options shrink the network (used for the deep WCT decoder so that its
committed fp16 weights stay under 10 MB; see ``WCTConfig``):

``slim_blocks``
    blocks whose repeated same-width convolutions are dropped, keeping only
    the convolution that changes the width;
``max_width``
    a cap on the number of channels any decoder convolution outputs.

``input_scale`` multiplies the features before the first convolution (a
fixed factor, not trained): the raw Caffe VGG activations are in the tens to
hundreds, and scaling them near 1 lets a freshly initialised decoder start
with outputs in the image range (see ``vgg.ACTIVATION_SCALE``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..checks import check_features
from ..vgg import _BLOCKS

#: The encoder layers a mirror decoder can start from.
DECODER_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class ConvSpec:
    in_ch: int
    out_ch: int
    relu: bool
    mirrors: str  # the encoder convolution this one undoes, e.g. "conv3_2"


def decoder_plan(layer: str, *, slim_blocks: tuple[int, ...] = (), max_width: int | None = None) -> list[ConvSpec | str]:
    """The layers of the mirror decoder for encoder ``layer`` (one of :data:`DECODER_LAYERS`).

    Returns a list of :class:`ConvSpec` and the string ``"up"`` (2x nearest
    upsampling), first layer first.
    """
    if layer not in DECODER_LAYERS:
        raise ValueError(f"a mirror decoder starts at one of {DECODER_LAYERS}, got {layer!r}")
    top = int(layer[4])
    width = {b: ch for b, (_, ch) in enumerate(_BLOCKS, start=1)}
    width[0] = 3
    cap = (lambda c: c) if max_width is None else (lambda c: c if c == 3 else min(c, max_width))
    plan: list[ConvSpec | str] = []
    ch = width[top]  # channels of the encoder features
    for b in range(top, 0, -1):
        n_convs = _BLOCKS[b - 1][0]
        if b != top:
            plan.append("up")
            # the mirrors of conv{b}_{n}..conv{b}_2 keep the width (absent in a slim block)
            if b not in slim_blocks:
                for i in range(n_convs, 1, -1):
                    out = cap(width[b])
                    plan.append(ConvSpec(ch, out, True, f"conv{b}_{i}"))
                    ch = out
        out = cap(width[b - 1])
        plan.append(ConvSpec(ch, out, b != 1, f"conv{b}_1"))
        ch = out
    return plan


class MirrorDecoder(nn.Module):
    """Decode the activations of VGG-19 layer ``layer`` to an RGB image.

    ``forward(features) -> image`` where ``features`` is ``[N, C, h, w]`` and
    the image is ``[N, 3, h * 2**k, w * 2**k]`` (k = number of pooling layers
    before ``layer``).  The output is not clamped (training sees the raw
    values); :meth:`decode` clamps it to [0, 1].
    """

    def __init__(self, layer: str = "relu4_1", *, slim_blocks: tuple[int, ...] = (), max_width: int | None = None,
                 input_scale: float = 1.0):
        super().__init__()
        self.layer = layer
        #: fixed factor applied to the features first (1 / typical activation brings them near 1)
        self.input_scale = float(input_scale)
        self.slim_blocks = tuple(slim_blocks)
        self.max_width = max_width
        self.plan = decoder_plan(layer, slim_blocks=self.slim_blocks, max_width=max_width)
        mods: list[nn.Module] = []
        for step in self.plan:
            if step == "up":
                mods.append(nn.Upsample(scale_factor=2, mode="nearest"))
                continue
            assert isinstance(step, ConvSpec)
            mods += [nn.ReflectionPad2d(1), nn.Conv2d(step.in_ch, step.out_ch, 3)]
            if step.relu:
                mods.append(nn.ReLU())
        self.net = nn.Sequential(*mods)
        self.in_channels = self.plan[0].in_ch  # type: ignore[union-attr]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        check_features(features, f"decoder for {self.layer}", channels=self.in_channels)
        return self.net(features * self.input_scale if self.input_scale != 1.0 else features)

    @torch.no_grad()
    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return self.forward(features).clamp(0, 1)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
