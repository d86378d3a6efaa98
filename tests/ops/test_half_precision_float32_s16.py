"""Half types (bfloat16, float16) as PyTorch's CPU kernels compute them: most activations, their
gradients and softmax widen to float32 and round the result once (``ops._util.in_float32``),
so a half result equals the float32 computation on the same values rounded to the half type;
the losses and attention round where PyTorch's kernels do (oracles in NumPy and ml_dtypes)."""
import math

import ml_dtypes
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.ops._util import in_float32

HALF = [(ember.bfloat16, ml_dtypes.bfloat16), (ember.float16, np.float16)]


def _rounded(array, np_half):
    """``array`` rounded once to the half type, back in float32."""
    return np.asarray(array, np.float32).astype(np_half).astype(np.float32)


def _values(shape, seed=0, scale=3.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


@pytest.mark.parametrize("dtype, np_half", HALF)
def test_in_float32_rounds_arrays_once(dtype, np_half):
    x = _values(1000).astype(np_half)
    result = in_float32(lambda a: a * 0.1 + a * a, x)
    wide = x.astype(np.float32)
    assert result.dtype == np_half
    np.testing.assert_array_equal(result.view(np.int16), (wide * np.float32(0.1) + wide * wide)
                                  .astype(np_half).view(np.int16))
    stepwise = (x * np_half(0.1) + x * x).astype(np_half)  # rounding each step differs
    assert (stepwise.view(np.int16) != result.view(np.int16)).any()


def test_in_float32_leaves_other_dtypes_alone():
    x = _values(10)
    calls = []
    assert in_float32(lambda a: calls.append(a.dtype) or a, x) is x
    assert calls == [np.float32]
    y = ember.tensor(_values(10).astype(np.float64))
    assert in_float32(lambda a: a, y) is y


@pytest.mark.parametrize("dtype, np_half", HALF)
def test_in_float32_tensors_stay_differentiable(dtype, np_half):
    x = ember.tensor(_values(50)).to(dtype).requires_grad_()
    y = in_float32(lambda a: a * a * 0.3, x)
    assert y.dtype is dtype
    y.sum().backward()
    assert x.grad.dtype is dtype
    wide = x.detach().float().numpy()
    np.testing.assert_array_equal(x.grad.float().numpy(), _rounded(2 * wide * np.float32(0.3),
                                                                   np_half))


ACTIVATIONS = {
    "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
    "elu": lambda x: F.elu(x, 1.3),
    "selu": F.selu,
    "celu": lambda x: F.celu(x, 0.7),
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "mish": F.mish,
    "softplus": lambda x: F.softplus(x, 2.0, 3.0),
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
}


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype, np_half", HALF)
def test_half_result_is_the_float32_one_rounded_once(name, dtype, np_half):
    """Forward and input gradient: the half op on half values equals the float32 op on the same
    values (and upstream gradient), rounded once."""
    op = ACTIVATIONS[name]
    x = ember.tensor(_values((3, 257))).to(dtype)
    g = ember.tensor(_values((3, 257), seed=1, scale=1.0)).to(dtype)
    results = []
    for wide in (False, True):
        xt = (x.float() if wide else x).detach().requires_grad_()
        y = op(xt)
        y.backward(g.float() if wide else g)
        results.append((y.detach().float().numpy(), xt.grad.float().numpy()))
    (y_half, g_half), (y_wide, g_wide) = results
    np.testing.assert_array_equal(y_half, _rounded(y_wide, np_half))
    np.testing.assert_array_equal(g_half, _rounded(g_wide, np_half))


@pytest.mark.parametrize("dtype, np_half", HALF)
def test_shrink_bands_compare_with_lambd_in_the_half_type(dtype, np_half):
    """0.6 is 0.6015625 in bfloat16: PyTorch's kernels compare x with lambd rounded so."""
    lambd = float(np_half(0.6))
    x = ember.tensor([lambd, -lambd, 0.7]).to(dtype).requires_grad_()
    F.hardshrink(x, 0.6).sum().backward()
    np.testing.assert_array_equal(x.grad.float().numpy(), [0, 0, 1])


@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("dtype, np_half", HALF)
def test_softmax_is_float32_from_the_max_rounded_once(dim, dtype, np_half):
    """exp(x - max) over the float32 sum (the last-dim kernel multiplies by its reciprocal);
    the gradient y * (g - sum(y * g)) in float32, rounded once."""
    x = _rounded(_values((40, 300)), np_half)
    g = _rounded(_values((40, 300), seed=1, scale=1.0), np_half)
    exp = np.exp(x - x.max(dim, keepdims=True))
    total = exp.sum(dim, keepdims=True)
    expected = _rounded(exp * (1 / total) if dim == -1 else exp / total, np_half)
    xt = ember.tensor(x).to(dtype).requires_grad_()
    y = ember.softmax(xt, dim)
    y.backward(ember.tensor(g).to(dtype))
    np.testing.assert_array_equal(y.detach().float().numpy(), expected)
    np.testing.assert_array_equal(xt.grad.float().numpy(),
                                  _rounded(expected * (g - (expected * g).sum(dim, keepdims=True)),
                                           np_half))


@pytest.mark.parametrize("dtype, np_half", HALF)
def test_logsigmoid_gradient_reads_the_rounded_buffer(dtype, np_half):
    """PyTorch saves exp(-|x|) in the input type; the gradient is (1 - b / (1 + b)) * g below 0
    and b / (1 + b) * g from 0 on, in float32 rounded once."""
    x = _rounded(_values(500), np_half)
    g = _rounded(_values(500, seed=1, scale=1.0), np_half)
    xt = ember.tensor(x).to(dtype).requires_grad_()
    F.logsigmoid(xt).backward(ember.tensor(g).to(dtype))
    b = _rounded(np.exp(-np.abs(x)), np_half)
    share = b / (1 + b)
    expected = _rounded(np.where(x < 0, 1 - share, share) * g, np_half)
    np.testing.assert_array_equal(xt.grad.float().numpy(), expected)


@pytest.mark.parametrize("dtype, np_half", HALF)
def test_log_softmax_last_dim_rounds_the_sum_and_its_log(dtype, np_half):
    """PyTorch's last-dim kernel keeps each row's sum of exp and its log in the input type."""
    x = _rounded(_values((4, 300)), np_half)
    shifted = x - x.max(1, keepdims=True)
    total = _rounded(np.exp(shifted).sum(1, keepdims=True), np_half)
    expected = _rounded(shifted - _rounded(np.log(total), np_half), np_half)
    out = ember.log_softmax(ember.tensor(x).to(dtype), -1)
    np.testing.assert_array_equal(out.float().numpy(), expected)


@pytest.mark.parametrize("dtype, np_half", HALF)
def test_mse_loss_gradient_rounds_each_product(dtype, np_half):
    """norm * (x - t) * grad, norm = 2 / numel rounded to the half type, each step rounded."""
    x, t = (_rounded(_values(300, seed=s), np_half) for s in (0, 1))
    xt = ember.tensor(x).to(dtype).requires_grad_()
    F.mse_loss(xt, ember.tensor(t).to(dtype)).backward(ember.tensor(1.5).to(dtype))
    norm = _rounded(np.float32(2 / 300), np_half)
    expected = _rounded(_rounded(norm * _rounded(x - t, np_half), np_half) * np.float32(1.5),
                        np_half)
    np.testing.assert_array_equal(xt.grad.float().numpy(), expected)


def _nll_reference(losses, valid, np_half):
    """PyTorch's cascade of partial sums, written as its loop: one element at a time."""
    n = len(losses)
    power = max(4, math.ceil(math.log2(n)) // 8) if n > 1 else 4
    partial = [np_half(0)] * 8
    for b in range(n):
        if not valid[b]:
            continue
        partial[0] = np_half(np.float32(partial[0]) + np.float32(losses[b]))
        for level in range(7):
            if b & (((1 << power) - 1) << (level * power)):
                break
            partial[level + 1] = np_half(np.float32(partial[level + 1])
                                         + np.float32(partial[level]))
            partial[level] = np_half(0)
    total = np_half(0)
    for p in partial:
        total = np_half(np.float32(total) + np.float32(p))
    return np.float32(total)


@pytest.mark.parametrize("n", [3, 17, 40, 300, 70000])
@pytest.mark.parametrize("dtype, np_half", HALF)
def test_nll_loss_sums_in_the_half_type_as_pytorchs_cascade(n, dtype, np_half):
    rng = np.random.default_rng(n)
    logp = _rounded(-rng.random((n, 3)) * (4 if n < 1000 else 0.01), np_half)  # no overflow
    target = rng.integers(0, 3, n)
    target[::7] = -100
    valid = target != -100
    picked = -logp[np.arange(n), np.where(valid, target, 0)]
    expected_sum = _nll_reference(picked, valid, np_half)
    out = F.nll_loss(ember.tensor(logp).to(dtype), ember.tensor(target), reduction="sum")
    assert out.float().item() == expected_sum
    mean = F.nll_loss(ember.tensor(logp).to(dtype), ember.tensor(target))
    count = np.float32(np_half(valid.sum()))
    assert mean.float().item() == np.float32(np_half(expected_sum / count))


def test_bfloat16_cube_rounds_the_square_first():
    """PyTorch's bfloat16 pow forms x**3 as (x * x) * x and x**-2 as 1 / (x * x)."""
    x = _rounded(np.abs(_values(500)) + 0.1, ml_dtypes.bfloat16).astype(ml_dtypes.bfloat16)
    t = ember.tensor(x.astype(np.float32)).to(ember.bfloat16)
    square = x * x
    np.testing.assert_array_equal(ember.pow(t, 3).float().numpy(),
                                  (square * x).astype(np.float32))
    np.testing.assert_array_equal(ember.pow(t, -2).float().numpy(),
                                  _rounded(1 / square.astype(np.float32), ml_dtypes.bfloat16))


@pytest.mark.parametrize("dtype, np_half", HALF)
def test_short_attention_rounds_the_weights_before_the_values(dtype, np_half):
    """PyTorch's CPU flash kernel: exp(s - max) rounded to the half type meets V, the float32
    sum normalises after; one block of queries and keys."""
    q, k, v = (_rounded(_values(shape, seed=s, scale=1.0), np_half)
               for s, shape in enumerate([(2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 8)]))
    scores = (q @ k.swapaxes(-1, -2)) * np.float32(1 / math.sqrt(8))
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    expected = _rounded((_rounded(weights, np_half) @ v) / weights.sum(-1, keepdims=True),
                        np_half)
    out = F.scaled_dot_product_attention(*(ember.tensor(a).to(dtype) for a in (q, k, v)))
    np.testing.assert_array_equal(out.float().numpy(), expected)
