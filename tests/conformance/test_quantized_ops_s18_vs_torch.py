"""Quantized pooling, layout ops, cat/stack, activations and QFunctional against real torch's
quantized CPU kernels: the same output qparams and the same integers (inputs also in
channels-last, the layout quantized convolutions return, where torch's kernels differ)."""
import warnings

import numpy as np
import pytest

import ember
from ember.ao.nn import quantized as enq

torch = pytest.importorskip("torch")
tnq = torch.ao.nn.quantized


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation of quantized tensors
        yield


def _pair(shape, scale, zero_point, dtype="quint8", seed=0, channels_last=False):
    x = np.random.default_rng(seed).normal(size=shape).astype(np.float32) * 3
    t = torch.quantize_per_tensor(torch.tensor(x), scale, zero_point, getattr(torch, dtype))
    e = ember.quantize_per_tensor(ember.tensor(x), scale, zero_point, getattr(ember, dtype))
    if channels_last:
        t = t.contiguous(memory_format=torch.channels_last)
        e = e.contiguous(memory_format=ember.channels_last)
    return t, e


def _assert_same(t, e):
    assert type(e).__name__ == "QuantizedTensor"
    assert str(e.dtype) == str(t.dtype)
    assert (e.q_scale(), e.q_zero_point()) == (t.q_scale(), t.q_zero_point())
    np.testing.assert_array_equal(e.int_repr().numpy(), t.int_repr().numpy())


def _random_cases(n, seed):
    rng = np.random.default_rng(seed)
    for i in range(n):
        dtype = ("quint8", "qint8")[i % 2]
        lo, hi = (0, 255) if dtype == "quint8" else (-128, 127)
        yield rng, dtype, int(rng.integers(lo, hi + 1)), i % 4 >= 2


def test_avg_pool2d_sweep():
    for rng, dtype, zero_point, channels_last in _random_cases(60, 0):
        h, w = rng.integers(3, 10, 2)
        k = int(rng.integers(1, 4))
        s = int(rng.integers(1, 4))
        p = int(rng.integers(0, k // 2 + 1))
        args = (k, s, p, bool(rng.integers(2)), bool(rng.integers(2)),
                [None, 3][int(rng.integers(2))])
        t, e = _pair((2, 3, h, w), 0.1, zero_point, dtype, int(rng.integers(1000)),
                     channels_last)
        _assert_same(torch.nn.functional.avg_pool2d(t, *args),
                     ember.nn.functional.avg_pool2d(e, *args))


def test_adaptive_avg_pool2d_sweep():
    for rng, dtype, zero_point, channels_last in _random_cases(60, 1):
        h, w = rng.integers(2, 12, 2)  # (torch's kernel misreads a 1x1 input grown larger)
        size = tuple(int(v) for v in rng.integers(1, 6, 2))
        t, e = _pair((2, 3, h, w), 0.07, zero_point, dtype, int(rng.integers(1000)),
                     channels_last)
        _assert_same(torch.nn.functional.adaptive_avg_pool2d(t, size),
                     ember.nn.functional.adaptive_avg_pool2d(e, size))


@pytest.mark.parametrize("op", [
    lambda F, x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
    lambda F, x: F.max_pool2d(x, 2, dilation=2),
    lambda F, x: F.max_pool1d(x.flatten(2), 3, 2),
    lambda F, x: F.avg_pool1d(x.flatten(2), 3, 2, 1),
    lambda F, x: F.adaptive_avg_pool1d(x.flatten(2), 4),
    lambda F, x: F.avg_pool3d(x.unsqueeze(2), (1, 2, 2)),
    lambda F, x: F.adaptive_avg_pool3d(x.unsqueeze(2), (1, 3, 2)),
    lambda F, x: F.max_pool2d(x[0], 2),
    lambda F, x: F.adaptive_avg_pool2d(x[0], (2, 3)),
    lambda F, x: F.relu(x),
    lambda F, x: F.relu6(x),
    lambda F, x: F.hardtanh(x, -0.25, 0.33),
    lambda F, x: F.hardsigmoid(x),
])
@pytest.mark.parametrize("dtype,zero_point", [("quint8", 100), ("qint8", -7)])
def test_pools_and_activations(op, dtype, zero_point):
    t, e = _pair((2, 3, 7, 6), 0.1, zero_point, dtype)
    _assert_same(op(torch.nn.functional, t), op(ember.nn.functional, e))


@pytest.mark.parametrize("op", [
    lambda m, x: m.flatten(x, 1),
    lambda m, x: m.reshape(x, (6, -1)),
    lambda m, x: m.transpose(x, 1, 3),
    lambda m, x: m.permute(x, (0, 2, 3, 1)),
    lambda m, x: m.squeeze(x[:, :1]),
    lambda m, x: m.unsqueeze(x, 0),
    lambda m, x: m.chunk(x, 2, 1)[1],
    lambda m, x: x.view(2, -1),
    lambda m, x: m.cat([x, x], 2),
    lambda m, x: m.stack([x, x], 1),
    lambda m, x: m.mean(x, (2, 3), keepdim=True),
])
def test_layout_ops(op):
    t, e = _pair((2, 3, 4, 5), 0.1, 10)
    _assert_same(op(torch, t), op(ember, e))


def test_cat_of_different_qparams():
    ta, ea = _pair((2, 3, 4), 0.1, 10, seed=1)
    tb, eb = _pair((2, 5, 4), 0.05, 3, seed=2)
    _assert_same(torch.cat([ta, tb], 1), ember.cat([ea, eb], 1))


@pytest.mark.parametrize("method", ["add", "add_relu", "mul", "cat"])
@pytest.mark.parametrize("layouts", [(False, False), (True, True), (True, False)])
@pytest.mark.parametrize("dtype,zero_points", [("quint8", (10, 130, 60)), ("qint8", (-3, 50, 0))])
def test_qfunctional(method, layouts, dtype, zero_points):
    # decimal scales make many sums land near .5 steps, where the kernels' roundings differ
    # 128 elements: no tail that torch's vectorized loop leaves to its scalar one
    ta, ea = _pair((2, 4, 4, 4), 0.1, zero_points[0], dtype, 1, layouts[0])
    tb, eb = _pair((2, 4, 4, 4), 0.07, zero_points[1], dtype, 2, layouts[1])
    tf, ef = tnq.QFunctional(), enq.QFunctional()
    for f in (tf, ef):
        f.scale, f.zero_point = 0.12, zero_points[2]
    args = ([ta, tb], [ea, eb]) if method == "cat" else ((ta, tb), (ea, eb))
    if method == "cat":
        _assert_same(tf.cat(args[0], 1), ef.cat(args[1], 1))
    else:
        _assert_same(getattr(tf, method)(*args[0]), getattr(ef, method)(*args[1]))


def test_hardswish_and_hardsigmoid_sweep():
    """The same integers as torch's kernels over random qparams and sizes (so that values fall
    on ties, and into the element-by-element tail of its vectorized loop)."""
    for rng, dtype, zero_point, channels_last in _random_cases(24, 3):
        shape = (2, 3, int(rng.integers(1, 9)), int(rng.integers(1, 9)))
        scale = float(np.float32(rng.uniform(0.01, 0.2)))
        t, e = _pair(shape, scale, zero_point, dtype, int(rng.integers(1000)), channels_last)
        _assert_same(torch.nn.functional.hardsigmoid(t), ember.nn.functional.hardsigmoid(e))
        out_scale = float(np.float32(rng.uniform(0.01, 0.1)))
        out_zero_point = int(rng.integers(0, 100))
        _assert_same(tnq.functional.hardswish(t, out_scale, out_zero_point),
                     enq.functional.hardswish(e, out_scale, out_zero_point))
    t, e = _pair((4, 50), 0.1, 100)
    with pytest.raises(NotImplementedError):
        torch.nn.functional.hardswish(t)
    with pytest.raises(NotImplementedError):
        ember.nn.functional.hardswish(e)
