"""Quantized tensors: ``quantize_per_tensor``, ``quantize_per_channel``, ``dequantize`` and the
``qscheme`` constants.

# NOTE [ Quantized tensor layout ]
# A ``QuantizedTensor`` is a ``Tensor`` whose array holds the integers (int8 for qint8, uint8 for
# quint8 and quint4x2, int32 for qint32) and whose ``__dict__`` holds the quantizer: ``_qdtype``,
# ``_qscheme``, ``_scale`` and ``_zero_point`` (Python numbers per tensor; float64 and int64
# tensors per channel, float32 and float32 with ``per_channel_affine_float_qparams``) and
# ``_axis``. Plain tensors carry none of it, so they pay nothing.
# The value an integer q stands for is ``(q - zero_point) * scale``, computed in float32 as
# PyTorch's CPU kernels do; quantizing rounds ``x * (1 / scale) + zero_point`` half to even in
# float32.
# Layout ops (view, reshape, indexing, permute, ...) run on the integers and keep the quantizer;
# arithmetic on a quantized tensor is refused, as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.backend.device import get_array_module
from ember.overrides import _disabled_torch_function_impl


class qscheme:
    """How a quantized tensor maps integers to reals (``ember.per_tensor_affine``, ...)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return "torch." + self.name

    def __reduce__(self):
        return (_qscheme_by_name, (self.name,))


per_tensor_affine = qscheme("per_tensor_affine")
per_channel_affine = qscheme("per_channel_affine")
per_tensor_symmetric = qscheme("per_tensor_symmetric")
per_channel_symmetric = qscheme("per_channel_symmetric")
per_channel_affine_float_qparams = qscheme("per_channel_affine_float_qparams")
QSCHEMES = {q.name: q for q in (per_tensor_affine, per_channel_affine, per_tensor_symmetric,
                                per_channel_symmetric, per_channel_affine_float_qparams)}


def _qscheme_by_name(name: str) -> qscheme:
    return QSCHEMES[name]


_TYPE_NAMES = {_dt.qint8: "QInt8", _dt.quint8: "QUInt8", _dt.qint32: "QInt32",
               _dt.quint4x2: "QUInt4x2"}
_RANGES = {_dt.qint8: (-128, 127), _dt.quint8: (0, 255), _dt.qint32: (-(2 ** 31), 2 ** 31 - 1),
           _dt.quint4x2: (0, 15)}


def quant_range(dtype: _dt.dtype) -> tuple[int, int]:
    """The integers ``dtype`` holds, (min, max)."""
    try:
        return _RANGES[dtype]
    except KeyError:
        raise RuntimeError(f"{dtype} is not a quantized dtype") from None


class QuantizedTensor(Tensor):
    """A tensor of a quantized dtype (see NOTE [ Quantized tensor layout ])."""

    __slots__ = ()
    __torch_function__ = _disabled_torch_function_impl  # a plain tensor to the protocol

    @property
    def dtype(self) -> _dt.dtype:
        return self.__dict__["_qdtype"]

    @property
    def is_quantized(self) -> bool:
        return True

    def qscheme(self) -> qscheme:
        return self.__dict__["_qscheme"]

    def _per_tensor(self, what: str) -> None:
        if self.__dict__["_axis"] is not None:
            raise RuntimeError(f"Expected quantizer to be PerTensorAffineQuantizer in {what}")

    def _per_channel(self, what: str) -> None:
        if self.__dict__["_axis"] is None:
            raise RuntimeError(f"Expected quantizer to be PerChannelAffineQuantizer or "
                               f"PerChannelAffineFloatQParamsQuantizer in {what}")

    def q_scale(self) -> float:
        self._per_tensor("q_scale")
        return self.__dict__["_scale"]

    def q_zero_point(self) -> int:
        self._per_tensor("q_zero_point")
        return self.__dict__["_zero_point"]

    def q_per_channel_scales(self) -> Tensor:
        self._per_channel("q_per_channel_scales")
        return self.__dict__["_scale"].clone()

    def q_per_channel_zero_points(self) -> Tensor:
        self._per_channel("q_per_channel_zero_points")
        return self.__dict__["_zero_point"].clone()

    def q_per_channel_axis(self) -> int:
        self._per_channel("q_per_channel_axis")
        return self.__dict__["_axis"]

    def int_repr(self) -> Tensor:
        """The stored integers as a plain tensor (uint8 for quint8, int8 for qint8, ...)."""
        return _make(self._data.copy())

    def dequantize(self) -> Tensor:
        """The float32 values ``(q - zero_point) * scale``."""
        d = self.__dict__
        xp = self._xp
        if d["_axis"] is None:
            q = self._data.astype(np.float32)
            return _make((q - np.float32(d["_zero_point"])) * np.float32(d["_scale"]))
        shape = [1] * self._data.ndim
        shape[d["_axis"]] = -1
        if d["_qscheme"] is per_channel_affine_float_qparams:  # float32 throughout
            scale = xp.asarray(d["_scale"]._data, np.float32).reshape(shape)
            zero_point = xp.asarray(d["_zero_point"]._data, np.float32).reshape(shape)
            return _make((self._data.astype(np.float32) - zero_point) * scale)
        # per channel, PyTorch scales by the float64 scales and rounds once to float32
        scale = xp.asarray(d["_scale"]._data, np.float64).reshape(shape)
        zero_point = xp.asarray(d["_zero_point"]._data, np.float64).reshape(shape)
        return _make(((self._data - zero_point) * scale).astype(np.float32))

    def __repr__(self, *, tensor_contents=None) -> str:
        from ember._tensor_str import _add_suffixes, _body
        d = self.__dict__
        values = self.dequantize()._data
        body = _body(values, len("tensor(")) if values.size else "[]"
        suffixes = [f"size={tuple(values.shape)}", f"dtype={self.dtype!r}",
                    f"quantization_scheme={d['_qscheme']!r}"]
        if d["_axis"] is None:
            suffixes += [f"scale={d['_scale']!r}", f"zero_point={d['_zero_point']!r}"]
        else:
            suffixes += [f"scale={d['_scale']!r}", f"zero_point={d['_zero_point']!r}",
                         f"axis={d['_axis']}"]
        return _add_suffixes("tensor(" + body, suffixes, len("tensor("), force_newline=False)

    # Layout ops work on the integers and keep the quantizer (per-tensor only, where an axis
    # could move).

    def _relayout(self, fn, *args, **kwargs) -> "QuantizedTensor":
        self._per_tensor("this layout op")
        return _like(self, getattr(_make(self._data), fn)(*args, **kwargs)._data)

    def view(self, *shape, size=None, dtype=None):
        return self._relayout("view", *shape, size=size)

    def reshape(self, *shape):
        return self._relayout("reshape", *shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return self._relayout("flatten", start_dim, end_dim)

    def permute(self, *dims):
        return self._relayout("permute", *dims)

    def transpose(self, dim0: int, dim1: int):
        return self._relayout("transpose", dim0, dim1)

    def squeeze(self, *dims):
        return self._relayout("squeeze", *dims)

    def unsqueeze(self, dim: int):
        return self._relayout("unsqueeze", dim)

    def __getitem__(self, index):
        return self._relayout("__getitem__", index)

    def chunk(self, chunks: int, dim: int = 0):
        self._per_tensor("chunk")
        return tuple(_like(self, p._data) for p in _make(self._data).chunk(chunks, dim))

    def split(self, split_size, dim: int = 0):
        self._per_tensor("split")
        return tuple(_like(self, p._data) for p in _make(self._data).split(split_size, dim))

    def contiguous(self, memory_format=None):
        if memory_format is None:
            return _like(self, self._xp.ascontiguousarray(self._data))
        return _like(self, _make(self._data).contiguous(memory_format=memory_format)._data)

    def clone(self, *, memory_format=None):
        return _like(self, self._data.copy())

    def detach(self):
        return _like(self, self._data)

    def relu(self):
        """max(x, 0) on the integers: the zero point stands for 0."""
        self._per_tensor("relu")
        return _like(self, self._xp.maximum(self._data, self._data.dtype.type(
            self.__dict__["_zero_point"])))

    def relu_(self):
        self._per_tensor("relu_")
        self._xp.maximum(self._data, self._data.dtype.type(self.__dict__["_zero_point"]),
                         out=self._data)
        return self

    def mean(self, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
        """The mean of the values, requantized with this tensor's scale and zero point."""
        self._per_tensor("mean")
        d = self.__dict__
        out = self.dequantize().mean(dim, keepdim)
        return quantize_per_tensor(out, d["_scale"], d["_zero_point"], d["_qdtype"])

    def item(self) -> float:
        return self.dequantize().item()

    def numpy(self, *, force: bool = False):
        raise TypeError(f"Got unsupported ScalarType {_TYPE_NAMES[self.dtype]}")

    def tolist(self):
        raise RuntimeError("load_scalar: invalid type")

    def to(self, *args, **kwargs):
        """Only to where it is: a quantized tensor changes dtype through ``dequantize``."""
        wanted = [a for a in (*args, kwargs.get("dtype")) if isinstance(a, _dt.dtype)]
        if any(d is not self.dtype for d in wanted):
            raise RuntimeError("Creation of quantized tensor requires quantized dtype like "
                               "torch.quint8")
        return self

    def cpu(self, memory_format=None):
        return self

    def float(self):
        return self.to(_dt.float32)

    def __add__(self, other):
        raise NotImplementedError("Could not run 'aten::add.Tensor' with arguments from the "
                                  "'QuantizedCPU' backend; use nn.quantized.QFunctional")

    __radd__ = __iadd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __add__


def _like(q: QuantizedTensor, data) -> QuantizedTensor:
    """A quantized tensor of ``data`` with ``q``'s quantizer."""
    d = q.__dict__
    return _wrap(data, d["_qdtype"], d["_qscheme"], d["_scale"], d["_zero_point"], d["_axis"])


def _wrap(data, dtype, scheme, scale, zero_point, axis=None) -> QuantizedTensor:
    t = _make(data)
    t.__class__ = QuantizedTensor
    t.__dict__.update(_qdtype=dtype, _qscheme=scheme, _scale=scale, _zero_point=zero_point,
                      _axis=axis)
    return t


def _quantize_array(x, scale, zero_point, dtype: _dt.dtype):
    """round(x / scale + zero_point), clamped to ``dtype``'s range, as ``dtype``'s integers
    (``scale`` and ``zero_point`` broadcast against ``x``). PyTorch rounds after adding the
    zero point: 0.5 with scale 1 and zero point 3 is 4 (3.5 to even), not 3."""
    xp = get_array_module(x)
    inv_scale = np.float32(1.0) / xp.asarray(scale, np.float32)
    q = xp.rint(x.astype(np.float32, copy=False) * inv_scale
                + xp.asarray(zero_point, np.float32))
    lo, hi = quant_range(dtype)
    return xp.clip(q, lo, hi).astype(dtype.np_dtype)


def hardtanh(q: QuantizedTensor, min_val: float, max_val: float,
             inplace: bool = False) -> QuantizedTensor:
    """``q`` clipped to [min_val, max_val] on the integers, keeping its quantizer (PyTorch's
    quantized hardtanh, which relu6 is too)."""
    q._per_tensor("hardtanh")
    d = q.__dict__
    xp = q._xp
    lo, hi = (_quantize_array(xp.asarray(v, np.float32), d["_scale"], d["_zero_point"],
                              d["_qdtype"]) for v in (min_val, max_val))
    if inplace:
        xp.clip(q._data, lo, hi, out=q._data)
        return q
    return _like(q, xp.clip(q._data, lo, hi))


def requantized_mean(q: QuantizedTensor, sums, divisor, centered: bool = True) -> QuantizedTensor:
    """Window means of ``q`` with its own qparams from the integer window ``sums`` and their
    ``divisor``, in float32 rounding half to even, as PyTorch's quantized average pooling:
    ``round(sum * (1 / divisor) + zero_point)`` for sums of ``q - zero_point`` (``centered``),
    ``round(sum * (1 / divisor))`` for sums of ``q`` itself."""
    q._per_tensor("average pooling")
    d = q.__dict__
    xp = q._xp
    inv_divisor = np.float32(1.0) / xp.asarray(divisor, np.float32)
    offset = np.float32(d["_zero_point"] if centered else 0)
    means = xp.rint(sums.astype(np.float32) * inv_divisor + offset)
    lo, hi = quant_range(d["_qdtype"])
    return _like(q, xp.clip(means, lo, hi).astype(d["_qdtype"].np_dtype))


def centered_ints(q: QuantizedTensor, centered: bool = True):
    """``q``'s integers minus its zero point (unless not ``centered``), as int64 (sums of them
    are exact)."""
    ints = q._data.astype(np.int64)
    return ints - q.__dict__["_zero_point"] if centered else ints


def cat(tensors: list, dim: int) -> QuantizedTensor:
    """Quantized tensors joined along ``dim`` with the first one's qparams; the others'
    values are requantized to them unless they share them (PyTorch's quantized cat)."""
    first = tensors[0]
    first._per_tensor("cat")
    d = first.__dict__
    xp = first._xp
    same = all(t.__class__ is QuantizedTensor and t.__dict__["_axis"] is None
               and t.dtype is first.dtype and t.__dict__["_scale"] == d["_scale"]
               and t.__dict__["_zero_point"] == d["_zero_point"] for t in tensors)
    if same:
        return _like(first, xp.concatenate([t._data for t in tensors], dim))
    values = xp.concatenate([t.dequantize()._data for t in tensors], dim)
    return _like(first, _quantize_array(values, d["_scale"], d["_zero_point"], d["_qdtype"]))


def _check_float(x: Tensor, what: str) -> None:
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{what} expects a float Tensor, got {x.dtype}")


def _number(v, kind):
    return kind(v.item()) if isinstance(v, Tensor) else kind(v)


def quantize_per_tensor(input, scale, zero_point, dtype: _dt.dtype):
    """Quantize ``input`` to ``dtype`` as ``round(input / scale) + zero_point``, clamped.

    ``input`` may be a list of tensors, with ``scale`` and ``zero_point`` tensors of one entry
    each; the result is then a tuple.

    Example::

        >>> q = ember.quantize_per_tensor(ember.tensor([-1.0, 0.0, 1.0]), 0.1, 10, ember.quint8)
        >>> q.int_repr().tolist()
        [0, 10, 20]
    """
    if isinstance(input, (list, tuple)):
        return tuple(quantize_per_tensor(x, s, z, dtype)
                     for x, s, z in zip(input, scale.tolist(), zero_point.tolist()))
    _check_float(input, "quantize_per_tensor")
    scale = _number(scale, float)
    zero_point = _number(zero_point, int)
    lo, hi = quant_range(dtype)
    if not lo <= zero_point <= hi:
        side = "below lower" if zero_point < lo else "above upper"
        raise RuntimeError(f"quantize_tensor_per_tensor_affine zero_point {zero_point} is "
                           f"{side} bound.")
    data = _quantize_array(input._data, scale, zero_point, dtype)
    return _wrap(data, dtype, per_tensor_affine, scale, zero_point)


def quantize_per_channel(input: Tensor, scales: Tensor, zero_points: Tensor, axis: int,
                         dtype: _dt.dtype) -> QuantizedTensor:
    """Quantize ``input`` with one scale and zero point per index of dim ``axis``. Float
    ``zero_points`` give the ``per_channel_affine_float_qparams`` scheme (quantized embedding
    weights): zero points need not be integers, and both qparams are kept in float32."""
    _check_float(input, "quantize_per_channel")
    axis = axis % input.ndim if input.ndim else 0
    if scales.numel() != input.shape[axis] or zero_points.numel() != input.shape[axis]:
        raise RuntimeError(f"length of scales and zero_points must match input size at dim "
                           f"{axis}")
    shape = [1] * input.ndim
    shape[axis] = -1
    if zero_points.is_floating_point():
        scheme = per_channel_affine_float_qparams
        scales = scales.detach().to(_dt.float32)
        zero_points = zero_points.detach().to(_dt.float32)
    else:
        scheme = per_channel_affine
        scales = scales.detach().to(_dt.float64)
        zero_points = zero_points.detach().to(_dt.int64)
    data = _quantize_array(input._data, scales._data.reshape(shape),
                           zero_points._data.reshape(shape), dtype)
    return _wrap(data, dtype, scheme, scales, zero_points, axis)


def choose_qparams(min_val: float, max_val: float, qmin: int, qmax: int) -> tuple[float, int]:
    """The scale and zero point that map [min(min_val, 0), max(max_val, 0)] onto [qmin, qmax],
    the zero point taken from the end that rounds with the smaller error (PyTorch's dynamic
    quantization rule)."""
    min_val = min(float(np.float32(min_val)), 0.0)
    max_val = max(float(np.float32(max_val)), 0.0)
    scale = (max_val - min_val) / (qmax - qmin)
    if float(np.float32(scale)) == 0.0 or 1.0 / scale == float("inf"):
        scale = 0.1
    zero_from_min = qmin - min_val / scale
    zero_from_max = qmax - max_val / scale
    error_min = abs(qmin) - abs(min_val / scale)
    error_max = abs(qmax) - abs(max_val / scale)
    initial = zero_from_min if error_min < error_max else zero_from_max
    zero_point = qmin if initial < qmin else qmax if initial > qmax else int(round(initial))
    return scale, zero_point


def quantize_per_tensor_dynamic(input: Tensor, dtype: _dt.dtype,
                                reduce_range: bool) -> QuantizedTensor:
    """Quantize ``input`` with a scale and zero point chosen from its own min and max."""
    _check_float(input, "quantize_per_tensor_dynamic")
    qmin, qmax = quant_range(dtype)
    if reduce_range:
        qmin, qmax = qmin // 2, qmax // 2
    data = input._data
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    scale, zero_point = choose_qparams(lo, hi, qmin, qmax)
    return quantize_per_tensor(input, scale, zero_point, dtype)


def dequantize(tensor):
    """The float values of a quantized tensor (or each of a list of them); a float tensor is
    returned as it is."""
    if isinstance(tensor, (list, tuple)):
        return [dequantize(t) for t in tensor]
    return tensor.dequantize()


def _make_per_tensor_quantized_tensor(input: Tensor, scale: float,
                                      zero_point: int) -> QuantizedTensor:
    """A quantized tensor whose integers are ``input``'s (uint8 -> quint8, int8 -> qint8,
    int32 -> qint32)."""
    dtype = {_dt.uint8: _dt.quint8, _dt.int8: _dt.qint8, _dt.int32: _dt.qint32}[input.dtype]
    return _wrap(input._data.copy(), dtype, per_tensor_affine, float(scale), int(zero_point))


def _make_per_channel_quantized_tensor(input: Tensor, scale: Tensor, zero_point: Tensor,
                                       axis: int) -> QuantizedTensor:
    dtype = {_dt.uint8: _dt.quint8, _dt.int8: _dt.qint8, _dt.int32: _dt.qint32}[input.dtype]
    return _wrap(input._data.copy(), dtype, per_channel_affine, scale.to(_dt.float64),
                 zero_point.to(_dt.int64), axis % input.ndim)


QUANTIZED_DTYPES = frozenset(_RANGES)


def quantizer_params(q: QuantizedTensor) -> tuple:
    """The quantizer as PyTorch's checkpoints store it: ``(qscheme, scale, zero_point)`` per
    tensor, ``(per_channel_affine, scales, zero_points, axis)`` per channel (float zero points
    tell the float-qparams scheme apart)."""
    d = q.__dict__
    if d["_axis"] is None:
        return (d["_qscheme"], d["_scale"], d["_zero_point"])
    return (per_channel_affine, d["_scale"], d["_zero_point"], d["_axis"])


def from_quantizer_params(data, dtype: _dt.dtype, params: tuple) -> QuantizedTensor:
    """A quantized tensor of the integers ``data`` and a checkpoint's quantizer tuple."""
    scheme = params[0]
    if scheme in (per_tensor_affine, per_tensor_symmetric) and len(params) == 3:
        return _wrap(data, dtype, per_tensor_affine, float(params[1]), int(params[2]))
    if scheme in (per_channel_affine, per_channel_symmetric,
                  per_channel_affine_float_qparams) and len(params) == 4:
        scales, zero_points, axis = params[1:]
        if not (isinstance(scales, Tensor) and isinstance(zero_points, Tensor)
                and isinstance(axis, int)):
            raise RuntimeError("bad per-channel quantizer parameters")
        if zero_points.is_floating_point():
            return _wrap(data, dtype, per_channel_affine_float_qparams, scales.to(_dt.float32),
                         zero_points.to(_dt.float32), axis)
        return _wrap(data, dtype, scheme, scales.to(_dt.float64), zero_points, axis)
    raise RuntimeError(f"unsupported quantizer parameters {params!r}")
