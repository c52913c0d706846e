"""The input-check vocabulary and the precision helper."""

from __future__ import annotations

import pytest
import torch

from stylelib.checks import (InputError, check_choice, check_features, check_image, check_int, check_positive,
                             check_same_size, check_single)
from stylelib.errors import StylelibError
from stylelib.precision import autocast, check_precision, features_in


class TestCheckImage:
    def test_accepts_and_returns_the_tensor(self):
        x = torch.rand(2, 3, 8, 12)
        assert check_image(x, "f") is x
        assert check_image(torch.rand(1, 3, 16, 16), "f", batch=1, multiple=8, min_side=16) is not None

    @pytest.mark.parametrize("bad, words", [
        (torch.rand(3, 8, 8), "f: expected [N, 3, H, W], got (3, 8, 8)"),
        (torch.rand(1, 4, 8, 8), "f: expected [N, 3, H, W], got (1, 4, 8, 8)"),
        ([1, 2], "f: expected [N, 3, H, W], got list"),
    ])
    def test_one_line_error_names_the_caller_and_the_shape(self, bad, words):
        with pytest.raises(InputError) as err:
            check_image(bad, "f")
        assert str(err.value) == words

    def test_batch_multiple_and_size(self):
        with pytest.raises(InputError, match=r"expected \[1, 3, H, W\], got \(2, 3, 8, 8\)"):
            check_image(torch.rand(2, 3, 8, 8), "f", batch=1)
        with pytest.raises(InputError, match="multiples of 4"):
            check_image(torch.rand(1, 3, 8, 10), "f", multiple=4)
        with pytest.raises(InputError, match="at least 16"):
            check_image(torch.rand(1, 3, 8, 32), "f", min_side=16)

    def test_error_type_is_a_value_and_a_type_error(self):
        assert issubclass(InputError, (ValueError)) and issubclass(InputError, TypeError)
        assert issubclass(InputError, StylelibError)


def test_features_and_sizes():
    assert check_features(torch.rand(1, 64, 4, 4), "g", channels=64).shape[1] == 64
    with pytest.raises(InputError, match=r"g: expected \[N, 32, H, W\]"):
        check_features(torch.rand(1, 64, 4, 4), "g", channels=32)
    with pytest.raises(InputError, match="sizes differ"):
        check_same_size(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5), "h")


def test_single_images_drop_a_batch_of_one():
    x = torch.rand(3, 5, 6)
    assert check_single(x, "f") is x
    assert check_single(x[None], "f", channels=3).shape == (3, 5, 6)
    with pytest.raises(InputError) as err:
        check_single(torch.rand(2, 3, 5, 6), "f: the image")
    assert str(err.value) == "f: the image: expected [C, H, W] or [1, C, H, W], got (2, 3, 5, 6)"
    with pytest.raises(InputError, match=r"expected \[3, H, W\] or \[1, 3, H, W\], got \(1, 5, 6\)"):
        check_single(torch.rand(1, 5, 6), "f", channels=3)
    with pytest.raises(InputError, match="f: has non-finite values"):
        check_single(torch.full((3, 2, 2), float("nan")), "f", finite=True)
    with pytest.raises(InputError, match="expected a tensor"):
        check_single([[0.0]], "f")


@pytest.mark.parametrize("call, words", [
    (lambda: check_int(1.5, "box", "radius"), "box: radius must be a non-negative integer, got 1.5"),
    (lambda: check_int(True, "box", "radius"), "box: radius must be a non-negative integer, got True"),
    (lambda: check_int(0, "box", "radius", minimum=1), "box: radius must be an integer >= 1, got 0"),
    (lambda: check_positive(0.0, "gf", "eps"), "gf: eps must be positive, got 0.0"),
    (lambda: check_positive(float("inf"), "gf", "eps"), "gf: eps must be positive, got inf"),
    (lambda: check_choice("sym", "sm", "mode", ("a", "b")), "sm: mode must be 'a' or 'b', got 'sym'"),
    (lambda: check_choice("x", "sm", "mode", ("a", "b", "c")), "sm: mode must be one of 'a', 'b', 'c', got 'x'"),
])
def test_scalar_checks(call, words):
    with pytest.raises(InputError) as err:
        call()
    assert str(err.value) == words


def test_scalar_checks_return_the_value():
    assert check_int(3, "f", "n") == 3 and check_positive(2, "f", "eps") == 2.0
    assert check_choice("b", "f", "mode", ("a", "b")) == "b"


class TestPrecision:
    def test_check(self):
        assert check_precision("bf16") == "bf16"
        with pytest.raises(ValueError, match="precision must be 'fp32' or 'bf16', got 'fp16'"):
            check_precision("fp16", "Cfg")

    def test_autocast_runs_bf16_only_when_asked(self):
        x = torch.rand(1, 3, 8, 8)
        conv = torch.nn.Conv2d(3, 4, 3)
        with autocast("bf16", x):
            assert conv(x).dtype == torch.bfloat16
        with autocast("fp32", x):
            assert conv(x).dtype == torch.float32

    def test_features_come_back_fp32(self):
        x = torch.rand(1, 3, 8, 8)
        conv = torch.nn.Conv2d(3, 4, 3)
        out = features_in("bf16", lambda t: {"a": conv(t)}, x)
        assert out["a"].dtype == torch.float32
        assert torch.allclose(out["a"], conv(x), atol=0.05)
