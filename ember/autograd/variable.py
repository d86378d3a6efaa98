"""``Variable``: the 2017 wrapper, now the Tensor itself."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.autograd.engine import _ExecutionEngine


class _VariableMeta(type):
    def __instancecheck__(cls, other) -> bool:
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(tensor, requires_grad=False)``: a new leaf Tensor on the same data (since 0.4
    Variables are Tensors)."""

    _execution_engine = _ExecutionEngine()

    def __new__(cls, data=None, requires_grad: bool = False, volatile: bool = False):
        if data is None:
            from ember._creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        t = data.detach()  # a new leaf sharing the data, as PyTorch's Variable() returns
        if requires_grad:
            t.requires_grad_(True)
        return t
