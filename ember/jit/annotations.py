"""``torch.jit.annotations``: the type names TorchScript code annotates with.

Modules written for TorchScript import ``List``, ``Tuple``, ``Optional``, ... from here, and
``BroadcastingList2[int]`` for an int-or-pair argument. ember runs TorchScript code eagerly, so
these are Python's own typing names; a ``BroadcastingList`` subscript annotates nothing (it is
``None``, as in PyTorch, where only the TorchScript compiler reads it).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union  # noqa: F401,UP035

from ember._jit_types import (  # noqa: F401
    AnyType,
    BoolType,
    ComplexType,
    DeviceObjType,
    DictType,
    FloatType,
    IntType,
    ListType,
    NoneType,
    NumberType,
    OptionalType,
    StreamObjType,
    StringType,
    TensorType,
    TupleType,
    UnionType,
)
from ember.futures import Future  # noqa: F401


class BroadcastingListCls:
    """``BroadcastingListN[T]``: a T or N of them, for the TorchScript compiler (``None`` here)."""

    def __getitem__(self, types) -> None:
        return None


BroadcastingList1 = BroadcastingListCls()
BroadcastingList2 = BroadcastingListCls()
BroadcastingList3 = BroadcastingListCls()
