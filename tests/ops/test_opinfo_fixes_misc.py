"""Regressions from the OpInfo audit of elementwise, conversion, creation, movement and special
ops: oracles are NumPy, hand-computed values and float64 gradcheck."""
import cmath

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck

# --- conversions ----------------------------------------------------------------------------

@pytest.mark.parametrize("method, dtype", [
    ("bool", ember.bool), ("byte", ember.uint8), ("char", ember.int8), ("short", ember.int16),
    ("int", ember.int32), ("long", ember.int64), ("half", ember.float16),
    ("bfloat16", ember.bfloat16), ("float", ember.float32), ("double", ember.float64),
    ("cfloat", ember.complex64), ("cdouble", ember.complex128)])
def test_cast_methods_take_memory_format(method, dtype):
    x = ember.tensor([[1.0, 0.0, 2.0]]).t()
    out = getattr(x, method)(memory_format=ember.contiguous_format)
    assert out.dtype == dtype and out.is_contiguous()
    assert out.shape == (3, 1)


def test_to_memory_format_aliases_only_when_nothing_changes():
    x = ember.randn(2, 3).t()  # its strides suggest contiguous_format, as in PyTorch
    assert x.float(memory_format=ember.contiguous_format) is x
    assert x.to(memory_format=ember.contiguous_format) is x
    y = x.double(memory_format=ember.contiguous_format)
    assert y.is_contiguous() and np.array_equal(y.numpy(), x.numpy())
    z = ember.randn(2, 3, 4, 5)
    cl = z.float(memory_format=ember.channels_last)
    assert cl.stride() == (60, 1, 15, 3) and cl is not z
    assert cl.to(memory_format=ember.channels_last) is cl
    assert cl.to(memory_format=ember.contiguous_format).stride() == (60, 20, 5, 1)
    with pytest.raises(RuntimeError, match="required rank 5"):
        z.float(memory_format=ember.channels_last_3d)


def test_to_positional_copy_and_complex_to_real_warning():
    x = ember.tensor([1.5, 2.0])
    assert x.to(ember.float32, False, True) is not x  # (dtype, non_blocking, copy)
    assert x.to(ember.float32, True) is x
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        assert ember.tensor([2.5 + 1j]).to(ember.float32).tolist() == [2.5]
    assert ember.tensor([1j, 0j]).to(ember.bool).tolist() == [True, False]  # no warning


# --- arithmetic -----------------------------------------------------------------------------

def test_python2_division_names():
    x = ember.tensor([1.0, 2.0])
    assert x.__rdiv__(3).tolist() == [3.0, 1.5]
    assert x.__div__(2).tolist() == [0.5, 1.0]
    assert ember.tensor([2, 3]).__rdiv__(3).tolist() == [1.5, 1.0]
    y = ember.tensor([4.0])
    y.__idiv__(2)
    assert y.tolist() == [2.0]


def test_integer_tensor_to_negative_tensor_power():
    base = ember.tensor([-3, -2, -1, 0, 1, 2, 3])
    # 1 and -1 keep their powers; every other base (0 too) gives 0
    assert (base ** ember.tensor(-1)).tolist() == [0, 0, -1, 0, 1, 0, 0]
    assert (base ** ember.tensor(-2)).tolist() == [0, 0, 1, 0, 1, 0, 0]
    assert (base ** ember.tensor([1, 2, -3, -1, -2, 2, 0])).tolist() == [-3, 4, -1, 0, 1, 4, 1]
    assert ((-1) ** ember.tensor([-1, -2])).tolist() == [-1, 1]
    assert (2 ** ember.tensor([-1, 0, 3])).tolist() == [0, 1, 8]
    i8 = ember.tensor([0, 1, -1], dtype=ember.int8) ** ember.tensor([-1, -2, -3], dtype=ember.int8)
    assert i8.dtype == ember.int8 and i8.tolist() == [0, 1, -1]
    with pytest.raises(RuntimeError, match="negative integer powers"):
        ember.tensor([2]) ** -1  # a number exponent still refuses, as in PyTorch


def test_float_power_of_complex_is_complex128():
    z = ember.tensor([1 + 1j], dtype=ember.complex64)
    out = ember.float_power(z, 2)
    assert out.dtype == ember.complex128
    assert np.allclose(out.numpy(), [2j])
    assert ember.float_power(ember.tensor([2.0]), 1j).dtype == ember.complex128
    assert ember.float_power(2, ember.tensor([1j])).dtype == ember.complex128
    assert ember.float_power(ember.tensor([2]), ember.tensor([3])).dtype == ember.float64


def test_float_power_inplace_needs_the_result_dtype():
    with pytest.raises(RuntimeError, match="has dtype Float but .* requires dtype Double"):
        ember.tensor([2.0]).float_power_(2)
    with pytest.raises(RuntimeError, match="requires dtype ComplexDouble"):
        ember.tensor([2.0], dtype=ember.float64).float_power_(1j)
    x = ember.tensor([3.0], dtype=ember.float64)
    assert x.float_power_(2).tolist() == [9.0]


def test_real_base_to_complex_power_gradient():
    e = ember.tensor([0.5 - 1j, 0.2 + 0.3j], dtype=ember.complex128, requires_grad=True)
    assert gradcheck(lambda e: ember.pow(2.0, e), (e,))
    x = ember.tensor([1 + 2j, -0.5j], dtype=ember.complex128, requires_grad=True)
    assert gradcheck(ember.ldexp, (x, e))


def test_logit_of_bool_and_integers():
    out = ember.logit(ember.tensor([True, False]))
    assert out.dtype == ember.float32 and out.tolist() == [float("inf"), float("-inf")]
    assert np.allclose(ember.logit(ember.tensor([True, False]), 0.1).numpy(),
                       [np.log(9), -np.log(9)])
    assert ember.logit(ember.tensor([0, 1])).tolist() == [float("-inf"), float("inf")]


def test_complex_logaddexp_follows_the_larger_real_part():
    a = [1 + 3j, -2 - 3j, 100 + 2j, 1e-3j, 1 - 3j]
    b = [0.5 - 2.9j, 0.5 - 2.9j, 0.5 - 2.9j, 0.5 - 2.9j, 1 + 3j]
    got = ember.logaddexp(ember.tensor(a, dtype=ember.complex128),
                          ember.tensor(b, dtype=ember.complex128)).numpy()
    for x, y, g in zip(a, b, got):
        hi, lo = (x, y) if x.real >= y.real else (y, x)  # x on a tie
        assert cmath.isclose(g, hi + cmath.log(1 + cmath.exp(lo - hi)), rel_tol=1e-12)
    inf = float("inf")
    edge = ember.logaddexp(ember.tensor([complex(-inf, 1), complex(inf, 1)]),
                           ember.tensor([complex(-inf, 2), complex(1, 2)])).numpy()
    assert edge[0] == complex(-inf, 2) and edge[1] == complex(inf, 1)
    x = ember.tensor([1 + 3j, 0.2 - 1j], dtype=ember.complex128, requires_grad=True)
    y = ember.tensor([0.5 - 2.9j, 0.7 + 0.1j], dtype=ember.complex128, requires_grad=True)
    assert gradcheck(ember.logaddexp, (x, y))


# --- creation -------------------------------------------------------------------------------

def test_integer_linspace_truncates_the_ends_first():
    out = ember.linspace(-4.8, 7, 50, dtype=ember.int64)
    assert out[:7].tolist() == [-4, -3, -3, -3, -3, -2, -2] and out[-1].item() == 7
    t = ember.linspace(ember.tensor(-4.8), ember.tensor(7), 50, dtype=ember.int64)
    assert t.tolist() == out.tolist()
    # each value is start + step * i rounded once (a fused multiply-add): 2.999..., so 2
    assert ember.linspace(17, -102, 52, dtype=ember.int64)[6].item() == 2
    assert ember.linspace(3, -5, 4, dtype=ember.uint8).tolist() == [3, 85, 168, 251]
    assert ember.logspace(0.5, 3.5, 4, dtype=ember.int64).tolist() == [1, 10, 100, 1000]
    assert ember.logspace(-1.5, 3.7, 4, base=2.5, dtype=ember.int64).tolist() == [0, 1, 4, 15]
    assert ember.logspace(1, -3, 41, dtype=ember.int64)[10].item() == 1


def test_linspace_float32_counts_from_both_ends():
    out = ember.linspace(0.1, 1.7, 13).numpy()
    s, e = np.float32(0.1), np.float32(1.7)
    step = (e - s) / np.float32(12)
    i = np.arange(13)
    want = np.where(i < 6, np.float64(s) + np.float64(step) * i,
                    np.float64(e) - np.float64(step) * (12 - i)).astype(np.float32)
    assert out.dtype == np.float32 and np.array_equal(out, want)
    assert out[0] == s and out[-1] == e


def test_linspace_logspace_tensor_ends_and_complex():
    start = ember.tensor(4.3)  # float32: its value, not float32 arithmetic
    out = ember.logspace(start, 2, 4, base=1.1, dtype=ember.float64)
    assert out[0].item() == 1.1 ** float(np.float32(4.3))
    z = ember.linspace(1j, 5, 5)
    assert z.dtype == ember.complex64
    assert np.allclose(z.numpy(), np.linspace(1j, 5, 5))
    assert ember.linspace(1, 5, 1).tolist() == [1.0]
    assert ember.logspace(3, 5, 1).tolist() == [1000.0]
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.linspace(0, 1, 3, dtype=ember.bool)


# --- movement -------------------------------------------------------------------------------

def test_tensor_split_tensor_and_unordered_indices():
    x = ember.arange(7)
    split = [t.tolist() for t in x.tensor_split(ember.tensor(3))]
    assert split == [[0, 1, 2], [3, 4], [5, 6]]
    assert [t.tolist() for t in x.tensor_split(ember.tensor([1, -1]))] == [[0], [1, 2, 3, 4, 5],
                                                                          [6]]
    # pieces are Python slices between consecutive indices: they may overlap or be empty
    assert [t.tolist() for t in x.tensor_split([5, 2])] == [[0, 1, 2, 3, 4], [], [2, 3, 4, 5, 6]]
    assert [t.tolist() for t in x.tensor_split([-2, 10])] == [[0, 1, 2, 3, 4], [5, 6], []]
    with pytest.raises(RuntimeError, match="dtype of long"):
        x.tensor_split(ember.tensor(2.0))
    with pytest.raises(RuntimeError, match="zero-dimensional or one-dimensional"):
        x.tensor_split(ember.tensor([[1]]))
    y = ember.arange(12.0, dtype=ember.float64).reshape(3, 4).requires_grad_()
    assert gradcheck(lambda y: ember.cat(y.tensor_split([3, 1], dim=1), 1), (y,))


def test_sum_to_size_bool_and_errors():
    x = ember.tensor([[True, False, True], [True, False, False]])
    assert x.sum_to_size(3).tolist() == [2, 0, 1] and x.sum_to_size(3).dtype == ember.int64
    assert x.sum_to_size(2, 3) is x
    zero_d = ember.tensor(True).sum_to_size(())
    assert zero_d.dtype == ember.int64 and zero_d.item() == 1
    with pytest.raises(RuntimeError, match=r"size \{\[3, 2\]\} is not expandable"):
        ember.ones(6, 1).sum_to_size(3, 2)
    with pytest.raises(RuntimeError, match="not expandable"):
        x.sum_to_size(1, 1, 1, 3)


# --- special --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["chebyshev_polynomial_t", "hermite_polynomial_h",
                                  "legendre_polynomial_p", "shifted_chebyshev_polynomial_w"])
def test_orthogonal_polynomials_keep_0d(name):
    fn = getattr(ember.special, name)
    assert fn(ember.tensor(0.3), 3).shape == ()
    assert fn(ember.tensor(0.3), ember.tensor(2)).shape == ()
    assert fn(ember.tensor([0.3]), 3).shape == (1,)
    assert ember.special.chebyshev_polynomial_t(ember.tensor(0.3), 3).item() == pytest.approx(
        4 * 0.3 ** 3 - 3 * 0.3)


# --- Python protocol methods ----------------------------------------------------------------

def test_contains_reversed_and_reflected_shifts():
    t = ember.tensor([[1, 2], [3, 4]])
    assert 3 in t and 7 not in t and 2.0 in t and np.int64(4) in t
    assert ember.tensor([1, 2]) in t  # broadcast against t, then any
    with pytest.raises(RuntimeError, match="only supports Tensor or scalar"):
        "a" in t  # noqa: B015
    assert reversed(t).tolist() == [[3, 4], [1, 2]]
    assert reversed(ember.tensor(3)).item() == 3
    assert (1 << ember.tensor([1, 2])).tolist() == [2, 4]
    assert (16 >> ember.tensor([1, 2])).tolist() == [8, 4]
    assert (1 << ember.tensor([3], dtype=ember.int32)).dtype == ember.int32
    x = ember.tensor([1, 2])
    y = x
    x <<= 2
    assert x is y and y.tolist() == [4, 8]
    x >>= 1
    assert x is y and y.tolist() == [2, 4]
    assert ember.tensor(3).__long__() == 3 and ember.tensor(0).__nonzero__() is False


# --- dtypes beyond the common five ----------------------------------------------------------

def test_full_checks_the_fill_like_pytorch():
    assert ember.full_like(ember.zeros(2, dtype=ember.uint8), -9).tolist() == [247, 247]
    assert ember.full((2,), 2.7, dtype=ember.int8).tolist() == [2, 2]
    assert ember.full((1,), 2.0 ** 63, dtype=ember.int64).item() == -2 ** 63  # compared as doubles
    for value, dtype, name in [(300, ember.int8, "int8_t"), (-2.7, ember.uint8, "uint8_t"),
                               (256, ember.uint8, "uint8_t"), (float("nan"), ember.int8, "int8_t"),
                               (1e39, ember.float32, "float"), (1j, ember.float32, "float"),
                               (2 ** 63, ember.int64, "int64_t")]:
        with pytest.raises(RuntimeError, match=f"to type {name} without overflow"):
            ember.full((1,), value, dtype=dtype)
    assert ember.full((1,), 1e39, dtype=ember.bfloat16).item() == float("inf")  # one element
    with pytest.raises(RuntimeError, match="to type c10::Half without overflow"):
        ember.full((2,), 65519.0, dtype=ember.float16)  # (65504 is float16's largest)
    assert ember.full((1,), 1 + 0j, dtype=ember.float32).item() == 1.0


def test_unsigned_sum_to_size_is_int64():
    x = ember.tensor([[1, 2], [3, 250]], dtype=ember.uint8)
    out = x.sum_to_size(2)
    assert out.dtype == ember.int64 and out.tolist() == [4, 252]


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16])
def test_half_types_keep_their_dtype_and_round_once(dtype):
    a = ember.tensor([0.5, 2.0, 3.0], dtype=dtype)
    x = ember.tensor([1.0, 0.5, 4.0], dtype=dtype)
    assert ember.igamma(a, x).dtype == dtype and ember.igammac(a, x).dtype == dtype
    rng = np.random.default_rng(0)
    p, q, r = (ember.tensor(rng.normal(size=(4, 5)).astype(np.float32)).to(dtype)
               for _ in range(3))
    p32, q32, r32 = p.float().numpy(), q.float().numpy(), r.float().numpy()
    cases = [(ember.addcmul(p, q, r, value=3.14), p32 + np.float32(3.14) * q32 * r32),
             (ember.addcdiv(p, q, r), p32 + q32 / r32),
             (ember.lerp(p, q, 0.25), p32 + np.float32(0.25) * (q32 - p32))]
    for got, want in cases:
        assert got.dtype == dtype
        np.testing.assert_array_equal(got.float().numpy(),
                                      ember.tensor(want).to(dtype).float().numpy())


def test_integer_arange_truncates_start_end_and_step():
    assert ember.arange(0.5, 4.5, 1.5, dtype=ember.int64).tolist() == [0, 1, 2, 3]
    assert ember.arange(0.5, 4.5, 2, dtype=ember.int64).tolist() == [0, 2]
    with pytest.raises(ValueError, match="step must be nonzero"):
        ember.arange(0, 1, 0.5, dtype=ember.int64)
    # other integer dtypes count the values in double but step by the truncated step
    assert ember.arange(-3.58, 0.77, 0.996, dtype=ember.int32).tolist() == [-3] * 5
    assert ember.arange(-3.58, 0.77, 1.7, dtype=ember.int16).tolist() == [-3, -2, -1]


def test_float_arange_rounds_each_value_once():
    out = ember.arange(0, 1, 0.1, dtype=ember.float64).numpy()
    assert len(out) == 10 and out[3] == 0.30000000000000004  # fma(3, 0.1, 0) = 0.1 * 3
    i = np.arange(10)
    assert np.allclose(out, i * 0.1, rtol=1e-15, atol=0)
    assert ember.arange(5.0).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert ember.arange(1000.0, dtype=ember.float16)[-1].item() == 999.0


def test_tensor_of_non_numbers_raises_like_pytorch():
    for data, name in [(None, "NoneType"), ([None], "NoneType"), ({1: 2}, "dict"),
                       ([[1, object()]], "object")]:
        with pytest.raises(RuntimeError, match=f"Could not infer dtype of {name}"):
            ember.tensor(data)
    with pytest.raises(TypeError, match="invalid data type 'str'"):
        ember.tensor([1, "a"])


def test_as_strided_inplace_and_view_inplace_leaf_checks():
    x = ember.arange(6.0)
    assert x.as_strided_((2, 2), (1, 2)) is x
    assert x.tolist() == [[0.0, 2.0], [1.0, 3.0]] and x.stride() == (1, 2)
    v = ember.arange(10.0)[2:]
    v.as_strided_((3,), (2,), 1)  # storage_offset counts from the storage's start
    assert v.tolist() == [1.0, 3.0, 5.0] and v.storage_offset() == 1
    for op in (lambda t: t.squeeze_(), lambda t: t.t_(), lambda t: t.unsqueeze_(0),
               lambda t: t.as_strided_((2,), (1,))):
        leaf = ember.arange(4.0, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            op(leaf)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
            op(leaf[:])
        with ember.no_grad():
            op(leaf)
    y = ember.arange(4.0, dtype=ember.float64, requires_grad=True)
    z = y * 1
    z.as_strided_((2,), (2,))
    z.sum().backward()
    assert y.grad.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_equality_with_foreign_objects_and_complex_scalars():
    t = ember.tensor([1, 2])
    assert (t == "a") is False and (t != "a") is True and (t == [1, 2]) is False
    assert t not in [None, "x"]
    assert float(ember.tensor(1.5 + 0j)) == 1.5 and int(ember.tensor(2.5 + 0j)) == 2
    with pytest.raises(RuntimeError, match="to type double without overflow"):
        float(ember.tensor(1 + 2j))
    with pytest.raises(RuntimeError, match="to type int64_t without overflow"):
        int(ember.tensor(1 + 2j))


def test_view_as_real_backward_of_an_empty_complex_tensor():
    x = ember.zeros(1, 0, 3, dtype=ember.complex128, requires_grad=True)
    (grad,) = ember.autograd.grad(ember.view_as_real(ember.acos(x)).sum(), x)
    assert grad.shape == (1, 0, 3) and grad.dtype == ember.complex128
    assert ember.view_as_complex(ember.zeros(3, 0, 2)).shape == (3, 0)
