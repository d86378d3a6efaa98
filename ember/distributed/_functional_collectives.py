"""Functional collectives, as ``torch.distributed._functional_collectives``: collectives that
leave their input alone and return a new tensor, differentiable as PyTorch's are (all-gather's
gradient is a reduce-scatter of the gradients and the reverse, all-reduce's an all-reduce,
all-to-all's the reverse all-to-all).

``group`` is a ProcessGroup, a DeviceMesh of one dimension, a ``(DeviceMesh, dim)`` pair or a
list of the global ranks of a group that exists (deprecated in PyTorch, with a FutureWarning).
``reduceOp`` is a name, in any case: ``"sum"``, ``"avg"``, ``"product"``, ``"min"``, ``"max"``,
``"band"``, ``"bor"`` or ``"bxor"``. ``tag`` is accepted and ignored, as PyTorch now does.

NOTE [ Functional collectives complete at once ]
PyTorch's eager functional collectives return an ``AsyncCollectiveTensor`` whose ``wait`` is
deferred to the first op that reads it, so that communication overlaps computation. ember's
engines run each collective to completion before returning (the in-place collectives with
``async_op=False``), so the ``AsyncCollectiveTensor`` here already holds the result: ``wait``
and ``trigger_wait`` return it at once, ``wait_tensor`` returns its argument's data, and ops on
it return plain tensors (PyTorch's keep views of one wrapped). The values and gradients are
PyTorch's; only the overlap is missing.

Every rank of the group must call each collective, and, where gradients flow, run backward
through the same collectives in the same order (their backward is a collective too).
"""
from __future__ import annotations

import warnings

import ember
from ember._tensor import Tensor
from ember.autograd.function import Function
from ember.distributed import collectives as c10d
from ember.distributed.device_mesh import DeviceMesh
from ember.distributed.process_group import ProcessGroup, _state
from ember.distributed.work import ReduceOp
from ember.overrides import _disabled_torch_function_impl

__all__ = ["AsyncCollectiveTensor", "all_gather_into_tensor_coalesced", "all_gather_single",
           "all_gather_single_autograd", "all_gather_single_coalesced", "all_gather_tensor",
           "all_gather_tensor_autograd", "all_reduce", "all_reduce_coalesced",
           "all_to_all_single", "all_to_all_single_autograd", "broadcast", "permute_tensor",
           "reduce_scatter_single", "reduce_scatter_single_autograd",
           "reduce_scatter_single_coalesced", "reduce_scatter_tensor",
           "reduce_scatter_tensor_autograd", "reduce_scatter_tensor_coalesced", "wait_tensor"]

_REDUCE_OPS = {"sum": ReduceOp.SUM, "avg": ReduceOp.AVG, "product": ReduceOp.PRODUCT,
               "min": ReduceOp.MIN, "max": ReduceOp.MAX, "band": ReduceOp.BAND,
               "bor": ReduceOp.BOR, "bxor": ReduceOp.BXOR}


# ------------------------------------------------------------------------------------------------
# The result wrapper

class AsyncCollectiveTensor(Tensor):
    """A functional collective's result, whose wait PyTorch defers to its first use; in
    ember the collective has completed already (NOTE [ Functional collectives complete at
    once ]). ``elem`` is the plain result tensor."""

    __torch_function__ = _disabled_torch_function_impl  # ops on it give plain tensors

    def __new__(cls, elem: Tensor) -> "AsyncCollectiveTensor":
        out = elem.as_subclass(cls)  # an alias: gradients flow back to ``elem``
        out.elem = elem
        out.completed = False
        return out

    def __init__(self, elem: Tensor) -> None:
        pass

    def trigger_wait(self) -> Tensor:
        """Wait for the collective (once) and return the plain result."""
        self.completed = True
        return self.elem

    def wait(self) -> Tensor:
        """The plain result, after the collective."""
        return wait_tensor(self.elem)

    def __repr__(self, *, tensor_contents=None) -> str:
        return f"AsyncCollectiveTensor({self.trigger_wait()})"


def wait_tensor(tensor: Tensor) -> Tensor:
    """Wait for the collective that produced ``tensor``; returns its result (the plain tensor
    of an ``AsyncCollectiveTensor``). The identity in ember, where collectives complete before
    returning."""
    if isinstance(tensor, AsyncCollectiveTensor):
        return tensor.trigger_wait()
    return tensor


# ------------------------------------------------------------------------------------------------
# Arguments

def _resolve_group(group, tag: str = "") -> ProcessGroup:
    """The ProcessGroup that ``group`` names (see the module's docstring)."""
    if isinstance(group, ProcessGroup):
        return group
    if isinstance(group, DeviceMesh):
        if group.ndim != 1:
            raise AssertionError("Only 1D mesh is supported, pass in (DeviceMesh, int) together "
                                 "if mesh > 1D")
        return group.get_group()
    if isinstance(group, tuple):
        if len(group) == 2 and isinstance(group[0], DeviceMesh) and isinstance(group[1], int):
            return group[0].get_group(group[1])
        raise ValueError("Invalid tuple for group must be (DeviceMesh, int). Instead got "
                         f"{tuple(type(g) for g in group)}")
    if isinstance(group, list):
        warnings.warn("The combination of ranks + tag as process group identifier has been "
                      "deprecated. Please switch to using ProcessGroup, DeviceMesh, or group "
                      "name instead.", FutureWarning, stacklevel=3)
        for pg in _state.groups:  # a live group of exactly these ranks, in any order
            if pg.size() == len(group) and all(r in pg.ranks for r in group):
                return pg
        raise ValueError("")
    if isinstance(group, str):
        raise RuntimeError(f"Could not resolve the process group registered under the name "
                           f"{group}")
    raise ValueError(f"Unsupported group type: {type(group)}, {group}")


def _reduce_op(name: str) -> str:
    op = name.lower()
    if op not in _REDUCE_OPS:
        raise RuntimeError(f"Unrecognized reduce_op: {name}")
    return op


def _check_sum(collective: str, op: str) -> None:
    """PyTorch differentiates only the sum (checked when backward runs, as PyTorch does)."""
    if op != "sum":
        raise RuntimeError(f"{collective} backward only supports 'sum' reduction, got '{op}'")


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"`torch.distributed._functional_collectives.{old}` is deprecated. Please "
                  f"use `torch.distributed._functional_collectives.{new}` instead.",
                  FutureWarning, stacklevel=3)


def _chunk_cat(tensor: Tensor, chunks: int, chunk_dim: int, cat_dim: int) -> Tensor:
    """``tensor`` cut into ``chunks`` along ``chunk_dim``, joined again along ``cat_dim``."""
    return ember.cat(ember.chunk(tensor, chunks, dim=chunk_dim), dim=cat_dim)


# ------------------------------------------------------------------------------------------------
# The collectives on fresh buffers (no autograd): what the Functions below run

def _all_reduce_new(tensor: Tensor, op: str, pg: ProcessGroup) -> Tensor:
    out = tensor.detach().clone(memory_format=ember.contiguous_format)
    c10d.all_reduce(out, _REDUCE_OPS[op], group=pg)
    return out


def _all_gather_new(tensor: Tensor, pg: ProcessGroup) -> Tensor:
    """The ranks' tensors joined along dim 0 (a 0-d tensor's values stacked)."""
    src = tensor.detach().contiguous()
    shape = list(src.shape) or [1]
    shape[0] *= pg.size()
    out = ember.empty(shape, dtype=src.dtype, device=src.device)
    c10d.all_gather_into_tensor(out, src, group=pg)
    return out


def _reduce_scatter_new(tensor: Tensor, op: str, pg: ProcessGroup) -> Tensor:
    """Block ``rank`` (of ``size`` along dim 0) of the ranks' reduced tensors."""
    src = tensor.detach().contiguous()
    shape = list(src.shape)
    shape[0] //= pg.size()
    out = ember.empty(shape, dtype=src.dtype, device=src.device)
    c10d.reduce_scatter_tensor(out, src, _REDUCE_OPS[op], group=pg)
    return out


# ------------------------------------------------------------------------------------------------
# Differentiable collectives: each backward is the collective that carries gradients back

class AllReduce(Function):
    """All-reduce; the gradient is the all-reduce (sum) of the ranks' gradients."""

    @staticmethod
    def forward(ctx, tensor: Tensor, op: str, pg: ProcessGroup) -> Tensor:
        ctx.op, ctx.pg = op, pg
        return _all_reduce_new(tensor, op, pg)

    @staticmethod
    def backward(ctx, grad: Tensor):
        _check_sum("all_reduce", ctx.op)
        return AllReduce.apply(grad.contiguous(), "sum", ctx.pg), None, None


class AllGather(Function):
    """All-gather along dim 0; the gradient is the reduce-scatter (sum) of the gradients."""

    @staticmethod
    def forward(ctx, tensor: Tensor, pg: ProcessGroup) -> Tensor:
        ctx.pg, ctx.shape = pg, tensor.shape
        return _all_gather_new(tensor, pg)

    @staticmethod
    def backward(ctx, grad: Tensor):
        grad = ReduceScatter.apply(grad.contiguous(), "sum", ctx.pg)
        return grad.reshape(ctx.shape), None


class ReduceScatter(Function):
    """Reduce-scatter along dim 0; the gradient is the all-gather of the gradients."""

    @staticmethod
    def forward(ctx, tensor: Tensor, op: str, pg: ProcessGroup) -> Tensor:
        ctx.op, ctx.pg = op, pg
        return _reduce_scatter_new(tensor, op, pg)

    @staticmethod
    def backward(ctx, grad: Tensor):
        _check_sum("reduce_scatter_tensor", ctx.op)
        return AllGather.apply(grad.contiguous(), ctx.pg), None, None


class AllToAllSingle(Function):
    """All-to-all along dim 0; the gradient is the all-to-all with the splits swapped."""

    @staticmethod
    def forward(ctx, tensor: Tensor, output_split_sizes: list, input_split_sizes: list,
                pg: ProcessGroup) -> Tensor:
        ctx.splits, ctx.pg = (output_split_sizes, input_split_sizes), pg
        src = tensor.detach().contiguous()
        out = ember.empty((sum(output_split_sizes), *src.shape[1:]), dtype=src.dtype,
                          device=src.device)
        c10d.all_to_all_single(out, src, output_split_sizes, input_split_sizes, group=pg)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        output_split_sizes, input_split_sizes = ctx.splits
        grad = AllToAllSingle.apply(grad.contiguous(), input_split_sizes, output_split_sizes,
                                    ctx.pg)
        return grad, None, None, None


class AllReduceCoalesced(Function):
    """All-reduce of each tensor, one backward node for them all (as PyTorch's coalesced op,
    whose backward runs when any of the results gets a gradient)."""

    @staticmethod
    def forward(ctx, op: str, pg: ProcessGroup, *tensors: Tensor) -> tuple:
        ctx.op, ctx.pg = op, pg
        return tuple(_all_reduce_new(t, op, pg) for t in tensors)

    @staticmethod
    def backward(ctx, *grads: Tensor):
        _check_sum("all_reduce_coalesced", ctx.op)
        grads = [g.contiguous() for g in grads]
        return None, None, *AllReduceCoalesced.apply("sum", ctx.pg, *grads)


class AllGatherCoalesced(Function):
    """All-gather (dim 0) of each tensor; the gradients' reduce-scatters (sum)."""

    @staticmethod
    def forward(ctx, pg: ProcessGroup, *tensors: Tensor) -> tuple:
        ctx.pg, ctx.shapes = pg, [t.shape for t in tensors]
        return tuple(_all_gather_new(t, pg) for t in tensors)

    @staticmethod
    def backward(ctx, *grads: Tensor):
        grads = ReduceScatterCoalesced.apply("sum", ctx.pg, *[g.contiguous() for g in grads])
        return None, *(g.reshape(shape) for g, shape in zip(grads, ctx.shapes))


class ReduceScatterCoalesced(Function):
    """Reduce-scatter (dim 0) of each tensor; the gradients' all-gathers."""

    @staticmethod
    def forward(ctx, op: str, pg: ProcessGroup, *tensors: Tensor) -> tuple:
        ctx.op, ctx.pg = op, pg
        return tuple(_reduce_scatter_new(t, op, pg) for t in tensors)

    @staticmethod
    def backward(ctx, *grads: Tensor):
        _check_sum("reduce_scatter_tensor_coalesced", ctx.op)
        grads = [g.contiguous() for g in grads]
        return None, None, *AllGatherCoalesced.apply(ctx.pg, *grads)


# ------------------------------------------------------------------------------------------------
# The public functions

def all_reduce(self: Tensor, reduceOp: str, group, tag: str = "") -> Tensor:  # noqa: N803
    """The reduction of ``self`` over the ranks of ``group``, on every rank; ``self`` is left
    unmodified. Differentiable for ``"sum"`` (the gradient is the ranks' gradients summed).

    Example::

        >>> # on 2 ranks, rank r holding [r + 1.]
        >>> all_reduce(ember.tensor([r + 1.]), "sum", dist.group.WORLD)  # [3.] on both
    """
    pg = _resolve_group(group, tag)
    return AsyncCollectiveTensor(AllReduce.apply(self, _reduce_op(reduceOp), pg))


def broadcast(self: Tensor, src: int, group, tag: str = "") -> Tensor:
    """``self`` of the rank whose rank in ``group`` is ``src``, on every rank (a new tensor).
    Not differentiable: PyTorch registers no gradient for it, and the result here does not
    require grad."""
    pg = _resolve_group(group, tag)
    out = self.detach().clone(memory_format=ember.contiguous_format)
    c10d.broadcast(out, group=pg, group_src=src)
    return AsyncCollectiveTensor(out)


def all_gather_single(self: Tensor, gather_dim: int, group, tag: str = "") -> Tensor:
    """The ranks' ``self`` concatenated along ``gather_dim`` in group-rank order. The gradient
    of each rank's ``self`` is its block of the ranks' gradients summed (a reduce-scatter).

    Example::

        >>> # on 2 ranks, rank r holding [[r, r]]
        >>> all_gather_single(x, 0, dist.group.WORLD)  # [[0, 0], [1, 1]]
        >>> all_gather_single(x, 1, dist.group.WORLD)  # [[0, 0, 1, 1]]
    """
    pg = _resolve_group(group, tag)
    gathered = AllGather.apply(self, pg)
    if gather_dim == 0:
        return AsyncCollectiveTensor(gathered)
    return _chunk_cat(gathered, pg.size(), 0, gather_dim)


def all_gather_single_autograd(self: Tensor, gather_dim: int, group, tag: str = "") -> Tensor:
    """``all_gather_single``, which is differentiable itself."""
    return all_gather_single(self, gather_dim, group, tag)


def all_gather_tensor(self: Tensor, gather_dim: int, group, tag: str = "") -> Tensor:
    """``all_gather_single`` (deprecated, with a FutureWarning)."""
    _deprecated("all_gather_tensor", "all_gather_single")
    return all_gather_single(self, gather_dim, group, tag)


def all_gather_tensor_autograd(self: Tensor, gather_dim: int, group, tag: str = "") -> Tensor:
    """``all_gather_single_autograd`` (deprecated, with a FutureWarning)."""
    _deprecated("all_gather_tensor_autograd", "all_gather_single_autograd")
    return all_gather_single(self, gather_dim, group, tag)


def reduce_scatter_single(self: Tensor, reduceOp: str, scatter_dim: int, group,  # noqa: N803
                          tag: str = "") -> Tensor:
    """Block ``r`` of the ranks' ``self`` reduced, cut into ``group``-size blocks along
    ``scatter_dim``, on the rank whose rank in ``group`` is ``r``. Differentiable for
    ``"sum"``: the gradient is the ranks' gradient blocks gathered (an all-gather).

    Example::

        >>> # on 2 ranks, both holding [1., 2., 3., 4.]
        >>> reduce_scatter_single(x, "sum", 0, dist.group.WORLD)  # [2., 4.] / [6., 8.]
    """
    pg = _resolve_group(group, tag)
    size = pg.size()
    if self.size(scatter_dim) % size:
        raise AssertionError(f"input dimension {scatter_dim} ({self.size(scatter_dim)} must be "
                             f"a multiple of group_size {size})")
    if scatter_dim != 0:
        self = _chunk_cat(self, size, scatter_dim, 0)
    return AsyncCollectiveTensor(ReduceScatter.apply(self, _reduce_op(reduceOp), pg))


def reduce_scatter_single_autograd(self: Tensor, reduceOp: str, scatter_dim: int,  # noqa: N803
                                   group, tag: str = "") -> Tensor:
    """``reduce_scatter_single``, which is differentiable itself."""
    return reduce_scatter_single(self, reduceOp, scatter_dim, group, tag)


def reduce_scatter_tensor(self: Tensor, reduceOp: str, scatter_dim: int, group,  # noqa: N803
                          tag: str = "") -> Tensor:
    """``reduce_scatter_single`` (deprecated, with a FutureWarning)."""
    _deprecated("reduce_scatter_tensor", "reduce_scatter_single")
    return reduce_scatter_single(self, reduceOp, scatter_dim, group, tag)


def reduce_scatter_tensor_autograd(self: Tensor, reduceOp: str, scatter_dim: int,  # noqa: N803
                                   group, tag: str = "") -> Tensor:
    """``reduce_scatter_single_autograd`` (deprecated, with a FutureWarning)."""
    _deprecated("reduce_scatter_tensor_autograd", "reduce_scatter_single_autograd")
    return reduce_scatter_single(self, reduceOp, scatter_dim, group, tag)


def all_reduce_coalesced(self: list, reduceOp: str, group, tag: str = "") -> list:  # noqa: N803
    """``all_reduce`` of each tensor of ``self``; one backward for them all."""
    pg = _resolve_group(group, tag)
    results = AllReduceCoalesced.apply(_reduce_op(reduceOp), pg, *self)
    return [AsyncCollectiveTensor(t) for t in results]


def all_gather_single_coalesced(self: list, group, tag: str = "") -> list:
    """``all_gather_single`` (along dim 0) of each tensor of ``self``."""
    pg = _resolve_group(group, tag)
    return [AsyncCollectiveTensor(t) for t in AllGatherCoalesced.apply(pg, *self)]


def all_gather_into_tensor_coalesced(self: list, group, tag: str = "") -> list:
    """``all_gather_single_coalesced`` (deprecated, with a FutureWarning)."""
    _deprecated("all_gather_into_tensor_coalesced", "all_gather_single_coalesced")
    return all_gather_single_coalesced(self, group, tag)


def reduce_scatter_single_coalesced(inputs: list, reduceOp: str,  # noqa: N803
                                    scatter_dim: list, group, tag: str = "") -> list:
    """``reduce_scatter_single`` of each tensor of ``inputs`` along its ``scatter_dim``."""
    pg = _resolve_group(group, tag)
    size = pg.size()
    if len(scatter_dim) != len(inputs):
        raise AssertionError(f"Length of scatter_dim ({len(scatter_dim)}) must equal length of "
                             f"inputs ({len(inputs)})")
    blocks = []
    for i, (dim, tensor) in enumerate(zip(scatter_dim, inputs)):
        if tensor.size(dim) % size:
            raise AssertionError(f"input dimension {dim} ({tensor.size(dim)} must be a multiple "
                                 f"of group_size {size} for tensor at index {i}")
        blocks.append(tensor if dim == 0 else _chunk_cat(tensor, size, dim, 0))
    results = ReduceScatterCoalesced.apply(_reduce_op(reduceOp), pg, *blocks)
    return [AsyncCollectiveTensor(t) for t in results]


def reduce_scatter_tensor_coalesced(inputs: list, reduceOp: str,  # noqa: N803
                                    scatter_dim: list, group, tag: str = "") -> list:
    """``reduce_scatter_single_coalesced`` (deprecated, with a FutureWarning)."""
    _deprecated("reduce_scatter_tensor_coalesced", "reduce_scatter_single_coalesced")
    return reduce_scatter_single_coalesced(inputs, reduceOp, scatter_dim, group, tag)


def all_to_all_single(self: Tensor, output_split_sizes: list | None,
                      input_split_sizes: list | None, group, tag: str = "") -> Tensor:
    """``self`` cut along dim 0 into ``input_split_sizes`` rows, piece ``i`` sent to group
    rank ``i``; the result joins the pieces received, ``output_split_sizes[i]`` rows from
    rank ``i``. Without sizes (both None) every piece has ``self.shape[0] // size`` rows.
    The gradient is the reverse all-to-all of the result's gradient.

    Example::

        >>> # on 2 ranks, rank r holding [10r, 10r + 1]
        >>> all_to_all_single(x, None, None, dist.group.WORLD)  # [0, 10] / [1, 11]
    """
    for name, sizes in (("output_split_sizes", output_split_sizes),
                        ("input_split_sizes", input_split_sizes)):
        if sizes is not None and not all(isinstance(s, int) for s in sizes):
            raise AssertionError(f"All {name} must be int or SymInt, got {sizes}")
    pg = _resolve_group(group, tag)
    if output_split_sizes is None or input_split_sizes is None:
        if not (output_split_sizes is None and input_split_sizes is None):
            raise AssertionError("output_split_sizes and input_split_sizes must either be "
                                 "specified together or both set to None")
        output_split_sizes = input_split_sizes = [self.shape[0] // pg.size()] * pg.size()
    result = AllToAllSingle.apply(self, list(output_split_sizes), list(input_split_sizes), pg)
    return AsyncCollectiveTensor(result)


def all_to_all_single_autograd(self: Tensor, output_split_sizes: list | None,
                               input_split_sizes: list | None, group, tag: str = "") -> Tensor:
    """``all_to_all_single``, which is differentiable itself."""
    return all_to_all_single(self, output_split_sizes, input_split_sizes, group, tag)


def permute_tensor(self: Tensor, src_dst: list, group, tag: str = "") -> Tensor:
    """The ``self`` of the group rank that sends here, where ``src_dst[m] == n`` means group
    rank ``m`` sends to group rank ``n`` (an all-to-all of whole 1-d tensors, as PyTorch's,
    whose splits count elements along dim 0)."""
    pg = _resolve_group(group, tag)
    me = pg.rank()
    output_split_sizes = [0] * pg.size()
    input_split_sizes = [0] * pg.size()
    for src, dst in enumerate(src_dst):
        if src == me:
            input_split_sizes[dst] = self.numel()
        if dst == me:
            output_split_sizes[src] = self.numel()
    return all_to_all_single(self, output_split_sizes, input_split_sizes, group, tag)
