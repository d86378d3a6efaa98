"""Dtype refusals and ``out=`` rules of the comparison, logic and bitwise ops, as PyTorch 2
raises them (error types and the order of its checks), and the mixed-dtype results it allows,
against NumPy. The sweeps against torch itself are
tests/conformance/test_dtype_refusals_vs_torch.py and test_compare_out_dtypes_vs_torch.py."""
import inspect

import numpy as np
import pytest

import ember
from ember.ops._util import accepts_out

B = ember.tensor([True, False, True])
U8 = ember.tensor([1, 2, 255], dtype=ember.uint8)
I32 = ember.tensor([257, -1, 3], dtype=ember.int32)
F = ember.tensor([-1.5, -0.0, 2.0])
C = ember.tensor([1 + 1j, 0.5, -2j])

# ---------------------------------------------------------------------------------------------
# signbit, isposinf, isneginf: no complex kernel, bool outputs only


def test_signbit_refuses_complex():
    with pytest.raises(NotImplementedError, match="complex"):
        ember.signbit(C)
    with pytest.raises(NotImplementedError, match="complex"):  # before out's dtype
        ember.signbit(C, out=ember.empty(0))


@pytest.mark.parametrize("name", ["isposinf", "isneginf"])
def test_inf_predicates_refuse_complex(name):
    with pytest.raises(RuntimeError, match="complex inputs"):
        getattr(ember, name)(C)


@pytest.mark.parametrize("name", ["signbit", "isposinf", "isneginf"])
@pytest.mark.parametrize("dtype", [ember.uint8, ember.int32, ember.float32])
def test_predicate_out_must_be_bool(name, dtype):
    with pytest.raises(RuntimeError, match="non-boolean outputs"):
        getattr(ember, name)(F, out=ember.empty(0, dtype=dtype))


@pytest.mark.parametrize("name", ["signbit", "isposinf", "isneginf"])
def test_predicate_values_and_bool_out(name):
    x = ember.tensor([-1.5, -0.0, 0.0, float("inf"), float("-inf"), 2.0])
    expected = getattr(np, name)(x.numpy())
    np.testing.assert_array_equal(getattr(ember, name)(x).numpy(), expected)
    out = ember.empty(0, dtype=ember.bool)
    assert getattr(ember, name)(x, out=out) is out
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(getattr(ember, name)(I32).numpy(),
                                  getattr(np, name)(I32.numpy()))


# ---------------------------------------------------------------------------------------------
# In-place bitwise ops: the result is cast back to self's dtype within its category


@pytest.mark.parametrize("name,ufunc", [("bitwise_and_", np.bitwise_and),
                                        ("bitwise_or_", np.bitwise_or),
                                        ("bitwise_xor_", np.bitwise_xor)])
def test_inplace_bitwise_casts_a_wider_integer_back(name, ufunc):
    x = U8.clone()
    assert getattr(x, name)(I32) is x
    assert x.dtype is ember.uint8
    expected = ufunc(U8.numpy().astype(np.int32), I32.numpy()).astype(np.uint8)
    np.testing.assert_array_equal(x.numpy(), expected)


def test_inplace_bitwise_operators_and_numbers():
    x = U8.clone()
    x &= I32
    np.testing.assert_array_equal(x.numpy(), np.bitwise_and(U8.numpy().astype(np.int32),
                                                            I32.numpy()).astype(np.uint8))
    y = ember.tensor([1, 2, 3], dtype=ember.int32)
    y |= ember.tensor([1 << 40, 4, 8])  # int64 operand, int32 result wraps as a C cast does
    np.testing.assert_array_equal(y.numpy(), np.bitwise_or([1, 2, 3], [1 << 40, 4, 8])
                                  .astype(np.int32))
    z = U8.clone().bitwise_xor_(300)
    np.testing.assert_array_equal(z.numpy(), (U8.numpy().astype(np.int64) ^ 300) % 256)


@pytest.mark.parametrize("self,other,category", [
    (B, I32, "Int"), (B, 3, "Long"), (U8, F, "Float"), (I32, 2.5, "Float"), (I32, C, "Complex"),
    (F, C, "ComplexFloat"),
])
def test_inplace_bitwise_refuses_the_cast_first(self, other, category):
    """A result of a higher category is refused as a cast, even where no kernel exists."""
    with pytest.raises(RuntimeError, match=f"result type {category}.* can't be cast"):
        self.clone().bitwise_and_(other)


def test_inplace_bitwise_without_a_kernel():
    with pytest.raises(NotImplementedError, match="'Float'"):
        F.clone().bitwise_or_(I32)


def test_inplace_bitwise_refuses_a_broadcast_shape():
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        ember.tensor([1], dtype=ember.int32).bitwise_and_(ember.tensor([3, 4]))


# ---------------------------------------------------------------------------------------------
# out= of the bitwise, logic and comparison ops


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor",
                                  "bitwise_left_shift", "bitwise_right_shift", "bitwise_not",
                                  "logical_and", "logical_or", "logical_xor", "logical_not",
                                  "eq", "ne", "lt", "le", "gt", "ge", "isin", "signbit",
                                  "isposinf", "isneginf"])
def test_takes_out(name):
    assert "out" in inspect.signature(getattr(ember, name)).parameters


def test_bitwise_or_out_casts_into_a_wider_dtype():
    out = ember.empty(0, dtype=ember.int64)
    assert ember.bitwise_or(U8, I32, out=out) is out
    np.testing.assert_array_equal(out.numpy(), np.bitwise_or(U8.numpy().astype(np.int32),
                                                             I32.numpy()))


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor",
                                  "bitwise_left_shift", "bitwise_right_shift"])
@pytest.mark.parametrize("other,category", [(F, "Float"), (2.5, "Float"), (C, "Complex")])
def test_bitwise_out_refuses_the_cast_before_the_kernel(name, other, category):
    with pytest.raises(RuntimeError, match=f"result type {category}.* can't be cast"):
        getattr(ember, name)(I32, other, out=ember.empty(0, dtype=ember.int32))


def test_bitwise_out_of_the_float_dtype_meets_the_kernel():
    with pytest.raises(NotImplementedError, match="'Float'"):
        ember.bitwise_and(I32, F, out=ember.empty(0))


@pytest.mark.parametrize("dtype", [ember.bool, ember.int64, ember.float32])
def test_bitwise_not_out_must_have_the_input_dtype(dtype):
    with pytest.raises(RuntimeError, match="but expected Int"):
        ember.bitwise_not(I32, out=ember.empty(0, dtype=dtype))
    with pytest.raises(RuntimeError, match="but expected Float"):  # before the kernel's error
        ember.bitwise_not(F, out=ember.empty(0, dtype=dtype if dtype is not ember.float32
                                             else ember.bool))
    out = ember.empty(0, dtype=ember.int32)
    assert ember.bitwise_not(I32, out=out) is out
    np.testing.assert_array_equal(out.numpy(), np.invert(I32.numpy()))


def test_isin_out_refusals_and_values():
    x = ember.tensor([1, 2, 3, 4])
    out = ember.empty(0, dtype=ember.bool)
    assert ember.isin(x, ember.tensor([2, 4]), out=out) is out
    np.testing.assert_array_equal(out.numpy(), np.isin([1, 2, 3, 4], [2, 4]))
    with pytest.raises(RuntimeError, match="to have dtype bool, but got long int"):
        ember.isin(x, 2, out=ember.empty(0, dtype=ember.int64))
    for elements, test in ((B, x), (x, B), (x, True), (C, x), (x, 1j)):
        with pytest.raises(RuntimeError, match="Unsupported input type encountered for isin"):
            ember.isin(elements, test)
    np.testing.assert_array_equal(ember.isin(x, 1.5).numpy(), [False] * 4)


# ---------------------------------------------------------------------------------------------
# Shifts: no Bool kernel, and numbers promote as operands do


@pytest.mark.parametrize("left,right", [(B, B), (B, True), (True, B),
                                        (B, ember.tensor(True))])
def test_shifts_of_bools_refused(left, right):
    with pytest.raises(NotImplementedError, match="\"lshift_cpu\" not implemented for 'Bool'"):
        ember.bitwise_left_shift(left, right)
    with pytest.raises(NotImplementedError, match="\"rshift_cpu\" not implemented for 'Bool'"):
        ember.bitwise_right_shift(left, right)


def test_shift_operators_and_inplace_of_bools():
    with pytest.raises(NotImplementedError, match="Bool"):
        B << B
    with pytest.raises(NotImplementedError, match="Bool"):
        B >> B
    with pytest.raises(NotImplementedError, match="Bool"):
        B.clone().bitwise_left_shift_(B)
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.bitwise_left_shift(B, B, out=ember.empty(0, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="result type Long can't be cast"):
        B.clone().bitwise_left_shift_(1)


def test_shifts_of_bools_with_integers_compute():
    b = B.numpy()
    for got, expected in ((B << 1, np.left_shift(b.astype(np.int64), 1)),
                          (1 << B, np.left_shift(1, b.astype(np.int64))),
                          (B >> ember.tensor([1], dtype=ember.uint8),
                           np.right_shift(b.astype(np.uint8), np.uint8(1)))):
        assert got.dtype is ember.from_numpy(expected).dtype
        np.testing.assert_array_equal(got.numpy(), expected)


# ---------------------------------------------------------------------------------------------
# accepts_out: an elementwise op's refusal meets out='s cast check first


@pytest.mark.parametrize("call,category", [
    (lambda out: ember.gcd(ember.tensor([1.0]), ember.tensor([2.0]), out=out), "Float"),
    (lambda out: ember.special.zeta(C, C, out=out), "ComplexFloat"),
    (lambda out: ember.polygamma(1, C, out=out), "ComplexFloat"),
    (lambda out: ember.logaddexp2(U8, U8, out=out), "Byte"),
])
def test_accepts_out_reports_the_cast_first(call, category):
    with pytest.raises(RuntimeError, match=f"result type {category} can't be cast to the "
                                           "desired output type Bool"):
        call(ember.empty(0, dtype=ember.bool))


def test_accepts_out_keeps_the_kernel_error_where_out_can_hold_the_result():
    with pytest.raises(NotImplementedError, match="gcd"):
        ember.gcd(ember.tensor([1.0]), ember.tensor([2.0]), out=ember.empty(0))


def test_accepts_out_outside_the_elementwise_modules_keeps_the_error():
    @accepts_out
    def refuses(input):
        raise NotImplementedError("no kernel")

    with pytest.raises(NotImplementedError, match="no kernel"):
        refuses(C, out=ember.empty(0, dtype=ember.bool))
