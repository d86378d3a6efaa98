"""``torch.distributed.nn.functional``: collectives whose results carry gradients back to
every rank's inputs. Each returns new tensors (the inputs are not written) and its backward
is the adjoint collective: broadcast <-> reduce to one rank, gather <-> scatter, all-gather
<-> reduce-scatter, all-to-all <-> all-to-all with the splits swapped, all-reduce <-> all-reduce
of the gradients. As in PyTorch these are deprecated in favour of
``torch.distributed._functional_collectives`` and (all but gather, scatter, reduce and
all_to_all) warn so, naming PyTorch's suggested replacements."""
from __future__ import annotations

import warnings

import ember.distributed.collectives as dist
from ember._creation import empty, empty_like, zeros_like
from ember._tensor import Tensor
from ember.autograd.function import Function
from ember.distributed.process_group import get_rank, get_world_size
from ember.distributed.work import ReduceOp

__all__ = ["all_gather", "all_reduce", "all_to_all", "all_to_all_single", "broadcast", "gather",
           "reduce", "reduce_scatter", "scatter"]


def _deprecated(name: str, instead: str) -> None:
    warnings.warn(f"torch.distributed.nn.functional.{name} is deprecated, use "
                  f"torch.distributed._functional_collectives.{instead} instead.",
                  FutureWarning, stacklevel=3)


class _Broadcast(Function):
    @staticmethod
    def forward(ctx, src, group, tensor):
        ctx.src, ctx.group = src, group
        out = tensor.clone()
        dist.broadcast(out, src, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        # every rank's gradient flows to the source's input; the others' inputs get none
        total = _Reduce.apply(ctx.src, ReduceOp.SUM, ctx.group, grad)
        if get_rank(ctx.group) != ctx.src:
            total = zeros_like(total)
        return None, None, total


class _Reduce(Function):
    @staticmethod
    def forward(ctx, dst, op, group, tensor):
        ctx.dst, ctx.group = dst, group
        out = tensor.clone()
        dist.reduce(out, dst, op=op, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        return None, None, None, _Broadcast.apply(ctx.dst, ctx.group, grad)


class _Gather(Function):
    @staticmethod
    def forward(ctx, dst, group, tensor):
        ctx.dst, ctx.group = dst, group
        gathered = [zeros_like(tensor) for _ in range(get_world_size(group))]
        dist.gather(tensor.contiguous(), gathered if get_rank(group) == dst else None, dst,
                    group=group)
        return tuple(gathered)

    @staticmethod
    def backward(ctx, *grads):
        return None, None, _Scatter.apply(ctx.dst, ctx.group, *grads)


class _Scatter(Function):
    @staticmethod
    def forward(ctx, src, group, *tensors):
        ctx.src, ctx.group = src, group
        if any(t.shape != tensors[0].shape for t in tensors):
            raise RuntimeError("scatter: every tensor to scatter must have the same shape, got "
                               f"{[list(t.shape) for t in tensors]}")
        out = zeros_like(tensors[0])
        dist.scatter(out, list(tensors) if get_rank(group) == src else None, src, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        return (None, None) + _Gather.apply(ctx.src, ctx.group, grad)


class _AllGather(Function):
    @staticmethod
    def forward(ctx, group, tensor):
        ctx.group = group
        gathered = [empty_like(tensor) for _ in range(get_world_size(group))]
        dist.all_gather(gathered, tensor.contiguous(), group=group)
        return tuple(gathered)

    @staticmethod
    def backward(ctx, *grads):
        mine = empty_like(grads[get_rank(ctx.group)])
        return None, _ReduceScatter.apply(ReduceOp.SUM, ctx.group, mine, *grads)


class _ReduceScatter(Function):
    @staticmethod
    def forward(ctx, op, group, output, *inputs):
        ctx.group = group
        out = empty_like(output)
        dist.reduce_scatter(out, [t.contiguous() for t in inputs], op=op, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        return (None, None, None) + _AllGather.apply(ctx.group, grad)


class _AllToAll(Function):
    @staticmethod
    def forward(ctx, group, outputs, *tensors):
        ctx.group = group
        ctx.input_shapes = [t.shape for t in tensors]
        received = [empty_like(o) for o in outputs]
        dist.all_to_all(received, [t.contiguous() for t in tensors], group=group)
        return tuple(received)

    @staticmethod
    def backward(ctx, *grads):
        returned = [empty(shape, dtype=grads[0].dtype, device=grads[0].device)
                    for shape in ctx.input_shapes]
        return (None, None) + _AllToAll.apply(ctx.group, returned, *grads)


class _AllToAllSingle(Function):
    @staticmethod
    def forward(ctx, group, output, output_split_sizes, input_split_sizes, tensor):
        ctx.group, ctx.input_shape = group, tensor.shape
        ctx.splits = (output_split_sizes, input_split_sizes)
        out = empty_like(output)
        dist.all_to_all_single(out, tensor.contiguous(), output_split_sizes=output_split_sizes,
                               input_split_sizes=input_split_sizes, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        output_splits, input_splits = ctx.splits  # sent back the way they came
        returned = empty(ctx.input_shape, dtype=grad.dtype, device=grad.device)
        return None, None, None, None, _AllToAllSingle.apply(
            ctx.group, returned, input_splits, output_splits, grad.contiguous())


class _AllReduce(Function):
    @staticmethod
    def forward(ctx, op, group, tensor):
        ctx.op, ctx.group = op, group
        out = tensor.clone().contiguous()
        dist.all_reduce(out, op=op, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        return None, None, _AllReduce.apply(ctx.op, ctx.group, grad)


def broadcast(tensor: Tensor, src: int, group=None) -> Tensor:
    """``src``'s ``tensor`` on every rank; its gradient is the sum of every rank's, on ``src``."""
    _deprecated("broadcast", "broadcast")
    return _Broadcast.apply(src, group, tensor)


def gather(tensor: Tensor, dst: int = 0, group=None) -> tuple:
    """Every rank's ``tensor``, as a tuple on ``dst`` (zeros elsewhere)."""
    return _Gather.apply(dst, group, tensor)


def scatter(tensors: list, src: int = 0, group=None) -> Tensor:
    """This rank's piece of ``src``'s ``tensors`` (one per rank, all of one shape)."""
    return _Scatter.apply(src, group, *tensors)


def reduce(tensor: Tensor, dst: int, op: ReduceOp = ReduceOp.SUM, group=None) -> Tensor:
    """Every rank's ``tensor`` reduced by ``op``, on ``dst``; the gradient is ``dst``'s,
    broadcast."""
    return _Reduce.apply(dst, op, group, tensor)


def reduce_scatter(output: Tensor, input_list: list, op: ReduceOp = ReduceOp.SUM,
                   group=None) -> Tensor:
    """Piece ``rank`` of every rank's ``input_list`` reduced by ``op`` (shaped as ``output``,
    which is not written)."""
    _deprecated("reduce_scatter", "reduce_scatter_single")
    return _ReduceScatter.apply(op, group, output, *input_list)


def all_gather(tensor: Tensor, group=None) -> tuple:
    """Every rank's ``tensor``, as a tuple on every rank; each input's gradient sums every
    rank's gradient of its copy."""
    _deprecated("all_gather", "all_gather_single")
    return _AllGather.apply(group, tensor)


def all_to_all(output_tensor_list: list, input_tensor_list: list, group=None) -> tuple:
    """Piece ``i`` of ``input_tensor_list`` goes to rank ``i``; returns what each rank sent
    here (shaped as ``output_tensor_list``, which is not written)."""
    return _AllToAll.apply(group, output_tensor_list, *input_tensor_list)


def all_to_all_single(output: Tensor, input: Tensor, output_split_sizes=None,  # noqa: A002
                      input_split_sizes=None, group=None) -> Tensor:
    """``all_to_all`` over dim-0 splits of one tensor (shaped as ``output``, not written)."""
    _deprecated("all_to_all_single", "all_to_all_single")
    return _AllToAllSingle.apply(group, output, output_split_sizes, input_split_sizes, input)


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group=None) -> Tensor:
    """Every rank's ``tensor`` reduced by ``op``, on every rank; the gradient is all-reduced
    the same way."""
    _deprecated("all_reduce", "all_reduce")
    return _AllReduce.apply(op, group, tensor)
