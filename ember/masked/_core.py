"""``MaskedTensor``: a tensor whose elements are specified (mask True) or not, as
``torch.masked.MaskedTensor``.

Defining this class switches on ``__torch_function__`` dispatch for the whole library (NOTE
[ Installing dispatch ] in ``ember/overrides.py``), so ``ember.masked`` loads this module only
when a MaskedTensor is first asked for.

NOTE [ MaskedTensor data and autograd ]
A MaskedTensor is an ember Tensor whose own storage is its data; the mask is a plain boolean
tensor beside it. Each supported function runs on the data with subclass dispatch off, so the
autograd graph is ember's ordinary one, and the result is viewed as a MaskedTensor with the mask
the function implies: unchanged for elementwise ops, ``any`` over the reduced dims for
reductions, selected by the condition for ``where``. Reductions and softmax use
``ember.masked``'s functions, so masked-out elements take no part and get no gradient. ember's
backward passes plain gradients, so masks reach gradients at the ends only: a MaskedTensor's
``.grad`` is its gradient under its own mask, and a plain tensor broadcast against a
MaskedTensor gets no gradient from masked-out positions (its gradient stays a plain tensor).

A sparse MaskedTensor (COO or CSR: built from a sparse data and mask pair, or by
``to_sparse_coo`` / ``to_sparse_csr``) computes the same way, on dense data and mask; it keeps
its sparse mask beside them, whose stored positions are the ones ``get_data`` and ``get_mask``
answer with, and elementwise results and conversions keep that mask (so their layout).
"""
from __future__ import annotations

from typing import Any

import ember
from ember import dtypes as _dt
from ember._tensor import Tensor
from ember.masked import _ops
from ember.overrides import DisableTorchFunctionSubclass, _install, as_subclass, resolve_name

_MASKS_DIFFER = ("Input masks must match. If you need support for this, please open an issue on "
                 "Github.")
# The element types PyTorch's MaskedTensor takes (not bfloat16, complex or unsigned ones).
_DTYPES = frozenset((_dt.float16, _dt.float32, _dt.float64, _dt.bool, _dt.int8, _dt.int16,
                     _dt.int32, _dt.int64))

# Elementwise functions of one tensor (and scalars): data transformed, mask kept.
_UNARY = frozenset("""
abs absolute acos arccos acosh arccosh angle asin arcsin asinh arcsinh atan arctan atanh arctanh
bitwise_not ceil clamp clip clamp_min clamp_max conj_physical cos cosh deg2rad digamma erf erfc
erfinv exp exp2 expm1 fix floor frac lgamma log log10 log1p log2 logit i0 isinf isfinite isnan
isneginf isposinf isreal nan_to_num neg negative positive rad2deg reciprocal relu round rsqrt
sigmoid sign sgn signbit sin sinc sinh sqrt square tan tanh trunc logical_not __invert__
""".split())
# Elementwise functions of several tensors: masks must be equal.
_BINARY = frozenset("""
add atan2 arctan2 bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift div
divide eq fmax fmin fmod ge greater_equal gt greater hypot igamma igammac ldexp le less_equal
lerp logaddexp logaddexp2 logical_and logical_or logical_xor lt less maximum minimum mul multiply
nextafter ne not_equal pow float_power remainder sub subtract true_divide floor_divide xlogy
copysign __rsub__ __rtruediv__ __rdiv__ __rpow__ __pow__ __eq__ __and__ __or__ __xor__
__floordiv__ __rfloordiv__ __rmod__ __rand__ __ror__ __rxor__
""".split())
# Functions that move elements around: applied alike to data and mask.
_STRUCTURAL = frozenset("""
reshape view view_as reshape_as flatten unflatten t transpose swapaxes swapdims permute squeeze
unsqueeze expand expand_as select narrow flip fliplr flipud roll movedim moveaxis contiguous
clone detach __getitem__ T mT ravel chunk split unbind tensor_split
""".split())
# Conversions of dtype or device: data converted, the mask follows the device.
_CONVERSIONS = frozenset("to type float double half bfloat16 int long short bool byte char cpu cuda"
                         " pin_memory type_as".split())
# Functions about the tensor rather than its values: run as for a plain tensor.
_PASSTHROUGH = frozenset("""
size dim numel nelement element_size is_floating_point is_complex is_contiguous is_signed backward
register_hook retain_grad requires_grad_ data_ptr get_device __len__ __hash__ stride
storage_offset is_same_size is_tensor is_storage
""".split())
_REDUCTIONS = frozenset("sum mean amax amin prod argmax argmin all var std".split())
_SOFTMAXES = frozenset("softmax log_softmax softmin".split())
_PREFIXES = ("torch.Tensor.", "torch.nn.functional.", "torch.special.", "torch.")


def _name(func) -> tuple:
    """``(namespace, name)`` of a dispatched function, e.g. ``("torch.Tensor.", "add")``;
    a property getter ``torch.Tensor.shape.__get__`` gives ``("property", "shape")``."""
    full = resolve_name(func) or getattr(func, "__name__", "")
    if full.endswith(".__get__"):
        return "property", full[:-len(".__get__")].rpartition(".")[2]
    for prefix in _PREFIXES:
        if full.startswith(prefix):
            return prefix, full[len(prefix):]
    return "", full


def _plain(t: Tensor) -> Tensor:
    """The data of ``t`` as a plain Tensor (an alias: autograd flows through it)."""
    with DisableTorchFunctionSubclass():
        if t.requires_grad:
            return as_subclass(t, Tensor)
        return Tensor._make_subclass(Tensor, t)


def _wrap(data: Tensor, mask: Tensor, fresh: bool = False,
          sparse_mask: Tensor | None = None) -> MaskedTensor:
    """``data`` as a MaskedTensor with ``mask`` (see NOTE [ MaskedTensor data and autograd ]):
    retagged in place when ``fresh`` (a result no one else holds, so its ``grad_fn`` stays the
    op's own node), else viewed. ``sparse_mask`` makes it a sparse one of that mask's layout."""
    _check_dtype(data)
    with DisableTorchFunctionSubclass():
        if fresh:
            data.__class__ = MaskedTensor
            out = data
        elif data.requires_grad:
            out = as_subclass(data, MaskedTensor)
        else:
            out = Tensor._make_subclass(MaskedTensor, data)
    out._masked_mask = mask
    out._masked_sparse_mask = sparse_mask
    return out


def _result(out: Tensor, mask: Tensor, args, kwargs,
            sparse_mask: Tensor | None = None) -> MaskedTensor:
    """``out``, the result of a function called on ``args``, as a MaskedTensor."""
    held = any(out is a for a in (*args, *kwargs.values()))  # a function that returned its input
    return _wrap(out, mask, fresh=type(out) is Tensor and not held, sparse_mask=sparse_mask)


def _sparse_mask_of(args) -> Tensor | None:
    """The sparse mask of the first MaskedTensor in ``args`` (None for a strided one): the
    layout an elementwise result keeps."""
    for a in args:
        if isinstance(a, MaskedTensor):
            return a._masked_sparse_mask
    return None


def _dense_members(data, mask) -> tuple:
    """``(data, mask, sparse_mask)`` for a MaskedTensor: a sparse pair becomes its dense data
    (kept only at the mask's stored positions, as PyTorch's ``sparse_mask`` keeps them) and the
    dense mask, with the sparse mask beside them; a strided pair stays as it is, with None."""
    if not (isinstance(data, Tensor) and isinstance(mask, Tensor)):
        return data, mask, None  # _check names the wrong type
    if data.layout != mask.layout:
        raise TypeError("data and mask must have the same layout.")
    if data.layout == ember.strided:
        return data, mask, None
    if data.layout not in (ember.sparse_coo, ember.sparse_csr):
        raise TypeError(f"data layout of {data.layout} is not supported.")
    if mask.dtype is not _dt.bool:
        raise TypeError("mask must have dtype bool.")
    if data.layout == ember.sparse_coo:
        mask = mask.coalesce()
    return data.sparse_mask(mask).to_dense(), mask.to_dense(), mask


def _unwrap(x):
    """``x`` with MaskedTensors (also inside lists and tuples) replaced by their data."""
    if isinstance(x, MaskedTensor):
        return _plain(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(i) for i in x)
    return x


def _masks(args) -> list:
    found = []
    for a in args:
        if isinstance(a, MaskedTensor):
            found.append(a._masked_mask)
        elif isinstance(a, (list, tuple)):
            found.extend(_masks(a))
    return found


def _call(func, args, kwargs):
    return func(*_unwrap(tuple(args)), **{k: _unwrap(v) for k, v in kwargs.items()})


def _same_masks(masks: list) -> Tensor:
    first = masks[0]
    for m in masks[1:]:
        if m is not first and (m.shape != first.shape or not bool((m == first).all())):
            raise ValueError(_MASKS_DIFFER)
    return first


def _unary(func, args, kwargs, inplace: bool):
    mask = _same_masks(_masks((*args, *kwargs.values())))
    out = _call(func, args, kwargs)
    return args[0] if inplace else _result(out, mask, args, kwargs, _sparse_mask_of(args))


def _binary(func, args, kwargs, inplace: bool):
    mask = _same_masks(_masks((*args, *kwargs.values())))
    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
    shape = ember.broadcast_shapes(*(t.shape for t in tensors))
    if tuple(mask.shape) != tuple(shape):
        mask = ember.broadcast_to(mask, shape)
    if ember.is_grad_enabled():
        # A plain operand is broadcast to the result and cut off from the gradient of masked-out
        # positions, which would otherwise add NaN * 0 into it.
        args = args[:1] + tuple(_gate(a, mask) for a in args[1:]) if inplace else tuple(
            _gate(a, mask) for a in args)
        kwargs = {k: _gate(v, mask) for k, v in kwargs.items()}
    out = _call(func, args, kwargs)
    if inplace:
        return args[0]
    return _result(out, mask, args, kwargs, _sparse_mask_of((*args, *kwargs.values())))


def _gate(x, mask: Tensor):
    if isinstance(x, MaskedTensor) or not isinstance(x, Tensor) or not x.requires_grad:
        return x
    wide = x.expand(mask.shape)
    return ember.where(mask, wide, wide.detach())


def _structural(func, args, kwargs):
    mask = _same_masks(_masks(args[:1]))
    out = _call(func, args, kwargs)
    masks = func(mask, *_unwrap(tuple(args[1:])), **{k: _unwrap(v) for k, v in kwargs.items()})
    if isinstance(out, (tuple, list)):
        return type(out)(_result(d, m, args, kwargs) for d, m in zip(out, masks))
    return _result(out, masks, args, kwargs)


def _conversion(func, args, kwargs):
    mask = args[0]._masked_mask
    out = _call(func, args, kwargs)
    if not isinstance(out, Tensor):  # x.type() names the type
        return out
    sparse = args[0]._masked_sparse_mask
    if out.device != mask.device:
        mask = mask.to(out.device)
        sparse = None if sparse is None else sparse.to(out.device)
    return _result(out, mask, args, kwargs, sparse)


def _reduction(name: str, args, kwargs):
    self, *rest = args
    options = dict(kwargs)
    dim = options.pop("dim", options.pop("axis", rest[0] if rest else None))
    keepdim = options.pop("keepdim", options.pop("keepdims", rest[1] if len(rest) > 1 else False))
    dtype = options.pop("dtype", None)
    if options or len(rest) > 2:
        return NotImplemented  # an overload PyTorch's MaskedTensor lacks (e.g. sum with out=)
    data, mask = _plain(self), self._masked_mask
    extra = {} if dtype is None else {"dtype": dtype}
    reduce = _all if name == "all" else getattr(_ops, name)
    out = reduce(data, dim, keepdim=keepdim, mask=mask, **extra)
    dims = _ops._dims(dim, data.ndim)
    out_mask = mask.sum(dims, keepdim=keepdim) > 0 if data.ndim else mask
    return _wrap(out, out_mask, fresh=True)


def _all(data: Tensor, dim, *, keepdim: bool, mask: Tensor) -> Tensor:
    """Whether every specified element is true (masked-out ones count as true)."""
    filled = data.bool().masked_fill(~mask, True)
    return filled.all() if dim is None else filled.all(dim, keepdim=keepdim)


def _softmax(name: str, args, kwargs):
    self = args[0]
    dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
    dtype = kwargs.get("dtype", args[2] if len(args) > 2 and not isinstance(args[2], int)
                       else None)
    out = getattr(_ops, name)(_plain(self), dim, dtype=dtype, mask=self._masked_mask)
    return _wrap(out, self._masked_mask, fresh=True)


def _where_args(condition, input, other) -> tuple:
    return condition, input, other


def _method_where_args(self, condition, y) -> tuple:
    return condition, self, y


def _where(namespace: str, args, kwargs):
    parse = _method_where_args if namespace == "torch.Tensor." else _where_args
    cond, x, y = parse(*args, **kwargs)
    cond = _unwrap(cond)
    shape = ember.broadcast_shapes(*(t.shape for t in (cond, x, y) if isinstance(t, Tensor)))

    def mask_of(t) -> Tensor:
        if isinstance(t, MaskedTensor):
            return t._masked_mask
        return ember.ones((), dtype=_dt.bool, device=cond.device)

    mask = ember.broadcast_to(ember.where(cond, mask_of(x), mask_of(y)), shape)
    return _wrap(ember.where(cond, _unwrap(x), _unwrap(y)), mask, fresh=True)


class MaskedTensor(Tensor):
    """A tensor with a boolean mask of the same shape: True marks a specified element, False
    an unspecified one, which operations treat as absent rather than as a value. Build it with
    :func:`ember.masked.masked_tensor` or :func:`ember.masked.as_masked_tensor`.

    Example::

        >>> mt = ember.masked.masked_tensor(ember.tensor([1., 2., 3.]),
        ...                                 ember.tensor([True, False, True]))
        >>> mt.sum()
        MaskedTensor(  4.0000, True)
    """

    # The sparse mask (COO or CSR) of a sparse MaskedTensor; None for a strided one.
    _masked_sparse_mask: Tensor | None = None

    def __new__(cls, data: Tensor, mask: Tensor, requires_grad: bool = False) -> MaskedTensor:
        data, mask, sparse_mask = _dense_members(data, mask)
        _check(data, mask)
        _install()  # a no-op unless something (a test) has uninstalled dispatch since
        with DisableTorchFunctionSubclass():
            out = Tensor._make_subclass(cls, data, requires_grad)
        out._masked_mask = mask
        out._masked_sparse_mask = sparse_mask
        return out

    def __init__(self, *args, **kwargs) -> None:
        pass

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        namespace, name = _name(func)
        with DisableTorchFunctionSubclass():
            if namespace == "property":
                if name in ("T", "mT"):
                    return _structural(func, args, kwargs)
                if name in ("real", "imag"):
                    return _unary(func, args, kwargs, False)
                return func(*args, **kwargs)
            inplace = name.endswith("_") and not name.endswith("__")
            base = name[:-1] if inplace else name
            if inplace and not (args and isinstance(args[0], MaskedTensor)):
                return NotImplemented  # a plain tensor cannot take a mask in place
            if base in _UNARY:
                return _unary(func, args, kwargs, inplace)
            if base in _BINARY:
                return _binary(func, args, kwargs, inplace)
            if name in _STRUCTURAL:
                return _structural(func, args, kwargs)
            if name in _CONVERSIONS:
                return _conversion(func, args, kwargs)
            if name in _REDUCTIONS:
                return _reduction(name, args, kwargs)
            if name in _SOFTMAXES:
                return _softmax(name, args, kwargs)
            if name == "where":
                return _where(namespace, args, kwargs)
            if name in _PASSTHROUGH:
                return func(*args, **kwargs)
        return NotImplemented

    @property
    def grad(self) -> MaskedTensor | None:
        """The gradient of this tensor's data, under this tensor's mask."""
        grad = Tensor.grad.__get__(self)
        if grad is None or isinstance(grad, MaskedTensor):
            return grad
        return _wrap(grad, self._masked_mask)

    @grad.setter
    def grad(self, value) -> None:
        Tensor.grad.__set__(self, value)

    def get_data(self) -> Tensor:
        """The data as a plain tensor, unspecified elements included (their values are
        arbitrary); differentiable. A sparse MaskedTensor's is sparse, stored where its mask
        is."""
        with DisableTorchFunctionSubclass():
            data = _plain(self)
            sparse = self._masked_sparse_mask
            return data if sparse is None else data.sparse_mask(sparse)

    def get_mask(self) -> Tensor:
        """The boolean mask: True where an element is specified (sparse for a sparse
        MaskedTensor)."""
        sparse = self._masked_sparse_mask
        return self._masked_mask if sparse is None else sparse

    @property
    def layout(self):
        sparse = self._masked_sparse_mask
        return ember.strided if sparse is None else sparse.layout

    @property
    def is_sparse(self) -> bool:
        """Whether the layout is sparse COO or sparse CSR (a property, as PyTorch's)."""
        return self._masked_sparse_mask is not None

    def is_sparse_coo(self) -> bool:
        return self.layout == ember.sparse_coo

    def is_sparse_csr(self) -> bool:
        return self.layout == ember.sparse_csr

    def to_dense(self) -> MaskedTensor:
        """This MaskedTensor in the strided layout (itself if it is strided already)."""
        if self._masked_sparse_mask is None:
            return self
        with DisableTorchFunctionSubclass():
            return _wrap(_plain(self), self._masked_mask)

    def to_sparse_coo(self) -> MaskedTensor:
        """This MaskedTensor in the sparse COO layout: a strided one stores its specified
        elements, a CSR one its stored positions."""
        if self.layout == ember.sparse_coo:
            return self
        return self._to_sparse(self.get_mask().to_sparse_coo().coalesce())

    def to_sparse_csr(self) -> MaskedTensor:
        """This MaskedTensor in the sparse CSR layout (2-D only, as a CSR tensor)."""
        if self.layout == ember.sparse_csr:
            return self
        return self._to_sparse(self.get_mask().to_sparse_csr())

    def _to_sparse(self, sparse_mask: Tensor) -> MaskedTensor:
        with DisableTorchFunctionSubclass():
            data = _plain(self).sparse_mask(sparse_mask).to_dense()
        return _wrap(data, self._masked_mask, fresh=True, sparse_mask=sparse_mask)

    def to_tensor(self, value) -> Tensor:
        """A plain tensor with the unspecified elements set to ``value``."""
        with DisableTorchFunctionSubclass():
            return _plain(self).masked_fill(~self._masked_mask, value)

    def __deepcopy__(self, memo: dict) -> MaskedTensor:
        with DisableTorchFunctionSubclass():
            out = MaskedTensor(_plain(self).detach().clone(), self._masked_mask.clone(),
                               self.requires_grad)
            sparse = self._masked_sparse_mask
            out._masked_sparse_mask = None if sparse is None else sparse.clone()
        memo[id(self)] = out
        return out

    def __repr__(self) -> str:
        with DisableTorchFunctionSubclass():
            data = _plain(self).detach().cpu().numpy()
            mask = self._masked_mask.cpu().numpy()
        if data.ndim == 0:
            shown = _format(data.item()) if mask.item() else "--"
            return f"MaskedTensor({shown}, {bool(mask.item())})"
        return f"MaskedTensor(\n{_block(data, mask, 2)}\n)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:8.4f}"
    return str(value)


def _block(data, mask, indent: int) -> str:
    """PyTorch's MaskedTensor layout: one bracketed line per innermost row, ``--`` for an
    unspecified element, right-aligned to the row's widest entry (at least 8)."""
    pad = " " * indent
    if data.ndim == 1:
        shown = [_format(v) for v in data.tolist()]
        width = max([8 if not m else len(s) for s, m in zip(shown, mask.tolist())], default=8)
        cells = [s if m else "--".rjust(width) for s, m in zip(shown, mask.tolist())]
        return f"{pad}[{', '.join(cells)}]"
    rows = ",\n".join(_block(d, m, indent + 2) for d, m in zip(data, mask))
    return f"{pad}[\n{rows}\n{pad}]"


def _check(data, mask) -> None:
    if not isinstance(data, Tensor):
        raise TypeError("data must be a Tensor")
    if not isinstance(mask, Tensor):
        raise TypeError("mask must be a Tensor")
    if mask.dtype is not _dt.bool:
        raise TypeError("mask must have dtype bool.")
    _check_dtype(data)
    if data.ndim != mask.ndim:
        raise ValueError("data.dim() must equal mask.dim()")
    if tuple(data.shape) != tuple(mask.shape):
        raise ValueError("data.size() must equal mask.size()")


def _check_dtype(data: Tensor) -> None:
    if data.dtype not in _DTYPES:
        raise TypeError(f"{data.dtype} is not supported in MaskedTensor.")


def masked_tensor(data: Tensor, mask: Tensor, requires_grad: bool = False) -> MaskedTensor:
    """A new MaskedTensor (a leaf, ``requires_grad`` as given) holding copies of ``data`` and
    ``mask``, like ``ember.tensor`` for masked data (sparse ones make a sparse MaskedTensor)."""
    data, mask, sparse_mask = _dense_members(data, mask)
    _check(data, mask)
    with DisableTorchFunctionSubclass():
        data = _plain(data).detach().clone()
        mask = _plain(mask).detach().clone()
    out = MaskedTensor(data, mask, requires_grad)
    out._masked_sparse_mask = sparse_mask
    return out


def as_masked_tensor(data: Tensor, mask: Tensor) -> MaskedTensor:
    """``data`` viewed as a MaskedTensor with ``mask``, sharing its storage and its autograd
    history (like ``ember.as_tensor``); a sparse pair makes a sparse MaskedTensor, whose dense
    data is new."""
    data, mask, sparse_mask = _dense_members(data, mask)
    _check(data, mask)
    _install()
    with DisableTorchFunctionSubclass():
        return _wrap(_plain(data), _plain(mask), fresh=True, sparse_mask=sparse_mask)
