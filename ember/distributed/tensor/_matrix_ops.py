"""Sharding rules of matrix products (``mm``, ``bmm``, ``matmul``, ``@``, ``addmm``,
``baddbmm``, ``linear``) and of ``scaled_dot_product_attention``, with PyTorch's strategies.

A product is an einsum: each operand's dimensions are labels, and over one mesh dimension it
may shard a batch label (every operand and the output alike), a contracting label (both
operands; the output is Partial), a label only the left or the right operand and the output
have (the other operand replicated), keep one operand Partial with the other replicated
(products are linear in each operand), or replicate everything. ``_sharding.choose`` picks
among the combinations over the mesh as PyTorch does; a bias takes the output's placement
broadcast to its shape."""
from __future__ import annotations

from ember._tensor import Tensor
from ember.distributed.tensor._api import DTensor
from ember.distributed.tensor._sharding import choose, expand, run
from ember.distributed.tensor.placement_types import Partial, Replicate, Shard

_LINEAR_REDUCE_OPS = ("sum", "avg")


def _einsum_single_dim(lhs: list, rhs: list, out: list) -> list:
    """The strategies over one mesh dimension of ``lhs, rhs -> out`` (label lists): tuples of
    the output's, the left and the right operand's placement, in PyTorch's order after the
    all-Replicate one."""
    strategies = [(Replicate(), Replicate(), Replicate())]
    both = [label for label in lhs if label in rhs]
    for label in (x for x in out if x in both):  # batch
        strategies.append((Shard(out.index(label)), Shard(lhs.index(label)),
                           Shard(rhs.index(label))))
    for label in (x for x in both if x not in out):  # contracting
        strategies.append((Partial(), Shard(lhs.index(label)), Shard(rhs.index(label))))
    for label in (x for x in lhs if x in out and x not in rhs):
        strategies.append((Shard(out.index(label)), Shard(lhs.index(label)), Replicate()))
    for label in (x for x in rhs if x in out and x not in lhs):
        strategies.append((Shard(out.index(label)), Replicate(), Shard(rhs.index(label))))
    for op in _LINEAR_REDUCE_OPS:
        strategies.append((Partial(op), Partial(op), Replicate()))
        strategies.append((Partial(op), Replicate(), Partial(op)))
    if all(label in both for label in out) and len(both) == len(lhs) == len(rhs):
        for op in _LINEAR_REDUCE_OPS:  # elementwise: linear in both operands at once
            strategies.append((Partial(op), Partial(op), Partial(op)))
    return strategies


def _with_bias(strategies: list, out_ndim: int, bias_shape) -> list:
    """Each strategy with the bias's placement appended: the output's, broadcast to the
    bias (Replicate along dimensions the bias lacks or has of size 1)."""
    pad = out_ndim - len(bias_shape)
    with_bias = []
    for strategy in strategies:
        out = strategy[0]
        if isinstance(out, Shard):
            dim = out.dim - pad
            bias = Shard(dim) if dim >= 0 and bias_shape[dim] != 1 else Replicate()
        else:
            bias = out
        with_bias.append((*strategy, bias))
    return with_bias


def _labels(n: int, start: int = 0) -> list:
    return [chr(ord("a") + start + i) for i in range(n)]


def _matmul_labels(a_shape, b_shape) -> tuple[list, list, list]:
    """Labels of ``matmul(a, b)``: broadcast batch dimensions shared where both operands have
    them unbroadcast; a size-1 dimension that broadcasts gets a label no strategy shards."""
    if len(b_shape) == 1:
        lhs = _labels(len(a_shape) - 1) + ["K"]
        return lhs, ["K"], lhs[:-1]
    if len(a_shape) == 1:
        rhs = _labels(len(b_shape) - 2) + ["K", "N"]
        return ["K"], rhs, rhs[:-2] + ["N"]
    batch = max(len(a_shape), len(b_shape)) - 2
    lhs, rhs, out = [], [], []
    for i in range(batch):
        a_size = a_shape[i - batch - 2] if batch - i <= len(a_shape) - 2 else None
        b_size = b_shape[i - batch - 2] if batch - i <= len(b_shape) - 2 else None
        label = chr(ord("a") + i)
        out.append(label)
        if a_size is not None:
            lhs.append(label if a_size != 1 or b_size in (1, None) else "1")
        if b_size is not None:
            rhs.append(label if b_size != 1 or a_size in (1, None) else "2")
    return lhs + ["M", "K"], rhs + ["K", "N"], out + ["M", "N"]


def _unshardable(strategies: list, labels: list) -> list:
    """``strategies`` less those that shard a broadcast size-1 dimension (labelled "1" or
    "2"); ``labels`` are the operands' (None for the bias)."""
    keep = []
    for strategy in strategies:
        if all(names is None or not isinstance(p, Shard) or names[p.dim] not in "12"
               for names, placements in zip(labels, strategy[1:]) for p in placements):
            keep.append(strategy)
    return keep


def _product(func, name, args, kwargs, lhs, rhs, labels, bias=None):
    """Run a product ``lhs, rhs -> out`` (``labels``) with an optional bias operand."""
    if not isinstance(lhs, DTensor) or not isinstance(rhs, DTensor) or \
            (bias is not None and not isinstance(bias, DTensor)):
        raise RuntimeError(f"{name}: got mixed torch.Tensor and DTensor, need to convert all "
                           "torch.Tensor to DTensor before calling distributed operators!")
    mesh = lhs.device_mesh
    single = _einsum_single_dim(*labels)
    operands = [lhs, rhs]
    if bias is not None:
        single = _with_bias(single, len(labels[2]), tuple(bias.shape))
        operands.append(bias)
    strategies = _unshardable(expand(single, mesh.ndim), list(labels[:2]) + [None] * (
        bias is not None))
    return run(func, args, kwargs, operands, choose(operands, strategies), mesh)


def _arg(args, kwargs, index, name, default=None):
    return args[index] if len(args) > index else kwargs.get(name, default)


def _mm(func, name, short, args, kwargs):
    lhs, rhs = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "mat2")
    labels = (["m", "k"], ["k", "n"], ["m", "n"]) if short == "mm" else \
        (["b", "m", "k"], ["b", "k", "n"], ["b", "m", "n"])
    return _product(func, name, args, kwargs, lhs, rhs, labels)


def _matmul(func, name, short, args, kwargs):
    lhs, rhs = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "other")
    if short == "__rmatmul__":
        lhs, rhs = rhs, lhs
    return _product(func, name, args, kwargs, lhs, rhs, _matmul_labels(lhs.shape, rhs.shape))


def _addmm(func, name, short, args, kwargs):
    bias = _arg(args, kwargs, 0, "input")
    lhs = _arg(args, kwargs, 1, "mat1" if short == "addmm" else "batch1")
    rhs = _arg(args, kwargs, 2, "mat2" if short == "addmm" else "batch2")
    labels = (["m", "k"], ["k", "n"], ["m", "n"]) if short == "addmm" else \
        (["b", "m", "k"], ["b", "k", "n"], ["b", "m", "n"])
    return _product(func, name, args, kwargs, lhs, rhs, labels, bias)


def _linear(func, name, short, args, kwargs):
    """``linear(x, w, b)``: ``x @ w.T + b``, labelled ``...mk, nk -> ...mn``."""
    x, weight = _arg(args, kwargs, 0, "input"), _arg(args, kwargs, 1, "weight")
    bias = _arg(args, kwargs, 2, "bias")
    lead = _labels(x.dim() - 1)
    labels = (lead + ["K"], ["N", "K"], lead + ["N"])
    return _product(func, name, args, kwargs, x, weight, labels, bias)


def _sdpa(func, name, short, args, kwargs):
    """``scaled_dot_product_attention``: replicated, or query, key, value (and a mask where it
    does not broadcast) sharded alike on the batch or the heads dimension."""
    query, key, value = (_arg(args, kwargs, i, n) for i, n in enumerate(("query", "key",
                                                                         "value")))
    mask = _arg(args, kwargs, 3, "attn_mask")
    operands = [query, key, value, mask if isinstance(mask, DTensor) else None]
    if not all(isinstance(t, DTensor) for t in operands[:3]) or \
            (isinstance(mask, Tensor) and operands[3] is None):
        raise RuntimeError(f"{name}: got mixed torch.Tensor and DTensor, need to convert all "
                           "torch.Tensor to DTensor before calling distributed operators!")
    single = [(Replicate(),) * 5]
    for dim in (1, 0):  # heads, then batch
        mask_placement = Replicate()
        if mask is not None and mask.dim() == 4 and mask.shape[dim] != 1:
            mask_placement = Shard(dim)
        single.append((Shard(dim),) * 4 + (mask_placement,))
    mesh = query.device_mesh
    return run(func, args, kwargs, operands, choose(operands, expand(single, mesh.ndim)), mesh)


RULES = {"mm": _mm, "bmm": _mm, "matmul": _matmul, "__matmul__": _matmul,
         "__rmatmul__": _matmul, "addmm": _addmm, "baddbmm": _addmm, "linear": _linear,
         "scaled_dot_product_attention": _sdpa}
