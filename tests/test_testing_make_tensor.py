"""ember.testing.make_tensor on its own: ranges, determinism, exclude_zero, layouts, errors."""
import math

import numpy as np
import pytest

import ember
from ember.testing import make_tensor

INTEGRAL = ["uint8", "int8", "int16", "int32", "int64"]
FLOATING = ["float16", "bfloat16", "float32", "float64"]
COMPLEX = ["complex64", "complex128"]


def _values(t):
    """The tensor's numbers as a flat float64 array (real and imaginary parts for complex)."""
    t = t.detach()
    if t.dtype.is_complex:
        t = ember.view_as_real(t)
    return t.to(ember.float64).numpy().ravel()


@pytest.mark.parametrize("name, low, high", [("bool", 0, 1), ("uint8", 0, 9), ("int8", -9, 9),
                                             ("int64", -9, 9), ("float32", -9, 9),
                                             ("bfloat16", -9, 9), ("complex128", -9, 9)])
def test_default_ranges(name, low, high):
    values = _values(make_tensor(2000, dtype=getattr(ember, name), device="cpu"))
    assert values.min() >= low and values.max() <= high
    assert len(np.unique(values)) > 1


@pytest.mark.parametrize("name", INTEGRAL + FLOATING + COMPLEX)
def test_given_range(name):
    t = make_tensor(4, 500, dtype=getattr(ember, name), device="cpu", low=1, high=5)
    values = _values(t)
    assert values.min() >= 1 and values.max() <= 5  # float16 may round up to 5
    if name in INTEGRAL:
        assert set(np.unique(values)) == {1, 2, 3, 4}


def test_integer_bounds_are_ceiled_and_clamped():
    values = _values(make_tensor(1000, dtype=ember.int16, device="cpu", low=-1.5, high=1.5))
    assert set(np.unique(values)) == {-1, 0, 1}
    values = _values(make_tensor(1000, dtype=ember.uint8, device="cpu", low=-100, high=2))
    assert set(np.unique(values)) == {0, 1}
    values = _values(make_tensor(1000, dtype=ember.float16, device="cpu", low=-math.inf))
    assert np.isfinite(values).all() and values.max() <= 9


@pytest.mark.parametrize("name", ["bool", "int32", "float64", "complex64", "bfloat16"])
def test_deterministic_after_manual_seed(name):
    dtype = getattr(ember, name)
    ember.manual_seed(5)
    first = make_tensor(3, 4, dtype=dtype, device="cpu")
    ember.manual_seed(5)
    again = make_tensor((3, 4), dtype=dtype, device="cpu")
    np.testing.assert_array_equal(_values(first), _values(again))
    assert not np.array_equal(_values(first), _values(make_tensor(3, 4, dtype=dtype,
                                                                  device="cpu")))


def test_floating_draws_are_uniform_fills():
    ember.manual_seed(0)
    expected = ember.empty(3, 5, dtype=ember.float32).uniform_(-2, 3)
    ember.manual_seed(0)
    actual = make_tensor(3, 5, dtype=ember.float32, device="cpu", low=-2, high=3)
    np.testing.assert_array_equal(actual.numpy(), expected.numpy())


@pytest.mark.parametrize("name, replacement", [("bool", True), ("int8", 1), ("uint8", 1),
                                               ("float16", 2.0 ** -14),
                                               ("float64", np.finfo(np.float64).tiny),
                                               ("complex64", np.finfo(np.float32).tiny)])
def test_exclude_zero(name, replacement):
    dtype = getattr(ember, name)
    ember.manual_seed(0)
    plain = make_tensor(400, dtype=dtype, device="cpu", low=0, high=1)
    ember.manual_seed(0)
    excluded = make_tensor(400, dtype=dtype, device="cpu", low=0, high=1, exclude_zero=True)
    zeros = plain.numpy() == 0
    assert (excluded.numpy() != 0).all()
    if dtype.is_floating_point or dtype.is_complex:  # few exact zeros: make one to replace
        assert not zeros.any() or (excluded.numpy()[zeros] == replacement).all()
    else:
        assert zeros.any()
        assert (excluded.numpy()[zeros] == replacement).all()
    np.testing.assert_array_equal(excluded.numpy()[~zeros], plain.numpy()[~zeros])


def test_noncontiguous_keeps_every_other_column_of_a_wider_draw():
    ember.manual_seed(0)
    wide = make_tensor(2, 3, 8, dtype=ember.float64, device="cpu")
    ember.manual_seed(0)
    t = make_tensor(2, 3, 4, dtype=ember.float64, device="cpu", noncontiguous=True)
    assert t.shape == (2, 3, 4) and not t.is_contiguous()
    assert t.stride() == (24, 8, 2) and t.storage_offset() == 1
    np.testing.assert_array_equal(t.numpy(), wide.numpy()[..., 1::2])


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_noncontiguous_ignored_below_two_elements(shape):
    t = make_tensor(*shape, dtype=ember.float32, device="cpu", noncontiguous=True)
    assert t.is_contiguous()


def test_channels_last_and_requires_grad():
    t = make_tensor(2, 3, 4, 5, dtype=ember.float32, device="cpu", requires_grad=True,
                    memory_format=ember.channels_last)
    assert t.is_contiguous(memory_format=ember.channels_last) and not t.is_contiguous()
    assert t.requires_grad and t.is_leaf
    assert not make_tensor(3, dtype=ember.float32, device="cpu").requires_grad


@pytest.mark.parametrize("kwargs, error, match", [
    ({"dtype": ember.float32, "low": math.nan}, ValueError, "cannot be NaN"),
    ({"dtype": ember.float32, "low": 3, "high": 1}, ValueError, "must be less than"),
    ({"dtype": ember.int8, "low": 300, "high": 400}, ValueError, r"only supports \[-128, 128\)"),
    ({"dtype": ember.int32, "requires_grad": True}, ValueError, "requires_grad=True"),
    ({"dtype": ember.float32, "noncontiguous": True, "memory_format": ember.channels_last},
     ValueError, "mutually exclusive"),
    ({"dtype": ember.qint8}, TypeError, "not supported"),
    ({"dtype": "float32"}, TypeError, "not supported"),
])
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_tensor(2, 3, 4, 5, device="cpu", **kwargs)


def test_low_equal_high_warns():
    with pytest.warns(FutureWarning, match="low==high"):
        t = make_tensor(3, dtype=ember.float32, device="cpu", low=1, high=1)
    assert t.tolist() == [1.0, 1.0, 1.0]


def test_gradgradcheck_draws_its_grad_outputs_with_make_tensor():
    x = ember.tensor(np.random.default_rng(0).standard_normal((3, 2)), requires_grad=True)
    ember.manual_seed(2)
    assert ember.autograd.gradgradcheck(lambda t: (t * t.sin(), t.exp().sum()), (x,),
                                        gen_non_contig_grad_outputs=True)
    ember.manual_seed(2)
    make_tensor(3, 2, dtype=ember.float64, device="cpu", low=-1, high=1, noncontiguous=True)
    make_tensor((), dtype=ember.float64, device="cpu", low=-1, high=1)
    after_draws = ember.rand(3).tolist()
    ember.manual_seed(2)
    ember.autograd.gradgradcheck(lambda t: (t * t.sin(), t.exp().sum()), (x,),
                                 gen_non_contig_grad_outputs=True)
    assert ember.rand(3).tolist() == after_draws
