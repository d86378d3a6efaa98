"""``default_collate`` (a list of samples -> a batch) and ``default_convert`` (NumPy -> tensor)."""
from __future__ import annotations

import collections.abc
import re

import numpy as np

from ember._tensor import Tensor, _make

_np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
    "found {}")


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def _remake(elem, values):
    """A container of ``elem``'s type holding ``values`` (a plain list/dict if it cannot)."""
    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = type(elem)(elem)
                clone.update(values)
                return clone
            return type(elem)(values)
        except TypeError:
            return dict(values)
    if isinstance(elem, tuple):
        return list(values)
    try:
        return type(elem)(values)
    except TypeError:
        return list(values)


def default_convert(data):
    """Turn NumPy arrays and scalars (also inside dicts, tuples and lists) into tensors."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        if _np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return _make(np.asarray(data))
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return _make(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _remake(data, {k: default_convert(v) for k, v in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _remake(data, [default_convert(d) for d in data])
    return data


def _stack(arrays: list) -> Tensor:
    """Stack same-shaped arrays into one tensor; in a worker, straight into shared memory
    so that sending the batch copies nothing (see NOTE [ Shared tensors ])."""
    from ember.utils.data._utils.worker import get_worker_info
    first = arrays[0]
    if get_worker_info() is not None and isinstance(first, np.ndarray):
        from ember.multiprocessing.reductions import empty_shared
        dtype = np.result_type(*arrays)
        out = empty_shared((len(arrays),) + first.shape, dtype)
        np.stack(arrays, out=out)
        return _make(out)
    xp = np if isinstance(first, np.ndarray) else _xp(first)
    return _make(xp.stack(arrays))


def _xp(array):
    from ember.backend.device import get_array_module
    return get_array_module(array)


def default_collate(batch):
    """Merge a list of samples into a batch, recursively, as PyTorch's ``default_collate``.

    Tensors and NumPy arrays are stacked along a new first dimension; Python ints become an
    int64 tensor, floats a float64 tensor, bools a bool tensor; strings stay a list; dicts,
    namedtuples, tuples and lists are collated field by field (tuples give lists).

    Example::

        >>> default_collate([(0, ember.zeros(2)), (1, ember.ones(2))])
        [tensor([0, 1]), tensor([[0., 0.], [1., 1.]])]
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        for i, t in enumerate(batch):
            if t.shape != elem.shape:
                raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                                   f"{list(elem.shape)} at entry 0 and {list(t.shape)} at "
                                   f"entry {i}")
        if any(t.requires_grad for t in batch):
            from ember.ops.movement import stack
            return stack(batch, 0)
        return _stack([t._data for t in batch])
    if isinstance(elem, np.ndarray):
        if _np_str_obj_array_pattern.search(elem.dtype.str) is not None:
            raise TypeError(default_collate_err_msg_format.format(elem.dtype))
        return default_collate([_make(np.asarray(b)) for b in batch])
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        return _make(np.asarray(batch))
    if isinstance(elem, bool):
        return _make(np.asarray(batch, np.bool_))
    if isinstance(elem, int):
        return _make(np.asarray(batch, np.int64))
    if isinstance(elem, float):
        return _make(np.asarray(batch, np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _remake(elem, {k: default_collate([d[k] for d in batch]) for k in elem})
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        size = len(next(it))
        if not all(len(e) == size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(list(s)) for s in zip(*batch)]
        return _remake(elem, transposed)
    raise TypeError(default_collate_err_msg_format.format(type(elem)))
