"""Channels-last memory formats against PyTorch: strides, contiguity checks, and the layouts
that conversions, factories, convolution and elementwise ops give."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _both(fn):
    return fn(ember), fn(torch)


@pytest.mark.parametrize("case", [
    lambda lib: lib.empty(2, 3, 4, 5).stride(),
    lambda lib: lib.empty(2, 3, 4, 5).to(memory_format=lib.channels_last).stride(),
    lambda lib: lib.empty(2, 3, 4, 5).contiguous(memory_format=lib.channels_last).stride(),
    lambda lib: lib.empty(2, 3, 4, 5, memory_format=lib.channels_last).stride(),
    lambda lib: lib.empty(2, 3, 4, 5, memory_format=lib.channels_last)
    .to(memory_format=lib.contiguous_format).stride(),
    lambda lib: lib.empty(2, 3, 4, 5, 6).to(memory_format=lib.channels_last_3d).stride(),
    lambda lib: lib.zeros_like(lib.empty(2, 3, 4, 5, memory_format=lib.channels_last)).stride(),
    lambda lib: lib.ones_like(lib.empty(2, 3, 4, 5, memory_format=lib.channels_last),
                              memory_format=lib.contiguous_format).stride(),
    lambda lib: lib.empty(2, 3, 4, 5, memory_format=lib.channels_last).clone().stride(),
    lambda lib: lib.empty(2, 3, 4, 5, memory_format=lib.channels_last)
    .clone(memory_format=lib.contiguous_format).stride(),
    lambda lib: lib.empty(4, 1, 4, 4).is_contiguous(memory_format=lib.channels_last),
    lambda lib: lib.empty(4, 1, 4, 4).is_contiguous(memory_format=lib.contiguous_format),
    lambda lib: lib.empty(2, 3, 4, 5).is_contiguous(memory_format=lib.channels_last),
    lambda lib: lib.empty(2, 3, 4).is_contiguous(memory_format=lib.channels_last),
    lambda lib: (lib.randn(2, 3, 4, 5).to(memory_format=lib.channels_last) + 1).stride(),
    lambda lib: lib.randn(2, 3, 4, 5).to(memory_format=lib.channels_last).relu().stride(),
    lambda lib: lib.nn.Conv2d(3, 4, 3).to(memory_format=lib.channels_last).weight.stride(),
])
def test_strides_match_torch(case):
    ours, theirs = _both(case)
    assert ours == theirs


def test_wrong_rank_raises_like_torch():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last"):
            lib.randn(2, 3).contiguous(memory_format=lib.channels_last)


@pytest.mark.parametrize("channels", [3, 8, 32])
def test_convolution_keeps_channels_last(channels):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, channels, 6, 7))
    w = rng.standard_normal((5, channels, 3, 3))
    b = rng.standard_normal(5)
    results = {}
    for lib in (ember, torch):
        xt = lib.from_numpy(x).to(memory_format=lib.channels_last).requires_grad_()
        y = lib.nn.functional.conv2d(xt, lib.from_numpy(w), lib.from_numpy(b), padding=1)
        y.sum().backward()
        results[lib.__name__] = (y.detach().numpy(), y.is_contiguous(
            memory_format=lib.channels_last), xt.grad.numpy())
    np.testing.assert_allclose(results["ember"][0], results["torch"][0], rtol=1e-10)
    assert results["ember"][1] and results["torch"][1]
    np.testing.assert_allclose(results["ember"][2], results["torch"][2], rtol=1e-10)
