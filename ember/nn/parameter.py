"""Parameter: a Tensor that a Module registers as a learnable weight; Buffer for state."""
from __future__ import annotations

import sys

from ember import dtypes as _dt
from ember._tensor import Tensor, _init_like
from ember.overrides import _disabled_torch_function_impl, make_subclass


class _ParameterMeta(type):
    """The metaclass of :class:`Parameter`: a tensor that carries ``_is_param = True`` (a
    tensor subclass standing in for a parameter) counts as a Parameter in ``isinstance``."""

    def __instancecheck__(self, instance) -> bool:
        if self is Parameter and isinstance(instance, Tensor) and getattr(instance, "_is_param",
                                                                          False):
            return True
        return super().__instancecheck__(instance)


class Parameter(Tensor, metaclass=_ParameterMeta):
    """A Tensor that, assigned as a Module attribute, is registered in ``parameters()``.

    Args:
        data: the tensor whose storage the parameter shares (an empty float tensor if None).
        requires_grad: whether the parameter requires gradient (default True).

    Example::

        >>> p = Parameter(ember.zeros(2))
        >>> p.requires_grad
        True
    """

    __torch_function__ = _disabled_torch_function_impl

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from ember._creation import empty
            data = empty(0)
        if requires_grad and not (data.dtype.is_floating_point or data.dtype.is_complex):
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        # a DTensor stays one (a DTensor parameter), as in PyTorch; its module is loaded
        # whenever a DTensor exists
        dtensor_api = sys.modules.get("ember.distributed.tensor._api")
        if dtensor_api is not None and isinstance(data, dtensor_api.DTensor):
            return dtensor_api.parameter_of(data, requires_grad)
        # a leaf sharing data's storage and version counter (in-place updates of either are
        # seen by autograd), as PyTorch's Parameter makes it
        return make_subclass(cls, data, requires_grad)

    # no __init__: object's accepts whatever __new__ took, so subclasses add constructor
    # arguments in __new__ alone (geoopt's ManifoldParameter(data, manifold=...)), as in PyTorch

    def __repr__(self, *, tensor_contents=None) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach(), self.requires_grad))


def _rebuild_parameter(data: Tensor, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)


class Buffer(Tensor):
    """A Tensor that, assigned as a Module attribute, is registered as a buffer.

    ``Buffer(data, persistent=False)`` keeps it out of ``state_dict()``.
    """

    __torch_function__ = _disabled_torch_function_impl

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        if data is None:
            from ember._creation import empty
            data = empty(0)
        self = object.__new__(cls)
        _init_like(self, data._data, data.requires_grad)
        self.persistent = persistent
        return self

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True):
        pass


_SHAPE_ERROR = ("Can't access the shape of an uninitialized parameter or buffer. This error "
                "usually happens in `load_state_dict` when trying to load an uninitialized "
                "parameter into an initialized one. Call `forward` to initialize the parameters "
                "before accessing their attributes.")


class UninitializedTensorMixin:
    """What uninitialised parameters and buffers share: a dtype and device but no shape until
    ``materialize``, which turns them into ``cls_to_become`` in place."""

    __slots__ = ()
    cls_to_become = Tensor

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor ``shape`` (uninitialised values) and make it ``cls_to_become``."""
        from ember._creation import empty
        if isinstance(shape, int):
            shape = (shape,)
        self._data = empty(tuple(shape), device=device or self.device,
                           dtype=dtype or self.dtype)._data
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(_SHAPE_ERROR)

    def _misuse(self, name: str):
        return ValueError(f"Attempted to use an uninitialized parameter in {name}. This error "
                          "happens when you are using a `LazyModule` or explicitly manipulating "
                          "`torch.nn.parameter.UninitializedParameter` objects. When using "
                          "LazyModules Call `forward` with a dummy batch to initialize the "
                          "parameters before calling torch functions")

    def dim(self) -> int:
        raise self._misuse("dim")

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call "
                           "`forward` to initialize the parameters before calling "
                           "`module.share_memory()`.")

    def numel(self) -> int:
        raise self._misuse("numel")

    def __repr__(self, *, tensor_contents=None) -> str:
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, protocol):
        return (type(self), (self.requires_grad, self.device, self.dtype))


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter of a lazy module, whose shape the module's first forward sets.

    Example::

        >>> p = UninitializedParameter()
        >>> p.materialize((2, 3))
        >>> type(p).__name__, p.shape
        ('Parameter', torch.Size([2, 3]))
    """

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        from ember._creation import empty
        dt = _dt.get_default_dtype() if dtype is None else dtype
        return super().__new__(cls, empty(0, device=device, dtype=dt), requires_grad)

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        pass


def _staying_uninitialized(method):
    """``method`` (a Tensor conversion) returning, like PyTorch's, an uninitialised buffer
    (of the new dtype or device) rather than a plain tensor."""
    def convert(self, *args, **kwargs):
        out = method(self, *args, **kwargs)
        if out is self:
            return out
        moved = object.__new__(type(self))
        _init_like(moved, out._data, out.requires_grad)
        return moved
    convert.__name__ = method.__name__
    convert.__doc__ = method.__doc__
    return convert


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer of a lazy module (``running_mean`` of ``LazyBatchNorm2d``), shaped by the
    module's first forward into a plain Tensor. Moved or cast (``to``, ``double``, ...), it
    stays uninitialised, as PyTorch's does."""

    __torch_function__ = _disabled_torch_function_impl

    __slots__ = ()  # Tensor's layout, so that materialize can turn it into a Tensor

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None):
        from ember._creation import empty
        dt = _dt.get_default_dtype() if dtype is None else dtype
        self = object.__new__(cls)
        _init_like(self, empty(0, device=device, dtype=dt)._data, requires_grad)
        return self

    def __init__(self, requires_grad: bool = False, device=None, dtype=None):
        pass

    to = _staying_uninitialized(Tensor.to)
    cpu = _staying_uninitialized(Tensor.cpu)
    cuda = _staying_uninitialized(Tensor.cuda)
    half = _staying_uninitialized(Tensor.half)
    float = _staying_uninitialized(Tensor.float)
    double = _staying_uninitialized(Tensor.double)
    char = _staying_uninitialized(Tensor.char)
    short = _staying_uninitialized(Tensor.short)
    int = _staying_uninitialized(Tensor.int)
    long = _staying_uninitialized(Tensor.long)


def is_lazy(param) -> bool:
    """Whether ``param`` is an uninitialised parameter or buffer."""
    return isinstance(param, UninitializedTensorMixin)
