"""Copy a batch's tensors into page-locked memory, for ``DataLoader(pin_memory=True)``."""
from __future__ import annotations

import collections.abc

from ember._tensor import Tensor
from ember.utils.data._utils.collate import _is_namedtuple, _remake


def pin_memory(data):
    """``data`` with every tensor (also inside dicts, tuples and lists) pinned."""
    if isinstance(data, Tensor):
        return data.pin_memory()
    if isinstance(data, collections.abc.Mapping):
        return _remake(data, {k: pin_memory(v) for k, v in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(pin_memory(d) for d in data))
    if isinstance(data, tuple):
        return tuple(pin_memory(d) for d in data)
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _remake(data, [pin_memory(d) for d in data])
    return data
