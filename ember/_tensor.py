"""class Tensor: an array of a backend (NumPy or CuPy) with dtype, device and autograd state.

Every method is written out and delegates to ``ember.ops`` (the differentiable primitives and
their compositions), so ``def exp`` is found where it is expected.
"""
from __future__ import annotations

import numbers
import operator as _operator
import warnings

import numpy as np

from ember import dtypes as _dt
from ember._tensor_methods import TensorMethods, bind_ops
from ember.autograd.grad_mode import _State
from ember.backend import cuda as _cuda_backend
from ember.backend.device import CPU, Device, array_device, get_array_module

_new = object.__new__
_ndarray = np.ndarray
_np_to_dtype = _dt._FROM_NP


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``torch.Size([4, 3])``."""

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))


def _make(data, requires_grad: bool = False, grad_fn=None, output_nr: int = 0):
    """Wrap an array in a new Tensor (the hot path: no checks beyond scalar-to-array)."""
    if data.__class__ is not _ndarray and data.__class__ not in _KEPT_ARRAYS:
        data = _as_array(data)
    t = _new(Tensor)
    t._data = data
    t.requires_grad = requires_grad
    t.grad_fn = grad_fn
    t._grad = None
    t._output_nr = output_nr
    t._ver = None
    t._base = None
    t._view_fn = None
    t._hooks = None
    t._post_acc_hooks = None
    t._grad_acc = None
    t._retains_grad = False
    return t


def _eager_arith(a: "Tensor", b: "Tensor", op):
    """``op`` (+ - * /) straight on the arrays of two floating tensors of one dtype and device,
    neither requiring grad, outside autocast: eager arithmetic's common case, which needs no
    graph node, promotion or cast (None for any other case, or a broadcast error, which the op
    then reports in PyTorch's words)."""
    da, db = a._data, b._data
    if (a.requires_grad or b.requires_grad or da.dtype is not db.dtype or da.dtype.kind != "f"
            or da.__class__ is not db.__class__ or _function._AutocastFlag.on):
        return None
    try:
        return _make(op(da, db))
    except ValueError:
        return None


# Array classes besides ndarray that _make keeps as they are (CuPy's, meta), learnt on first use.
_KEPT_ARRAYS: set = set()


def _as_array(data):
    # NumPy reductions and 0-d arithmetic return NumPy scalars; a Tensor always holds an array.
    if isinstance(data, np.generic):
        return np.asarray(data)
    if not isinstance(data, _ndarray):
        if get_array_module(data) is np:
            return np.asarray(data)
    _KEPT_ARRAYS.add(data.__class__)
    return data


def _device_error(op: str, a, b):
    return DeviceMismatchError(
        f"{op}: expected all tensors to be on the same device, but found at least two devices, "
        f"{array_device(a)} and {array_device(b)}!")


class DeviceMismatchError(TypeError, RuntimeError):
    """Tensors on different devices met in one op (a TypeError in 2017, a RuntimeError now)."""


class _GradField:
    """``Tensor.grad`` over the ``_grad`` slot: the gradient ``backward()`` accumulates, set on
    leaves that require grad and on non-leaves that ``retain_grad()``. Reading a non-leaf's
    unpopulated ``.grad`` warns, as PyTorch does. A plain descriptor, not a property, so that
    ``__torch_function__`` dispatch leaves it alone, as it left the slot."""

    def __get__(self, tensor, owner=None):
        if tensor is None:
            return self
        grad = tensor._grad
        if grad is None and tensor.grad_fn is not None and not tensor._retains_grad:
            warnings.warn(_NON_LEAF_GRAD, UserWarning, stacklevel=2)
        return grad

    def __set__(self, tensor, value) -> None:
        if value is not None:  # the engine writes the slot itself: these checks cost it nothing
            _check_grad(tensor, value)
        tensor._grad = value


_NOT_ONE_ELEMENT = "only one element tensors can be converted to Python scalars"
# float() of a tensor that autograd tracks (PyTorch warns for float(), not int()/item())
_FLOAT_OF_GRAD = ("Converting a tensor with requires_grad=True to a scalar may lead to unexpected "
                  "behavior.\nConsider using tensor.detach() first.")


def _check_grad(tensor, grad) -> None:
    """PyTorch's errors for assigning ``.grad`` a value of another type, shape or dtype."""
    if not isinstance(grad, Tensor):
        raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                        f"{type(grad).__name__}")
    if grad.shape != tensor.shape:
        raise RuntimeError(f"attempting to assign a gradient of size '{list(grad.shape)}' to a "
                           f"tensor of size '{list(tensor.shape)}'. Please ensure that the "
                           "gradient and the tensor are the same size")
    if grad.dtype is not tensor.dtype:
        raise RuntimeError(f"attempting to assign a gradient with dtype '{grad.dtype}' to a "
                           f"tensor with dtype '{tensor.dtype}'. The gradient must match the "
                           "tensor's dtype")


def _cast_method(name: str, dtype_name: str):
    """``Tensor.float()`` and its kin: a cast to one dtype (``memory_format`` optional)."""
    dtype = getattr(_dt, dtype_name)

    def cast(self, *, memory_format=None) -> "Tensor":
        if memory_format is None:  # ``to``'s fast path: no argument parsing
            return _ops.to(self, dtype)
        return _ops.to(self, dtype, memory_format=memory_format)
    cast.__name__, cast.__qualname__ = name, f"Tensor.{name}"
    cast.__doc__ = f"``self.to({dtype_name})``."
    return cast


class Tensor(TensorMethods):
    """A multi-dimensional array with autograd, like ``torch.Tensor``.

    ``ember.Tensor(4, 3)`` makes an uninitialised tensor of that shape (2017 style);
    ``ember.Tensor([[1, 2]])`` copies data; both in the default dtype (float32 unless
    ``set_default_dtype`` changed it). Prefer ``ember.tensor`` and factories.
    """

    __slots__ = ("_data", "requires_grad", "_grad", "grad_fn", "_output_nr", "_ver", "_base",
                 "_view_fn", "_hooks", "_post_acc_hooks", "_grad_acc", "_retains_grad",
                 "__dict__", "__weakref__")
    __array_priority__ = 1000  # NumPy defers to Tensor's reflected operators
    grad = _GradField()

    def __new__(cls, *args, device=None, dtype=None):
        # construction lives in __new__, as PyTorch's, so that a subclass's __new__ can call
        # super().__new__(cls, data) and give its __init__ arguments of its own
        dt = _dt.get_default_dtype() if dtype is None else _dt.to_dtype(dtype)
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            src = args[0]
            if isinstance(src, Tensor) and (dtype is None or src.dtype is dt):
                # an alias of any dtype (PyTorch's legacy constructor): gradients flow back
                return src.as_subclass(cls)
            if isinstance(src, Tensor):
                data = src._data.astype(dt.np_dtype, copy=False)
            elif isinstance(src, Size):
                data = np.zeros(tuple(src), dt.np_dtype)  # "uninitialised": see ``empty``
            else:
                data = np.array(_to_nested(src), dt.np_dtype)
        else:
            shape = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
            data = np.zeros(tuple(int(s) for s in shape) or (0,), dt.np_dtype)
        if device is not None and Device(device).type != "cpu":
            from ember.backend.device import to_device
            data = to_device(data, Device(device))
        self = _new(cls)
        _init_like(self, data)
        return self

    # ------------------------------------------------------------------------------------------
    # Attributes

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def dtype(self) -> _dt.dtype:
        return _np_to_dtype[self._data.dtype]

    @property
    def device(self) -> Device:
        return CPU if self._data.__class__ is _ndarray else array_device(self._data)

    @property
    def _xp(self):
        return get_array_module(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self.device.type == "cpu"

    @property
    def is_meta(self) -> bool:
        """Whether this tensor is on the ``meta`` device (shape and dtype, no data)."""
        return self._data.__class__ is not _ndarray and self.device.type == "meta"

    @property
    def is_sparse(self) -> bool:
        return False

    @property
    def is_quantized(self) -> bool:
        return False

    @property
    def layout(self):
        from ember import strided
        return strided

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad


    @property
    def _cdata(self) -> int:
        """An integer naming this tensor object (PyTorch's address of its C++ tensor): equal
        for the same tensor, different for another one, even a view or ``.data`` of it."""
        return id(self)

    @property
    def _version(self) -> int:
        return 0 if self._ver is None else self._ver[0]

    @property
    def data(self) -> "Tensor":
        """The same storage without autograd history (and with its own version counter)."""
        return _make(self._data)

    @data.setter
    def data(self, value: "Tensor") -> None:
        self._data = value._data

    @property
    def T(self) -> "Tensor":
        return self.permute(*range(self.ndim - 1, -1, -1))

    @property
    def mT(self) -> "Tensor":
        n = self._data.ndim
        if n < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of "
                               f"matrices. Got {n}-D tensor.")
        return _ops.transpose(self, n - 2, n - 1)

    @property
    def H(self) -> "Tensor":
        if self.ndim not in (0, 2):
            raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                               f"{self.ndim}-D tensor.")
        return self.T.conj()

    @property
    def mH(self) -> "Tensor":
        return self.mT.conj()

    @property
    def real(self) -> "Tensor":
        return _ops.real(self)

    @property
    def imag(self) -> "Tensor":
        return _ops.imag(self)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_ops.wrap_dim(dim, self.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def stride(self, dim: int | None = None):
        # A meta tensor is a zero-stride view and NumPy gives empty arrays zero strides:
        # PyTorch reports a fresh tensor's strides for both
        if self.is_meta or self._data.size == 0:
            from ember.backend.device import contiguous_strides
            strides = contiguous_strides(self._data.shape)
        else:
            itemsize = self._data.itemsize
            strides = tuple(s // itemsize for s in self._data.strides)
        if dim is None:
            return strides
        return strides[_ops.wrap_dim(dim, self.ndim)]

    def storage_offset(self) -> int:
        # A meta array is a fresh zero-stride view that keeps no storage to be offset into.
        if self._data.__class__ is not _ndarray:
            return 0
        # The root array: through views, and through as_strided's wrapper of its array (which
        # has an array interface and a base, but is no ndarray)
        base = self._data
        while hasattr(base.base, "__array_interface__"):
            base = base.base
        return (self._data.__array_interface__["data"][0]
                - base.__array_interface__["data"][0]) // self._data.itemsize

    def data_ptr(self) -> int:
        if self._data.__class__ is _ndarray:
            return self._data.__array_interface__["data"][0]
        if self.is_meta:  # no storage: PyTorch reports a null pointer
            return 0
        return self._data.data.ptr

    def const_data_ptr(self) -> int:
        """``data_ptr()``, for code that promises not to write through it."""
        return self.data_ptr()

    def is_distributed(self) -> bool:
        return False

    @property
    def volatile(self) -> bool:
        """Always False: the 2017 flag is gone (``no_grad`` took its place)."""
        warnings.warn("volatile was removed (Variable.volatile is always False)", stacklevel=2)
        return False

    @volatile.setter
    def volatile(self, value) -> None:
        warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                      "instead.", stacklevel=2)

    def is_contiguous(self, memory_format=None) -> bool:
        if memory_format is not None:
            order = _movement._LAYOUTS.get(getattr(memory_format, "name", None))
            if order is not None:  # a channels-last layout (False for another rank)
                return self.ndim == len(order) and _movement.laid_out(self._data, order)
        # A meta array reports a fresh tensor's strides (see ``stride``): contiguous.
        return self._data.flags.c_contiguous or self.is_meta

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        return self.dtype.is_complex

    def is_signed(self) -> bool:
        return self.dtype.is_signed

    def get_device(self) -> int:
        d = self.device
        return -1 if d.type == "cpu" else (d.index or 0)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        value = self._data.reshape(()).item()
        if _cuda_backend._deferred:  # see NOTE [ Deferred device checks ]
            _cuda_backend.raise_deferred()
        return value

    def tolist(self):
        return _host(self._data).tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The NumPy array behind this tensor (shares memory); CPU tensors only."""
        if self.requires_grad and _State.enabled and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if self._data.__class__ is not _ndarray:
            if force:
                return _host(self._data)
            device = self.device
            name = "meta" if device.type == "meta" else f"cuda:{device.index or 0}"
            raise TypeError(f"can't convert {name} device type tensor to numpy. Use Tensor.cpu() "
                            "to copy the tensor to host memory first.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = _host(self._data)
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule of this tensor's memory. A consumer that asks for DLPack 1.0
        (``max_version``) gets a versioned capsule, which it imports writable; the array
        module honours ``stream`` (CuPy) and the other options where it supports them."""
        kwargs = {} if stream is None else {"stream": stream}
        if max_version is not None:
            kwargs["max_version"] = max_version
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        if copy is not None:
            kwargs["copy"] = copy
        try:
            return self._data.__dlpack__(**kwargs)
        except TypeError:  # an array module that predates DLPack 1.0's keywords
            return self._data.__dlpack__(**({} if stream is None else {"stream": stream}))

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()).item())

    __nonzero__ = __bool__  # Python 2's name, which PyTorch keeps

    def __contains__(self, element) -> bool:
        """Whether ``element`` (a number or a tensor broadcast against self) equals some
        element of self (not Python's row-by-row iteration)."""
        if not (isinstance(element, Tensor) or _is_number(element)):
            raise RuntimeError("Tensor.__contains__ only supports Tensor or scalar, but you "
                               f"passed in a {type(element)}.")
        return bool((element == self).any().item())

    def __reversed__(self) -> "Tensor":
        return self if self._data.ndim == 0 else _ops.flip(self, 0)

    # The Python conversions raise ValueError for many elements, where item() raises
    # RuntimeError, as PyTorch's do.
    def __float__(self) -> float:
        if self._data.size != 1:
            raise ValueError(_NOT_ONE_ELEMENT)
        if self.requires_grad and _State.enabled:
            warnings.warn(_FLOAT_OF_GRAD, UserWarning, stacklevel=2)
        return float(_real_item(self, "double"))

    def __int__(self) -> int:
        if self._data.size != 1:
            raise ValueError(_NOT_ONE_ELEMENT)
        return int(_real_item(self, "int64_t"))

    __long__ = __int__  # Python 2's name, which PyTorch keeps

    def __complex__(self) -> complex:
        if self._data.size != 1:
            raise ValueError(_NOT_ONE_ELEMENT)
        return complex(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self.dtype.is_complex or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self, *, tensor_contents=None) -> str:
        from ember._tensor_str import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, protocol):
        from ember.multiprocessing.reductions import reduce_tensor_for_pickle
        return reduce_tensor_for_pickle(self)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        new = type(self).__new__(type(self))
        _init_like(new, self._data.copy(), self.requires_grad)
        memo[id(self)] = new
        if self._grad is not None:
            new.grad = self._grad.__deepcopy__(memo)
        if self.__dict__:
            import copy
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    # ------------------------------------------------------------------------------------------
    # Autograd

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of the graph's leaves."""
        if gradient is None and inputs is None:  # the common call skips argument parsing
            if retain_graph is None:
                retain_graph = create_graph
            _run_backward((self,), (None,), retain_graph, create_graph)
            return
        from ember.autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is computed; it may return a new one."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn._add_tensor_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = []
        from ember.autograd.function import _RemovableHandle
        self._hooks.append(hook)
        return _RemovableHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = []
        from ember.autograd.function import _RemovableHandle
        self._post_acc_hooks.append(hook)
        return _RemovableHandle(self._post_acc_hooks, hook)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        import weakref
        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                t.grad = grad.detach()._owned_copy() if t.grad is None else t.grad + grad
        keep._retains_grad = True
        self.grad_fn._add_tensor_hook(self._output_nr, keep)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                               "you want to use a computed variable in a subgraph that doesn't "
                               "require differentiation use var_no_grad = var.detach().")
        if requires_grad and not (self.dtype.is_floating_point or self.dtype.is_complex):
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad = requires_grad
        return self

    def detach(self) -> "Tensor":
        """A tensor sharing storage and version counter, cut from the graph."""
        out = _make(self._data)
        if self._ver is None:
            self._ver = [0]
        out._ver = self._ver
        return out

    def detach_(self) -> "Tensor":
        if self._base is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self.requires_grad = False
        return self

    def _set_history(self, node, output_nr: int = 0) -> None:
        self.grad_fn = node
        self._output_nr = output_nr
        self.requires_grad = True

    def _alias(self) -> "Tensor":
        out = _make(self._data)
        if self._ver is None:
            self._ver = [0]
        out._ver = self._ver
        return out

    def _owned_copy(self) -> "Tensor":
        return _make(self._xp.array(self._data, copy=True))

    def _bump_version(self) -> None:
        if self._ver is None:
            self._ver = [1]
        else:
            self._ver[0] += 1

    # ------------------------------------------------------------------------------------------
    # Conversion and copies

    def to(self, *args, **kwargs) -> "Tensor":
        """``to(dtype)``, ``to(device, dtype=None)``, ``to(other)``; returns self if unchanged."""
        return _ops.to(self, *args, **kwargs)

    def type(self, dtype=None, non_blocking: bool = False, **kwargs):
        if dtype is None:
            return _type_string(self)
        if isinstance(dtype, type) and isinstance(getattr(dtype, "dtype", None), _dt.dtype):
            # a legacy typed class: ember.LongTensor, ember.cuda.FloatTensor, ...
            return _ops.to(self, dtype.dtype, device="cuda" if dtype.is_cuda else "cpu")
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            return _ops.to(self, _dtype_from_type_string(dtype), device=(
                "cuda" if ".cuda." in dtype else "cpu"))
        return _ops.to(self, _dt.to_dtype(dtype))

    def type_as(self, other: "Tensor") -> "Tensor":
        if not isinstance(other, Tensor):
            raise TypeError(f"type_as(): argument 'other' (position 1) must be Tensor, not "
                            f"{type(other).__name__}")
        return _ops.to(self, other.dtype, device=other.device)

    float = _cast_method("float", "float32")
    double = _cast_method("double", "float64")
    half = _cast_method("half", "float16")
    bfloat16 = _cast_method("bfloat16", "bfloat16")
    int = _cast_method("int", "int32")
    long = _cast_method("long", "int64")
    short = _cast_method("short", "int16")
    char = _cast_method("char", "int8")
    byte = _cast_method("byte", "uint8")
    bool = _cast_method("bool", "bool")
    cfloat = _cast_method("cfloat", "complex64")
    cdouble = _cast_method("cdouble", "complex128")

    def cpu(self, memory_format=None) -> "Tensor":
        return _ops.to(self, "cpu")

    def cuda(self, device=None, non_blocking: bool = False, memory_format=None) -> "Tensor":
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = Device("cuda", device)
        return _ops.to(self, device)

    def clone(self, *, memory_format=None) -> "Tensor":
        return _ops.clone(self, memory_format=memory_format)

    def contiguous(self, memory_format=None) -> "Tensor":
        if memory_format is None and (self._data.flags.c_contiguous or (
                self._data.__class__ is not _ndarray and self.device.type == "meta")):
            return self
        return _ops.contiguous(self, memory_format)

    def copy_(self, src, non_blocking: bool = False) -> "Tensor":
        return _ops.copy_(self, src)

    def fill_(self, value) -> "Tensor":
        return _ops.fill_(self, value)

    def zero_(self) -> "Tensor":
        return _ops.fill_(self, 0)

    def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False):
        return _ops.tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                           requires_grad=requires_grad)

    def new_empty(self, *shape, size=None, dtype=None, device=None, requires_grad: bool = False):
        """A new tensor of ``shape`` (or ``size=``) with this one's dtype and device."""
        return _ops.empty(*(shape if size is None else (size,)), dtype=dtype or self.dtype,
                          device=device or self.device, requires_grad=requires_grad)

    def new_zeros(self, *shape, size=None, dtype=None, device=None, requires_grad: bool = False):
        """A new tensor of ``shape`` (or ``size=``) with this one's dtype and device."""
        return _ops.zeros(*(shape if size is None else (size,)), dtype=dtype or self.dtype,
                          device=device or self.device, requires_grad=requires_grad)

    def new_ones(self, *shape, size=None, dtype=None, device=None, requires_grad: bool = False):
        """A new tensor of ``shape`` (or ``size=``) with this one's dtype and device."""
        return _ops.ones(*(shape if size is None else (size,)), dtype=dtype or self.dtype,
                         device=device or self.device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad: bool = False):
        return _ops.full(size, fill_value, dtype=dtype or self.dtype,
                         device=device or self.device, requires_grad=requires_grad)

    def share_memory_(self) -> "Tensor":
        from ember.multiprocessing.reductions import share_memory_
        return share_memory_(self)

    def is_shared(self) -> bool:
        from ember.multiprocessing.reductions import is_shared
        return is_shared(self)

    def pin_memory(self, device=None) -> "Tensor":
        """A copy in page-locked host memory, which copies to the GPU faster (and, with
        ``non_blocking=True``, asynchronously); the tensor itself where there is no GPU."""
        from ember.backend import cuda
        if self.device.type != "cpu" or not cuda.is_available() or self.is_pinned():
            return self
        return _make(cuda.pinned_copy(self._data))

    def is_pinned(self, device=None) -> bool:
        from ember.backend import cuda
        return self.device.type == "cpu" and cuda.is_pinned(self._data)

    def untyped_storage(self):
        from ember.storage import UntypedStorage
        return UntypedStorage._of(self)

    def storage(self):
        """The memory under this tensor as elements of its dtype (PyTorch's older API, which
        warns once per process that TypedStorage is deprecated)."""
        from ember.storage import warn_typed_storage_removal
        warn_typed_storage_removal()
        return self._typed_storage()

    def _typed_storage(self):
        """``storage()`` without the deprecation warning (what libraries built on it call)."""
        from ember.storage import TypedStorage
        return TypedStorage(wrap_storage=self.untyped_storage(), dtype=self.dtype)

    # ------------------------------------------------------------------------------------------
    # Operators

    def __add__(self, other):
        if other.__class__ is Tensor:
            out = _eager_arith(self, other, _operator.add)
            if out is not None:
                return out
        return _operator_or_not_implemented(_Add.apply, self, other)

    def __radd__(self, other):
        return _operator_or_not_implemented(_Add.apply, self, other)

    def __iadd__(self, other):
        return _operator_or_not_implemented(_ops.add_, self, other)

    def __sub__(self, other):
        if other.__class__ is Tensor:
            out = _eager_arith(self, other, _operator.sub)
            if out is not None:
                return out
        return _operator_or_not_implemented(_Sub.apply, self, other)

    def __rsub__(self, other):
        return _operator_or_not_implemented(_ops.rsub, self, other)

    def __isub__(self, other):
        return _operator_or_not_implemented(_ops.sub_, self, other)

    def __mul__(self, other):
        if other.__class__ is Tensor:
            out = _eager_arith(self, other, _operator.mul)
            if out is not None:
                return out
        return _operator_or_not_implemented(_Mul.apply, self, other)

    def __rmul__(self, other):
        return _operator_or_not_implemented(_Mul.apply, self, other)

    def __imul__(self, other):
        return _operator_or_not_implemented(_ops.mul_, self, other)

    def __truediv__(self, other):
        if other.__class__ is Tensor:
            out = _eager_arith(self, other, _operator.truediv)
            if out is not None:
                return out
        return _operator_or_not_implemented(_ops.div, self, other)

    def __rtruediv__(self, other):
        if _is_number(other):
            return _ops.reciprocal(self) * other
        return _operator_or_not_implemented(_ops.div, other, self)

    def __itruediv__(self, other):
        return _operator_or_not_implemented(_ops.div_, self, other)

    # PyTorch keeps Python 2's names for true division
    __div__ = __truediv__
    __rdiv__ = __rtruediv__
    __idiv__ = __itruediv__

    def __floordiv__(self, other):
        return _operator_or_not_implemented(_ops.floor_divide, self, other)

    def __rfloordiv__(self, other):
        # a Python number stays a weak scalar
        return _operator_or_not_implemented(_ops.floor_divide, other, self)

    def __ifloordiv__(self, other):
        return _operator_or_not_implemented(_ops.floor_divide_, self, other)

    def __mod__(self, other):
        return _operator_or_not_implemented(_ops.remainder, self, other)

    def __rmod__(self, other):
        return _operator_or_not_implemented(_ops.remainder, other, self)

    def __imod__(self, other):
        return _operator_or_not_implemented(_ops.remainder_, self, other)

    def __pow__(self, exponent):
        return _operator_or_not_implemented(_ops.pow, self, exponent)

    def __rpow__(self, base):
        return _operator_or_not_implemented(_ops.pow, base, self)

    def __ipow__(self, exponent):
        return _operator_or_not_implemented(_ops.pow_, self, exponent)

    def __matmul__(self, other):
        return _operator_or_not_implemented(_ops.matmul, self, other)

    def __rmatmul__(self, other):
        return _operator_or_not_implemented(_ops.matmul, other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __invert__(self):
        if self.dtype.is_floating_point or self.dtype.is_complex:
            raise TypeError("~ (operator.invert) is only implemented on integer and "
                            "Boolean-type tensors")
        return _ops.bitwise_not(self)

    def __and__(self, other):
        return _operator_or_not_implemented(_ops.bitwise_and, self, other)

    __rand__ = __and__

    def __iand__(self, other):
        return _operator_or_not_implemented(_ops.bitwise_and_, self, other)

    def __or__(self, other):
        return _operator_or_not_implemented(_ops.bitwise_or, self, other)

    __ror__ = __or__

    def __ior__(self, other):
        return _operator_or_not_implemented(_ops.bitwise_or_, self, other)

    def __xor__(self, other):
        return _operator_or_not_implemented(_ops.bitwise_xor, self, other)

    __rxor__ = __xor__

    def __ixor__(self, other):
        return _operator_or_not_implemented(_ops.bitwise_xor_, self, other)

    def __lshift__(self, other):
        return _operator_or_not_implemented(_ops.bitwise_left_shift, self, other)

    def __rlshift__(self, other):
        return _operator_or_not_implemented(_ops.bitwise_left_shift, other, self)

    def __ilshift__(self, other):
        return _operator_or_not_implemented(Tensor.bitwise_left_shift_, self, other)

    def __rshift__(self, other):
        return _operator_or_not_implemented(_ops.bitwise_right_shift, self, other)

    def __rrshift__(self, other):
        return _operator_or_not_implemented(_ops.bitwise_right_shift, other, self)

    def __irshift__(self, other):
        return _operator_or_not_implemented(Tensor.bitwise_right_shift_, self, other)

    def __eq__(self, other):
        return _operator_or_not_implemented(_ops.eq, self, other)

    def __ne__(self, other):
        return _operator_or_not_implemented(_ops.ne, self, other)

    def __lt__(self, other):
        return _operator_or_not_implemented(_ops.lt, self, other)

    def __le__(self, other):
        return _operator_or_not_implemented(_ops.le, self, other)

    def __gt__(self, other):
        return _operator_or_not_implemented(_ops.gt, self, other)

    def __ge__(self, other):
        return _operator_or_not_implemented(_ops.ge, self, other)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        _ops.setitem(self, index, value)

    # ------------------------------------------------------------------------------------------
    # Arithmetic and pointwise math

    def add(self, other, *deprecated, alpha=1):
        return _ops.add(self, other, *deprecated, alpha=alpha)

    def add_(self, other, *deprecated, alpha=1):
        return _ops.add_(self, other, *deprecated, alpha=alpha)

    def sub(self, other, *deprecated, alpha=1):
        return _ops.sub(self, other, *deprecated, alpha=alpha)

    subtract = sub

    def sub_(self, other, *deprecated, alpha=1):
        return _ops.sub_(self, other, *deprecated, alpha=alpha)

    def mul(self, other):
        return _ops.mul(self, other)

    multiply = mul

    def mul_(self, other):
        return _ops.mul_(self, other)

    def div(self, other, *, rounding_mode=None):
        return _ops.div(self, other, rounding_mode=rounding_mode)

    divide = true_divide = div

    def div_(self, other, *, rounding_mode=None):
        return _ops.div_(self, other, rounding_mode=rounding_mode)

    def floor_divide(self, other):
        return _ops.floor_divide(self, other)

    def remainder(self, other):
        return _ops.remainder(self, other)

    def fmod(self, other):
        return _ops.fmod(self, other)

    def pow(self, exponent):
        return _ops.pow(self, exponent)

    def pow_(self, exponent):
        return _ops.pow_(self, exponent)

    def neg(self):
        return _ops.neg(self)

    negative = neg

    def neg_(self):
        return _ops.neg_(self)

    def abs(self):
        return _ops.abs(self)

    absolute = abs

    def abs_(self):
        return _ops.abs_(self)

    def sign(self):
        return _ops.sign(self)

    def sgn(self):
        return _ops.sgn(self)

    def exp(self):
        return _ops.exp(self)

    def exp_(self):
        return _ops.exp_(self)

    def exp2(self):
        return _ops.exp2(self)

    def expm1(self):
        return _ops.expm1(self)

    def log(self):
        return _ops.log(self)

    def log_(self):
        return _ops.log_(self)

    def log2(self):
        return _ops.log2(self)

    def log10(self):
        return _ops.log10(self)

    def log1p(self):
        return _ops.log1p(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def sqrt_(self):
        return _ops.sqrt_(self)

    def rsqrt(self):
        return _ops.rsqrt(self)

    def square(self):
        return _ops.square(self)

    def reciprocal(self):
        return _ops.reciprocal(self)

    def reciprocal_(self):
        return _ops.reciprocal_(self)

    def sin(self):
        return _ops.sin(self)

    def cos(self):
        return _ops.cos(self)

    def tan(self):
        return _ops.tan(self)

    def asin(self):
        return _ops.asin(self)

    arcsin = asin

    def acos(self):
        return _ops.acos(self)

    arccos = acos

    def atan(self):
        return _ops.atan(self)

    arctan = atan

    def atan2(self, other):
        return _ops.atan2(self, other)

    arctan2 = atan2

    def sinh(self):
        return _ops.sinh(self)

    def cosh(self):
        return _ops.cosh(self)

    def tanh(self):
        return _ops.tanh(self)

    def tanh_(self):
        return _ops.tanh_(self)

    def asinh(self):
        return _ops.asinh(self)

    def acosh(self):
        return _ops.acosh(self)

    def atanh(self):
        return _ops.atanh(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def sigmoid_(self):
        return _ops.sigmoid_(self)

    def logit(self, eps=None):
        return _ops.logit(self, eps)

    def relu(self):
        return _Relu.apply(self)

    def relu_(self):
        return _ops.relu_(self)

    def erf(self):
        return _ops.erf(self)

    def erfc(self):
        return _ops.erfc(self)

    def erfinv(self):
        return _ops.erfinv(self)

    def lgamma(self):
        return _ops.lgamma(self)

    def digamma(self):
        return _ops.digamma(self)

    def floor(self):
        return _ops.floor(self)

    def floor_(self):
        return _ops.floor_(self)

    def ceil(self):
        return _ops.ceil(self)

    def ceil_(self):
        return _ops.ceil_(self)

    def round(self, decimals: int = 0):
        return _ops.round(self, decimals=decimals)

    def round_(self, decimals: int = 0):
        return _ops.round_(self, decimals=decimals)

    def trunc(self):
        return _ops.trunc(self)

    fix = trunc

    def frac(self):
        return _ops.frac(self)

    def clamp(self, min=None, max=None):  # noqa: A002
        return _ops.clamp(self, min, max)

    clip = clamp

    def clamp_(self, min=None, max=None):  # noqa: A002
        return _ops.clamp_(self, min, max)

    clip_ = clamp_

    def clamp_min(self, min):  # noqa: A002
        return _ops.clamp_min(self, min)

    def clamp_max(self, max):  # noqa: A002
        return _ops.clamp_max(self, max)

    def lerp(self, end, weight):
        return _ops.lerp(self, end, weight)

    def lerp_(self, end, weight):
        return _ops.lerp_(self, end, weight)

    def addcmul(self, tensor1, tensor2, *deprecated, value=1):
        return _ops.addcmul(self, tensor1, tensor2, *deprecated, value=value)

    def addcmul_(self, tensor1, tensor2, *deprecated, value=1):
        return _ops.addcmul_(self, tensor1, tensor2, *deprecated, value=value)

    def addcdiv(self, tensor1, tensor2, *deprecated, value=1):
        return _ops.addcdiv(self, tensor1, tensor2, *deprecated, value=value)

    def addcdiv_(self, tensor1, tensor2, *deprecated, value=1):
        return _ops.addcdiv_(self, tensor1, tensor2, *deprecated, value=value)

    def maximum(self, other):
        return _ops.maximum(self, other)

    def minimum(self, other):
        return _ops.minimum(self, other)

    def fmax(self, other):
        return _ops.fmax(self, other)

    def fmin(self, other):
        return _ops.fmin(self, other)

    def hypot(self, other):
        return _ops.hypot(self, other)

    def conj(self):
        return _ops.conj(self)

    def angle(self):
        return _ops.angle(self)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return _ops.nan_to_num(self, nan, posinf, neginf)

    def where(self, condition, other):
        return _ops.where(condition, self, other)

    def masked_fill(self, mask, value):
        return _ops.masked_fill(self, mask, value)

    def masked_fill_(self, mask, value):
        return _ops.masked_fill_(self, mask, value)

    def isnan(self):
        return _ops.isnan(self)

    def isinf(self):
        return _ops.isinf(self)

    def isfinite(self):
        return _ops.isfinite(self)

    def isposinf(self):
        return _ops.isposinf(self)

    def isneginf(self):
        return _ops.isneginf(self)

    def signbit(self):
        return _ops.signbit(self)

    # Comparison and logic
    def eq(self, other):
        return _ops.eq(self, other)

    def ne(self, other):
        return _ops.ne(self, other)

    not_equal = ne

    def lt(self, other):
        return _ops.lt(self, other)

    less = lt

    def le(self, other):
        return _ops.le(self, other)

    less_equal = le

    def gt(self, other):
        return _ops.gt(self, other)

    greater = gt

    def ge(self, other):
        return _ops.ge(self, other)

    greater_equal = ge

    def equal(self, other) -> bool:
        return _ops.equal(self, other)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
        return _ops.allclose(self, other, rtol, atol, equal_nan)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ops.isclose(self, other, rtol, atol, equal_nan)

    def logical_not(self):
        return _ops.logical_not(self)

    def logical_and(self, other):
        return _ops.logical_and(self, other)

    def logical_or(self, other):
        return _ops.logical_or(self, other)

    def logical_xor(self, other):
        return _ops.logical_xor(self, other)

    def bitwise_not(self):
        return _ops.bitwise_not(self)

    def bitwise_and(self, other):
        return _ops.bitwise_and(self, other)

    def bitwise_or(self, other):
        return _ops.bitwise_or(self, other)

    def bitwise_xor(self, other):
        return _ops.bitwise_xor(self, other)

    def bitwise_left_shift(self, other):
        return _ops.bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other):
        return _ops.bitwise_right_shift(self, other)

    def float_power(self, exponent):
        return _ops.float_power(self, exponent)

    def logaddexp(self, other):
        return _ops.logaddexp(self, other)

    def xlogy(self, other):
        return _ops.xlogy(self, other)

    def diff(self, n: int = 1, dim: int = -1, prepend=None, append=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.diff(self, n, dim, prepend, append)

    def diagflat(self, offset: int = 0):
        return _ops.diagflat(self, offset)

    def kron(self, other):
        return _ops.kron(self, other)

    def logdet(self):
        return _ops.logdet(self)

    def slogdet(self):
        return _ops.slogdet(self)

    def matrix_power(self, n: int):
        return _ops.matrix_power(self, n)

    # ------------------------------------------------------------------------------------------
    # Reductions

    def sum(self, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        if dim is None and dtype is None:  # the common full sum: straight to the primitive
            return _Sum.apply(self, None, True, None) if keepdim else _Sum.apply(self)
        return _ops.sum(self, dim, keepdim, dtype=dtype)

    def nansum(self, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.nansum(self, dim, keepdim, dtype=dtype)

    def sum_to_size(self, *sizes, size=None):
        return _ops.sum_to_size(self, *(sizes if size is None else (size,)))

    def mean(self, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.mean(self, dim, keepdim, dtype=dtype)

    def nanmean(self, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.nanmean(self, dim, keepdim, dtype=dtype)

    def prod(self, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.prod(self, dim, keepdim, dtype=dtype)

    def max(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.max(self, dim, keepdim)

    def min(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.min(self, dim, keepdim)

    def amax(self, dim=(), keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.amin(self, dim, keepdim)

    def aminmax(self, *, dim=None, keepdim: bool = False, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.aminmax(self, dim=dim, keepdim=keepdim)

    def argmax(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.argmin(self, dim, keepdim)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None,
            keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.std(self, dim, unbiased, keepdim, correction=correction)

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None,
            keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.var(self, dim, unbiased, keepdim, correction=correction)

    def norm(self, p="fro", dim=None, keepdim: bool = False, dtype=None):
        return _ops.norm(self, p, dim, keepdim, dtype=dtype)

    def logsumexp(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.logsumexp(self, dim, keepdim)

    def all(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.all(self, dim, keepdim)

    def any(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.any(self, dim, keepdim)

    def count_nonzero(self, dim=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.count_nonzero(self, dim)

    def cumsum(self, dim=None, *, dtype=None, axis=None):
        dim = dim if axis is None else axis
        return _ops.cumsum(self, dim, dtype=dtype)

    def cumsum_(self, dim, *, dtype=None):
        return self.copy_(_ops.cumsum(self, dim, dtype=dtype))

    def cumprod(self, dim=None, *, dtype=None, axis=None):
        dim = dim if axis is None else axis
        return _ops.cumprod(self, dim, dtype=dtype)

    def cummax(self, dim=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.cummax(self, dim)

    def cummin(self, dim=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.cummin(self, dim)

    def logcumsumexp(self, dim=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.logcumsumexp(self, dim)

    def median(self, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.median(self, dim, keepdim)

    def mode(self, dim=-1, keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.mode(self, dim, keepdim)

    def sort(self, dim=-1, descending: bool = False, stable: bool = False, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.sort(self, dim, descending, stable=stable)

    def argsort(self, dim=-1, descending: bool = False, stable: bool = False, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.argsort(self, dim, descending, stable=stable)

    def topk(self, k, dim=-1, largest: bool = True, sorted: bool = True,  # noqa: A002
             *, axis=None):
        dim = dim if axis is None else axis
        return _ops.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k, dim=-1, keepdim: bool = False, *, axis=None, keepdims=None):
        dim = dim if axis is None else axis
        keepdim = keepdim if keepdims is None else keepdims
        return _ops.kthvalue(self, k, dim, keepdim)

    def unique(self, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
               return_counts: bool = False, dim=None):
        return _ops.unique(self, sorted, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength: int = 0):
        return _ops.bincount(self, weights, minlength)

    def histc(self, bins: int = 100, min=0, max=0):  # noqa: A002
        return _ops.histc(self, bins, min, max)

    # ------------------------------------------------------------------------------------------
    # Linear algebra

    def matmul(self, other):
        return _ops.matmul(self, other)

    def mm(self, mat2):
        return _ops.mm(self, mat2)

    def bmm(self, mat2):
        return _ops.bmm(self, mat2)

    def mv(self, vec):
        return _ops.mv(self, vec)

    def dot(self, tensor):
        return _ops.dot(self, tensor)

    def inner(self, other):
        return _ops.inner(self, other)

    def outer(self, vec2):
        return _ops.outer(self, vec2)

    ger = outer

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return _ops.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        return self.copy_(_ops.addmm(self, mat1, mat2, beta=beta, alpha=alpha))

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        return _ops.addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return _ops.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return _ops.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        return _ops.addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def trace(self):
        return _ops.trace(self)

    def diag(self, diagonal: int = 0):
        return _ops.diag(self, diagonal)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1):
        return _ops.diagonal(self, offset, dim1, dim2)

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1):
        return _ops.diag_embed(self, offset, dim1, dim2)

    def tril(self, diagonal: int = 0):
        return _ops.tril(self, diagonal)

    def tril_(self, diagonal: int = 0):
        return self.copy_(_ops.tril(self, diagonal))

    def triu(self, diagonal: int = 0):
        return _ops.triu(self, diagonal)

    def triu_(self, diagonal: int = 0):
        return self.copy_(_ops.triu(self, diagonal))

    def det(self):
        return _ops.det(self)

    def inverse(self):
        return _ops.inverse(self)

    def cross(self, other, dim=None):
        return _ops.cross(self, other, dim)

    # ------------------------------------------------------------------------------------------
    # Shape and movement (views share storage)

    def view(self, *shape, size=None, dtype=None):
        if size is not None or dtype is not None:  # the keyword forms, view(size=...) etc.
            shape = (dtype,) if size is None else (size,)
        if len(shape) == 1 and isinstance(shape[0], _dt.dtype):
            return _ops.view_dtype(self, shape[0])
        return _ops.view(self, *shape)

    def view_as(self, other):
        return _ops.view(self, other.shape)

    def reshape(self, *sizes, shape=None):
        return _ops.reshape(self, *sizes) if shape is None else _ops.reshape(self, shape)

    def reshape_as(self, other):
        return _ops.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return _ops.flatten(self, start_dim, end_dim)

    def unflatten(self, dim, sizes):
        return _ops.unflatten(self, dim, sizes)

    def ravel(self):
        return _ops.reshape(self, -1)

    def squeeze(self, dim=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.squeeze(self, dim)

    def squeeze_(self, dim=None):
        return _ops.set_view_inplace_(self, _ops.squeeze(self, dim))

    def unsqueeze(self, dim=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.unsqueeze(self, dim)

    def unsqueeze_(self, dim: int):
        return _ops.set_view_inplace_(self, _ops.unsqueeze(self, dim))

    def permute(self, *order, dims=None):
        return _ops.permute(self, *order) if dims is None else _ops.permute(self, dims)

    def transpose(self, dim0: int, dim1: int):
        return _ops.transpose(self, dim0, dim1)

    swapdims = transpose

    def swapaxes(self, axis0: int, axis1: int):
        return _ops.transpose(self, axis0, axis1)

    def transpose_(self, dim0: int, dim1: int):
        return _ops.set_view_inplace_(self, _ops.transpose(self, dim0, dim1))

    def t(self):
        return _ops.t(self)

    def t_(self):
        return _ops.set_view_inplace_(self, _ops.t(self))

    def movedim(self, source, destination):
        return _ops.movedim(self, source, destination)

    moveaxis = movedim

    def expand(self, *sizes, size=None):
        return _ops.expand(self, *(sizes if size is None else (size,)))

    def expand_as(self, other):
        return _ops.expand(self, other.shape)

    def broadcast_to(self, size):
        return _ops.expand(self, size)

    def repeat(self, *sizes, repeats=None):
        return _ops.repeat(self, *(sizes if repeats is None else (repeats,)))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None, axis=None):
        dim = dim if axis is None else axis
        return _ops.repeat_interleave(self, repeats, dim)

    def tile(self, *sizes, dims=None):
        """Repeat along each dim: ``tile(2, 1)``, ``tile((2, 1))`` or ``tile(dims=(2, 1))``."""
        if dims is None:
            dims = sizes[0] if len(sizes) == 1 else sizes
        return _ops.tile(self, dims)

    def narrow(self, dim=None, start=None, length=None, *, axis=None):
        return _ops.narrow(self, dim if axis is None else axis, start, length)

    def select(self, dim=None, index=None, *, axis=None):
        return _ops.select(self, dim if axis is None else axis, index)

    def unfold(self, dimension: int, size: int, step: int):
        return _ops.unfold(self, dimension, size, step)

    def as_strided(self, size, stride, storage_offset=None):
        return _ops.as_strided(self, size, stride, storage_offset)

    def as_strided_(self, size, stride, storage_offset=None):
        return _ops.set_view_inplace_(self, _ops.as_strided(self, size, stride, storage_offset))

    def unbind(self, dim: int = 0, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.unbind(self, dim)

    def split(self, split_size, dim: int = 0):
        return _ops.split(self, split_size, dim)

    def tensor_split(self, indices_or_sections, dim: int = 0, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.tensor_split(self, indices_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.chunk(self, chunks, dim)

    def flip(self, *order, dims=None):
        return _ops.flip(self, *order) if dims is None else _ops.flip(self, dims)

    def fliplr(self):
        return _ops.flip(self, 1)

    def flipud(self):
        return _ops.flip(self, 0)

    def roll(self, shifts, dims=None):
        return _ops.roll(self, shifts, dims)

    def rot90(self, k: int = 1, dims=(0, 1)):
        return _ops.rot90(self, k, dims)

    def resize_(self, *sizes, memory_format=None):
        from ember.ops.tensor_extras import resize_
        return resize_(self, *sizes, memory_format=memory_format)

    def resize_as_(self, other, memory_format=None):
        from ember.ops.tensor_extras import resize_
        return resize_(self, other.shape, memory_format=memory_format)

    def resize(self, *sizes):
        """Deprecated: ``self`` with the shape ``sizes`` and the same number of elements, a
        differentiable view of its contiguous version."""
        warnings.warn("non-inplace resize is deprecated", stacklevel=2)
        from ember.ops.tensor_extras import resized
        return resized(self, sizes)

    def resize_as(self, tensor):
        """Deprecated: :meth:`resize` to ``tensor``'s shape."""
        warnings.warn("non-inplace resize_as is deprecated", stacklevel=2)
        from ember.ops.tensor_extras import resized
        return resized(self, tensor.shape)

    # ------------------------------------------------------------------------------------------
    # Indexing

    def gather(self, dim=None, index=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.gather(self, dim, index)

    def scatter(self, dim=None, index=None, src=None, *, value=None, reduce=None, axis=None):
        dim = dim if axis is None else axis
        return _ops.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_(self, dim: int, index, src=None, *, value=None, reduce=None):
        return _ops.scatter_(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add(self, dim=None, index=None, src=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.scatter_add(self, dim, index, src)

    def scatter_add_(self, dim: int, index, src):
        return _ops.scatter_add_(self, dim, index, src)

    def scatter_reduce(self, dim=None, index=None, src=None, reduce=None, *,
                       include_self: bool = True, axis=None):
        dim = dim if axis is None else axis
        return _ops.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def index_select(self, dim=None, index=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.index_select(self, dim, index)

    def index_add(self, dim=None, index=None, source=None, *, alpha=1, axis=None):
        dim = dim if axis is None else axis
        return _ops.index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim: int, index, source, *, alpha=1):
        return _ops.index_add_(self, dim, index, source, alpha=alpha)

    def index_copy(self, dim: int, index, source):
        return _ops.index_copy(self, dim, index, source)

    def index_copy_(self, dim: int, index, source):
        return _ops.index_copy_(self, dim, index, source)

    def index_fill(self, dim=None, index=None, value=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.index_fill(self, dim, index, value)

    def index_fill_(self, dim: int, index, value):
        return _ops.index_fill_(self, dim, index, value)

    def index_put(self, indices, values, accumulate: bool = False):
        return _ops.index_put(self, indices, values, accumulate)

    def index_put_(self, indices, values, accumulate: bool = False):
        return _ops.index_put_(self, indices, values, accumulate)

    def masked_select(self, mask):
        return _ops.masked_select(self, mask)

    def masked_scatter(self, mask, source):
        return _ops.masked_scatter(self, mask, source)

    def masked_scatter_(self, mask, source):
        return _ops.masked_scatter_(self, mask, source)

    def take(self, index):
        return _ops.take(self, index)

    def take_along_dim(self, indices, dim=None, *, axis=None):
        dim = dim if axis is None else axis
        return _ops.take_along_dim(self, indices, dim)

    def nonzero(self, *, as_tuple: bool = False):
        return _ops.nonzero(self, as_tuple=as_tuple)

    def argwhere(self):
        return _ops.nonzero(self)

    # ------------------------------------------------------------------------------------------
    # Random fills (in place)

    def uniform_(self, from_=0.0, to=1.0, *, generator=None):
        return _ops.uniform_(self, from_, to, generator=generator)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        return _ops.normal_(self, mean, std, generator=generator)

    def bernoulli_(self, p=0.5, *, generator=None):
        return _ops.bernoulli_(self, p, generator=generator)

    def bernoulli(self, p=None, *, generator=None):
        return _ops.bernoulli(self, p, generator=generator)

    def random_(self, from_=0, to=None, *, generator=None):
        return _ops.random_(self, from_, to, generator=generator)

    def exponential_(self, lambd=1.0, *, generator=None):
        return _ops.exponential_(self, lambd, generator=generator)

    def geometric_(self, p, *, generator=None):
        return _ops.geometric_(self, p, generator=generator)

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        return _ops.log_normal_(self, mean, std, generator=generator)

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        return _ops.cauchy_(self, median, sigma, generator=generator)

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator=None):
        return _ops.multinomial(self, num_samples, replacement, generator=generator)

    # ------------------------------------------------------------------------------------------
    # Neural-network helpers that PyTorch also exposes as methods

    def softmax(self, dim, dtype=None):
        return _ops.softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim, dtype=None):
        return _ops.log_softmax(self, dim, dtype=dtype)


def _real_item(t: Tensor, c_type: str):
    """``t.item()`` for ``float()`` and ``int()``: a complex value only with no imaginary part."""
    value = t.item()
    if isinstance(value, complex):
        if value.imag != 0:
            raise RuntimeError(f"value cannot be converted to type {c_type} without overflow")
        return value.real
    return value


def _operator_or_not_implemented(op, a, b):
    """``op(a, b)``, or NotImplemented where the operand that is not a tensor is of a type ``op``
    cannot take, so that Python tries that operand's reflected method (PyTorch's operators do
    the same; eq and ne then fall back to identity). Errors between two tensors propagate."""
    try:
        return op(a, b)
    except TypeError:
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            raise
        return NotImplemented


def _is_number(x) -> bool:
    return isinstance(x, (numbers.Number, np.generic))


def _host(array):
    if array.__class__ is _ndarray:
        return array
    host = array.get()
    if _cuda_backend._deferred:  # see NOTE [ Deferred device checks ]
        _cuda_backend.raise_deferred()
    return host


def _to_nested(src):
    """Turn Tensors nested in lists into plain values for np.array."""
    if isinstance(src, Tensor):
        return _host(src._data)
    if isinstance(src, (list, tuple)):
        return [_to_nested(s) for s in src]
    return src


def _init_like(t, data, requires_grad: bool = False) -> None:
    t._data = data
    t.requires_grad = requires_grad
    t.grad_fn = None
    t._grad = None
    t._output_nr = 0
    t._ver = None
    t._base = None
    t._view_fn = None
    t._hooks = None
    t._post_acc_hooks = None
    t._grad_acc = None
    t._retains_grad = False


_NON_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more information.")

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
               "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
               "bool": "BoolTensor", "complex64": "ComplexFloatTensor",
               "complex128": "ComplexDoubleTensor", "uint16": "UInt16Tensor",
               "uint32": "UInt32Tensor", "uint64": "UInt64Tensor",
               "float8_e4m3fn": "Float8_e4m3fnTensor", "float8_e5m2": "Float8_e5m2Tensor",
               "float8_e4m3fnuz": "Float8_e4m3fnuzTensor",
               "float8_e5m2fnuz": "Float8_e5m2fnuzTensor",
               "float8_e8m0fnu": "Float8_e8m0fnuTensor", "qint8": "QInt8Tensor",
               "quint8": "QUInt8Tensor", "qint32": "QInt32Tensor", "quint4x2": "QUInt4x2Tensor"}


def _type_string(t: Tensor) -> str:
    prefix = "torch.cuda." if t.is_cuda else "torch."
    if t.dtype.name.startswith(("qint", "quint")):
        prefix += "quantized."
    return prefix + _TYPE_NAMES[t.dtype.name]


def _dtype_from_type_string(name: str) -> _dt.dtype:
    short = name.rsplit(".", 1)[-1]
    for dname, tname in _TYPE_NAMES.items():
        if tname == short:
            return _dt._BY_NAME[dname]
    raise ValueError(f"invalid type: '{name}'")


from ember.autograd import function as _function  # noqa: E402
from ember.autograd.engine import run_backward as _run_backward  # noqa: E402

_function._bind_tensor(Tensor, _make)

from ember import ops as _ops  # noqa: E402  (ops build on Tensor)
from ember.ops import movement as _movement  # noqa: E402
from ember.ops.elementwise import Add as _Add  # noqa: E402  (operators skip the wrappers)
from ember.ops.elementwise import Mul as _Mul  # noqa: E402
from ember.ops.elementwise import Sub as _Sub  # noqa: E402
from ember.ops.reduce import Sum as _Sum  # noqa: E402
from ember.ops.unary import Relu as _Relu  # noqa: E402

bind_ops()  # the delegating methods' op modules, now that Tensor exists
