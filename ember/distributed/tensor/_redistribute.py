"""How a DTensor's local tensor changes with its layout: the collectives that gather, scatter
and reduce over a mesh, and the autograd Functions that carry gradients across layout changes
(NOTE [ DTensor autograd ] in ``_api.py``)."""
from __future__ import annotations

from ember._creation import zeros_like
from ember._tensor import Tensor
from ember.autograd.function import Function
from ember.distributed.collectives import all_gather, all_reduce
from ember.distributed.device_mesh import DeviceMesh
from ember.distributed.tensor._utils import _chunk, is_sharding, shard_indices
from ember.distributed.tensor.placement_types import Partial, Replicate, Shard, _StridedShard
from ember.distributed.work import ReduceOp
from ember.ops.movement import cat


class _NormPartial(Partial):
    """A mesh dimension holding local ``norm_type``-norms whose norm is the global value (what
    a vector norm over sharded elements gives, as PyTorch's): ``p``-th powers summed, then
    rooted; the max (min) for an infinite (negative infinite) order."""

    def __init__(self, norm_type: float = 2.0) -> None:
        op = {float("inf"): "max", float("-inf"): "min"}.get(float(norm_type), "sum")
        object.__setattr__(self, "reduce_op", op)
        object.__setattr__(self, "norm_type", float(norm_type))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _NormPartial) and self.norm_type == other.norm_type

    def __hash__(self) -> int:
        return hash(("norm", self.norm_type))

    def __repr__(self) -> str:
        return f"_NormPartial(reduce_op={self.reduce_op}, norm_type={self.norm_type})"

    def __str__(self) -> str:
        return f"P(norm{self.norm_type:g})"


def normalized(placements, mesh: DeviceMesh, ndim: int) -> tuple:
    """``placements`` as a tuple with non-negative shard dims (all Replicate if None)."""
    if placements is None:
        return (Replicate(),) * mesh.ndim
    placements = tuple(_with_dim(p, p.dim + ndim) if is_sharding(p) and p.dim < 0 else p
                       for p in placements)
    if len(placements) != mesh.ndim:
        raise ValueError(f"`placements` must have the same length as `device_mesh.ndim`! Found "
                         f"placements length: {len(placements)}, and device_mesh.ndim: "
                         f"{mesh.ndim}.")
    partial_ops = {p.reduce_op for p in placements if p.is_partial()}
    if len(partial_ops) > 1:
        raise ValueError(f"Cannot mix Partial reduce types: {sorted(partial_ops)}")
    return placements


def _with_dim(placement: Shard | _StridedShard, dim: int) -> Shard | _StridedShard:
    if isinstance(placement, _StridedShard):
        return _StridedShard(dim, split_factor=placement.split_factor)
    return Shard(dim)


def grad_layout(placements: tuple) -> tuple:
    """The layout of the gradient of a tensor laid out by ``placements``: a partial value's
    gradient is replicated (each addend's gradient is the whole gradient)."""
    return tuple(Replicate() if p.is_partial() else p for p in placements)


# ------------------------------------------------------------------------------------------------
# Collectives (not differentiable)

def scatter(full: Tensor, mesh: DeviceMesh, placements: tuple) -> Tensor:
    """This rank's local tensor of the global value ``full`` (mesh dimensions in order)."""
    coordinate = mesh.get_coordinate()
    local = full
    for i, p in enumerate(placements):
        if isinstance(p, _StridedShard):
            kept = shard_indices(p, local.shape[p.dim], mesh.size(i), coordinate[i])
            local = local[(slice(None),) * p.dim + (kept,)]
        elif is_sharding(p):
            start, stop = _chunk(local.shape[p.dim], mesh.size(i), coordinate[i])
            local = local.narrow(p.dim, start, stop - start)
        elif p.is_partial():
            local = _partition(local, p, mesh.size(i))
    return local.clone()


def _partition(value: Tensor, placement: Partial, ranks: int) -> Tensor:
    """A rank's addend of ``value`` such that reducing the ranks' addends gives ``value``."""
    if isinstance(placement, _NormPartial):
        raise NotImplementedError("Replicate -> _NormPartial is not supported")
    if placement.reduce_op == "sum":
        return value / ranks
    if placement.reduce_op in ("avg", "min", "max"):
        return value
    raise NotImplementedError(f"Replicate -> Partial({placement.reduce_op}) is not supported")


def gather(local: Tensor, mesh: DeviceMesh, placements: tuple, global_shape) -> Tensor:
    """The global value from every rank's ``local`` (mesh dimensions undone last first)."""
    coordinate = mesh.get_coordinate()
    sizes = [list(global_shape)]  # the shape before each mesh dimension's placement
    for i, p in enumerate(placements):
        shape = list(sizes[-1])
        if is_sharding(p):
            shape[p.dim] = len(shard_indices(p, shape[p.dim], mesh.size(i), coordinate[i]))
        sizes.append(shape)
    value = local
    for i in reversed(range(mesh.ndim)):
        p, group = placements[i], mesh.get_group(i)
        if is_sharding(p):
            value = _all_gather_pieces(value, p, sizes[i][p.dim], mesh.size(i), group)
        elif p.is_partial():
            value = _reduce(value, p, group)
    return value


def _reduce(value: Tensor, placement: Partial, group) -> Tensor:
    value = value.detach().clone()
    if isinstance(placement, _NormPartial) and placement.reduce_op == "sum":
        value = value.abs().pow(placement.norm_type)
        all_reduce(value, ReduceOp.SUM, group=group)
        return value.pow(1.0 / placement.norm_type)
    all_reduce(value, ReduceOp(placement.reduce_op), group=group)
    return value


def _all_gather_pieces(piece: Tensor, placement: Shard | _StridedShard, size: int, ranks: int,
                       group) -> Tensor:
    """The ``size``-long dimension ``placement.dim`` put together from the ranks' pieces:
    each piece is padded to the longest for the gather and the padding cut off after."""
    dim = placement.dim
    lengths = [len(shard_indices(placement, size, ranks, r)) for r in range(ranks)]
    padding = list(piece.shape)
    padding[dim] = max(lengths) - piece.shape[dim]
    padded = cat([piece, piece.new_zeros(padding)], dim).contiguous()
    gathered = [zeros_like(padded) for _ in range(ranks)]
    all_gather(gathered, padded, group=group)
    pieces = [g.narrow(dim, 0, n) for g, n in zip(gathered, lengths)]
    if not isinstance(placement, _StridedShard):
        return cat(pieces, dim)
    order = [i for r in range(ranks) for i in shard_indices(placement, size, ranks, r)]
    inverse = [0] * size
    for position, index in enumerate(order):
        inverse[index] = position
    return cat(pieces, dim)[(slice(None),) * dim + (inverse,)]


def relayout(local: Tensor, mesh: DeviceMesh, src: tuple, dst: tuple, global_shape) -> Tensor:
    """The local tensor of the same global value laid out by ``dst`` instead of ``src``."""
    if src == dst:
        return local
    return scatter(gather(local, mesh, src, global_shape), mesh, dst)


# ------------------------------------------------------------------------------------------------
# Differentiable layout changes (NOTE [ DTensor autograd ])

class Redistribute(Function):
    """``src`` -> ``dst`` on the local tensor; backward lays the gradient out back from
    ``dst``'s gradient layout to ``src``'s (a partial sum's addends each get the whole
    gradient, an average's a share of it)."""

    @staticmethod
    def forward(ctx, local: Tensor, mesh: DeviceMesh, src: tuple, dst: tuple, shape) -> Tensor:
        ctx.layout = (mesh, src, dst, shape)
        return relayout(local.detach(), mesh, src, dst, shape)

    @staticmethod
    def backward(ctx, grad: Tensor):
        mesh, src, dst, shape = ctx.layout
        grad = relayout(grad, mesh, grad_layout(dst), grad_layout(src), shape)
        for i, p in enumerate(src):
            if p.is_partial("avg") and dst[i] != p:
                grad = grad / mesh.size(i)
        return grad, None, None, None, None


class GradRelayout(Function):
    """The identity, whose backward lays the gradient out from ``grad_src`` to ``grad_dst``
    (``from_local``'s and ``to_local``'s ``grad_placements``)."""

    @staticmethod
    def forward(ctx, local: Tensor, mesh: DeviceMesh, grad_src: tuple, grad_dst: tuple,
                shape) -> Tensor:
        ctx.layout = (mesh, grad_src, grad_dst, shape)
        return local.view_as(local)

    @staticmethod
    def backward(ctx, grad: Tensor):
        mesh, grad_src, grad_dst, shape = ctx.layout
        return relayout(grad, mesh, grad_src, grad_dst, shape), None, None, None, None


class SumGrad(Function):
    """The identity on a replicated operand that broadcasts against a sharded or partial
    result: backward sums the ranks' gradients over ``mesh_dims``, so that the operand's
    gradient is replicated as the operand is."""

    @staticmethod
    def forward(ctx, local: Tensor, mesh: DeviceMesh, mesh_dims: tuple) -> Tensor:
        ctx.reduce_over = (mesh, mesh_dims)
        return local.view_as(local)

    @staticmethod
    def backward(ctx, grad: Tensor):
        mesh, mesh_dims = ctx.reduce_over
        grad = grad.clone()
        for i in mesh_dims:
            all_reduce(grad, ReduceOp.SUM, group=mesh.get_group(i))
        return grad, None, None
