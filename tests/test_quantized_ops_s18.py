"""Quantized tensors through pooling, layout ops, cat and activations: the result stays
quantized, with PyTorch's output qparams and integers, checked against NumPy re-computations
(average pooling: integer window sums of ``q - zero_point``, then
``round(sum * float32(1 / divisor) + zero_point)`` half to even, clamped)."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.ao.nn.quantized import functional as qF
from ember.nn import functional as F

RANGES = {"quint8": (0, 255), "qint8": (-128, 127)}


def _quantized(shape, scale=0.1, zero_point=10, dtype="quint8", seed=0):
    x = np.random.default_rng(seed).normal(size=shape).astype(np.float32) * 3
    return ember.quantize_per_tensor(ember.tensor(x), scale, zero_point, getattr(ember, dtype))


def _ints(q):
    assert type(q).__name__ == "QuantizedTensor"
    return q.int_repr().numpy().astype(np.int64)


def _same_qparams(out, q):
    assert out.dtype is q.dtype
    assert (out.q_scale(), out.q_zero_point()) == (q.q_scale(), q.q_zero_point())


def _windows_1d(length, k, s, p, ceil_mode):
    """(start, end) of each pooling window over the padded input, PyTorch's output size."""
    n = (length + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (n - 1) * s >= length + p:
        n -= 1
    return [(i * s - p, i * s - p + k) for i in range(n)]


def _requantized_mean(total, divisor, zero_point, dtype):
    value = np.float32(total) * (np.float32(1) / np.float32(divisor)) + np.float32(zero_point)
    return int(np.clip(np.rint(value), *RANGES[dtype]))


@pytest.mark.parametrize("dtype", ["quint8", "qint8"])
@pytest.mark.parametrize("k,s,p,dilation,ceil_mode", [(2, 2, 0, 1, False), (3, 2, 1, 1, True),
                                                      (3, 1, 1, 2, False)])
def test_max_pool2d_takes_the_max_of_the_integers(dtype, k, s, p, dilation, ceil_mode):
    q = _quantized((2, 3, 7, 6), zero_point=-5 if dtype == "qint8" else 100, dtype=dtype)
    out = F.max_pool2d(q, k, s, p, dilation, ceil_mode)
    _same_qparams(out, q)
    ints = _ints(q)
    padded = np.pad(ints, ((0, 0), (0, 0), (p, p + k * dilation), (p, p + k * dilation)),
                    constant_values=np.iinfo(np.int64).min)
    span = dilation * (k - 1) + 1
    rows = _windows_1d(7, span, s, p, ceil_mode)
    cols = _windows_1d(6, span, s, p, ceil_mode)
    want = np.empty(ints.shape[:2] + (len(rows), len(cols)), np.int64)
    for i, (r0, _) in enumerate(rows):
        for j, (c0, _) in enumerate(cols):
            win = padded[:, :, r0 + p:r0 + p + span:dilation, c0 + p:c0 + p + span:dilation]
            want[:, :, i, j] = win.max(axis=(2, 3))
    np.testing.assert_array_equal(_ints(out), want)


@pytest.mark.parametrize("dtype", ["quint8", "qint8"])
@pytest.mark.parametrize("k,s,p,ceil_mode,count_include_pad,divisor", [
    (2, 2, 0, False, True, None), (3, 2, 1, True, True, None), (3, 2, 1, False, False, None),
    (3, 1, 1, False, True, 4)])
def test_avg_pool2d_requantizes_integer_window_sums(dtype, k, s, p, ceil_mode, count_include_pad,
                                                    divisor):
    zero_point = 3 if dtype == "qint8" else 130
    q = _quantized((2, 3, 7, 6), zero_point=zero_point, dtype=dtype)
    out = F.avg_pool2d(q, k, s, p, ceil_mode, count_include_pad, divisor)
    _same_qparams(out, q)
    centered = _ints(q) - zero_point
    rows, cols = _windows_1d(7, k, s, p, ceil_mode), _windows_1d(6, k, s, p, ceil_mode)
    want = np.empty(centered.shape[:2] + (len(rows), len(cols)), np.int64)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            inside = centered[:, :, max(r0, 0):min(r1, 7), max(c0, 0):min(c1, 6)]
            if divisor:
                d = divisor
            elif count_include_pad:  # the window clipped to the padded input
                d = (min(r1, 7 + p) - r0) * (min(c1, 6 + p) - c0)
            else:
                d = inside.shape[2] * inside.shape[3]
            for n, c in np.ndindex(*centered.shape[:2]):
                want[n, c, i, j] = _requantized_mean(inside[n, c].sum(), d, zero_point, dtype)
    np.testing.assert_array_equal(_ints(out), want)


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 2), (5, 4)])
def test_adaptive_avg_pool2d_requantizes_window_means(size):
    q = _quantized((2, 2, 7, 5), zero_point=200)
    out = nn.AdaptiveAvgPool2d(size)(q)
    _same_qparams(out, q)
    centered = _ints(q) - 200
    want = np.empty((2, 2) + size, np.int64)
    for i in range(size[0]):
        r0, r1 = (i * 7) // size[0], -(-((i + 1) * 7) // size[0])
        for j in range(size[1]):
            c0, c1 = (j * 5) // size[1], -(-((j + 1) * 5) // size[1])
            for n, c in np.ndindex(2, 2):
                total = centered[n, c, r0:r1, c0:c1].sum()
                want[n, c, i, j] = _requantized_mean(total, (r1 - r0) * (c1 - c0), 200, "quint8")
    np.testing.assert_array_equal(_ints(out), want)


def test_ties_round_half_to_even_after_adding_the_zero_point():
    # windows of 2 averaging to x.5: 1.5 -> 2, 2.5 -> 2 (zero point 3: 4.5 -> 4, 5.5 -> 6)
    ints = ember.tensor([[[1, 2, 2, 3]]], dtype=ember.uint8)
    q = ember._make_per_tensor_quantized_tensor(ints, 0.5, 0)
    assert _ints(F.avg_pool1d(q, 2)).tolist() == [[[2, 2]]]
    q3 = ember._make_per_tensor_quantized_tensor(ember.tensor([[[4, 5, 5, 6]]],
                                                              dtype=ember.uint8), 0.5, 3)
    assert _ints(F.avg_pool1d(q3, 2)).tolist() == [[[4, 6]]]


def test_1d_3d_and_unbatched_pools_stay_quantized():
    q = _quantized((3, 9))
    for out in (F.max_pool1d(q, 3), F.avg_pool1d(q, 3), F.adaptive_avg_pool1d(q, 2)):
        _same_qparams(out, q)
    want = (_ints(q).reshape(3, 3, 3).sum(-1) - 30)
    want = [[_requantized_mean(t, 3, 10, "quint8") for t in row] for row in want]
    np.testing.assert_array_equal(_ints(F.avg_pool1d(q, 3)), want)
    q3 = _quantized((2, 4, 4, 4))
    np.testing.assert_array_equal(_ints(F.max_pool3d(q3, 2)),
                                  _ints(q3).reshape(2, 2, 2, 2, 2, 2, 2).max((2, 4, 6)))
    _same_qparams(F.adaptive_avg_pool3d(q3, 1), q3)


def test_layout_ops_keep_the_quantizer():
    q = _quantized((2, 3, 4))
    ints = _ints(q)
    cases = [(ember.flatten(q, 1), ints.reshape(2, 12)),
             (nn.Flatten()(q), ints.reshape(2, 12)),
             (ember.reshape(q, (4, -1)), ints.reshape(4, 6)),
             (ember.transpose(q, 0, 2), ints.transpose(2, 1, 0)),
             (ember.permute(q, (1, 2, 0)), ints.transpose(1, 2, 0)),
             (ember.unsqueeze(q, 1), ints[:, None]),
             (ember.squeeze(q[:1]), ints[0]),
             (ember.chunk(q, 3, 1)[2], ints[:, 2:]),
             (ember.split(q, [1, 2], 1)[1], ints[:, 1:]),
             (q.chunk(2, 2)[0], ints[:, :, :2])]
    for out, want in cases:
        _same_qparams(out, q)
        np.testing.assert_array_equal(_ints(out), want)


def test_cat_and_stack_requantize_to_the_first_inputs_qparams():
    a = _quantized((2, 3), 0.1, 10, seed=1)
    b = _quantized((2, 3), 0.1, 10, seed=2)
    c = _quantized((2, 2), 0.05, 3, seed=3)
    same = ember.cat([a, b], 0)
    _same_qparams(same, a)
    np.testing.assert_array_equal(_ints(same), np.concatenate([_ints(a), _ints(b)]))
    np.testing.assert_array_equal(_ints(ember.stack([a, b], 1)),
                                  np.stack([_ints(a), _ints(b)], 1))
    mixed = ember.cat([a, c], 1)
    _same_qparams(mixed, a)
    values = (_ints(c) - 3).astype(np.float32) * np.float32(0.05)
    requantized = np.clip(np.rint(values * (np.float32(1) / np.float32(0.1)) + 10), 0, 255)
    np.testing.assert_array_equal(_ints(mixed), np.concatenate([_ints(a), requantized], 1))


def test_activations():
    q = _quantized((2, 8), 0.1, 100)
    ints = _ints(q)
    np.testing.assert_array_equal(_ints(F.relu(q)), np.maximum(ints, 100))
    np.testing.assert_array_equal(_ints(F.relu6(q)), np.clip(ints, 100, 160))
    np.testing.assert_array_equal(_ints(qF.hardtanh(q, -0.5, 0.3)), np.clip(ints, 95, 103))
    with pytest.raises(NotImplementedError):
        F.hardswish(q)  # PyTorch's needs output qparams: ao.nn.quantized's Hardswish
    x = (ints - 100) * np.float32(0.1)
    want = np.clip(np.rint(x * np.clip(x + 3, 0, 6) / 6 / 0.05 + 30), 0, 255)
    assert np.abs(_ints(qF.hardswish(q, 0.05, 30)) - want).max() <= 1  # ties may go either way
    gate = F.hardsigmoid(q)  # fixed qparams: [0, 1] on 256 steps
    assert gate.dtype is ember.quint8 and (gate.q_scale(), gate.q_zero_point()) == (1 / 256, 0)
    want = np.clip(np.rint(np.clip(x + 3, 0, 6) / 6 * 256), 0, 255)
    assert np.abs(_ints(gate) - want).max() <= 1  # ties may go either way
    with pytest.raises(ValueError):
        qF.adaptive_avg_pool2d(ember.zeros(1, 1, 2, 2), 1)


def test_quantized_classifier_head():
    """conv -> max pool -> adaptive avg pool -> flatten -> linear, all on int8, as the
    quantized torchvision models end."""
    model = nn.Sequential(ember.ao.quantization.QuantStub(), nn.Conv2d(3, 4, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 2), ember.ao.quantization.DeQuantStub()).eval()
    model.qconfig = ember.ao.quantization.default_qconfig
    ember.ao.quantization.prepare(model, inplace=True)
    model(ember.randn(2, 3, 8, 8))
    ember.ao.quantization.convert(model, inplace=True)
    out = model(ember.randn(2, 3, 8, 8))
    steps = out.numpy() / model[6].scale + model[6].zero_point
    np.testing.assert_allclose(steps, np.rint(steps), atol=1e-4)  # values on the output grid
