"""Gaps zuko and BoTorch found (tests/acceptance/test_thirdparty_s19_*.py): a tensor operator
meeting an operand of a type it cannot take returns NotImplemented, so that Python calls that
operand's reflected method (zuko's CNF adjoint multiplies a tensor by its own tuple-of-tensors
type, which defines ``__rmul__``); a float64 operand no longer promotes any object as if it were
float64 (NumPy's ``dtype('float64') == None`` holds); an empty list index selects nothing
(BoTorch's test functions index ``X[..., []]``)."""
from __future__ import annotations

import operator

import numpy as np
import pytest

import ember

# (operator, the name of the reflected method Python then tries on the other operand)
BINARY = [(operator.add, "__radd__"), (operator.sub, "__rsub__"), (operator.mul, "__rmul__"),
          (operator.truediv, "__rtruediv__"), (operator.floordiv, "__rfloordiv__"),
          (operator.mod, "__rmod__"), (operator.pow, "__rpow__"), (operator.and_, "__rand__"),
          (operator.or_, "__ror__"), (operator.xor, "__rxor__"),
          (operator.lshift, "__rlshift__"), (operator.rshift, "__rrshift__"),
          (operator.lt, "__gt__"), (operator.le, "__ge__"), (operator.gt, "__lt__"),
          (operator.ge, "__le__"), (operator.eq, "__eq__"), (operator.ne, "__ne__"),
          (operator.matmul, "__rmatmul__")]


class Pair(tuple):
    """A tuple of tensors that scales itself, as zuko's ``NestedTensor``."""

    def __rmul__(self, other):
        return Pair(other * x for x in self)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.int64])
@pytest.mark.parametrize(("op", "reflected"), BINARY, ids=[r for _, r in BINARY])
def test_an_operand_of_another_type_gets_its_reflected_method(op, reflected, dtype):
    other = type("Other", (), {reflected: lambda self, t: ("reflected", reflected)})()
    assert op(ember.ones(2, dtype=dtype), other) == ("reflected", reflected)


@pytest.mark.parametrize("op", [operator.add, operator.mul, operator.lt, operator.and_])
def test_without_a_reflected_method_python_raises_type_error(op):
    with pytest.raises(TypeError):
        op(ember.ones(2, dtype=ember.int64), object())
    with pytest.raises(TypeError):
        op(object(), ember.ones(2, dtype=ember.int64))
    assert (ember.ones(2) == object()) is False and (ember.ones(2) != object()) is True


def test_matmul_names_the_argument_that_is_not_a_tensor():
    with pytest.raises(TypeError, match=r"matmul\(\): argument 'input' \(position 1\) must be "
                                        "Tensor, not list"):
        ember.matmul([1.0], ember.ones(1))
    with pytest.raises(TypeError, match="unsupported operand"):
        ember.ones(2) @ "x"


@pytest.mark.parametrize("default", [ember.float32, ember.float64])
def test_a_tensor_times_a_tuple_subclass_with_rmul(default):
    previous = ember.get_default_dtype()
    ember.set_default_dtype(default)
    try:
        dt = ember.tensor(0.5)
        scaled = dt * Pair((ember.ones(2), ember.full((3,), 2.0)))
    finally:
        ember.set_default_dtype(previous)
    assert isinstance(scaled, Pair)
    np.testing.assert_array_equal(scaled[0].numpy(), [0.5, 0.5])
    np.testing.assert_array_equal(scaled[1].numpy(), [1.0, 1.0, 1.0])


def test_float64_and_a_python_bool_promote_as_pytorch():
    product = ember.tensor([1.5, 2.0], dtype=ember.float64) * True
    assert product.dtype == ember.float64
    np.testing.assert_array_equal(product.numpy(), [1.5, 2.0])


def test_an_error_between_two_tensors_still_propagates():
    with pytest.raises(RuntimeError):  # incompatible shapes: no fallback to identity
        ember.ones(2) + ember.ones(3)


def test_an_empty_list_index_selects_nothing():
    x = ember.arange(6.0).reshape(3, 2).requires_grad_()
    assert x[..., []].shape == (3, 0) and x[[]].shape == (0, 2)
    assert x[..., []].dtype == ember.float32
    x[..., []].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 2)))
    y = ember.zeros(3, 2)
    y[:, []] = 1.0
    np.testing.assert_array_equal(y.numpy(), np.zeros((3, 2)))
    with pytest.raises(IndexError):
        x[[0.5]]  # a non-empty float list is still no index
