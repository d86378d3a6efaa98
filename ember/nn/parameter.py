"""Parameter: a Tensor that a Module registers as a learnable weight; Buffer for state."""
from __future__ import annotations

from ember import dtypes as _dt
from ember._tensor import Tensor, _init_like


class Parameter(Tensor):
    """A Tensor that, assigned as a Module attribute, is registered in ``parameters()``.

    Args:
        data: the tensor whose storage the parameter shares (an empty float tensor if None).
        requires_grad: whether the parameter requires gradient (default True).

    Example::

        >>> p = Parameter(ember.zeros(2))
        >>> p.requires_grad
        True
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from ember._creation import empty
            data = empty(0)
        if requires_grad and not (data.dtype.is_floating_point or data.dtype.is_complex):
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        self = object.__new__(cls)
        _init_like(self, data._data, requires_grad)
        # share the version counter so in-place updates of either are seen by autograd
        if data._ver is None:
            data._ver = [0]
        self._ver = data._ver
        return self

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        pass

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


class UninitializedParameter(Parameter):
    """A parameter of a lazy module, whose shape is set by the first forward."""

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        from ember._creation import empty
        dt = _dt.get_default_dtype() if dtype is None else dtype
        return super().__new__(cls, empty(0, device=device, dtype=dt), requires_grad)

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        pass

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the parameter a shape (uninitialised values) and make it a plain Parameter."""
        from ember._creation import empty
        self._data = empty(shape, device=device or self.device,
                           dtype=dtype or self.dtype)._data
        self.__class__ = Parameter

    def __repr__(self, *, tensor_contents=None) -> str:
        return "<UninitializedParameter>"


def is_lazy(param) -> bool:
    return isinstance(param, UninitializedParameter)
