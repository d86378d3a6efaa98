"""Gaps HuggingFace diffusers found (tests/acceptance/diffusers_models.py), checked against
NumPy: ``torch._dynamo.eval_frame.OptimizedModule``, ``linear``'s fused and unfused paths
(a half-precision product rounded before the bias is added where PyTorch adds it apart),
``linear``'s dtype errors, float32 ``exp`` rounded from double precision, and convolutions
inside autocast (arguments cast before the dtype check, no second narrowing inside)."""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

import ember
import ember.nn.functional as F

BF16 = ml_dtypes.bfloat16


def test_eval_frame_names_the_compiled_module_class():
    compiled = ember.compile(ember.nn.Linear(2, 2))
    assert isinstance(compiled, ember._dynamo.eval_frame.OptimizedModule)
    assert ember._dynamo.OptimizedModule is ember._dynamo.eval_frame.OptimizedModule
    with pytest.raises(AttributeError):
        ember._dynamo.eval_frame.no_such_name  # noqa: B018


def _bf16_linear_operands():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 32, 64)).astype(BF16)
    w = (rng.standard_normal((32, 32)) * 0.2).astype(BF16)
    b = rng.standard_normal(32).astype(BF16)
    return x, w, b


def test_linear_rounds_half_product_before_bias_for_a_strided_input():
    x, w, b = _bf16_linear_operands()
    strided = ember.from_numpy(x).transpose(1, 2)  # (2, 64, 32), not contiguous
    got = F.linear(strided, ember.from_numpy(w), ember.from_numpy(b))
    xs = x.astype(np.float32).swapaxes(1, 2)
    product = (xs @ w.astype(np.float32).T).astype(BF16)  # rounded, then the bias added
    expected = (product.astype(np.float32) + b.astype(np.float32)).astype(BF16)
    np.testing.assert_array_equal(got.float().numpy(), expected.astype(np.float32))


def test_linear_adds_bias_inside_the_product_for_a_contiguous_input():
    x, w, b = _bf16_linear_operands()
    rows = ember.from_numpy(np.ascontiguousarray(x.swapaxes(1, 2)))
    got = F.linear(rows, ember.from_numpy(w), ember.from_numpy(b))
    xs = x.astype(np.float32).swapaxes(1, 2)
    expected = (xs @ w.astype(np.float32).T + b.astype(np.float32)).astype(BF16)
    np.testing.assert_array_equal(got.float().numpy(), expected.astype(np.float32))


def test_linear_graph_follows_contiguity():
    w = ember.randn(3, 4, requires_grad=True)
    b = ember.randn(3, requires_grad=True)
    contiguous = F.linear(ember.randn(2, 5, 4), w, b)
    strided = F.linear(ember.randn(2, 4, 5).transpose(1, 2), w, b)
    assert type(contiguous.grad_fn).__name__ == "ViewBackward0"
    assert type(strided.grad_fn).__name__ == "AddBackward0"
    strided.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), np.full(3, 10.0))


@pytest.mark.parametrize("input_dtype, bias_dtype, message", [
    (ember.long, ember.float32, "mat1 and mat2 must have the same dtype, but got Long and Float"),
    (ember.bool, ember.float32, "mat1 and mat2 must have the same dtype, but got Bool and Float"),
    (ember.float32, ember.long, "self and mat2 must have the same dtype, but got Long and Float"),
])
@pytest.mark.parametrize("shape", [(2, 4), (2, 2, 4), (4,)])
def test_linear_refuses_mixed_dtypes_with_a_bias(input_dtype, bias_dtype, message, shape):
    x = ember.ones(shape, dtype=input_dtype)
    with pytest.raises(RuntimeError, match=message):
        F.linear(x, ember.randn(3, 4), ember.ones(3, dtype=bias_dtype))


def test_integer_linear_of_one_dtype_runs():
    x = ember.ones(2, 4, dtype=ember.long)
    out = F.linear(x, ember.ones(3, 4, dtype=ember.long), ember.ones(3, dtype=ember.long))
    assert out.dtype == ember.long and out.tolist() == [[5, 5, 5], [5, 5, 5]]


def test_float32_exp_is_double_exp_rounded():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(10000) * 5, [0.0, -0.0, 88.7, 89.0, -104.0,
                                                          math.inf, -math.inf, math.nan]])
    x = x.astype(np.float32)
    got = ember.exp(ember.from_numpy(x)).numpy()
    assert got.dtype == np.float32
    with np.errstate(over="ignore"):  # exp(89) overflows float32 to inf, as it should
        expected = np.exp(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(got, expected)


def test_exp_keeps_other_dtypes_and_its_gradient():
    x = ember.tensor([0.5, -1.0], dtype=ember.float64, requires_grad=True)
    y = ember.exp(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, -1.0]))
    assert ember.exp(ember.tensor([1, 2])).dtype == ember.float32
    assert ember.exp(ember.tensor([1.0], dtype=ember.float16)).dtype == ember.float16
    half = ember.exp(ember.ones(1, dtype=ember.bfloat16))
    assert half.dtype == ember.bfloat16 and half.item() == float(BF16(math.e))


def _conv_operands():
    ember.manual_seed(0)
    return (ember.randn(2, 4, 8, 8), ember.randn(6, 4, 3, 3), ember.randn(4, 6, 3, 3),
            ember.randn(6))


def test_autocast_casts_conv_arguments_before_checking_them():
    """A bfloat16 activation meeting a float32 convolution inside autocast (a diffusers
    transformer's 1x1 output conv after its linear layers) is convolved in bfloat16."""
    x, w, _, b = _conv_operands()
    low = [t.to(ember.bfloat16) for t in (x, w, b)]
    with ember.autocast("cpu", dtype=ember.bfloat16):
        out = F.conv2d(low[0], w, b, padding=1)
    expected = F.conv2d(*low, padding=1)
    assert out.dtype == ember.bfloat16
    np.testing.assert_array_equal(out.float().numpy(), expected.float().numpy())


def test_autocast_conv_transpose_adds_bias_before_rounding():
    x, _, wt, b = _conv_operands()
    x.requires_grad_()
    with ember.autocast("cpu", dtype=ember.bfloat16):
        out = F.conv_transpose2d(x, wt, b, stride=2)
    plain = F.conv_transpose2d(*(t.detach().to(ember.bfloat16) for t in (x, wt, b)), stride=2)
    assert out.dtype == ember.bfloat16
    np.testing.assert_array_equal(out.float().detach().numpy(), plain.float().numpy())
    out.float().sum().backward()
    assert x.grad.dtype == ember.float32 and x.grad.shape == x.shape
