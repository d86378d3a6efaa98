"""``torch.ops.aten``: PyTorch's operators by their aten names.

``torch.ops.aten.<name>`` is an operator packet and ``torch.ops.aten.<name>.<overload>`` one of
its overloads (``aten.index_select.default``, ``aten.add.Tensor``); each calls ember's function
of that name (``ember.<name>``, else the Tensor method), which already dispatches on its
arguments, so every overload of a name runs the same code. Libraries key tables of tensor
subclass handlers by these objects, so they are cached: the same name gives the same object
(ember has no ``__torch_dispatch__``, so it never calls such handlers itself).
A few aten-only names (``_to_copy``, ``alias``, ...) are written here as ember compositions;
any other name ember has no function for raises AttributeError, as an unknown operator does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ember.export._ops import OpOverload, op_for

if TYPE_CHECKING:
    from ember._tensor import Tensor


def _to_copy(input: Tensor, *, dtype=None, layout=None, device=None, pin_memory=None,
             non_blocking: bool = False, memory_format=None) -> Tensor:
    """``aten::_to_copy``: a copy of ``input`` with the dtype and device given."""
    return input.to(device=device, dtype=dtype, non_blocking=non_blocking, copy=True)


def _pin_memory(input: Tensor, device=None) -> Tensor:
    """``aten::_pin_memory``: ``input`` in page-locked host memory."""
    return input.pin_memory()


def alias(input: Tensor) -> Tensor:
    """``aten::alias``: a new tensor viewing ``input``'s data."""
    return input.view_as(input)


def _sparse_addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``aten::_sparse_addmm``: ``beta * input + alpha * (mat1 @ mat2)`` with ``mat1`` sparse."""
    import ember
    return ember.sparse.addmm(input, mat1, mat2, beta=beta, alpha=alpha)


def _slice(input: Tensor, dim: int = 0, start=None, end=None, step: int = 1) -> Tensor:
    """``aten::slice``: ``input[..., start:end:step, ...]`` along ``dim``."""
    index = [slice(None)] * input.dim()
    index[dim] = slice(start, end, step)
    return input[tuple(index)]


def _index(input: Tensor, indices: list) -> Tensor:
    """``aten::index``: advanced indexing, a None in ``indices`` taking its whole dim."""
    return input[tuple(slice(None) if i is None else i for i in indices)]


def _convolution(input: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation,
                 transposed: bool, output_padding, groups: int, benchmark: bool = False,
                 deterministic: bool = False, cudnn_enabled: bool = True,
                 allow_tf32: bool = True) -> Tensor:
    """``aten::_convolution``: ``convolution`` with backend flags, which do not change the
    result here."""
    import ember
    return ember.convolution(input, weight, bias, stride, padding, dilation, transposed,
                             output_padding, groups)


_ATEN_ONLY = {"index": _index, "_to_copy": _to_copy, "_pin_memory": _pin_memory, "alias": alias,
              "_sparse_addmm": _sparse_addmm, "slice": _slice, "_convolution": _convolution}


def _source(name: str) -> str | None:
    """The PyTorch path of ember's callable for the aten op ``name`` (None if aten-only)."""
    import ember
    if name in _ATEN_ONLY:
        return None
    if callable(getattr(ember, name, None)) and not name.startswith("_"):
        return f"torch.{name}"
    if callable(getattr(ember.Tensor, name, None)) and not name.startswith("_"):
        return f"torch.Tensor.{name}"
    if callable(getattr(ember.nn.functional, name, None)) and not name.startswith("_"):
        return f"torch.nn.functional.{name}"
    from ember._dispatch import primitive_named
    primitive = primitive_named(name)  # an op only dispatch modes see (``_softmax``, ...)
    if primitive is not None:
        return f"prim:{primitive.__module__}.{primitive.__qualname__}"
    raise AttributeError(f"'_OpNamespace' 'aten' object has no attribute '{name}'")


class OpOverloadPacket:
    """``torch.ops.aten.<name>``: the operator; its attributes are its overloads."""

    def __init__(self, name: str, source: str | None) -> None:
        self.__name__ = name
        self._source = source
        self._overloads: dict[str, OpOverload] = {}

    def __getattr__(self, overload: str) -> OpOverload:
        if overload.startswith("__"):
            raise AttributeError(overload)
        op = self._overloads.get(overload)
        if op is None:
            name = self.__name__
            op = (op_for(self._source, name, overload) if self._source is not None
                  else OpOverload("aten", name, overload, _ATEN_ONLY[name]))
            self._overloads[overload] = op
        return op

    def __call__(self, *args, **kwargs):
        return self.default(*args, **kwargs)

    def __deepcopy__(self, memo=None):
        return self  # one object per operator: tables keyed by it survive a deep copy

    def overloads(self) -> list[str]:
        """The overloads asked for so far (ember does not list PyTorch's schemas)."""
        return list(self._overloads)

    def __repr__(self) -> str:
        return f"aten.{self.__name__}"


class AtenNamespace:
    """``torch.ops.aten``."""

    name = "aten"

    def __init__(self) -> None:
        self._packets: dict[str, OpOverloadPacket] = {}

    def __getattr__(self, name: str) -> OpOverloadPacket:
        if name.startswith("__"):
            raise AttributeError(name)
        packet = self._packets.get(name)
        if packet is None:
            packet = self._packets[name] = OpOverloadPacket(name, _source(name))
        return packet


aten = AtenNamespace()
