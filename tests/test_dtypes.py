"""dtype objects, conversions, the default dtype and PyTorch's promotion rules."""
import numpy as np
import pytest

import ember
from ember import dtypes


def test_dtype_objects_and_aliases():
    assert ember.float is ember.float32 and ember.double is ember.float64
    assert ember.half is ember.float16 and ember.long is ember.int64 and ember.int is ember.int32
    assert ember.short is ember.int16 and ember.cfloat is ember.complex64
    assert repr(ember.float32) == "torch.float32"
    assert ember.float32.is_floating_point and not ember.int64.is_floating_point
    assert ember.complex64.is_complex and ember.int64.is_signed and not ember.uint8.is_signed
    assert ember.float32.itemsize == 4 and ember.bfloat16.itemsize == 2
    assert ember.ones(2).element_size() == 4


@pytest.mark.parametrize("spec, expected", [
    (float, ember.float32), (int, ember.int64), (bool, ember.bool), (complex, ember.complex64),
    ("float32", ember.float32), ("torch.float64", ember.float64), ("long", ember.int64),
    (np.float16, ember.float16), (np.dtype("int32"), ember.int32), (ember.uint8, ember.uint8),
])
def test_to_dtype(spec, expected):
    assert dtypes.to_dtype(spec) is expected


def test_from_numpy_dtype_rejects_unsupported():
    with pytest.raises(TypeError, match="can't convert np.ndarray of type"):
        ember.from_numpy(np.array(["a"]))


def test_default_dtype():
    assert ember.get_default_dtype() is ember.float32
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.tensor([1.5]).dtype == ember.float64
        assert ember.ones(2).dtype == ember.float64 and ember.arange(2.0).dtype == ember.float64
        assert ember.tensor([1j]).dtype == ember.complex128
        assert (ember.ones(2, dtype=ember.int64) * 1.5).dtype == ember.float64
        assert repr(ember.tensor([1.5])) == "tensor([1.5000])"  # the default is not printed
        assert repr(ember.tensor([1.5], dtype=ember.float32)) == (
            "tensor([1.5000], dtype=torch.float32)")
    finally:
        ember.set_default_dtype(ember.float32)
    with pytest.raises(TypeError, match="only floating-point types are supported as the "
                                        "default type"):
        ember.set_default_dtype(ember.int64)


# PyTorch's promotion table for a subset of dtypes (rows promote with columns).
_ORDER = [ember.bool, ember.uint8, ember.int8, ember.int16, ember.int32, ember.int64,
          ember.float16, ember.bfloat16, ember.float32, ember.float64, ember.complex64,
          ember.complex128]
_TABLE = """
b1 u1 i1 i2 i4 i8 f2 bf f4 f8 c8 c16
u1 u1 i2 i2 i4 i8 f2 bf f4 f8 c8 c16
i1 i2 i1 i2 i4 i8 f2 bf f4 f8 c8 c16
i2 i2 i2 i2 i4 i8 f2 bf f4 f8 c8 c16
i4 i4 i4 i4 i4 i8 f2 bf f4 f8 c8 c16
i8 i8 i8 i8 i8 i8 f2 bf f4 f8 c8 c16
f2 f2 f2 f2 f2 f2 f2 f4 f4 f8 c8 c16
bf bf bf bf bf bf f4 bf f4 f8 c8 c16
f4 f4 f4 f4 f4 f4 f4 f4 f4 f8 c8 c16
f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 c16 c16
c8 c8 c8 c8 c8 c8 c8 c8 c8 c16 c8 c16
c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16
"""
_CODES = {"b1": ember.bool, "u1": ember.uint8, "i1": ember.int8, "i2": ember.int16,
          "i4": ember.int32, "i8": ember.int64, "f2": ember.float16, "bf": ember.bfloat16,
          "f4": ember.float32, "f8": ember.float64, "c8": ember.complex64,
          "c16": ember.complex128}


def test_promote_types_table():
    rows = [line.split() for line in _TABLE.strip().splitlines()]
    for a, row in zip(_ORDER, rows):
        for b, code in zip(_ORDER, row):
            assert ember.promote_types(a, b) is _CODES[code], (a, b)
            assert ember.promote_types(b, a) is _CODES[code], (b, a)


def test_result_type_priorities():
    i32 = ember.ones(2, dtype=ember.int32)
    assert ember.result_type(i32, 1.0) == ember.float32
    assert ember.result_type(i32, 1) == ember.int32
    assert ember.result_type(ember.tensor(1, dtype=ember.int32), ember.ones(2, dtype=ember.int8)
                             ) == ember.int8
    assert ember.result_type(ember.ones(2, dtype=ember.bfloat16),
                             ember.tensor(1, dtype=ember.complex64)) == ember.complex64
    assert ember.can_cast(ember.int32, ember.float32)
    assert not ember.can_cast(ember.float32, ember.int32)


def test_finfo_iinfo():
    assert ember.finfo(ember.float32).eps == np.finfo(np.float32).eps
    assert ember.finfo().eps == np.finfo(np.float32).eps
    assert ember.finfo(ember.bfloat16).bits == 16
    assert ember.iinfo(ember.int8).max == 127


def test_casts_to_integer_or_bool_leave_the_graph():
    """As in PyTorch: an integer or bool result never requires grad; float casts stay
    differentiable."""
    x = ember.randn(3, requires_grad=True)
    for cast in (x.int(), x.long(), x.bool(), x.to(ember.uint8), x.type(ember.int16)):
        assert not cast.requires_grad and cast.grad_fn is None
    assert x.double().requires_grad and type(x.half().grad_fn).__name__ == "ToCopyBackward0"


def test_type_accepts_legacy_typed_classes():
    x = ember.tensor([1.5, -2.5])
    assert x.type(ember.LongTensor).tolist() == [1, -2]
    assert x.type(ember.DoubleTensor).dtype == ember.float64
    assert isinstance(x.type(ember.IntTensor), ember.IntTensor)
