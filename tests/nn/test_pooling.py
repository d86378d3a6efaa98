"""Pooling vs naive NumPy loops (ceil_mode, padding, dilation, indices, divisors), adaptive
pooling, unpooling, float64 gradchecks and the pooling modules."""
import itertools
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck


def _out(n, k, s, p, d, ceil):
    span = n + 2 * p - d * (k - 1) - 1
    o = (math.ceil(span / s) if ceil else span // s) + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def naive_max_pool(x, k, s, p, d, ceil):
    nd = len(k)
    sp = x.shape[2:]
    outs = [_out(sp[i], k[i], s[i], p[i], d[i], ceil) for i in range(nd)]
    y = np.zeros(x.shape[:2] + tuple(outs))
    idx = np.zeros(y.shape, dtype=np.int64)
    for b, c in itertools.product(*(range(v) for v in x.shape[:2])):
        for pos in itertools.product(*(range(v) for v in outs)):
            best, where = -np.inf, -1
            for off in itertools.product(*(range(v) for v in k)):
                src = [pos[i] * s[i] - p[i] + off[i] * d[i] for i in range(nd)]
                if all(0 <= src[i] < sp[i] for i in range(nd)) and x[(b, c, *src)] > best:
                    best, where = x[(b, c, *src)], int(np.ravel_multi_index(src, sp))
            y[(b, c) + pos], idx[(b, c) + pos] = best, where
    return y, idx


def naive_avg_pool(x, k, s, p, ceil, include_pad, divisor=None):
    nd = len(k)
    sp = x.shape[2:]
    outs = [_out(sp[i], k[i], s[i], p[i], 1, ceil) for i in range(nd)]
    y = np.zeros(x.shape[:2] + tuple(outs))
    for pos in itertools.product(*(range(v) for v in outs)):
        lo = [pos[i] * s[i] - p[i] for i in range(nd)]
        hi = [min(lo[i] + k[i], sp[i] + p[i]) for i in range(nd)]
        pool = math.prod(h - lo_ for h, lo_ in zip(hi, lo))
        clo = [max(v, 0) for v in lo]
        chi = [min(h, n) for h, n in zip(hi, sp)]
        window = x[(Ellipsis,) + tuple(slice(a, b) for a, b in zip(clo, chi))]
        count = divisor or (pool if include_pad else math.prod(b - a for a, b in zip(clo, chi)))
        y[(Ellipsis,) + pos] = window.sum(axis=tuple(range(2, 2 + nd))) / count
    return y


MAX_CASES = [((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 3), (2, 2), (1, 1), (1, 1), True),
             ((3, 2), (2, 1), (1, 0), (2, 1), False), ((2, 3), (3, 2), (1, 1), (1, 2), True)]


@pytest.mark.parametrize("k,s,p,d,ceil", MAX_CASES)
def test_max_pool2d_values_and_indices(k, s, p, d, ceil):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8))
    out, idx = F.max_pool2d(ember.tensor(x), k, s, p, d, ceil, return_indices=True)
    ref, ref_idx = naive_max_pool(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(out.numpy(), ref)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    assert idx.dtype == ember.int64


def test_max_pool_1d_3d_int_kernel_and_nan():
    x = np.random.default_rng(1).standard_normal((2, 2, 9))
    out = F.max_pool1d(ember.tensor(x), 3, 2, 1, ceil_mode=True)
    np.testing.assert_array_equal(out.numpy(), naive_max_pool(x, (3,), (2,), (1,), (1,), True)[0])
    x3 = np.random.default_rng(2).standard_normal((1, 2, 4, 5, 3))
    out3 = F.max_pool3d(ember.tensor(x3), 2, 1)
    np.testing.assert_array_equal(out3.numpy(), naive_max_pool(x3, (2,) * 3, (1,) * 3,
                                                               (0,) * 3, (1,) * 3, False)[0])
    y = np.ones((1, 1, 2, 2))
    y[0, 0, 1, 0] = np.nan
    assert np.isnan(F.max_pool2d(ember.tensor(y), 2).item())
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(ember.tensor(x3[0]), 2, padding=2)


@pytest.mark.parametrize("k,s,p,ceil,inc,div", [
    ((2, 2), (2, 2), (0, 0), False, True, None), ((3, 3), (2, 2), (1, 1), True, True, None),
    ((3, 3), (2, 2), (1, 1), True, False, None), ((3, 2), (2, 3), (1, 1), False, False, None),
    ((2, 2), (1, 1), (1, 1), False, True, 3)])
def test_avg_pool2d_divisors(k, s, p, ceil, inc, div):
    x = np.random.default_rng(3).standard_normal((2, 2, 7, 6))
    out = F.avg_pool2d(ember.tensor(x), k, s, p, ceil, inc, div)
    np.testing.assert_allclose(out.numpy(), naive_avg_pool(x, k, s, p, ceil, inc, div),
                               rtol=1e-12)


def test_avg_pool1d_and_lp_pool():
    x = np.random.default_rng(4).standard_normal((2, 3, 10))
    out = F.avg_pool1d(ember.tensor(x), 4, 3, 2, True, False)
    np.testing.assert_allclose(out.numpy(), naive_avg_pool(x, (4,), (3,), (2,), True, False))
    xa = np.abs(x) + 0.1
    lp = F.lp_pool1d(ember.tensor(xa), 2, 3)
    ref = np.sqrt((xa[..., :9] ** 2).reshape(2, 3, 3, 3).sum(-1))
    np.testing.assert_allclose(lp.numpy(), ref, rtol=1e-12)


def _adaptive_ref(x, outs, reduce):
    sp = x.shape[2:]
    y = np.zeros(x.shape[:2] + tuple(outs))
    for pos in itertools.product(*(range(v) for v in outs)):
        sl = tuple(slice(i * n // o, -(-(i + 1) * n // o)) for i, n, o in zip(pos, sp, outs))
        y[(Ellipsis,) + pos] = reduce(x[(Ellipsis,) + sl], axis=tuple(range(2, 2 + len(sp))))
    return y


@pytest.mark.parametrize("outs", [(3, 2), (7, 6), (1, 1), (4, 5)])
def test_adaptive_pools(outs):
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 6))
    avg = F.adaptive_avg_pool2d(ember.tensor(x), outs)
    np.testing.assert_allclose(avg.numpy(), _adaptive_ref(x, outs, np.mean), rtol=1e-12)
    mx, idx = F.adaptive_max_pool2d(ember.tensor(x), outs, return_indices=True)
    np.testing.assert_array_equal(mx.numpy(), _adaptive_ref(x, outs, np.max))
    flat = x.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.numpy().reshape(2, 3, -1), -1),
                                  mx.numpy().reshape(2, 3, -1))
    x1 = x[:, :, 0]
    np.testing.assert_allclose(F.adaptive_avg_pool1d(ember.tensor(x1), 4).numpy(),
                               _adaptive_ref(x1, (4,), np.mean), rtol=1e-12)
    assert F.adaptive_avg_pool2d(ember.tensor(x), (None, 2)).shape == (2, 3, 7, 2)


def test_max_unpool_inverts_max_pool():
    x = ember.randn(2, 3, 6, 4, dtype=ember.float64)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    un = F.max_unpool2d(out, idx, 2)
    ref = np.zeros((2, 3, 24))
    np.put_along_axis(ref, idx.numpy().reshape(2, 3, -1), out.numpy().reshape(2, 3, -1), -1)
    np.testing.assert_array_equal(un.numpy(), ref.reshape(2, 3, 6, 4))
    assert F.max_unpool2d(out, idx, 2, output_size=(7, 5)).shape == (2, 3, 7, 5)
    o1, i1 = F.max_pool1d(x[:, :, 0], 2, return_indices=True)
    assert F.max_unpool1d(o1, i1, 2).shape == (2, 3, 4)


def _leaf(*shape, seed=0):
    # distinct values so that max pooling's argmax is stable under the numerical step
    rng = np.random.default_rng(seed)
    vals = rng.permutation(math.prod(shape)).reshape(shape) / 10.0
    return ember.tensor(vals, requires_grad=True)


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
    lambda x: F.max_pool2d(x, (2, 3), (1, 2), (1, 0), dilation=(2, 1)),
    lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda x: F.avg_pool2d(x, 2, 1, divisor_override=3),
    lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
    lambda x: F.adaptive_max_pool2d(x, (3, 2)),
    lambda x: F.lp_pool2d(x + 1, 2, 2),
    lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2),
    lambda x: F.avg_pool1d(x.flatten(2), 3, 2, 1),
    lambda x: F.max_pool1d(x.flatten(2), 3, 2, 1),
])
def test_pool_gradcheck(fn):
    x = _leaf(2, 2, 5, 6)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_max_pool3d_gradcheck():
    assert gradcheck(lambda x: F.max_pool3d(x, 2, 1, 1), (_leaf(1, 1, 3, 4, 3),))


def test_pooling_modules_and_reprs():
    x = ember.randn(2, 3, 8, 8)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    assert repr(nn.MaxPool2d(2)) == \
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AdaptiveAvgPool2d((1, None))) == "AdaptiveAvgPool2d(output_size=(1, None))"
    assert repr(nn.MaxUnpool2d(2)) == \
        "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    out, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert nn.MaxUnpool2d(2)(out, idx).shape == x.shape
    assert nn.AvgPool3d(2)(ember.randn(1, 1, 4, 4, 4)).shape == (1, 1, 2, 2, 2)
    assert nn.AdaptiveMaxPool1d(3)(ember.randn(2, 7)).shape == (2, 3)
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    assert nn.LPPool2d(2, 2)(x.abs()).shape == (2, 3, 4, 4)
    assert nn.MaxPool1d(2)(ember.randn(3, 6)).shape == (3, 3)  # unbatched
