"""Dtypes the elementwise ops refuse as PyTorch does (error types as PyTorch 2 raises them),
and the mixed-dtype promotions that come with them. The sweep against torch itself is
tests/conformance/test_dtype_refusals_vs_torch.py."""
import numpy as np
import pytest

import ember


def _t(values, dtype):
    return ember.tensor(values, dtype=dtype)


B = _t([True, False], ember.bool)
I = _t([1, 2], ember.int64)
F = _t([0.5, 2.0], ember.float32)
C = _t([1 + 1j, 0.5], ember.complex64)


@pytest.mark.parametrize("name", ["abs", "absolute", "ceil", "floor", "trunc", "fix", "frac"])
def test_no_bool_kernel(name):
    with pytest.raises(NotImplementedError, match="Bool"):
        getattr(ember, name)(B)
    with pytest.raises(NotImplementedError, match="Bool"):
        getattr(B.clone(), name + "_")()


@pytest.mark.parametrize("name", ["erf", "erfc", "erfinv", "lgamma", "digamma", "i0", "logit"])
def test_no_complex_kernel(name):
    with pytest.raises(NotImplementedError, match="ComplexFloat"):
        getattr(ember, name)(C)
    with pytest.raises(NotImplementedError, match="ComplexFloat"):
        getattr(C.clone(), name + "_")()


def test_polygamma_and_mvlgamma_refusals():
    with pytest.raises(NotImplementedError, match="trigamma"):
        ember.polygamma(1, C)
    with pytest.raises(NotImplementedError, match='"polygamma"'):
        ember.polygamma(2, C)
    with pytest.raises(RuntimeError, match="boolean"):
        ember.mvlgamma(B, 1)


@pytest.mark.parametrize("name", ["abs_", "absolute_"])
def test_inplace_abs_of_complex(name):
    with pytest.raises(RuntimeError, match="In-place abs"):
        getattr(C.clone(), name)()


@pytest.mark.parametrize("name", ["deg2rad", "rad2deg"])
def test_angle_conversions_refuse_complex(name):
    with pytest.raises(RuntimeError, match="complex"):
        getattr(ember, name)(C)


@pytest.mark.parametrize("name", ["atan2", "xlogy", "floor_divide", "remainder", "fmod",
                                  "copysign", "nextafter", "igamma", "igammac", "gcd", "lcm",
                                  "logaddexp2"])
@pytest.mark.parametrize("order", [0, 1])
def test_binary_no_complex_kernel(name, order):
    a, b = (F, C) if order else (C, F)
    if name in ("gcd", "lcm"):
        a, b = (I, C) if order else (C, I)
    with pytest.raises(NotImplementedError, match="Complex"):
        getattr(ember, name)(a, b)


def test_xlog1py_no_complex_kernel():
    with pytest.raises(NotImplementedError, match="xlog1py_cpu"):
        ember.special.xlog1py(C, F)


@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_fmax_fmin_refuse_complex(name):
    with pytest.raises(RuntimeError, match=f"{name} not implemented for complex"):
        getattr(ember, name)(F, C)


def test_heaviside_refuses_complex():
    with pytest.raises(RuntimeError, match="complex"):
        ember.heaviside(C, C)


@pytest.mark.parametrize("name", ["gcd", "lcm", "nextafter", "igamma", "igammac"])
def test_binary_no_bool_kernel(name):
    with pytest.raises(NotImplementedError, match="Bool"):
        getattr(ember, name)(B, B)


@pytest.mark.parametrize("name", ["nextafter", "igamma", "igammac"])
def test_binary_no_integer_kernel(name):
    with pytest.raises(NotImplementedError, match="Long"):
        getattr(ember, name)(I, I)


def test_gcd_names_the_promoted_dtype():
    with pytest.raises(NotImplementedError, match="'Float'"):
        ember.gcd(I, F)


def test_integer_and_half_operands_give_the_half_type():
    h = _t([0.5, -2.0], ember.float16)
    assert ember.copysign(I, h).dtype is ember.float16
    assert ember.igamma(I, h.abs()).dtype is ember.float16
    assert ember.igammac(h.abs(), I).dtype is ember.float16


def test_logaddexp_of_bool_and_float():
    for fn, np_fn in ((ember.logaddexp, np.logaddexp), (ember.logaddexp2, np.logaddexp2)):
        out = fn(B, F)
        assert out.dtype is ember.float32
        np.testing.assert_allclose(out.numpy(), np_fn([1.0, 0.0], [0.5, 2.0]), rtol=1e-6)
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.logaddexp(B, B)


def test_ldexp_refusals_and_complex_powers():
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.ldexp(F, B)
    with pytest.raises(NotImplementedError, match="ComplexHalf"):
        ember.ldexp(C, _t([1.0, 2.0], ember.float16))
    half = ember.tensor([0.5, 1.0]).to(ember.bfloat16)  # 2 ** 0.5 not rounded to bfloat16
    out = ember.ldexp(C, half)
    assert out.dtype is ember.complex64
    np.testing.assert_allclose(out.numpy(), np.array([1 + 1j, 0.5]) * 2.0 ** np.array([0.5, 1]),
                               rtol=1e-6)


def test_clamp_of_bools_with_both_bounds():
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.clamp(B, B, B)
    assert ember.clamp(B, min=B).dtype is ember.bool


def test_addcmul_addcdiv_refuse_bool():
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.addcmul(B, B, B)
    with pytest.raises(NotImplementedError, match="Bool"):
        B.clone().addcmul_(B, B)


def test_addcmul_addcdiv_promote_before_computing():
    x = ember.tensor([1.0, 2.0])
    t1 = ember.tensor([1.0, 3.0]).to(ember.bfloat16)
    t2 = ember.tensor([1.2, 0.7])
    t2_np = np.float32([1.2, 0.7])
    expected = np.float32([1.0, 2.0]) + np.float32([1.0, 3.0]) * t2_np  # no bfloat16 rounding
    np.testing.assert_allclose(ember.addcmul(x, t1, t2).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(x.clone().addcmul_(t1, t2).numpy(), expected, rtol=1e-6)
    expected = np.float32([1.0, 2.0]) + np.float32([1.0, 3.0]) / t2_np
    np.testing.assert_allclose(ember.addcdiv(x, t1, t2).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(x.clone().addcdiv_(t1, t2).numpy(), expected, rtol=1e-6)


def test_addcmul_integer_value_is_truncated():
    out = ember.addcmul(I, I, I, value=0.5)  # value converted to the integer result: 0
    assert out.dtype is ember.int64
    assert out.tolist() == [1, 2]


@pytest.mark.parametrize("call", [
    lambda: I.clone().sqrt_(),
    lambda: I.clone().div_(2),
    lambda: I.clone().floor_divide_(C),
    lambda: I.clone().gcd_(F),
    lambda: B.clone().hypot_(_t([1, 2], ember.uint8)),
    lambda: I.clone().atan2_(C),
    lambda: I.clone().addcmul_(I, F),
    lambda: B.clone().addcdiv_(B, F),
    lambda: F.clone().clamp_(C, C),
], ids=["sqrt_", "div_", "floor_divide_", "gcd_", "hypot_", "atan2_", "addcmul_", "addcdiv_",
        "clamp_"])
def test_inplace_result_that_cannot_be_cast_back(call):
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        call()


def test_inplace_comparison_writes_its_own_refusal():
    with pytest.raises(NotImplementedError):
        I.clone().lt_(C)  # no complex ordering; the 0/1 result itself would fit
    assert B.clone().eq_(F).dtype is ember.bool


@pytest.mark.parametrize("name", ["asin", "acos", "atan", "asinh", "acosh", "atanh", "log2",
                                  "log10", "angle", "rad2deg"])
def test_out_of_float_functions(name):
    x = ember.tensor([0.5, 0.75]) + (1 if name == "acosh" else 0)
    out = ember.empty(0)
    assert getattr(ember, name)(x, out=out) is out
    np.testing.assert_allclose(out.numpy(), getattr(ember, name)(x).numpy())
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(ember, name)(I, out=ember.empty(0, dtype=ember.int64))


def test_float_power_out_must_be_double():
    with pytest.raises(RuntimeError, match="float_power"):
        ember.float_power(F, 2, out=ember.empty(0))
    out = ember.empty(0, dtype=ember.float64)
    assert ember.float_power(F, 2, out=out) is out
    np.testing.assert_allclose(out.numpy(), [0.25, 4.0])
