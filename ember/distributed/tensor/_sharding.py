"""Sharding propagation shared by the rules of matmul-like, view and nn ops: the global shapes of
an op's outputs (run on meta tensors), the choice among an op's strategies by PyTorch's
redistribution cost model, and running an op on local tensors laid out as a strategy asks.

A strategy is a tuple of placement tuples, one per mesh dimension each: the output's first,
then each DTensor operand's. Ops list their strategies for one mesh dimension; ``expand``
makes every combination over the mesh, as PyTorch's ``expand_to_full_mesh_op_strategy``."""
from __future__ import annotations

import itertools
import math

from ember._creation import empty
from ember._tensor import Tensor
from ember.autograd.grad_mode import no_grad
from ember.distributed.tensor._api import DTensor, _dtensor
from ember.distributed.tensor._redistribute import Redistribute, SumGrad
from ember.distributed.tensor._utils import is_sharding
from ember.distributed.tensor.placement_types import Replicate

# PyTorch's intra-host collective model (``MeshTopoInfo``): GB/s and microseconds per hop
_BANDWIDTH = 87.7
_HOP_LATENCY = 0.6


def global_outputs(func, args: tuple, kwargs: dict):
    """``func`` run on meta tensors of the global shapes: what its outputs' shapes are."""
    def meta(a):
        if isinstance(a, DTensor):
            return empty(list(a.shape), dtype=a.dtype, device="meta")
        if isinstance(a, Tensor):
            return a.to("meta")
        if isinstance(a, (list, tuple)):
            return type(a)(meta(x) for x in a)
        return a
    with no_grad():
        return func(*[meta(a) for a in args], **{k: meta(v) for k, v in kwargs.items()})


def _collective_cost(bytes_gb: float, ranks: int, hops_per_rank: int) -> float:
    hops = hops_per_rank * (ranks - 1)
    return 6.6 + hops * _HOP_LATENCY + bytes_gb * hops / ranks / _BANDWIDTH * 1e6


def redistribute_cost(dt: DTensor, target: tuple) -> float:
    """PyTorch's estimate (microseconds) of laying ``dt`` out as ``target``: all-gathers,
    all-to-alls (penalised), all-reduces and reduce-scatters over each mesh dimension; free
    from a replicated tensor, impossible into a Partial from a shard or another Partial."""
    current = dt.placements
    if all(p.is_replicate() for p in current) or current == tuple(target):
        return 0.0
    mesh = dt.device_mesh
    shards = math.prod(mesh.size(i) for i, p in enumerate(current) if is_sharding(p))
    bytes_gb = dt.numel() * dt.dtype.itemsize / shards / 2 ** 30
    cost = 0.0
    for i, (src, dst) in enumerate(zip(current, target)):
        ranks = mesh.size(i)
        if src == dst:
            continue
        if is_sharding(src) and dst.is_replicate():
            bytes_gb *= ranks
            cost += _collective_cost(bytes_gb, ranks, 1)
        elif is_sharding(src) and is_sharding(dst):
            cost += _collective_cost(bytes_gb, ranks, 1) + 1.0
        elif src.is_partial() and dst.is_replicate():
            cost += _collective_cost(bytes_gb, ranks, 2)
        elif src.is_partial() and is_sharding(dst):
            cost += _collective_cost(bytes_gb, ranks, 1)
            bytes_gb /= ranks
        elif dst.is_partial():  # from a shard or another partial: banned
            return math.inf
        elif src.is_replicate() and is_sharding(dst):
            bytes_gb /= ranks
    return cost


def expand(single_dim: list, mesh_ndim: int) -> list:
    """Every combination over the mesh of the strategies for one mesh dimension (each a
    tuple: the output's placement, then each operand's), as full strategies (a tuple of
    placement tuples: the output's, then each operand's); combinations mixing Partial kinds
    are left out."""
    strategies = []
    for combo in itertools.product(single_dim, repeat=mesh_ndim):
        per_tensor = tuple(zip(*combo))
        kinds = {p.reduce_op for p in per_tensor[0] if p.is_partial()}
        if len(kinds) <= 1:
            strategies.append(per_tensor)
    return strategies


def choose(operands: list, strategies: list) -> tuple:
    """The strategy PyTorch picks (``_select_min_cost_strategy``): one the operands already
    match, else the first that costs nothing, else the cheapest. ``operands`` are DTensors
    (or None for an operand absent from this call, which costs nothing)."""
    zero = None
    costs = []
    for strategy in strategies:
        wanted = strategy[1:]
        if all(dt is None or dt.placements == w for dt, w in zip(operands, wanted)):
            return strategy
        cost = sum(redistribute_cost(dt, w) for dt, w in zip(operands, wanted) if dt is not None)
        if cost == 0 and zero is None:
            zero = strategy
        costs.append(cost)
    if zero is not None:
        return zero
    return strategies[min(range(len(costs)), key=costs.__getitem__)]


def laid_out(dt: DTensor, placements: tuple, out_placements: tuple) -> Tensor:
    """``dt``'s local tensor laid out by ``placements`` for a result laid out by
    ``out_placements``: where the operand is replicated but the result is not, its gradient
    sums over that mesh dimension (NOTE [ DTensor autograd ])."""
    mesh = dt.device_mesh
    placements = tuple(placements)
    if dt.placements == placements:
        local = dt._local_tensor
    elif any(q.is_partial() and p != q for p, q in zip(dt.placements, placements)):
        # into a Partial: what public redistribute forbids, strategies may ask
        local = Redistribute.apply(dt._local_tensor, mesh, dt.placements, placements,
                                   tuple(dt.shape))
    else:
        local = dt.redistribute(mesh, placements)._local_tensor
    sum_over = tuple(i for i, (p, q) in enumerate(zip(placements, out_placements))
                     if p.is_replicate() and not q.is_replicate())
    if sum_over and local.requires_grad:
        local = SumGrad.apply(local, mesh, sum_over)
    return local


def replace(value, mapping: dict):
    """``value`` with each DTensor (found in nested lists and tuples) swapped for
    ``mapping[id(dtensor)]``."""
    if isinstance(value, DTensor):
        return mapping[id(value)]
    if isinstance(value, (list, tuple)):
        return type(value)(replace(v, mapping) for v in value)
    return value


def run(func, args: tuple, kwargs: dict, operands: list, strategy: tuple, mesh):
    """``func`` on the local tensors of ``operands`` laid out by ``strategy`` (the output's
    placements, then each operand's); the output (or each of a tuple of outputs) wrapped as a
    DTensor of its global shape."""
    out_placements = strategy[0]
    mapping = {id(dt): laid_out(dt, p, out_placements)
               for dt, p in zip(operands, strategy[1:]) if dt is not None}
    shapes = global_outputs(func, args, kwargs)
    out = func(*replace(args, mapping), **{k: replace(v, mapping) for k, v in kwargs.items()})
    return wrap(out, shapes, mesh, out_placements)


def wrap(out, shapes, mesh, placements: tuple):
    """Local output(s) ``out`` as DTensors laid out by ``placements`` with the shapes of the
    meta output(s) ``shapes``."""
    if isinstance(out, Tensor):
        return _dtensor(out, mesh, placements, shapes.shape)
    if isinstance(out, (tuple, list)):
        return type(out)(wrap(o, s, mesh, placements) for o, s in zip(out, shapes))
    return out


def replicate_dims(placements: tuple, dims) -> tuple:
    """``placements`` with shards of tensor dimensions ``dims`` made Replicate."""
    return tuple(Replicate() if is_sharding(p) and p.dim in dims else p for p in placements)
