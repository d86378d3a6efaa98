"""``default_collate`` (a list of samples -> a batch) and ``default_convert`` (NumPy -> tensor)."""
from __future__ import annotations

import collections.abc
import re

import numpy as np

from ember._tensor import Tensor, _make

# dtype strings of NumPy arrays that cannot become tensors (bytes, str, object)
np_str_obj_array_pattern = re.compile(r"[SaUO]")

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
        if np_str_obj_array_pattern.search(data.dtype.str) is not None:
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


def collate_tensor_fn(batch: list, *, collate_fn_map: dict | None = None) -> Tensor:
    """Same-shaped tensors stacked along a new first dimension."""
    elem = batch[0]
    for i, t in enumerate(batch):
        if t.shape != elem.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(elem.shape)} at entry 0 and {list(t.shape)} at "
                               f"entry {i}")
    if any(t.requires_grad for t in batch):
        from ember.ops.movement import stack
        return stack(batch, 0)
    return _stack([t._data for t in batch])


def collate_numpy_array_fn(batch: list, *, collate_fn_map: dict | None = None) -> Tensor:
    """NumPy arrays collated as the tensors they convert to (string and object arrays
    cannot be)."""
    if np_str_obj_array_pattern.search(batch[0].dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(batch[0].dtype))
    return collate([_make(np.asarray(b)) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch: list, *, collate_fn_map: dict | None = None) -> Tensor:
    """NumPy scalars as a 1-D tensor of their dtype."""
    return _make(np.asarray(batch))


def collate_float_fn(batch: list, *, collate_fn_map: dict | None = None) -> Tensor:
    """Python floats as a float64 tensor."""
    return _make(np.asarray(batch, np.float64))


def collate_int_fn(batch: list, *, collate_fn_map: dict | None = None) -> Tensor:
    """Python ints as an int64 tensor (bools, an int subclass, as a bool tensor)."""
    if all(isinstance(b, bool) for b in batch):
        return _make(np.asarray(batch, np.bool_))
    return _make(np.asarray(batch, np.int64))


def collate_str_fn(batch: list, *, collate_fn_map: dict | None = None) -> list:
    """Strings (and bytes) stay a list."""
    return batch


# How ``default_collate`` merges a batch whose first element is of the key's type (exactly,
# else the first key it is an instance of); libraries register their own types here.
default_collate_fn_map: dict = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def collate(batch, *, collate_fn_map: dict | None = None):
    """Merge a list of samples into a batch with the functions of ``collate_fn_map`` (keyed by
    element type), recursing into mappings, namedtuples and sequences.

    Example::

        >>> collate([1.5, 2.5], collate_fn_map={float: lambda b, **kw: sum(b)})
        4.0
    """
    elem = batch[0]
    if collate_fn_map is not None:
        fn = collate_fn_map.get(type(elem))
        if fn is None:
            fn = next((f for t, f in collate_fn_map.items() if isinstance(elem, t)), None)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _remake(elem, {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map)
                              for k in elem})
    if _is_namedtuple(elem):
        return type(elem)(*(collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        size = len(next(it))
        if not all(len(e) == size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        # each field's samples as a tuple (strings stay one, as in PyTorch)
        transposed = [collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)]
        return _remake(elem, transposed)
    raise TypeError(default_collate_err_msg_format.format(type(elem)))


def default_collate(batch):
    """Merge a list of samples into a batch, recursively, as PyTorch's ``default_collate``.

    Tensors and NumPy arrays are stacked along a new first dimension; Python ints become an
    int64 tensor, floats a float64 tensor, bools a bool tensor; strings stay a list; dicts,
    namedtuples, tuples and lists are collated field by field (tuples give lists). Types
    registered in ``default_collate_fn_map`` are merged by their function.

    Example::

        >>> default_collate([(0, ember.zeros(2)), (1, ember.ones(2))])
        [tensor([0, 1]), tensor([[0., 0.], [1., 1.]])]
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)
