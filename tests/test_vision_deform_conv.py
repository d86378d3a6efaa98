"""ember.vision.ops.deform_conv2d / DeformConv2d against a direct NumPy loop (the definition:
bilinear samples with zero outside, times the mask, convolved), and float64 gradcheck w.r.t.
input, offset, mask, weight and bias."""
import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.vision.ops import DeformConv2d, deform_conv2d


def _bilinear(image, y, x):
    height, width = image.shape
    y0, x0 = math.floor(y), math.floor(x)
    value = 0.0
    for yy in (y0, y0 + 1):
        for xx in (x0, x0 + 1):
            if 0 <= yy < height and 0 <= xx < width:
                value += (1 - abs(y - yy)) * (1 - abs(x - xx)) * image[yy, xx]
    return value


def _reference(input, offset, weight, bias, stride, padding, dilation, mask):
    n, channels, height, width = input.shape
    out_channels, per_group, kh, kw = weight.shape
    groups = channels // per_group
    offset_groups = offset.shape[1] // (2 * kh * kw)
    out_h, out_w = offset.shape[2:]
    out = np.zeros((n, out_channels, out_h, out_w))
    for b in range(n):
        for o in range(out_channels):
            g = o // (out_channels // groups)
            for oy in range(out_h):
                for ox in range(out_w):
                    total = 0.0 if bias is None else bias[o]
                    for c in range(per_group):
                        channel = g * per_group + c
                        og = channel // (channels // offset_groups)
                        for i in range(kh):
                            for j in range(kw):
                                tap = og * kh * kw + i * kw + j
                                y = oy * stride[0] - padding[0] + i * dilation[0]
                                x = ox * stride[1] - padding[1] + j * dilation[1]
                                y += offset[b, 2 * tap, oy, ox]
                                x += offset[b, 2 * tap + 1, oy, ox]
                                m = 1.0 if mask is None else mask[b, tap, oy, ox]
                                total += (weight[o, c, i, j] * m
                                          * _bilinear(input[b, channel], y, x))
                    out[b, o, oy, ox] = total
    return out


CASES = [
    # (N, C, H, W, C_out, groups, offset_groups, kernel, stride, padding, dilation, use_mask)
    (2, 2, 5, 6, 3, 1, 1, (3, 3), (1, 1), (0, 0), (1, 1), True),
    (1, 4, 6, 5, 4, 2, 2, (2, 3), (2, 1), (1, 2), (1, 2), True),
    (2, 3, 4, 4, 2, 1, 3, (3, 2), (1, 2), (1, 0), (2, 1), False),
]


def _inputs(case, seed=0):
    n, c, h, w, co, groups, og, (kh, kw), stride, padding, dilation, use_mask = case
    rng = np.random.default_rng(seed)
    out_h = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    arrays = {
        "input": rng.standard_normal((n, c, h, w)),
        # offsets wide enough that some samples fall partly or wholly off the map
        "offset": rng.uniform(-2.5, 2.5, (n, 2 * og * kh * kw, out_h, out_w)),
        "weight": rng.standard_normal((co, c // groups, kh, kw)),
        "bias": rng.standard_normal(co),
        "mask": rng.uniform(0, 1, (n, og * kh * kw, out_h, out_w)) if use_mask else None,
    }
    return arrays, stride, padding, dilation


@pytest.mark.parametrize("case", CASES)
def test_forward_matches_loop(case):
    arrays, stride, padding, dilation = _inputs(case)
    tensors = {k: None if v is None else ember.tensor(v) for k, v in arrays.items()}
    out = deform_conv2d(tensors["input"], tensors["offset"], tensors["weight"], tensors["bias"],
                        stride, padding, dilation, tensors["mask"])
    expected = _reference(arrays["input"], arrays["offset"], arrays["weight"], arrays["bias"],
                          stride, padding, dilation, arrays["mask"])
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_zero_offset_is_conv2d():
    rng = np.random.default_rng(1)
    x = ember.tensor(rng.standard_normal((2, 4, 7, 6)))
    w = ember.tensor(rng.standard_normal((6, 2, 3, 3)))
    b = ember.tensor(rng.standard_normal(6))
    offset = ember.zeros(2, 18, 4, 4, dtype=ember.float64)
    out = deform_conv2d(x, offset, w, b, stride=(2, 1), padding=1, dilation=(1, 2))
    expected = ember.nn.functional.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2),
                                          groups=2)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


def test_integer_offset_shifts_reads_and_zero_outside():
    x = ember.arange(16, dtype=ember.float64).reshape(1, 1, 4, 4)
    w = ember.ones(1, 1, 1, 1, dtype=ember.float64)
    offset = ember.zeros(1, 2, 4, 4, dtype=ember.float64)
    offset[:, 0] = 1.0  # dy = 1: each output reads the row below; the last row reads zeros
    out = deform_conv2d(x, offset, w).numpy()[0, 0]
    np.testing.assert_array_equal(out, np.concatenate([np.arange(4, 16).reshape(3, 4),
                                                       np.zeros((1, 4))]))


@pytest.mark.parametrize("case", CASES)
def test_gradcheck(case):
    arrays, stride, padding, dilation = _inputs(case, seed=2)
    # keep sample coordinates off integers, where bilinear interpolation has a kink
    arrays["offset"] = np.round(arrays["offset"]) + np.random.default_rng(3).uniform(
        0.2, 0.8, arrays["offset"].shape)
    names = [k for k, v in arrays.items() if v is not None]
    tensors = [ember.tensor(arrays[k], requires_grad=True) for k in names]

    def fn(*values):
        given = dict(zip(names, values))
        return deform_conv2d(given["input"], given["offset"], given["weight"], given["bias"],
                             stride, padding, dilation, given.get("mask"))
    assert gradcheck(fn, tensors, eps=1e-6, atol=1e-6)


def test_gradgradcheck():
    rng = np.random.default_rng(4)
    offset = rng.uniform(0.2, 0.8, (1, 8, 3, 3)) + rng.integers(-1, 2, (1, 8, 3, 3))
    inputs = [ember.tensor(a, requires_grad=True) for a in (
        rng.standard_normal((1, 2, 4, 4)), offset, rng.standard_normal((2, 2, 2, 2)),
        rng.uniform(0, 1, (1, 4, 3, 3)))]
    assert gradgradcheck(lambda x, o, w, m: deform_conv2d(x, o, w, mask=m), inputs, atol=1e-5)


def test_empty_batch_and_float32():
    w = ember.randn(3, 2, 3, 3)
    b = ember.randn(3)
    out = deform_conv2d(ember.randn(0, 2, 5, 5), ember.randn(0, 18, 3, 3), w, b)
    assert out.shape == (0, 3, 3, 3)
    out = deform_conv2d(ember.randn(1, 2, 5, 5), ember.randn(1, 18, 3, 3), w, b)
    assert out.dtype == ember.float32 and out.shape == (1, 3, 3, 3)


def test_shape_errors():
    x, w = ember.randn(1, 2, 5, 5), ember.randn(3, 2, 3, 3)
    with pytest.raises(RuntimeError, match="multiple of 2"):
        deform_conv2d(x, ember.randn(1, 4, 3, 3), w)
    with pytest.raises(RuntimeError, match="offset.shape"):
        deform_conv2d(x, ember.randn(1, 20, 3, 3), w)
    with pytest.raises(RuntimeError, match="mask.shape"):
        deform_conv2d(x, ember.randn(1, 18, 3, 3), w, mask=ember.randn(1, 8, 3, 3))
    with pytest.raises(RuntimeError, match="offset output dims"):
        deform_conv2d(x, ember.randn(1, 18, 4, 4), w)


def test_module():
    ember.manual_seed(0)
    layer = DeformConv2d(4, 6, kernel_size=3, stride=2, padding=1, groups=2, bias=False)
    assert layer.weight.shape == (6, 2, 3, 3) and layer.bias is None
    assert [k for k, _ in layer.named_parameters()] == ["weight"]
    bound = 1 / math.sqrt(2 * 9)  # kaiming_uniform(a=sqrt(5)) on fan_in 18
    assert float(layer.weight.detach().abs().max()) <= bound
    assert repr(layer) == ("DeformConv2d(4, 6, kernel_size=(3, 3), stride=(2, 2), "
                           "padding=(1, 1), groups=2, bias=False)")
    x = ember.randn(1, 4, 5, 5)
    offset, mask = ember.randn(1, 18, 3, 3), ember.rand(1, 9, 3, 3)
    expected = deform_conv2d(x, offset, layer.weight, None, 2, 1, 1, mask)
    np.testing.assert_array_equal(layer(x, offset, mask).detach().numpy(),
                                  expected.detach().numpy())
    with pytest.raises(ValueError, match="in_channels must be divisible"):
        DeformConv2d(3, 6, 3, groups=2)
