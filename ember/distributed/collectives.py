"""The collectives of ``ember.distributed`` on tensors, as in PyTorch.

Each function works in place on the buffers of its tensors (NumPy arrays through MPI, CuPy
arrays through NCCL; see the NOTE in process_group.py), checks what it can check locally
(list lengths, shapes, dtypes) and says which op failed. Source and destination ranks are
global ranks (``src``/``dst``) or ranks within the group (``group_src``/``group_dst``). With
``async_op=True`` a Work is returned; its ``wait()`` makes the outputs valid. A process that is
not a member of ``group`` returns None at once, as in PyTorch.
"""
from __future__ import annotations

import warnings

from ember._tensor import Tensor
from ember.distributed.process_group import ProcessGroup, resolve
from ember.distributed.work import Future, ReduceOp, Work

__all__ = ["all_gather", "all_gather_coalesced", "all_gather_into_tensor", "all_reduce",
           "all_reduce_coalesced", "all_to_all", "all_to_all_single", "broadcast", "gather",
           "reduce", "reduce_scatter", "reduce_scatter_tensor", "scatter"]


def _array(tensor, op: str):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected an ember.Tensor, got {type(tensor).__name__}")
    if not tensor._data.flags.c_contiguous:
        raise ValueError(f"{op}: tensors must be contiguous (call .contiguous() first)")
    return tensor._data


def _same(op: str, what: str, tensor: Tensor, like) -> None:
    if tuple(tensor.shape) != like.shape or tensor._data.dtype != like.dtype:
        raise ValueError(f"{op}: {what} has shape {tuple(tensor.shape)} and dtype "
                         f"{tensor._data.dtype}, but the input has shape {like.shape} and "
                         f"dtype {like.dtype}")


def _list(op: str, name: str, tensors, size: int, like) -> list:
    if tensors is None or len(tensors) != size:
        n = 0 if tensors is None else len(tensors)
        raise ValueError(f"{op}: {name} must hold one tensor per rank ({size}), got {n}")
    for i, t in enumerate(tensors):
        _same(op, f"{name}[{i}]", t, like)
    return list(tensors)


def _group_rank(pg: ProcessGroup, global_rank, group_rank, op: str, default=None) -> int:
    """The group rank named by ``global_rank`` or ``group_rank`` (or ``default``)."""
    if group_rank is not None and global_rank is not None:
        raise ValueError(f"{op}: give either a global rank or a group rank, not both")
    if group_rank is None and global_rank is None:
        if default is None:
            raise ValueError(f"{op}: Must specify global_rank or group_rank")
        group_rank = default
    elif group_rank is None:
        group_rank = pg.group_rank(global_rank)
    if not 0 <= group_rank < pg.size():
        raise ValueError(f"{op}: group rank {group_rank} is out of range for a group of "
                         f"{pg.size()}")
    return group_rank


def _reduction(op: ReduceOp, array, pg: ProcessGroup, name: str):
    """The engine's op, and what to do after it (AVG is SUM then a division)."""
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be an ember.distributed.ReduceOp, got {op!r}")
    if op is not ReduceOp.AVG:
        return op, None
    if array.dtype.kind not in "fcV":
        raise ValueError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {array.dtype}")
    size = pg.size()
    return ReduceOp.SUM, lambda: array.__itruediv__(size)


def _done(work: Work, async_op: bool, written: tuple = ()) -> Work | None:
    """Mark the outputs ``written`` (their versions, ``work.result()``), then return the Work
    or wait on it."""
    for t in written:
        t._bump_version()
    work._result = list(written)
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Reduce ``tensor`` over all ranks; every rank ends with the result in ``tensor``."""
    pg = resolve(group, "all_reduce")
    if pg is None:
        return None
    array = _array(tensor, "all_reduce")
    engine_op, after = _reduction(op, array, pg, "all_reduce")
    pg.check_same("all_reduce", (array.shape, str(array.dtype), op.name))
    work = pg.engine(tensor.device, "all_reduce").allreduce(array, engine_op)
    return _done(work.then(after) if after else work, async_op, (tensor,))


def broadcast(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
              async_op: bool = False, group_src: int | None = None) -> Work | None:
    """Copy ``tensor`` of rank ``src`` into ``tensor`` on every other rank."""
    pg = resolve(group, "broadcast")
    if pg is None:
        return None
    root = _group_rank(pg, src, group_src, "broadcast")
    array = _array(tensor, "broadcast")
    pg.check_same("broadcast", (array.shape, str(array.dtype), root))
    work = pg.engine(tensor.device, "broadcast").broadcast(array, root)
    return _done(work, async_op, (tensor,))


def reduce(tensor: Tensor, dst: int | None = None, op: ReduceOp = ReduceOp.SUM,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None) -> Work | None:
    """Reduce ``tensor`` over all ranks into ``tensor`` of rank ``dst`` (others: undefined)."""
    pg = resolve(group, "reduce")
    if pg is None:
        return None
    root = _group_rank(pg, dst, group_dst, "reduce")
    array = _array(tensor, "reduce")
    engine_op, after = _reduction(op, array, pg, "reduce")
    pg.check_same("reduce", (array.shape, str(array.dtype), op.name, root))
    work = pg.engine(tensor.device, "reduce").reduce(array, root, engine_op)
    if after and pg.rank() == root:
        work.then(after)
    return _done(work, async_op, (tensor,))


def _deprecated(name: str) -> None:
    warnings.warn(f"`ember.distributed.{name}` will be deprecated. If you must use it, please "
                  "revisit our documentation later at "
                  "https://pytorch.org/docs/main/distributed.html#collective-functions",
                  FutureWarning, stacklevel=3)


def _flat(tensors: list, op: str, name: str):
    """The tensors' arrays concatenated into one 1-D buffer (one engine call for them all)."""
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError(f"{op}: Invalid function argument. Expected parameter `{name}` of type "
                        "List[ember.Tensor] (non-empty)")
    arrays = [_array(t, op) for t in tensors]
    if len({a.dtype for a in arrays}) != 1:
        other = next(a.dtype for a in arrays if a.dtype != arrays[0].dtype)
        raise ValueError(f"{op}: Invalid usage of tensors with different dtypes Found "
                         f"{arrays[0].dtype} and {other}")
    return arrays, tensors[0]._xp.concatenate([a.reshape(-1) for a in arrays])


def _split_into(arrays: list, flat) -> None:
    start = 0
    for a in arrays:
        a[...] = flat[start:start + a.size].reshape(a.shape)
        start += a.size


def _coalesced_done(work: Work, async_op: bool, written: tuple) -> Future | None:
    """As ``_done``, but an async call returns ``work.get_future()``, as PyTorch's does."""
    _done(work, True, written)
    if async_op:
        return work.get_future()
    work.wait()
    return None


def all_reduce_coalesced(tensors: list, op: ReduceOp = ReduceOp.SUM,
                         group: ProcessGroup | None = None,
                         async_op: bool = False) -> Future | None:
    """``all_reduce`` of several tensors of one dtype in one engine call (deprecated in
    PyTorch, with a FutureWarning).

    Returns:
        With ``async_op``, a Future of the list of tensors; else None.
    """
    _deprecated("all_reduce_coalesced")
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    pg = resolve(group, "all_reduce_coalesced")
    if pg is None:
        return None
    arrays, flat = _flat(tensors, "all_reduce_coalesced", "tensor")
    engine_op, after = _reduction(op, flat, pg, "all_reduce_coalesced")
    pg.check_same("all_reduce_coalesced", (tuple(a.shape for a in arrays), str(flat.dtype),
                                           op.name))
    work = pg.engine(tensors[0].device, "all_reduce_coalesced").allreduce(flat, engine_op)
    if after:
        work.then(after)
    work.then(lambda: _split_into(arrays, flat))
    return _coalesced_done(work, async_op, tuple(tensors))


def all_gather_coalesced(output_tensor_lists: list, input_tensor_list: list,
                         group: ProcessGroup | None = None,
                         async_op: bool = False) -> Future | None:
    """``output_tensor_lists[i][j]`` receives ``input_tensor_list[j]`` of group rank ``i``, in
    one engine call (deprecated in PyTorch, with a FutureWarning). Every rank must pass
    tensors of the same shapes (not checked across ranks, as in PyTorch).

    Returns:
        With ``async_op``, a Future of the output lists; else None.
    """
    _deprecated("all_gather_coalesced")
    pg = resolve(group, "all_gather_coalesced")
    if pg is None:
        return None
    arrays, flat = _flat(input_tensor_list, "all_gather_coalesced", "input_tensor_list")
    if not isinstance(output_tensor_lists, list) or len(output_tensor_lists) != pg.size():
        raise TypeError("all_gather_coalesced: Invalid function argument: output_tensor_lists "
                        f"should be a list of one list per rank ({pg.size()})")
    outputs = []
    for i, outs in enumerate(output_tensor_lists):
        if len(outs) != len(arrays):
            raise ValueError(f"all_gather_coalesced: output_tensor_lists[{i}] must hold one "
                             f"tensor per input ({len(arrays)}), got {len(outs)}")
        for j, (t, a) in enumerate(zip(outs, arrays)):
            _same("all_gather_coalesced", f"output_tensor_lists[{i}][{j}]", t, a)
        outputs.append([t._data for t in outs])
    pg.check_same("all_gather_coalesced", (tuple(a.shape for a in arrays), str(flat.dtype)))
    out = input_tensor_list[0]._xp.empty((pg.size(), flat.size), flat.dtype)
    work = pg.engine(input_tensor_list[0].device, "all_gather_coalesced").allgather(out, flat)

    def copy_out() -> None:
        for row, outs in zip(out, outputs):
            _split_into(outs, row)
    work.then(copy_out)
    for outs in output_tensor_lists:
        for t in outs:
            t._bump_version()
    work._result = output_tensor_lists
    if async_op:
        return work.get_future()
    work.wait()
    return None


def all_gather(tensor_list: list, tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """``tensor_list[i]`` receives ``tensor`` of group rank ``i``."""
    pg = resolve(group, "all_gather")
    if pg is None:
        return None
    array = _array(tensor, "all_gather")
    outputs = _list("all_gather", "tensor_list", tensor_list, pg.size(), array)
    pg.check_same("all_gather", (array.shape, str(array.dtype)))
    out = tensor._xp.empty((pg.size(),) + array.shape, array.dtype)
    work = pg.engine(tensor.device, "all_gather").allgather(out, array)
    work.then(lambda: _copy_out(outputs, out))
    return _done(work, async_op, tuple(outputs))


def _copy_out(outputs: list, stacked) -> None:
    for t, part in zip(outputs, stacked):
        t._data[...] = part


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor,
                           group: ProcessGroup | None = None,
                           async_op: bool = False) -> Work | None:
    """``output_tensor`` (``size`` inputs concatenated or stacked) receives every rank's input."""
    pg = resolve(group, "all_gather_into_tensor")
    if pg is None:
        return None
    array = _array(input_tensor, "all_gather_into_tensor")
    out = _array(output_tensor, "all_gather_into_tensor")
    if out.size != pg.size() * array.size or out.dtype != array.dtype:
        raise ValueError(f"all_gather_into_tensor: the output must hold {pg.size()} inputs of "
                         f"shape {array.shape} and dtype {array.dtype}, got shape {out.shape} "
                         f"and dtype {out.dtype}")
    pg.check_same("all_gather_into_tensor", (array.shape, str(array.dtype)))
    work = pg.engine(input_tensor.device, "all_gather_into_tensor").allgather(out, array)
    return _done(work, async_op, (output_tensor,))


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: ReduceOp = ReduceOp.SUM,  # noqa: A002
                          group: ProcessGroup | None = None,
                          async_op: bool = False) -> Work | None:
    """Reduce ``input`` (``size`` blocks) over all ranks; rank ``i`` receives block ``i``."""
    pg = resolve(group, "reduce_scatter_tensor")
    if pg is None:
        return None
    array = _array(input, "reduce_scatter_tensor")
    out = _array(output, "reduce_scatter_tensor")
    if array.size != pg.size() * out.size or out.dtype != array.dtype:
        raise ValueError(f"reduce_scatter_tensor: the input must hold {pg.size()} outputs of "
                         f"shape {out.shape} and dtype {out.dtype}, got shape {array.shape} "
                         f"and dtype {array.dtype}")
    return _reduce_scatter(pg, output, array, op, async_op, "reduce_scatter_tensor")


def reduce_scatter(output: Tensor, input_list: list, op: ReduceOp = ReduceOp.SUM,
                   group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Reduce ``input_list[i]`` over all ranks into ``output`` of group rank ``i``."""
    pg = resolve(group, "reduce_scatter")
    if pg is None:
        return None
    out = _array(output, "reduce_scatter")
    inputs = _list("reduce_scatter", "input_list", input_list, pg.size(), out)
    stacked = output._xp.stack([t._data for t in inputs])
    return _reduce_scatter(pg, output, stacked, op, async_op, "reduce_scatter")


def _reduce_scatter(pg: ProcessGroup, output: Tensor, array, op: ReduceOp, async_op: bool,
                    name: str) -> Work | None:
    engine_op, after = _reduction(op, output._data, pg, name)
    pg.check_same(name, (array.shape, str(array.dtype), op.name))
    work = pg.engine(output.device, name).reduce_scatter(output._data, array, engine_op)
    return _done(work.then(after) if after else work, async_op, (output,))


def gather(tensor: Tensor, gather_list: list | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None) -> Work | None:
    """``gather_list[i]`` of rank ``dst`` receives ``tensor`` of group rank ``i``."""
    pg = resolve(group, "gather")
    if pg is None:
        return None
    root = _group_rank(pg, dst, group_dst, "gather", default=0)
    array = _array(tensor, "gather")
    out, outputs = None, []
    if pg.rank() == root:
        outputs = _list("gather", "gather_list", gather_list, pg.size(), array)
        out = tensor._xp.empty((pg.size(),) + array.shape, array.dtype)
    elif gather_list:
        raise ValueError("gather: Argument ``gather_list`` must NOT be specified on "
                         "non-destination ranks.")
    pg.check_same("gather", (array.shape, str(array.dtype), root))
    work = pg.engine(tensor.device, "gather").gather(out, array, root)
    if out is not None:
        work.then(lambda: _copy_out(outputs, out))
    return _done(work, async_op, tuple(outputs))


def scatter(tensor: Tensor, scatter_list: list | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False,
            group_src: int | None = None) -> Work | None:
    """``tensor`` of group rank ``i`` receives ``scatter_list[i]`` of rank ``src``."""
    pg = resolve(group, "scatter")
    if pg is None:
        return None
    root = _group_rank(pg, src, group_src, "scatter", default=0)
    out = _array(tensor, "scatter")
    stacked = None
    if pg.rank() == root:
        inputs = _list("scatter", "scatter_list", scatter_list, pg.size(), out)
        stacked = tensor._xp.stack([t._data for t in inputs])
    elif scatter_list:
        raise ValueError("scatter: Argument ``scatter_list`` must NOT be specified on "
                         "non-source ranks.")
    pg.check_same("scatter", (out.shape, str(out.dtype), root))
    work = pg.engine(tensor.device, "scatter").scatter(out, stacked, root)
    return _done(work, async_op, (tensor,))


def all_to_all_single(output: Tensor, input: Tensor,  # noqa: A002
                      output_split_sizes: list | None = None,
                      input_split_sizes: list | None = None, group: ProcessGroup | None = None,
                      async_op: bool = False) -> Work | None:
    """Split ``input`` along dim 0 and send piece ``i`` to group rank ``i``; ``output``
    receives the pieces sent here, in rank order (even splits unless sizes are given)."""
    pg = resolve(group, "all_to_all_single")
    if pg is None:
        return None
    array, out = _array(input, "all_to_all_single"), _array(output, "all_to_all_single")
    if array.dtype != out.dtype or array.ndim == 0 or out.ndim == 0:
        raise ValueError("all_to_all_single: input and output need the same dtype and at "
                         f"least one dimension, got {array.dtype} {array.shape} and "
                         f"{out.dtype} {out.shape}")
    in_counts = _split_bytes(array, input_split_sizes, pg.size(), "input")
    out_counts = _split_bytes(out, output_split_sizes, pg.size(), "output")
    work = pg.engine(input.device, "all_to_all_single").alltoall(out, array, out_counts,
                                                                 in_counts)
    return _done(work, async_op, (output,))


def _split_bytes(array, sizes: list | None, size: int, name: str) -> list:
    rows = array.shape[0]
    if sizes is None:
        if rows % size:
            raise ValueError(f"all_to_all_single: the {name}'s first dimension ({rows}) must "
                             f"divide evenly among {size} ranks, or give {name}_split_sizes")
        sizes = [rows // size] * size
    if len(sizes) != size or sum(sizes) != rows:
        raise ValueError(f"all_to_all_single: {name}_split_sizes {list(sizes)} must have "
                         f"{size} entries adding up to {rows}")
    row_bytes = array.nbytes // rows if rows else 0
    return [int(s) * row_bytes for s in sizes]


def all_to_all(output_tensor_list: list, input_tensor_list: list,
               group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Send ``input_tensor_list[i]`` to group rank ``i``; ``output_tensor_list[i]`` receives
    what rank ``i`` sent here."""
    pg = resolve(group, "all_to_all")
    if pg is None:
        return None
    size = pg.size()
    if len(output_tensor_list) != size or len(input_tensor_list) != size:
        raise ValueError(f"all_to_all: both lists must hold one tensor per rank ({size})")
    inputs = [_array(t, "all_to_all") for t in input_tensor_list]
    outputs = [_array(t, "all_to_all") for t in output_tensor_list]
    if len({a.dtype for a in inputs + outputs}) != 1:
        raise ValueError("all_to_all: all tensors need the same dtype")
    xp = output_tensor_list[0]._xp
    array = xp.concatenate([a.reshape(-1) for a in inputs])
    out = xp.empty(sum(a.size for a in outputs), array.dtype)
    work = pg.engine(output_tensor_list[0].device, "all_to_all").alltoall(
        out, array, [a.nbytes for a in outputs], [a.nbytes for a in inputs])

    def copy_out():
        start = 0
        for a in outputs:
            a[...] = out[start:start + a.size].reshape(a.shape)
            start += a.size
    work.then(copy_out)
    return _done(work, async_op, tuple(output_tensor_list))
