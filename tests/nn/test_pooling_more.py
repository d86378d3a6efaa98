"""AdaptiveMaxPool3d, LPPool3d, FractionalMaxPool2d/3d and LinearCrossEntropyLoss against naive
NumPy loops, with float64 gradchecks and the modules."""
import itertools
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck


def _leaf(*shape):
    data = np.random.default_rng(0).permutation(math.prod(shape)).reshape(shape) / 7.0
    return ember.tensor(data, dtype=ember.float64, requires_grad=True)


def naive_window_max(x, windows):
    """Max and flat argmax of x (N, C, *sp) over windows[b][c][pos] = list of slices."""
    sp = x.shape[2:]
    outs = np.array(windows, dtype=object).shape[2:2 + len(sp)]
    y = np.zeros(x.shape[:2] + outs, x.dtype)
    idx = np.zeros(y.shape, np.int64)
    for b, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for pos in itertools.product(*(range(o) for o in outs)):
            box = windows[b][c][pos]
            win = x[(b, c) + box]
            at = np.unravel_index(np.argmax(win), win.shape)
            src = tuple(s.start + a for s, a in zip(box, at))
            y[(b, c) + pos], idx[(b, c) + pos] = win[at], np.ravel_multi_index(src, sp)
    return y, idx


def adaptive_windows(x, outs):
    sp = x.shape[2:]
    bounds = [[slice(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]
              for n, o in zip(sp, outs)]
    grid = np.empty(outs, dtype=object)
    for pos in itertools.product(*(range(o) for o in outs)):
        grid[pos] = tuple(bounds[d][p] for d, p in enumerate(pos))
    return [[grid] * x.shape[1]] * x.shape[0]


def fractional_starts(u, n, o, k, dtype):
    # the sequence of Graham's paper as PyTorch documents it, in the input's precision
    if o == 1:
        return [n - k]
    alpha = dtype(n - k) / dtype(o - 1)
    return [int((dtype(i) + dtype(u)) * alpha) - int(dtype(u) * alpha)
            for i in range(o - 1)] + [n - k]


def fractional_windows(x, kernel, outs, samples):
    nd = len(kernel)
    order = (1, 0) if nd == 2 else (0, 1, 2)  # 2-D samples are (W, H)
    windows = []
    for b in range(x.shape[0]):
        row = []
        for c in range(x.shape[1]):
            starts = [fractional_starts(samples[b, c, j], n, o, k, x.dtype.type)
                      for j, n, o, k in zip(order, x.shape[2:], outs, kernel)]
            grid = np.empty(outs, dtype=object)
            for pos in itertools.product(*(range(o) for o in outs)):
                grid[pos] = tuple(slice(starts[d][p], starts[d][p] + kernel[d])
                                  for d, p in enumerate(pos))
            row.append(grid)
        windows.append(row)
    return windows


@pytest.mark.parametrize("outs", [(2, 3, 4), (3, 3, 3), (1, 5, 2), (7, 6, 5)])
def test_adaptive_max_pool3d_matches_loops(outs):
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6, 5)).astype(np.float32)
    y, idx = F.adaptive_max_pool3d(ember.tensor(x), outs, return_indices=True)
    ref_y, ref_idx = naive_window_max(x, adaptive_windows(x, outs))
    np.testing.assert_array_equal(y.numpy(), ref_y)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)


def test_adaptive_max_pool3d_none_unbatched_and_module():
    x = ember.randn(3, 6, 5, 4)
    y, idx = F.adaptive_max_pool3d_with_indices(x, (2, None, 3))
    assert y.shape == (3, 2, 5, 3) and idx.shape == (3, 2, 5, 3)
    batched = F.adaptive_max_pool3d(x.unsqueeze(0), (2, 5, 3))
    np.testing.assert_array_equal(y.numpy(), batched.squeeze(0).numpy())
    np.testing.assert_array_equal(nn.AdaptiveMaxPool3d((2, None, 3))(x).numpy(), y.numpy())
    assert repr(nn.AdaptiveMaxPool3d(2)) == "AdaptiveMaxPool3d(output_size=2)"


@pytest.mark.parametrize("p, kernel, stride", [(2, 2, None), (3, (2, 3, 2), 1), (1.5, 3, 2)])
def test_lp_pool3d_matches_numpy(p, kernel, stride):
    x = np.random.default_rng(2).uniform(0.1, 2, (2, 2, 6, 7, 5))
    k = kernel if isinstance(kernel, tuple) else (kernel,) * 3
    s = k if stride is None else (stride,) * 3
    outs = [(n - kk) // ss + 1 for n, kk, ss in zip(x.shape[2:], k, s)]
    ref = np.zeros((2, 2) + tuple(outs))
    for pos in itertools.product(*(range(o) for o in outs)):
        box = tuple(slice(q * ss, q * ss + kk) for q, ss, kk in zip(pos, s, k))
        ref[(Ellipsis,) + pos] = (x[(Ellipsis,) + box] ** p).sum((-3, -2, -1)) ** (1 / p)
    got = F.lp_pool3d(ember.tensor(x), p, kernel, stride)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10)
    module = nn.LPPool3d(p, kernel, stride)
    np.testing.assert_allclose(module(ember.tensor(x)).numpy(), ref, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nd, kernel, outs", [(2, (3, 2), (4, 5)), (2, 2, (1, 7)),
                                             (2, (1, 3), (9, 6)), (3, 2, (3, 4, 2)),
                                             (3, (2, 1, 3), (5, 1, 4))])
def test_fractional_max_pool_matches_loops(dtype, nd, kernel, outs):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3) + (9, 8, 7)[:nd]).astype(dtype)
    u = rng.uniform(0, 1, (2, 3, nd)).astype(dtype)
    fn = F.fractional_max_pool2d if nd == 2 else F.fractional_max_pool3d
    y, idx = fn(ember.tensor(x), kernel, outs, return_indices=True,
                _random_samples=ember.tensor(u))
    k = kernel if isinstance(kernel, tuple) else (kernel,) * nd
    ref_y, ref_idx = naive_window_max(x, fractional_windows(x, k, outs, u))
    np.testing.assert_array_equal(y.numpy(), ref_y)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)


def test_fractional_max_pool_ratio_unbatched_and_random():
    x = ember.randn(3, 10, 9)
    assert F.fractional_max_pool2d(x, 2, output_ratio=0.5).shape == (3, 5, 4)
    assert F.fractional_max_pool2d(x, 2, output_ratio=(0.7, 0.4)).shape == (3, 7, 3)
    u = ember.rand(1, 3, 2)
    y, idx = F.fractional_max_pool2d_with_indices(x, 3, (4, 4), _random_samples=u)
    by, bidx = F.fractional_max_pool2d(x.unsqueeze(0), 3, (4, 4), return_indices=True,
                                       _random_samples=u)
    np.testing.assert_array_equal(y.numpy(), by.squeeze(0).numpy())
    np.testing.assert_array_equal(idx.numpy(), bidx.squeeze(0).numpy())
    # every output is the input at its index
    np.testing.assert_array_equal(x.flatten(1).gather(1, idx.flatten(1)).numpy(),
                                  y.flatten(1).numpy())
    v = ember.randn(2, 2, 6, 6, 6)
    assert F.fractional_max_pool3d(v, 2, output_ratio=0.5).shape == (2, 2, 3, 3, 3)


def test_fractional_max_pool_errors():
    x = ember.randn(1, 1, 5, 5)
    with pytest.raises(ValueError, match="output_size or an output_ratio"):
        F.fractional_max_pool2d(x, 2)
    with pytest.raises(RuntimeError, match="pool height 3 too large relative to input height 5"):
        F.fractional_max_pool2d(x, 3, output_size=4)
    with pytest.raises(RuntimeError, match="pool time 2 too large"):
        F.fractional_max_pool3d(ember.randn(1, 1, 5, 5, 5), 2, output_size=4)
    with pytest.raises(RuntimeError, match="_random_samples"):
        F.fractional_max_pool2d(ember.randn(2, 1, 5, 5), 2, 2, _random_samples=ember.rand(1, 1, 2))
    with pytest.raises(ValueError, match="either an output size, or a pooling ratio"):
        nn.FractionalMaxPool2d(3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.FractionalMaxPool3d(2, output_ratio=(0.5, 1.5, 0.5))
    with pytest.raises(ValueError, match="only one of"):
        nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5)


def test_fractional_max_pool_modules():
    u = ember.rand(2, 3, 2)
    m = nn.FractionalMaxPool2d(3, output_size=(4, 5), return_indices=True, _random_samples=u)
    assert repr(m) == "FractionalMaxPool2d()" and m.kernel_size == (3, 3)
    assert dict(m.named_buffers())["_random_samples"] is u
    x = ember.randn(2, 3, 9, 10)
    y, idx = m(x)
    ry, ridx = F.fractional_max_pool2d(x, 3, (4, 5), return_indices=True, _random_samples=u)
    np.testing.assert_array_equal(y.numpy(), ry.numpy())
    np.testing.assert_array_equal(idx.numpy(), ridx.numpy())
    m3 = nn.FractionalMaxPool3d((2, 1, 2), output_ratio=0.5)
    assert m3.output_ratio == (0.5, 0.5, 0.5) and m3.output_size is None
    assert m3(ember.randn(1, 2, 6, 4, 8)).shape == (1, 2, 3, 2, 4)


def _samples(*shape):
    return ember.tensor(np.random.default_rng(4).uniform(0, 1, shape))


@pytest.mark.parametrize("fn, shape", [
    (lambda x: F.adaptive_max_pool3d(x, (2, 3, 2)), (1, 2, 4, 5, 3)),
    (lambda x: F.lp_pool3d(x + 1, 2, 2, 1), (1, 2, 3, 4, 3)),
    (lambda x: F.fractional_max_pool2d(x, 2, (3, 4), _random_samples=_samples(2, 2, 2)),
     (2, 2, 5, 6)),
    (lambda x: F.fractional_max_pool3d(x, 2, (2, 3, 2), _random_samples=_samples(1, 2, 3)),
     (1, 2, 4, 5, 4)),
])
def test_gradcheck(fn, shape):
    x = _leaf(*shape)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def _log_softmax(z, axis):
    z = z - z.max(axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis, keepdims=True))


@pytest.mark.parametrize("dims", [(), (4, 3)])
def test_linear_cross_entropy_matches_numpy(dims):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 5))
    w = rng.standard_normal((10,) + dims + (5,))
    b = rng.standard_normal((10,) + dims)
    t = rng.integers(0, 10, (6,) + dims)
    t[0] = -100
    logits = (x @ w.reshape(-1, 5).T).reshape((6, 10) + dims) + b
    logp = _log_softmax(logits, 1)
    keep = t != -100
    picked = np.take_along_axis(logp, np.where(keep, t, 0)[:, None], 1)[:, 0]
    ref = -(picked * keep).sum() / keep.sum()
    got = F.linear_cross_entropy(ember.tensor(x), ember.tensor(w), ember.tensor(t),
                                 linear_bias=ember.tensor(b))
    np.testing.assert_allclose(got.item(), ref, rtol=1e-10)
    t = np.where(t == -100, 3, t)
    none = F.linear_cross_entropy(ember.tensor(x), ember.tensor(w), ember.tensor(t),
                                  linear_bias=ember.tensor(b), reduction="none", ignore_index=3)
    expect = -np.take_along_axis(logp, t[:, None], 1)[:, 0] * (t != 3)
    np.testing.assert_allclose(none.numpy(), expect, rtol=1e-10)
    assert none.shape == (6,) + dims


def test_linear_cross_entropy_gradcheck_and_module():
    x, w = _leaf(3, 4), _leaf(5, 2, 4)
    t = ember.tensor([[0, 4], [2, 2], [1, 3]])
    assert gradcheck(lambda a, b: F.linear_cross_entropy(a, b, t, label_smoothing=0.1), (x, w))
    loss = nn.LinearCrossEntropyLoss(4, 5, out_features=(2,), bias=True, dtype=ember.float64)
    assert loss.linear.weight.shape == (10, 4) and loss.linear.bias.shape == (10,)
    got = loss(x, t)
    ref = F.cross_entropy(
        (x @ loss.linear.weight.t() + loss.linear.bias).reshape(3, 5, 2), t)
    np.testing.assert_allclose(got.item(), ref.item(), rtol=1e-12)
    got.backward()
    assert loss.linear.weight.grad.shape == (10, 4)
    with pytest.raises(RuntimeError, match="requires batched input"):
        F.linear_cross_entropy(ember.randn(4), ember.randn(5, 2, 4), ember.tensor([0, 1]))
