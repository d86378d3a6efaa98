"""Session 11: half-precision addmm-style products rounded once, norms of empty inputs,
amin/amax/aminmax argument errors, half-precision linspace and logspace, matrix_exp in half
precision. Oracles: NumPy/SciPy, float64 gradcheck, and a few values PyTorch 2.13 gives."""
import functools
import itertools
import math

import numpy as np
import pytest
import scipy.linalg

import ember
from ember.autograd import gradcheck

RNG = np.random.default_rng(0)
HALF = ("float16", "bfloat16")


def _half(shape, dtype: str, scale: float = 3.0):
    return ember.tensor((RNG.standard_normal(shape) * scale).astype(np.float32)).to(
        getattr(ember, dtype))


def _np(t) -> np.ndarray:
    return t.detach().float().numpy()


def _f64(*shapes):
    return [ember.tensor(RNG.standard_normal(s), requires_grad=True) for s in shapes]


# ---------------------------------------------------------------------------------------------
# Half-precision products


SCALES = [(1, 1), (0.3, 1.7), (0, 1.3), (2.2, 1), (0.5, -2.1)]


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("op, shapes", [
    ("addmm", [(7, 5), (7, 11), (11, 5)]),
    ("addmm", [(5,), (7, 11), (11, 5)]),
    ("baddbmm", [(4, 7, 5), (4, 7, 11), (4, 11, 5)]),
])
def test_half_products_are_the_float32_result_rounded_once(op, shapes, dtype):
    for beta, alpha in SCALES:
        args = [_half(s, dtype) for s in shapes]
        got = getattr(ember, op)(*args, beta=beta, alpha=alpha)
        wide = getattr(ember, op)(*(a.float() for a in args), beta=beta, alpha=alpha)
        assert got.dtype is getattr(ember, dtype)
        np.testing.assert_array_equal(_np(got), _np(wide.to(got.dtype)))


@pytest.mark.parametrize("dtype", HALF)
def test_half_addbmm_rounds_after_each_batch(dtype):
    for beta, alpha in SCALES:
        m, b1, b2 = _half((7, 5), dtype), _half((3, 7, 11), dtype), _half((3, 11, 5), dtype)
        want = m
        for i in range(3):  # PyTorch's kernel: one addmm per batch
            want = ember.addmm(want.float(), b1[i].float(), b2[i].float(),
                               beta=beta if i == 0 else 1, alpha=alpha).to(want.dtype)
        got = ember.addbmm(m, b1, b2, beta=beta, alpha=alpha)
        np.testing.assert_array_equal(_np(got), _np(want))


def test_half_addmv_scales_in_half_and_sums_in_float32():
    for beta, alpha in SCALES:
        y, mat, vec = _half((7,), "float16"), _half((7, 11), "float16"), _half((11,), "float16")
        b16, a16 = np.float32(np.float16(beta)), np.float32(np.float16(alpha))
        prod = mat.float().numpy() @ vec.float().numpy()
        want = (prod * a16 + (y.float().numpy() * b16 if beta else 0)).astype(np.float16)
        got = ember.addmv(y, mat, vec, beta=beta, alpha=alpha)
        np.testing.assert_array_equal(got.numpy(), want)


def test_half_addr_rounds_each_operation_in_pytorch_order():
    for beta, alpha in SCALES:
        m, v1, v2 = _half((7, 5), "float16"), _half((7,), "float16"), _half((5,), "float16")
        # NumPy's float16 arithmetic rounds each operation: beta * M + (alpha * v1) v2^T
        outer = np.outer(v1.numpy() * np.float16(alpha), v2.numpy())
        want = outer if beta == 0 else m.numpy() * np.float16(beta) + outer
        got = ember.addr(m, v1, v2, beta=beta, alpha=alpha)
        np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("x_shape", [(7, 11), (2, 7, 11)])
def test_half_linear_with_bias_is_rounded_once(dtype, x_shape):
    x, w, b = _half(x_shape, dtype), _half((5, 11), dtype), _half((5,), dtype)
    got = ember.nn.functional.linear(x, w, b)
    want = ember.nn.functional.linear(x.float(), w.float(), b.float()).to(got.dtype)
    np.testing.assert_array_equal(_np(got), _np(want))


@pytest.mark.parametrize("op", ["addmm", "baddbmm", "addbmm", "addmv"])
def test_half_product_gradients_come_back_in_half(op):
    shapes = {"addmm": [(3, 4), (3, 5), (5, 4)], "baddbmm": [(2, 3, 4), (2, 3, 5), (2, 5, 4)],
              "addbmm": [(3, 4), (2, 3, 5), (2, 5, 4)], "addmv": [(3,), (3, 5), (5,)]}[op]
    args = [_half(s, "float16", 1.0).requires_grad_() for s in shapes]
    out = getattr(ember, op)(*args, beta=0.5, alpha=1.5)
    out.sum().backward()
    wide = [a.detach().float().requires_grad_() for a in args]
    getattr(ember, op)(*wide, beta=0.5, alpha=1.5).sum().backward()
    for a, w in zip(args, wide):
        assert a.grad.dtype is ember.float16
        np.testing.assert_allclose(_np(a.grad), w.grad.numpy(), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, 1.5), (0, -2.0)])
def test_addr_and_products_gradcheck(beta, alpha):
    m, v1, v2 = _f64((4, 3), (4,), (3,))
    assert gradcheck(lambda *a: ember.addr(*a, beta=beta, alpha=alpha), (m, v1, v2))
    m, a, b = _f64((4, 3), (2, 4, 5), (2, 5, 3))
    assert gradcheck(lambda *t: ember.addbmm(*t, beta=beta, alpha=alpha), (m, a, b))
    y, mat, vec = _f64((4,), (4, 5), (5,))
    assert gradcheck(lambda *t: ember.addmv(*t, beta=beta, alpha=alpha), (y, mat, vec))


def test_float_addr_matches_numpy():
    m, v1, v2 = (RNG.standard_normal(s) for s in ((4, 3), (4,), (3,)))
    got = ember.addr(ember.tensor(m), ember.tensor(v1), ember.tensor(v2), beta=0.5, alpha=2.0)
    np.testing.assert_allclose(got.numpy(), 0.5 * m + 2.0 * np.outer(v1, v2), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# Norms


@pytest.mark.parametrize("p", [-2, -1, -0.5, math.inf, -math.inf])
def test_min_like_norms_of_an_empty_dim_raise(p):
    name = f"{float(p):g}"
    with pytest.raises(RuntimeError, match=f"the {name} norm on an empty tensor"):
        ember.norm(ember.zeros(0, 3), p)
    with pytest.raises(RuntimeError, match=f"the {name} norm on the dimension -2because"):
        ember.zeros(0, 3).norm(p, dim=-2)
    with pytest.raises(RuntimeError, match=f"the {name} norm on the dimension 0because"):
        ember.linalg.vector_norm(ember.zeros(0, 3), p, dim=(1, 0))
    assert ember.zeros(0, 3).norm(p, dim=1).shape == (0,)  # nothing reduced over the empty dim


@pytest.mark.parametrize("p", [0, 0.5, 1, 2, 3, "fro"])
def test_sum_like_norms_of_empty_inputs_are_zero(p):
    for shape, dim in ((0,), None), ((0, 3), 0), ((2, 0, 3), (0, 1)):
        out = ember.norm(ember.zeros(shape), p, dim)
        np.testing.assert_array_equal(out.numpy(), np.zeros(out.shape))


def test_nuclear_norm_checks_its_dims():
    x = ember.tensor(RNG.standard_normal((2, 3, 4)))
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple. Got 0 1 2"):
        ember.norm(x, "nuc")
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple. Got 0$"):
        ember.norm(x, "nuc", 0)
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple. Got 0 1 2"):
        ember.norm(x, "fro", (0, 1, 2))
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple. Got -1"):
        ember.linalg.norm(x, "fro", -1)
    with pytest.raises(TypeError):
        ember.linalg.matrix_norm(x, 1, dim=0)
    got = ember.norm(x, "nuc", (0, 2))
    want = np.linalg.norm(np.moveaxis(x.numpy(), 1, 0), "nuc", axis=(1, 2))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("ord", [1, -1, math.inf, -math.inf])
@pytest.mark.parametrize("dim", [(-2, -1), (0, 2), (2, 0)])
def test_matrix_norm_keepdim_values_and_gradients(ord, dim):
    a = RNG.standard_normal((3, 4, 5))
    got = ember.linalg.matrix_norm(ember.tensor(a), ord, dim, keepdim=True)
    want = np.linalg.norm(np.moveaxis(a, dim, (0, 1)), ord, axis=(0, 1))
    np.testing.assert_allclose(got.numpy(), np.expand_dims(want, dim), rtol=1e-12)
    t = ember.tensor(a, requires_grad=True)
    assert gradcheck(lambda x: ember.linalg.matrix_norm(x, ord, dim, keepdim=True), (t,))


def test_matrix_norm_of_empty_dim_names_the_reduced_dim():
    with pytest.raises(IndexError, match="amin\\(\\): Expected reduction dim -1 "):
        ember.linalg.matrix_norm(ember.zeros(0, 3), -2)
    with pytest.raises(IndexError, match="amin\\(\\): Expected reduction dim 1 "):
        ember.linalg.matrix_norm(ember.zeros(3, 0), -1, keepdim=True)


# ---------------------------------------------------------------------------------------------
# amin / amax / aminmax argument errors


@pytest.mark.parametrize("name", ["amin", "amax"])
def test_amin_amax_of_empty_inputs_check_dims_in_order_as_written(name):
    fn = getattr(ember, name)
    with pytest.raises(RuntimeError, match=f"^{name}\\(\\): Expected reduction dim to be "):
        fn(ember.zeros(0, 3))
    with pytest.raises(IndexError, match=f"^{name}\\(\\): Expected reduction dim -2 "):
        fn(ember.zeros(2, 0, 3), dim=[0, -2])
    with pytest.raises(IndexError, match="reduction dim 0 "):
        fn(ember.zeros(0, 3), (0, 0))  # before the repeated dim is refused
    with pytest.raises(IndexError, match="out of range"):
        fn(ember.zeros(2, 0, 3), (5, 1))
    assert fn(ember.zeros(0, 3), -1).shape == (0,)
    with pytest.raises(RuntimeError, match="dim 1 appears multiple times"):
        fn(ember.zeros(0, 3), (1, 1))


@pytest.mark.parametrize("name", ["amin", "amax"])
def test_amin_amax_of_0d_tensors_check_dims(name):
    fn = getattr(ember, name)
    x = ember.tensor(2.5)
    for dim in (0, -1, (0,), (), [-1]):
        assert fn(x, dim).item() == 2.5
    with pytest.raises(IndexError, match="out of range"):
        fn(x, 1)
    with pytest.raises(RuntimeError, match="dim 0 appears multiple times"):
        fn(x, (0, -1))


def test_aminmax_errors():
    with pytest.raises(RuntimeError, match="cannot compute aminmax over an empty dimension"):
        ember.aminmax(ember.zeros(0, 3))
    with pytest.raises(IndexError, match="^aminmax: Expected reduction dim 0 "):
        ember.aminmax(ember.zeros(0, 3), dim=-2)
    with pytest.raises(TypeError, match="must be int, not tuple"):
        ember.aminmax(ember.zeros(2, 3), dim=(0, 1))
    with pytest.raises(IndexError, match="out of range"):
        ember.aminmax(ember.tensor(1.0), dim=1)
    lo, hi = ember.aminmax(ember.tensor([[3.0, 1.0], [2.0, 5.0]]), dim=-1)
    assert lo.tolist() == [1.0, 2.0] and hi.tolist() == [3.0, 5.0]


# ---------------------------------------------------------------------------------------------
# linspace / logspace


def test_half_linspace_rounds_every_operation():
    # values PyTorch 2.13 gives (the float32 ramp rounded gives 2.662109375, 0.724609375, ...)
    got = ember.linspace(4.3, -3, 50, dtype=ember.float16)
    assert got[[5, 11, 24, 44]].tolist() == [3.5546875, 2.66015625, 0.72265625, -2.25390625]
    got = ember.linspace(ember.tensor(4.3), ember.tensor(-3), 1000, dtype=ember.bfloat16)
    assert got[[267, 271, 600]].tolist() == [2.34375, 2.3125, -0.0625]


def _rounded(x, dtype):
    """float32 ``x`` rounded to ``dtype``, back in float32."""
    return ember.tensor(np.asarray(x, np.float32)).to(dtype).float().numpy()


@pytest.mark.parametrize("dtype", HALF)
def test_half_linspace_follows_the_half_arithmetic(dtype):
    for (start, end), steps in itertools.product([(4.3, -3), (-7.77, 123.4), (0, 1)],
                                                 [1, 2, 7, 50, 300]):
        got = ember.linspace(start, end, steps, dtype=getattr(ember, dtype))
        h = functools.partial(_rounded, dtype=getattr(ember, dtype))
        s, e = h(np.float32(start)), h(np.float32(end))
        step = h(h(e - s) / h(max(steps - 1, 1)))
        k = np.arange(steps)
        up = h(s + h(step * h(k)))
        down = h(e - h(step * h(steps - 1 - k)))
        want = up if steps == 1 else np.where(k < steps // 2, up, down)
        np.testing.assert_array_equal(_np(got), want)
        assert got[0].item() == s.item() and got[-1].item() == (e if steps > 1 else s).item()


def test_logspace_uses_c_pow_on_double_exponents():
    for (start, end), steps, base in itertools.product([(4.3, -3), (0.001, 12.3)], [2, 7, 50],
                                                       [10.0, 1.7]):
        step = (end - start) / (steps - 1)
        x = [start + step * k if k < steps // 2 else end - step * (steps - 1 - k)
             for k in range(steps)]
        want = np.array([math.pow(base, v) for v in x])
        got = ember.logspace(start, end, steps, base, dtype=ember.float64)
        np.testing.assert_array_equal(got.numpy(), want)
    assert ember.logspace(4.3, -3, 50, dtype=ember.float64)[[10, 28, 31]].tolist() == [
        645.957703149579, 1.3445328842997624, 0.48043280360970675]  # PyTorch's values


def test_logspace_half_and_single_step():
    assert ember.logspace(0.001, -3, 1000, dtype=ember.float16)[387].item() == 0.06884765625
    assert ember.logspace(4.3, -3, 1, dtype=ember.int64).tolist() == [19952]
    assert ember.logspace(-2.0, 3, 1, dtype=ember.uint8).tolist() == [0]
    with pytest.raises(RuntimeError, match="cannot be converted to type int64_t"):
        ember.logspace(4.3, -3, 1, -2.0, dtype=ember.int64)  # NaN
    assert np.isnan(ember.logspace(0.5, 3, 3, -2.0).numpy()[0])


# ---------------------------------------------------------------------------------------------
# matrix_exp in half precision


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("scale", [0.01, 0.5, 3.0])
def test_half_matrix_exp_matches_scipy(dtype, scale):
    a = (RNG.standard_normal((2, 4, 4)) * scale).astype(np.float32)
    got = ember.linalg.matrix_exp(ember.tensor(a).to(getattr(ember, dtype)))
    assert got.dtype is getattr(ember, dtype)
    want = np.stack([scipy.linalg.expm(m) for m in ember.tensor(a).to(
        getattr(ember, dtype)).float().numpy().astype(np.float64)])
    np.testing.assert_allclose(_np(got), want, rtol=2e-2, atol=1e-2 * np.abs(want).max())
