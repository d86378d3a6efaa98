"""Helpers shared by the op families: dims, dtype promotion on arrays, argument parsing."""
from __future__ import annotations

import functools
import inspect
import numbers

import numpy as np

from ember import dtypes as _dt
from ember._tensor import _KEPT_ARRAYS, _TYPE_NAMES, Tensor, _device_error, _make
from ember.autograd.grad_mode import _State
from ember.backend.device import MetaArray, get_array_module

_FROM_NP = _dt._FROM_NP
_ndarray = np.ndarray
_FLOAT64 = np.dtype(np.float64)


def wrap_dim(dim: int, ndim: int) -> int:
    """A dim in range(ndim), accepting negatives; IndexError as PyTorch words it."""
    n = max(ndim, 1)
    if dim < -n or dim >= n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim + n if dim < 0 else dim


def wrap_dims(dim, ndim: int) -> tuple:
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (wrap_dim(int(dim), ndim),)
    if dim.__class__ is tuple and len(dim) == ndim and sorted(dim) == list(range(ndim)):
        return dim  # a permutation of the dims, as given: nothing to wrap or check
    dims = tuple(wrap_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        repeated = next(d for i, d in enumerate(dims) if d in dims[:i])
        raise RuntimeError(f"dim {repeated} appears multiple times in the list of dims")
    return dims


def shape_arg(size) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(torch.Size([2, 3]))``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    for s in size:
        if s.__class__ is not int:  # NumPy integers, 0-d tensors, SymInt-likes: convert
            return tuple(_size_int(s, i) for i, s in enumerate(size))
    return size if size.__class__ is tuple else tuple(size)


def _size_int(s, pos: int) -> int:
    if isinstance(s, (float, np.floating)) or isinstance(s, Tensor) and s.is_floating_point():
        raise TypeError(f"argument 'size' must be tuple of ints, but found element of type "
                        f"{type(s).__name__} at pos {pos}")
    return int(s)


def scalar_name(dtype) -> str:
    """PyTorch's C++ name of a dtype in messages: Float, Double, Long, Byte, Bool, ..."""
    name = dtype.name if isinstance(dtype, _dt.dtype) else np.dtype(dtype).name
    return _TYPE_NAMES[name][:-len("Tensor")]


# PyTorch's C++ element types, which its range, distribution, mm and lerp messages quote
_C_TYPE_NAMES = {
    "uint8": "unsigned char", "int8": "signed char", "int16": "short int", "int32": "int",
    "int64": "long int", "float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float",
    "float64": "double", "complex64": "c10::complex<float>",
    "complex128": "c10::complex<double>", "bool": "bool",
}


def c_type_name(dtype: _dt.dtype) -> str:
    """PyTorch's C++ element type of a dtype in messages: float, long int, c10::Half, ..."""
    return _C_TYPE_NAMES.get(dtype.name, dtype.name)


def is_number(x) -> bool:
    cls = x.__class__
    if cls in _PY_SCALARS:  # skips the ABC check on the hot path
        return True
    if cls is _ndarray or cls is Tensor:  # (and for the usual operands that are not numbers)
        return False
    return isinstance(x, (numbers.Number, np.generic)) and not isinstance(x, Tensor)


_PY_SCALARS = frozenset((int, float, bool, complex))

_ZEROS: dict = {}


def zero_of(dtype):
    """A zero of NumPy ``dtype`` as a NumPy scalar, cached: as a ufunc operand it costs less
    than a Python 0, whose weak dtype NumPy must resolve against the array on every call."""
    z = _ZEROS.get(dtype)
    if z is None:  # ml_dtypes' scalars (kind "V") stay Python ints: CuPy takes no such scalar
        z = _ZEROS[dtype] = dtype.type(0) if dtype.kind in "biufc" else 0
    return z


def array_dtype(x) -> _dt.dtype:
    return _FROM_NP[x.dtype]


def result_dtype(a, b) -> _dt.dtype:
    """PyTorch's promotion of two operands, each an array or a Python number."""
    return _dt.result_type(_Meta.of(a), _Meta.of(b))


class _Meta:
    __slots__ = ("dtype", "ndim")

    @staticmethod
    def of(x):
        if hasattr(x, "ndim") and not isinstance(x, np.generic):
            m = _Meta()
            m.dtype = _FROM_NP[x.dtype]
            m.ndim = x.ndim
            return m
        return x


def promote(a, b):
    """Cast two operands (arrays or numbers) to PyTorch's common dtype for an op."""
    ca, cb = a.__class__, b.__class__
    # Fast paths: equal dtypes, or a Python number that cannot change the array's dtype; for
    # the arrays Tensors hold (NumPy's, then CuPy's and meta ones), not NumPy scalars.
    if ca is _ndarray or ca in _KEPT_ARRAYS:
        if cb is ca:
            if a.dtype is b.dtype:
                return a, b
        elif cb is float:
            if a.dtype.kind in "fc":
                return a, b
        elif cb is int and (a.dtype.kind in "fc" or a.dtype.itemsize == 8):
            return a, b  # (smaller integer dtypes wrap a number out of their range: cast)
    elif cb is _ndarray or cb in _KEPT_ARRAYS:
        if ca is float:
            if b.dtype.kind in "fc":
                return a, b
        elif ca is int and (b.dtype.kind in "fc" or b.dtype.itemsize == 8):
            return a, b
    return _promote_slow(a, b)


def half_and_number(x, y) -> bool:
    """Whether promoted operands are a float16 or bfloat16 array and a Python number (bools
    aside), which :func:`in_opmath` computes as PyTorch does."""
    cy = y.__class__
    if cy is float or cy is int:
        return _dt.is_half(x.dtype)
    cx = x.__class__
    return (cx is float or cx is int) and _dt.is_half(y.dtype)


def in_opmath(name: str, x, y):
    """The ufunc ``name`` of a half-type array and a Python number as PyTorch's multiplying
    kernels form it: in float32, the number unrounded, the result rounded once (NumPy rounds
    the number to the half type first: ``x * 0.1`` then differs in a third of the values;
    PyTorch's additions do round it first, as NumPy)."""
    array = y if x.__class__ is float or x.__class__ is int else x
    if isinstance(array, MetaArray):
        return getattr(np, name)(x, y)
    xp = get_array_module(array)
    return getattr(xp, name)(x, y, out=xp.empty(array.shape, array.dtype), dtype=np.float32,
                             casting="unsafe")


def in_float32(fn, *inputs):
    """``fn(*inputs)`` as PyTorch's CPU kernels compute half types: where the first input is
    float16 or bfloat16, every input (arrays or Tensors alike) is widened to float32 and the
    result rounded once back to that type, instead of rounding each step (bfloat16's 8-bit
    mantissa moves most results by an ulp that way). Other dtypes call ``fn`` unchanged, at no
    cost. Tensors widen and round through ``float()`` and ``to()``, differentiable under
    create_graph."""
    dtype = inputs[0].dtype
    if not _dt.is_half(dtype):
        return fn(*inputs)
    result = fn(*(_widened(x) for x in inputs))
    if result.__class__ is tuple:
        return tuple(_rounded_to(r, dtype) for r in result)
    return _rounded_to(result, dtype)


def _widened(x):
    if not _dt.is_half(getattr(x, "dtype", _FLOAT64)):  # masks, numbers and the like pass
        return x
    return x.float() if isinstance(x, Tensor) else x.astype(np.float32)


def _rounded_to(result, dtype):
    if isinstance(result, Tensor):
        return result.to(dtype if isinstance(dtype, _dt.dtype) else _FROM_NP[dtype])
    return result.astype(getattr(dtype, "np_dtype", dtype), copy=False)


def _promote_slow(a, b):
    da = getattr(a, "dtype", None)
    db = getattr(b, "dtype", None)
    if da is not None and db is not None and type(a) is not type(b) \
            and not isinstance(a, np.generic) and not isinstance(b, np.generic) \
            and not _scalar_with_meta(a, b):
        raise _device_error("binary op", a, b)  # a NumPy array met a CuPy (or meta) array
    if da is not None and db is not None and da == db:  # (NumPy's float64 == None holds)
        return a, b
    rd = result_dtype(a, b).np_dtype
    a, b = cast(a, rd), cast(b, rd)
    if rd.kind == "V":  # bfloat16: the Python number of a pair becomes a 0-d array
        if hasattr(b, "dtype") and not hasattr(a, "dtype"):
            return scalar_operand(a, b), b
        if hasattr(a, "dtype") and not hasattr(b, "dtype"):
            return a, scalar_operand(b, a)
    return a, b


def scalar_operand(value, array):
    """Python number ``value`` as an operand of ``array``'s dtype: the number itself, or for
    bfloat16 (which NumPy and CuPy widen when it meets a Python float) a 0-d array."""
    value = cast(value, array.dtype)
    if array.dtype.kind == "V":
        return get_array_module(array).full((), value, array.dtype)
    return value


def cast(x, np_dtype):
    if hasattr(x, "astype") and not isinstance(x, np.generic):
        return x if x.dtype == np_dtype else x.astype(np_dtype)
    if isinstance(x, np.generic):
        x = x.item()
    if np.issubdtype(np_dtype, np.complexfloating) or isinstance(x, complex):
        return x
    if _dt.np_kind(np_dtype) == "f":  # bfloat16 too, which NumPy does not file as floating
        return float(x)
    if np_dtype == np.bool_:
        return bool(x)
    np_dtype = np.dtype(np_dtype)
    bits = np_dtype.itemsize * 8
    x = int(x) % (1 << bits)  # wraps into the dtype's range, as PyTorch's C++ cast does
    return x - (1 << bits) if np_dtype.kind == "i" and x >= 1 << (bits - 1) else x


def float_array(x):
    """Integer and bool inputs of a floating-point op become the default float dtype."""
    if not hasattr(x, "dtype"):  # a Python number
        return x if isinstance(x, complex) else float(x)
    if x.dtype.kind in "biu":
        return x.astype(_dt.get_default_dtype().np_dtype)
    return x


def needs_grad(*tensors) -> bool:
    if not _State.enabled:
        return False
    for t in tensors:
        if isinstance(t, Tensor) and t.requires_grad:
            return True
    return False


def as_tensor_arg(x, like: Tensor) -> Tensor:
    """A Python number or array-like as a 0-d or full Tensor on ``like``'s device."""
    if isinstance(x, Tensor):
        return x
    xp = like._xp
    if is_number(x):
        return _make(xp.asarray(x, dtype=_dt.scalar_dtype(x).np_dtype))
    return _make(xp.asarray(x))


def data_of(x):
    """The array of a Tensor, or the number itself."""
    return x._data if isinstance(x, Tensor) else x


def _scalar_with_meta(a, b) -> bool:
    """Whether arrays ``a`` and ``b`` are a meta array and a 0-d CPU one, which PyTorch lets
    meet (a 0-dim CPU tensor goes with a tensor of any device, as a scalar would)."""
    return (a.__class__ is MetaArray and b.__class__ is _ndarray and b.ndim == 0
            or b.__class__ is MetaArray and a.__class__ is _ndarray and a.ndim == 0)


def check_same_device(op: str, *tensors) -> None:
    """DeviceMismatchError unless the tensors share a device (0-dim CPU ones go with meta)."""
    kind = None
    for t in tensors:
        if isinstance(t, Tensor):
            k = t._data.__class__
            if kind is None:
                kind, first = k, t
            elif k is not kind and not _scalar_with_meta(first._data, t._data):
                raise _device_error(op, first._data, t._data)


def normalize_index_dtype(index_array):
    return index_array.astype(np.int64) if index_array.dtype != np.int64 else index_array


def write_result(out, result):
    """``out=``: copy ``result`` into ``out`` (a tensor, or for (values, indices) results a
    tuple of tensors) and return it, as the same kind of tuple."""
    from ember.ops.inplace import write_out
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"out must be a tuple of {len(result)} tensors")
        written = [write_out(o, r) for o, r in zip(out, result)]
        return type(result)(*written) if hasattr(result, "_fields") else tuple(written)
    return write_out(out, result)


# Modules of elementwise ops, whose operands promote to one dtype that ``out=`` or ``self`` (of
# an in-place form) must hold; indexing and copy ops take indices and dims besides, and cast
# nothing of their own. Only special's ops take ``out=`` and only inplace_forms' are in place.
ELEMENTWISE_MODULES = frozenset(("ember.ops.elementwise", "ember.ops.unary",
                                 "ember.ops.pointwise_extra", "ember.ops.inplace_forms",
                                 "ember.special"))
# The arguments of such an op that take part in promotion
OPERANDS = (Tensor, bool, int, float, complex)


def refuse_cast_first(out, operands: tuple) -> None:
    """PyTorch checks that ``out`` can hold the promoted dtype of an elementwise op's operands
    before it looks for a kernel: called once the op has refused them, this raises the cast's
    error in place of the kernel's, if the cast fails too."""
    if not isinstance(out, Tensor):
        return
    operands = [x for x in operands if isinstance(x, OPERANDS)]
    if any(isinstance(x, Tensor) for x in operands):
        from ember.ops.inplace import _refuse_cast
        _refuse_cast(out, _dt.result_type(*operands))


def apply_out(prim, input, other, out):
    """``prim.apply(input, other)`` of an elementwise primitive, written into ``out`` where
    given; if the kernel refuses the operands, ``out`` is checked first (see
    ``refuse_cast_first``), on that error path only."""
    try:
        result = prim.apply(input, other)
    except (NotImplementedError, TypeError):
        refuse_cast_first(out, (input, other))
        raise
    return result if out is None else write_result(out, result)


def accepts_out(fn):
    """Give ``fn`` PyTorch's keyword-only ``out=``: the result is written into ``out`` (see
    ``write_result``) and ``out`` is returned; ``inspect.signature`` shows the new parameter.
    The wrapper is compiled with ``fn``'s exact parameter list, which costs about a third of
    what a ``*args, **kwargs`` forwarder does per call. Where an elementwise ``fn`` refuses its
    operands, ``out`` is checked first (see ``refuse_cast_first``), on that error path only."""
    sig = inspect.signature(fn)
    plist = list(sig.parameters.values())
    varkw = plist.pop() if plist and plist[-1].kind is plist[-1].VAR_KEYWORD else None
    params, call, star = [], [], False
    for i, p in enumerate(plist):
        if p.kind is p.VAR_POSITIONAL:
            params.append(f"*{p.name}")
            call.append(f"*{p.name}")
            star = True
            continue
        if p.kind is p.KEYWORD_ONLY and not star:
            params.append("*")
            star = True
        params.append(p.name + ("" if p.default is p.empty else f"=_defaults[{p.name!r}]"))
        call.append(f"{p.name}={p.name}" if p.kind is p.KEYWORD_ONLY else p.name)
        if p.kind is p.POSITIONAL_ONLY and (i + 1 == len(plist)
                                            or plist[i + 1].kind is not p.POSITIONAL_ONLY):
            params.append("/")
    params += ([] if star else ["*"]) + ["out=None"]
    if varkw is not None:
        params.append(f"**{varkw.name}")
        call.append(f"**{varkw.name}")
    call = ", ".join(call)
    operands = [p.name for p in plist if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if fn.__module__ in ELEMENTWISE_MODULES and operands:
        body = ("    if out is None:\n"
                f"        return _wrapped_fn({call})\n"
                "    try:\n"
                f"        result = _wrapped_fn({call})\n"
                "    except (NotImplementedError, TypeError):\n"
                f"        refuse_cast_first(out, ({', '.join(operands)},))\n"
                "        raise\n"
                "    return write_result(out, result)\n")
    else:
        body = (f"    result = _wrapped_fn({call})\n"
                "    return result if out is None else write_result(out, result)\n")
    source = f"def {fn.__name__}({', '.join(params)}):\n" + body
    namespace = {"_wrapped_fn": fn, "write_result": write_result,
                 "refuse_cast_first": refuse_cast_first,
                 "_defaults": {p.name: p.default for p in plist}}
    exec(source, namespace)  # noqa: S102 - source built above from fn's own parameter names
    wrapper = functools.update_wrapper(namespace[fn.__name__], fn)
    out = inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None)
    wrapper.__signature__ = sig.replace(parameters=plist + [out] + ([varkw] if varkw else []))
    return wrapper


def refuse_complex_grad(name: str, *tensors) -> None:
    """PyTorch computes some ops on complex tensors but cannot differentiate them: raise its
    error when one of the complex ``tensors`` (others may be numbers) needs a gradient."""
    if _State.enabled and any(getattr(t, "requires_grad", False) and t.dtype.is_complex
                              for t in tensors):
        raise RuntimeError(f"{name} does not support automatic differentiation for outputs "
                           "with complex dtype.")


def refuse_complex(array, message: str, exc=NotImplementedError) -> None:
    """Raise for a complex ``array``: PyTorch orders no complex numbers, where NumPy would
    compare them lexicographically."""
    if getattr(array, "dtype", None) is not None and array.dtype.kind == "c":
        raise exc(message)
