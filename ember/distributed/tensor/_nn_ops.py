"""Sharding rules of nn ops: normalizations over unsharded dimensions, embedding lookups with a
row-wise (``Shard(0)``: a Partial result, rows held elsewhere masked to zero) or column-wise
(``Shard(1)``: sharded on the last dimension) weight, and cross entropy on a replicated input."""
from __future__ import annotations

import inspect

from ember.distributed.tensor._api import DTensor, _dtensor
from ember.distributed.tensor._redistribute import grad_layout
from ember.distributed.tensor._sharding import choose, expand, global_outputs, laid_out, run
from ember.distributed.tensor._utils import compute_local_shape_and_global_offset, is_sharding
from ember.distributed.tensor.placement_types import Partial, Replicate, Shard


def _bound(func, args, kwargs) -> dict:
    bound = inspect.signature(func).bind(*args, **kwargs)
    return bound.arguments


def _norm(func, name, short, args, kwargs):
    """``layer_norm`` / ``rms_norm``: the normalized (last) dimensions unsharded, the input
    made whole where Partial, weight and bias replicated; the result laid out as the input."""
    values = _bound(func, args, kwargs)
    x = values["input"]
    shape = values["normalized_shape"]
    normalized = len(shape) if isinstance(shape, (list, tuple)) else 1
    placements = tuple(Replicate() if p.is_partial() or is_sharding(p) and
                       p.dim >= x.dim() - normalized else p for p in x.placements)
    operands = [x, values.get("weight"), values.get("bias")]
    operands = [o if isinstance(o, DTensor) else None for o in operands]
    replicated = (Replicate(),) * x.device_mesh.ndim
    return run(func, args, kwargs, operands, (placements, placements, replicated, replicated),
               x.device_mesh)


def _embedding(func, name, short, args, kwargs):
    """``embedding(ids, weight)``: replicated; a column-wise weight (``Shard(1)``) gives a
    result sharded on its last dimension; a row-wise one (``Shard(0)``) a Partial sum, each
    rank looking up the ids in its rows and zeroing the others; ids sharded on a dimension
    with the weight replicated give a result sharded alike."""
    values = _bound(func, args, kwargs)
    ids, weight = values["input"], values["weight"]
    mesh = weight.device_mesh
    ndim = ids.dim()
    single = [(Replicate(), Replicate(), Replicate()),
              (Shard(ndim), Replicate(), Shard(1)),
              (Partial(), Replicate(), Shard(0))]
    single += [(Shard(d), Shard(d), Replicate()) for d in range(ndim)]
    ids_dt = ids if isinstance(ids, DTensor) else None
    strategies = expand(single, mesh.ndim)
    if ids_dt is None:  # plain ids are taken as replicated
        strategies = [s for s in strategies if all(p.is_replicate() for p in s[1])]
    strategy = choose([ids_dt, weight], strategies)
    out_placements, ids_placements, weight_placements = strategy
    shapes = global_outputs(func, args, kwargs)
    w_local = laid_out(weight, weight_placements, out_placements)
    ids_local = ids if ids_dt is None else laid_out(ids_dt, ids_placements, out_placements)
    padding_idx = values.get("padding_idx")
    mask = None
    if any(isinstance(p, Shard) and p.dim == 0 for p in weight_placements):
        _, offset = compute_local_shape_and_global_offset(weight.shape, mesh, weight_placements)
        rows = w_local.shape[0]
        ids_local = ids_local - offset[0]
        mask = (ids_local < 0) | (ids_local >= rows)
        ids_local = ids_local.masked_fill(mask, 0)
        if padding_idx is not None:
            padding_idx = padding_idx % weight.shape[0] - offset[0]
            padding_idx = padding_idx if 0 <= padding_idx < rows else None
    values.update(input=ids_local, weight=w_local, padding_idx=padding_idx)
    out = func(**values)
    if mask is not None:
        out = out.masked_fill(mask.unsqueeze(-1), 0)
    return _dtensor(out, mesh, out_placements, shapes.shape)


# whether ``loss_parallel`` is active (parallel/loss.py)
LOSS_PARALLEL = [False]


def _cross_entropy(func, name, short, args, kwargs):
    """``cross_entropy`` / ``nll_loss``: computed on the replicated input and target (a
    class-sharded input is gathered, as PyTorch does outside ``loss_parallel``)."""
    values = _bound(func, args, kwargs)
    x = values["input"]
    mesh = x.device_mesh
    if LOSS_PARALLEL[0] and short == "cross_entropy" and _class_sharded(x, values):
        return _parallel_cross_entropy(x, values)
    replicated = (Replicate(),) * mesh.ndim
    operands = [x] + [v for k, v in values.items() if k != "input" and isinstance(v, DTensor)]
    strategy = (replicated,) * (len(operands) + 1)
    return run(func, args, kwargs, operands, strategy, mesh)


def _class_sharded(x: DTensor, values: dict) -> bool:
    """Whether ``loss_parallel`` computes this cross entropy shard by shard: 2-d logits
    sharded on the class dimension only, no class weights or label smoothing."""
    return x.dim() == 2 and any(p == Shard(1) for p in x.placements) and \
        all(p == Shard(1) or p.is_replicate() for p in x.placements) and \
        values.get("weight") is None and not values.get("label_smoothing") and \
        values.get("reduction", "mean") in ("mean", "sum", "none")


def _parallel_cross_entropy(x: DTensor, values: dict) -> DTensor:
    """Cross entropy of class-sharded logits: a log-softmax from the global max and sum of
    exponentials (reductions over the mesh), then each rank's own classes picked out of the
    targets as a Partial sum."""
    mesh = x.device_mesh
    replicated = [Replicate()] * mesh.ndim
    target = values["target"]
    target = target.full_tensor() if isinstance(target, DTensor) else target
    ignore_index = values.get("ignore_index", -100)
    peak = x.detach().amax(1, keepdim=True).redistribute(mesh, replicated)
    shifted = x - peak
    log_probs = shifted - shifted.exp().sum(1, keepdim=True).log()
    local = log_probs.to_local()
    _, offset = compute_local_shape_and_global_offset(x.shape, mesh, x.placements)
    classes = target - offset[1]
    mine = (classes >= 0) & (classes < local.shape[1]) & (target != ignore_index)
    picked = local.gather(1, classes.masked_fill(~mine, 0).unsqueeze(1)).squeeze(1)
    partial = [Partial() if p == Shard(1) else p for p in x.placements]
    losses = DTensor.from_local(-picked.masked_fill(~mine, 0), mesh, partial,
                                shape=tuple(target.shape), stride=(1,))
    reduction = values.get("reduction", "mean")
    if reduction == "none":
        return losses.redistribute(mesh, replicated)
    total = losses.sum()
    if reduction == "mean":
        total = total / (target != ignore_index).sum().item()
    return total.redistribute(mesh, replicated)


def _type_as(func, name, short, args, kwargs):
    return args[0].to(args[1].dtype)


def _softmax(func, name, short, args, kwargs):
    """``softmax`` / ``log_softmax``: the softmax dimension unsharded, the input whole."""
    values = _bound(func, args, kwargs)
    x = values.get("input", values.get("self"))
    dim = values.get("dim")
    if dim is None:
        raise NotImplementedError(f"{name} on a DTensor needs an explicit dim")
    dim %= max(x.dim(), 1)
    placements = tuple(Replicate() if is_sharding(p) and p.dim == dim else p
                       for p in grad_layout(x.placements))
    return run(func, args, kwargs, [x], (placements, placements), x.device_mesh)


RULES = {"layer_norm": _norm, "rms_norm": _norm, "embedding": _embedding,
         "cross_entropy": _cross_entropy, "nll_loss": _cross_entropy, "type_as": _type_as,
         "softmax": _softmax, "log_softmax": _softmax}
