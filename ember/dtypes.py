"""Dtype objects, their NumPy mapping, and PyTorch's type-promotion rules."""
from __future__ import annotations

import ml_dtypes
import numpy as np


class dtype:
    """A tensor element type (``ember.float32``, ``ember.int64``, ...)."""

    __slots__ = ("name", "np_dtype", "itemsize", "is_floating_point", "is_complex", "is_signed",
                 "_category")

    def __init__(self, name: str, np_dtype, category: int):
        self.name = name
        self.np_dtype = np.dtype(np_dtype)
        self.itemsize = self.np_dtype.itemsize
        self.is_floating_point = category == FLOAT
        self.is_complex = category == COMPLEX
        self.is_signed = name not in ("uint8", "uint16", "uint32", "uint64", "bool")
        self._category = category

    def __repr__(self) -> str:
        # PyTorch spells dtypes "torch.float32"; ember code runs as ``import ember as torch``.
        return "torch." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    def to_complex(self) -> "dtype":
        if self in FLOAT8:
            from ember._float8 import cpp_name
            raise RuntimeError(f"Unknown Complex ScalarType for {cpp_name(self)}")
        return {float32: complex64, float64: complex128, float16: complex64,
                bfloat16: complex64}.get(self, self)

    def to_real(self) -> "dtype":
        return {complex64: float32, complex128: float64}.get(self, self)


BOOL, INT, FLOAT, COMPLEX = 0, 1, 2, 3

bool = dtype("bool", np.bool_, BOOL)  # noqa: A001 - PyTorch's public name
uint8 = dtype("uint8", np.uint8, INT)
uint16 = dtype("uint16", np.uint16, INT)
uint32 = dtype("uint32", np.uint32, INT)
uint64 = dtype("uint64", np.uint64, INT)
int8 = dtype("int8", np.int8, INT)
int16 = dtype("int16", np.int16, INT)
int32 = dtype("int32", np.int32, INT)
int64 = dtype("int64", np.int64, INT)
float16 = dtype("float16", np.float16, FLOAT)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, FLOAT)
float32 = dtype("float32", np.float32, FLOAT)
float64 = dtype("float64", np.float64, FLOAT)
complex64 = dtype("complex64", np.complex64, COMPLEX)
complex128 = dtype("complex128", np.complex128, COMPLEX)

# PyTorch's aliases.
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
cfloat, cdouble = complex64, complex128

ALL = (bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64, float16, bfloat16,
       float32, float64, complex64, complex128)
_BY_NAME = {d.name: d for d in ALL}
_FROM_NP = {d.np_dtype: d for d in ALL}

# float8 (ml_dtypes): PyTorch stores, casts, views and prints them, but has few CPU kernels and
# no promotion with any other dtype (see ember/_float8.py).
float8_e4m3fn = dtype("float8_e4m3fn", ml_dtypes.float8_e4m3fn, FLOAT)
float8_e5m2 = dtype("float8_e5m2", ml_dtypes.float8_e5m2, FLOAT)
float8_e4m3fnuz = dtype("float8_e4m3fnuz", ml_dtypes.float8_e4m3fnuz, FLOAT)
float8_e5m2fnuz = dtype("float8_e5m2fnuz", ml_dtypes.float8_e5m2fnuz, FLOAT)
float8_e8m0fnu = dtype("float8_e8m0fnu", ml_dtypes.float8_e8m0fnu, FLOAT)
FLOAT8 = (float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu)
float8_e8m0fnu.is_signed = False
_BY_NAME.update((d.name, d) for d in FLOAT8)
_FROM_NP.update((d.np_dtype, d) for d in FLOAT8)
_FLOAT8_NP = frozenset(d.np_dtype for d in FLOAT8)


def _dtype_by_name(name: str) -> dtype:
    if name in _UNSTORABLE:
        return _UNSTORABLE[name]
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The ember dtype of a NumPy dtype; raises TypeError for types ember lacks."""
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        pass
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            f"can't convert np.ndarray of type {np_dtype}. The only supported types are: "
            "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, "
            "uint8, and bool.") from None


def to_dtype(d) -> dtype:
    """Accept an ember dtype, a NumPy dtype, a Python type or a type name."""
    if d.__class__ is dtype:
        return d
    if d is builtins_float:
        return get_default_dtype()
    if d is builtins_int:
        return int64
    if d is builtins_bool:
        return bool
    if d is builtins_complex:
        return get_default_dtype().to_complex()
    if isinstance(d, str):
        name = d[6:] if d.startswith("torch.") else d
        aliases = {"float": float32, "double": float64, "half": float16, "long": int64,
                   "int": int32, "short": int16}
        if name in aliases:
            return aliases[name]
        if name in _BY_NAME:
            return _BY_NAME[name]
    if isinstance(d, _UnstorableDtype):
        raise TypeError(f"ember cannot make tensors of {d}: NumPy has no such element type")
    return from_numpy_dtype(d)


import builtins as _builtins  # noqa: E402

builtins_float, builtins_int = _builtins.float, _builtins.int
builtins_bool, builtins_complex = _builtins.bool, _builtins.complex

_default_dtype = float32


def set_default_dtype(d: dtype) -> None:
    """Set the dtype of new floating-point tensors (float32 unless changed)."""
    global _default_dtype
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _default_dtype = d


def get_default_dtype() -> dtype:
    return _default_dtype


# ----------------------------------------------------------------------------------------------
# Promotion. PyTorch's lattice differs from NumPy's in two places: an integer meeting a float
# keeps the float's width, and float16 meeting bfloat16 gives float32.

_promote_cache: dict = {}


def promote_types(type1: dtype, type2: dtype) -> dtype:
    a, b = type1, type2  # PyTorch's keyword names, short names below
    if a is b:
        return a
    key = (a, b)
    hit = _promote_cache.get(key)
    if hit is not None:
        return hit
    if a in FLOAT8 or b in FLOAT8:
        from ember._float8 import refuse_promotion
        refuse_promotion(a, b)
    ca, cb = a._category, b._category
    if ca != cb and (ca >= FLOAT or cb >= FLOAT) and min(ca, cb) <= INT:
        result = a if ca > cb else b
    elif {a, b} == {float16, bfloat16}:
        result = float32
    elif bfloat16 in (a, b) and COMPLEX in (ca, cb):
        result = complex128 if complex128 in (a, b) else complex64
    else:
        result = _FROM_NP[np.promote_types(a.np_dtype, b.np_dtype)]
    _promote_cache[key] = result
    return result


def _combine_categories(higher, lower):
    # ``higher`` comes from the higher-priority participants (dimensioned tensors beat 0-d
    # tensors, which beat Python scalars); a lower group only wins by being of a higher category.
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher.is_complex:
        return higher
    if lower.is_complex:
        return higher.to_complex() if higher.is_floating_point else lower
    if higher.is_floating_point:
        return higher
    if higher is bool or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(value) -> dtype:
    """The dtype PyTorch gives a Python number taking part in an op."""
    if isinstance(value, _builtins.bool):
        return bool
    if isinstance(value, _builtins.int):
        return int64
    if isinstance(value, _builtins.float):
        return _default_dtype
    if isinstance(value, _builtins.complex):
        return _default_dtype.to_complex()
    if isinstance(value, np.generic):  # NumPy scalars count as Python numbers, as in PyTorch
        return scalar_dtype(value.item())
    raise TypeError(f"unsupported scalar type {type(value).__name__}")


def result_type(*operands) -> dtype:
    """PyTorch's result dtype of tensors (``.dtype`` and ``.ndim`` read) and Python scalars."""
    dim = zero = wrapped = None
    for x in operands:
        d = getattr(x, "dtype", None)
        if d.__class__ is not dtype:
            s = scalar_dtype(x)
            wrapped = s if wrapped is None else promote_types(wrapped, s)
        elif x.ndim:
            dim = d if dim is None else promote_types(dim, d)
        else:
            zero = d if zero is None else promote_types(zero, d)
    return _combine_categories(dim, _combine_categories(zero, wrapped))


def is_floating_point(d: dtype) -> _builtins.bool:
    return d._category == FLOAT


def is_half(dtype) -> bool:
    """Whether ``dtype`` (ember's or NumPy's) is float16 or bfloat16 (ml_dtypes' bfloat16 is
    NumPy kind "V"): the types PyTorch's CPU kernels compute in float32 and round once, their
    8- and 11-bit mantissas being too short to accumulate in (256 + 0.5 == 256 in bfloat16)."""
    np_dtype = getattr(dtype, "np_dtype", dtype)
    return np_dtype.itemsize == 2 and np_dtype.kind in "fV"


def np_kind(np_dtype) -> str:
    """NumPy's kind letter of ``np_dtype``, with ml_dtypes' bfloat16 as the float it is ("f";
    NumPy files it under "V")."""
    kind = np_dtype.kind
    if kind != "V":
        return kind
    # ml_dtypes' bfloat16 and float8 types are floats too
    return "f" if np_dtype == bfloat16.np_dtype or np_dtype in _FLOAT8_NP else kind


def finfo_np(d: dtype):
    if d in FLOAT8:  # PyTorch's finfo fields, which differ from ml_dtypes' in places
        from ember._float8 import finfo
        return finfo(d)
    return ml_dtypes.finfo(d.np_dtype) if d is bfloat16 else np.finfo(d.np_dtype)


# Quantized dtypes (see ember/_quantized.py): a quantized tensor keeps integers of ``np_dtype``
# and its scale and zero point. They stay out of ALL, so an int8 array still reads as int8.
qint8 = dtype("qint8", np.int8, INT)
quint8 = dtype("quint8", np.uint8, INT)
qint32 = dtype("qint32", np.int32, INT)
quint4x2 = dtype("quint4x2", np.uint8, INT)  # 4-bit values, one per byte here
quint8.is_signed = quint4x2.is_signed = False
QUANTIZED = (qint8, quint8, qint32, quint4x2)
_BY_NAME.update((d.name, d) for d in QUANTIZED)

# Dtypes PyTorch names but NumPy cannot hold: sub-byte integers, raw bits, packed float4 and
# complex32. They exist as dtype objects (for code that names them); making a tensor of one
# raises TypeError (see ``to_dtype``), where PyTorch's CPU allows little beyond ``empty``.


class _UnstorableDtype(dtype):
    __slots__ = ()


def _unstorable(name: str, itemsize: int, category: int, signed: _builtins.bool):
    d = _UnstorableDtype(name, f"V{itemsize}", category)
    d.is_signed = signed
    _UNSTORABLE[name] = d
    return d


_UNSTORABLE: dict = {}
int1, int2, int3, int4, int5, int6, int7 = (_unstorable(f"int{n}", 1, INT, True)
                                            for n in range(1, 8))
uint1, uint2, uint3, uint4, uint5, uint6, uint7 = (_unstorable(f"uint{n}", 1, INT, False)
                                                   for n in range(1, 8))
bits8, bits16 = _unstorable("bits8", 1, INT, False), _unstorable("bits16", 2, INT, False)
bits1x8, bits2x4, bits4x2 = (_unstorable(f"bits{n}", 1, INT, False)
                             for n in ("1x8", "2x4", "4x2"))
float4_e2m1fn_x2 = _unstorable("float4_e2m1fn_x2", 1, FLOAT, True)
complex32 = chalf = _unstorable("complex32", 4, COMPLEX, True)

