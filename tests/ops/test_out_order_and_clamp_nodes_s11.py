"""``out=`` of ops that take it directly: where the kernel refuses the operands and ``out``
cannot hold their promoted dtype, the cast's error comes first (as in PyTorch); clamp's number
bounds want ``out`` of the result's exact dtype; clamp_min/clamp_max name their own nodes; the
shared tables of elementwise modules and C++ type names. The sweep against torch itself is
tests/conformance/test_dtype_refusals_vs_torch.py."""
import numpy as np
import pytest

import ember
from ember.ops import _util
from ember.ops.inplace import ELEMENTWISE_MODULES, OPERANDS

C = ember.tensor([1 + 1j, 2j])
B = ember.tensor([True, False])
I64 = ember.tensor([1, 2])
F = ember.tensor([1.5, 2.0])

_CAST = "can't be cast to the desired output type"


@pytest.mark.parametrize("name", ["floor_divide", "remainder", "fmod", "atan2", "arctan2",
                                  "hypot", "xlogy"])
@pytest.mark.parametrize("out_dtype", [ember.float32, ember.int64])
def test_complex_operands_meet_the_cast_error_first(name, out_dtype):
    with pytest.raises(RuntimeError, match=f"ComplexFloat {_CAST} "):
        getattr(ember, name)(C, C, out=ember.empty(2, dtype=out_dtype))
    with pytest.raises(NotImplementedError):  # without out: the kernel's error
        getattr(ember, name)(C, C)


@pytest.mark.parametrize("name", ["hypot", "logaddexp"])
def test_integer_operands_into_bool_out(name):
    with pytest.raises(RuntimeError, match=f"result type Long {_CAST} Bool"):
        getattr(ember, name)(I64, I64, out=ember.empty(2, dtype=ember.bool))
    with pytest.raises(NotImplementedError, match="'Long'"):  # out can hold them: the kernel's
        getattr(ember, name)(I64, I64, out=ember.empty(2, dtype=ember.int64))


def test_out_that_fits_is_written():
    out = ember.empty(2)
    assert ember.fmod(F, 1.0, out=out) is out
    np.testing.assert_allclose(out.numpy(), np.fmod(F.numpy(), 1.0))
    out = ember.empty(2, dtype=ember.float64)
    ember.logaddexp(F, F, out=out)
    np.testing.assert_allclose(out.numpy(), np.logaddexp(F.numpy(), F.numpy()), rtol=1e-6)


def test_clamp_tensor_bounds_cast_first_but_complex_input_refused_first():
    with pytest.raises(RuntimeError, match=f"ComplexFloat {_CAST} Bool"):
        ember.clamp(B, B, C, out=ember.empty(2, dtype=ember.bool))
    with pytest.raises(NotImplementedError, match="complex"):
        ember.clamp(C, C, out=ember.empty(2, dtype=ember.bool))


@pytest.mark.parametrize("fn", [lambda x, **kw: ember.clamp(x, min=0, **kw),
                                lambda x, **kw: ember.clamp(x, 0, 2.5, **kw),
                                lambda x, **kw: ember.clamp_min(x, 0, **kw),
                                lambda x, **kw: ember.clamp_max(x, 0, **kw)])
def test_clamp_number_bounds_want_out_of_the_result_dtype(fn):
    with pytest.raises(RuntimeError, match="Found dtype Double but expected Float"):
        fn(F, out=ember.empty(2, dtype=ember.float64))
    out = ember.empty(2)
    assert fn(F, out=out) is out
    np.testing.assert_array_equal(out.numpy(), fn(F).numpy())


def test_clamp_out_checked_before_the_bool_kernel():
    with pytest.raises(RuntimeError, match="Found dtype Long but expected Bool"):
        ember.clamp(B, min=True, out=ember.empty(2, dtype=ember.int64))
    with pytest.raises(NotImplementedError, match="'Bool'"):
        ember.clamp(B, min=True, out=ember.empty(2, dtype=ember.bool))


def test_clamp_min_max_need_their_bound():
    with pytest.raises(TypeError):
        ember.clamp_min(F, None)
    with pytest.raises(TypeError):
        ember.clamp_max(F, None)


def test_clamp_node_names():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    lo = ember.tensor([1.5, 1.5, 1.5])
    cases = {
        "ClampBackward1": [ember.clamp(x, 1, 2), ember.clamp(x, min=1), x.clip(1, 2)],
        "ClampBackward0": [ember.clamp(x, lo), ember.clamp(x, max=lo)],
        "ClampMinBackward0": [ember.clamp_min(x, 1), x.clamp_min(1), x.clone().clamp_min_(1)],
        "ClampMaxBackward0": [ember.clamp_max(x, 2), x.clamp_max(2)],
        "ClampMinBackward1": [ember.clamp_min(x, lo), x.clamp_min(lo)],
        "ClampMaxBackward1": [ember.clamp_max(x, lo), x.clone().clamp_max_(lo)],
    }
    for name, results in cases.items():
        for y in results:
            assert y.grad_fn.name() == name


def test_clamp_min_max_gradients_unchanged():
    x = ember.tensor([0.3, 1.2, 2.7], dtype=ember.float64, requires_grad=True)
    lo = ember.tensor([0.5, 1.0, 3.0], dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda a: ember.clamp_min(a, 1.0), (x,))
    assert ember.autograd.gradcheck(lambda a: a.clamp_max(1.0), (x,))
    assert ember.autograd.gradcheck(lambda a, b: ember.clamp_min(a, b), (x, lo))
    assert ember.autograd.gradcheck(lambda a, b: ember.clamp_max(a, b), (x, lo))


def test_mvlgamma_complex_refused_before_out():
    for out_dtype in (ember.float32, ember.int64, ember.complex64):
        with pytest.raises(NotImplementedError, match='"arange_cpu" not implemented for '
                                                      "'ComplexFloat'"):
            ember.mvlgamma(C, 1, out=ember.empty(2, dtype=out_dtype))


def test_mvlgamma_out_cast_message_and_write():
    with pytest.raises(RuntimeError, match=f"mvlgamma: result type Long {_CAST} Float"):
        ember.mvlgamma(I64, 1, out=ember.empty(2, dtype=ember.int32))
    with pytest.raises(RuntimeError, match=f"mvlgamma: result type Double {_CAST} Double"):
        ember.mvlgamma(F.double(), 1, out=ember.empty(2, dtype=ember.int64))
    out = ember.empty(2, dtype=ember.float64)
    assert ember.mvlgamma(F, 2, out=out) is out
    np.testing.assert_allclose(out.numpy(), ember.mvlgamma(F, 2).double().numpy())


def test_one_table_of_elementwise_modules():
    # inplace's refusal and accepts_out's share it: the union of what each needs
    assert ELEMENTWISE_MODULES is _util.ELEMENTWISE_MODULES
    assert OPERANDS is _util.OPERANDS
    assert {"ember.special", "ember.ops.inplace_forms", "ember.ops.elementwise",
            "ember.ops.unary", "ember.ops.pointwise_extra"} == set(_util.ELEMENTWISE_MODULES)
    with pytest.raises(RuntimeError, match=f"ComplexFloat {_CAST} Float"):
        F.clone().atan2_(C)  # in place: self cannot hold the promoted dtype
    with pytest.raises(RuntimeError, match=f"ComplexFloat {_CAST} Float"):
        ember.special.xlog1py(C, C, out=ember.empty(2))


@pytest.mark.parametrize("dtype, name", [
    (ember.float32, "float"), (ember.float64, "double"), (ember.float16, "c10::Half"),
    (ember.bfloat16, "c10::BFloat16"), (ember.int64, "long int"), (ember.int32, "int"),
    (ember.int16, "short int"), (ember.int8, "signed char"), (ember.uint8, "unsigned char"),
    (ember.bool, "bool"), (ember.complex64, "c10::complex<float>"),
    (ember.complex128, "c10::complex<double>"), (ember.uint16, "uint16"),
])
def test_c_type_name(dtype, name):
    assert _util.c_type_name(dtype) == name


def test_messages_quoting_c_type_names():
    a, b = ember.ones(2, 2), ember.ones(2, 2, dtype=ember.float64)
    with pytest.raises(RuntimeError, match=r"float != double"):
        ember.mm(a, b)
    with pytest.raises(RuntimeError, match="Expected out tensor to have dtype bool, but "
                                           "got float instead"):
        ember.isin(ember.tensor([1]), ember.tensor([1]), out=ember.empty(1))
    with pytest.raises(RuntimeError, match="from is out of bounds for signed char"):
        ember.empty(2, dtype=ember.int8).random_(-1000, 10)
    with pytest.raises(RuntimeError, match="expected dtype float for `end` but got dtype double"):
        ember.lerp(a, b, 0.5)
