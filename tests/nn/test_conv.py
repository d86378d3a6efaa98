"""Convolutions vs naive NumPy loops, float64 gradchecks (first and second order), modules."""
import itertools
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck


def naive_conv(x, w, stride, pad, dil, groups):
    """Direct definition: y[n,o,p] = sum_{c,k} x_pad[n, g*Cg + c, p*s + k*d] w[o, c, k]."""
    nd = w.ndim - 2
    xp_ = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    og = o // groups
    ksz = w.shape[2:]
    outs = [(xp_.shape[2 + i] - dil[i] * (ksz[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    y = np.zeros((n, o, *outs))
    for b, oc in itertools.product(range(n), range(o)):
        g = oc // og
        for pos in itertools.product(*(range(v) for v in outs)):
            acc = 0.0
            for ci in range(cg):
                for k in itertools.product(*(range(v) for v in ksz)):
                    src = tuple(pos[i] * stride[i] + k[i] * dil[i] for i in range(nd))
                    acc += xp_[(b, g * cg + ci) + src] * w[(oc, ci) + k]
            y[(b, oc) + pos] = acc
    return y


def naive_conv_transpose(x, w, stride, pad, out_pad, dil, groups):
    """Each input element scatters w * x into the output (the definition of the transpose)."""
    nd = w.ndim - 2
    n, cin = x.shape[:2]
    cg_in = cin // groups
    og = w.shape[1]
    ksz = w.shape[2:]
    outs = [(x.shape[2 + i] - 1) * stride[i] - 2 * pad[i] + dil[i] * (ksz[i] - 1) + out_pad[i]
            + 1 for i in range(nd)]
    full = np.zeros((n, og * groups, *[v + 2 * p for v, p in zip(outs, pad)]))
    for b, ci in itertools.product(range(n), range(cin)):
        g = ci // cg_in
        for pos in itertools.product(*(range(v) for v in x.shape[2:])):
            for oc in range(og):
                for k in itertools.product(*(range(v) for v in ksz)):
                    dst = tuple(pos[i] * stride[i] + k[i] * dil[i] for i in range(nd))
                    full[(b, g * og + oc) + dst] += x[(b, ci) + pos] * w[(ci, oc) + k]
    crop = tuple(slice(p, p + v) for p, v in zip(pad, outs))
    return full[(slice(None), slice(None)) + crop]


CASES_2D = [  # (in_ch, out_ch, kernel, stride, pad, dil, groups, hw)
    (1, 2, (3, 3), (1, 1), (0, 0), (1, 1), 1, (5, 6)),
    (2, 4, (3, 2), (2, 1), (1, 0), (1, 2), 2, (7, 6)),
    (3, 3, (2, 2), (1, 2), (1, 1), (2, 1), 3, (5, 5)),  # depthwise
    (2, 6, (1, 3), (3, 1), (0, 2), (1, 1), 2, (6, 4)),
]


@pytest.mark.parametrize("cin,cout,k,s,p,d,g,hw", CASES_2D)
def test_conv2d_matches_naive_loop(cin, cout, k, s, p, d, g, hw):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, cin, *hw))
    w = rng.standard_normal((cout, cin // g, *k))
    b = rng.standard_normal(cout)
    out = F.conv2d(ember.tensor(x), ember.tensor(w), ember.tensor(b), s, p, d, g)
    ref = naive_conv(x, w, s, p, d, g) + b[:, None, None]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-10)


def test_conv1d_conv3d_and_unbatched_match_naive_loop():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 9))
    w = rng.standard_normal((2, 2, 3))
    out = F.conv1d(ember.tensor(x), ember.tensor(w), stride=2, padding=1, dilation=2, groups=2)
    np.testing.assert_allclose(out.numpy(), naive_conv(x, w, (2,), (1,), (2,), 2), atol=1e-10)
    out1 = F.conv1d(ember.tensor(x[0]), ember.tensor(w), stride=2, padding=1, dilation=2,
                    groups=2)
    np.testing.assert_allclose(out1.numpy(), out.numpy()[0], atol=1e-12)
    x3 = rng.standard_normal((1, 2, 4, 3, 5))
    w3 = rng.standard_normal((3, 2, 2, 2, 3))
    out3 = F.conv3d(ember.tensor(x3), ember.tensor(w3), padding=(1, 0, 1), stride=(1, 2, 1))
    np.testing.assert_allclose(out3.numpy(), naive_conv(x3, w3, (1, 2, 1), (1, 0, 1),
                                                        (1, 1, 1), 1), atol=1e-10)


@pytest.mark.parametrize("s,p,op,d,g", [(2, 1, 1, 1, 1), (1, 0, 0, 2, 2), (3, 2, 2, 1, 2)])
def test_conv_transpose2d_matches_scatter_definition(s, p, op, d, g):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 3, 4))
    w = rng.standard_normal((4, 3, 3, 2))
    out = F.conv_transpose2d(ember.tensor(x), ember.tensor(w), None, s, p, op, g, d)
    ref = naive_conv_transpose(x, w, (s, s), (p, p), (op, op), (d, d), g)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-10)


def test_padding_same_valid_and_errors():
    x = ember.randn(1, 2, 7, 6, dtype=ember.float64)
    w = ember.randn(3, 2, 4, 3, dtype=ember.float64)
    same = F.conv2d(x, w, padding="same", dilation=(1, 2))
    assert same.shape == (1, 3, 7, 6)
    # PyTorch puts the odd extra pad on the right: pad (1, 2) then convolve without padding
    ref = F.conv2d(F.pad(x, (2, 2, 1, 2)), w, dilation=(1, 2))
    np.testing.assert_allclose(same.numpy(), ref.numpy(), atol=1e-12)
    assert F.conv2d(x, w, padding="valid").shape == (1, 3, 4, 4)
    with pytest.raises(RuntimeError, match="strided"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(RuntimeError, match="to have 4 channels, but got 2"):
        F.conv2d(x, ember.randn(3, 4, 2, 2, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        F.conv2d(x, ember.randn(3, 2, 9, 9, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="should be the same"):
        F.conv2d(x.float(), w)
    with pytest.raises(RuntimeError, match="expected bias to be 1-dimensional with 3 elements"):
        F.conv2d(x, w, ember.zeros(2, dtype=ember.float64))


def _leaf(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return ember.tensor(rng.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("fn,shapes", [
    (lambda x, w, b: F.conv2d(x, w, b, 2, 1, 1, 2), [(2, 4, 5, 4), (4, 2, 3, 2), (4,)]),
    (lambda x, w, b: F.conv1d(x, w, b, 1, "same", 2), [(1, 2, 6), (3, 2, 3), (3,)]),
    (lambda x, w, b: F.conv3d(x, w, b, 1, 1), [(1, 1, 3, 3, 2), (2, 1, 2, 2, 2), (2,)]),
    (lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1, 2), [(1, 4, 3, 2), (4, 1, 3, 3),
                                                                (2,)]),
    (lambda x, w, b: F.conv_transpose1d(x, w, b, 3, 0, 1, 1, 2), [(2, 2, 3), (2, 3, 2),
                                                                   (3,)]),
    # 24+ channels per group: channels-last columns (NOTE [ Convolution column layouts ])
    (lambda x, w, b: F.conv2d(x, w, b, 1, 1, 1, 2), [(1, 48, 2, 2), (2, 24, 1, 2), (2,)]),
    (lambda x, w, b: F.conv2d(x, w, b, (2, 1), (1, 0), (1, 2)), [(1, 24, 3, 3), (2, 24, 2, 1),
                                                                   (2,)]),
    (lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1), [(1, 2, 2, 1), (2, 24, 2, 2), (24,)]),
])
def test_conv_gradcheck_and_gradgradcheck(fn, shapes):
    inputs = tuple(_leaf(*s, seed=i) for i, s in enumerate(shapes))
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_conv_grad_fn_name():
    out = F.conv2d(_leaf(1, 1, 4, 4), _leaf(2, 1, 3, 3))
    assert out.grad_fn.name() == "ConvolutionBackward0"


def test_conv_modules_init_repr_and_padding_modes():
    conv = nn.Conv2d(1, 6, 5)
    assert repr(conv) == "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))"
    assert conv.weight.shape == (6, 1, 5, 5) and conv.bias.shape == (6,)
    bound = 1 / math.sqrt(25)
    assert conv.weight.abs().max().item() <= bound and conv.bias.abs().max().item() <= bound
    assert repr(nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=2, groups=2, bias=False,
                          padding_mode="circular")) == (
        "Conv1d(2, 4, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), groups=2, "
        "bias=False, padding_mode=circular)")
    assert repr(nn.ConvTranspose2d(3, 2, 3, stride=2, output_padding=1)) == (
        "ConvTranspose2d(3, 2, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))")
    x = ember.randn(2, 2, 6, 5, dtype=ember.float64)
    for mode in ("reflect", "replicate", "circular"):
        m = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode, dtype=ember.float64)
        ref = F.conv2d(F.pad(x, (2, 2, 1, 1), mode=mode), m.weight, m.bias)
        np.testing.assert_allclose(m(x).detach().numpy(), ref.detach().numpy(), atol=1e-12)
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError):
        nn.Conv2d(2, 4, 3, padding_mode="mirror")


def test_conv_transpose_output_size_and_3d():
    m = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, dtype=ember.float64)
    x = ember.randn(1, 2, 4, 4, dtype=ember.float64)
    assert m(x).shape == (1, 3, 7, 7)
    assert m(x, output_size=[8, 8]).shape == (1, 3, 8, 8)
    with pytest.raises(ValueError):
        m(x, output_size=[10, 10])
    m3 = nn.ConvTranspose3d(2, 1, 2, stride=2)
    assert m3(ember.randn(1, 2, 2, 3, 2)).shape == (1, 1, 4, 6, 4)
    m1 = nn.Conv3d(2, 4, (1, 2, 3))
    assert m1(ember.randn(2, 3, 4, 5)).shape == (4, 3, 3, 3)  # unbatched


def test_lenet_forward_backward_float32():
    conv1, conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
    x = ember.randn(4, 1, 32, 32)
    y = F.max_pool2d(F.relu(conv1(x)), (2, 2))
    y = F.max_pool2d(F.relu(conv2(y)), 2)
    assert y.shape == (4, 16, 5, 5) and y.dtype == ember.float32
    y.view(-1, 16 * 5 * 5).sum().backward()
    assert conv1.weight.grad.shape == (6, 1, 5, 5) and conv1.weight.grad.dtype == ember.float32


@pytest.mark.parametrize("channels", [3, 256])  # channels-first and channels-last columns
def test_conv_of_an_empty_batch(channels):
    # regression: im2col and the backward products inferred a size (-1) from zero elements
    conv = nn.Conv2d(channels, 8, 3, padding=1)
    x = ember.zeros(0, channels, 6, 6, requires_grad=True)
    y = conv(x)
    assert tuple(y.shape) == (0, 8, 6, 6)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, channels, 6, 6)
    assert not conv.weight.grad.numpy().any()
    assert tuple(nn.ConvTranspose2d(channels, 4, 2, 2)(x).shape) == (0, 4, 12, 12)
