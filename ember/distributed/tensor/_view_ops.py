"""Sharding rules of views and other ops that move dimensions: a shard follows its dimension
through the op, and a mesh dimension whose shard cannot follow is replicated first (PyTorch's
fallback: the input is redistributed, then the op runs on the local tensors).

* reshapes (``view``, ``reshape``, ``*_as``, ``flatten``, ``unflatten``, ``squeeze``,
  ``unsqueeze``): dimensions are grouped into runs of equal size product; a shard stays on a
  dimension kept whole, on a merged dimension if it is the run's outermost and divides evenly,
  on the outermost part of a split dimension if that part divides evenly (PyTorch 2.13 makes a
  shard of an inner merged dimension a ``_StridedShard``; ember replicates it);
* permutations (``transpose``, ``permute``, ``t``, ``movedim``, ``T``, ...) and ``expand``;
* ops along one dimension (``split``, ``chunk``, ``narrow``, ``unbind``, ``select``,
  ``index_select``, ...) replicate that dimension (a Partial input stays: they are linear);
* basic indexing (ints, slices, None, Ellipsis) keeps shards of dimensions taken whole;
  advanced indexing replicates every shard.
"""
from __future__ import annotations

import inspect
import math

from ember._creation import empty
from ember._tensor import Tensor
from ember.distributed.tensor._api import DTensor, _dtensor
from ember.distributed.tensor._sharding import global_outputs, replicate_dims, wrap
from ember.distributed.tensor._utils import compute_local_shape_and_global_offset, is_sharding
from ember.distributed.tensor.placement_types import Replicate, Shard
from ember.dtypes import dtype

# a meta tensor of distinct sizes shows where a permutation sends each dimension
_TAG = 1000


def _relaid(dt: DTensor, placements: tuple) -> Tensor:
    """``dt``'s local tensor laid out by ``placements`` (differentiably)."""
    if dt.placements == tuple(placements):
        return dt._local_tensor
    return dt.redistribute(dt.device_mesh, placements)._local_tensor


def _runs(src, dst) -> list:
    """The runs of ``src`` and ``dst`` dimensions with equal size products, in order."""
    runs, i, j = [], 0, 0
    while i < len(src) and j < len(dst):
        src_run, dst_run = [i], [j]
        src_size, dst_size = src[i], dst[j]
        i, j = i + 1, j + 1
        while src_size != dst_size:
            if src_size < dst_size and i < len(src):
                src_run.append(i)
                src_size *= src[i]
                i += 1
            elif j < len(dst):
                dst_run.append(j)
                dst_size *= dst[j]
                j += 1
            else:
                break
        runs.append((src_run, dst_run))
    return runs


def _reshaped_placements(dt: DTensor, dst) -> tuple[tuple, tuple]:
    """(the input's placements the reshape to ``dst`` needs, the output's)."""
    src, mesh = tuple(dt.shape), dt.device_mesh
    runs = _runs(src, dst)
    needed, out = [], []
    for p in dt.placements:
        if not is_sharding(p):
            needed.append(p)
            out.append(p)
            continue
        ways = math.prod(mesh.size(k) for k, q in enumerate(dt.placements) if q == p)
        target = None
        for src_run, dst_run in runs:
            src_dims = [d for d in src_run if src[d] != 1]
            dst_dims = [d for d in dst_run if dst[d] != 1]
            if isinstance(p, Shard) and src_dims[:1] == [p.dim] and dst_dims and \
                    (len(src_dims) == 1 or len(dst_dims) == 1):
                if len(src_dims) == 1 and len(dst_dims) == 1:
                    target = Shard(dst_dims[0])
                elif len(dst_dims) == 1 and src[p.dim] % ways == 0:  # merged outermost
                    target = Shard(dst_dims[0])
                elif len(src_dims) == 1 and dst[dst_dims[0]] % ways == 0:  # split
                    target = Shard(dst_dims[0])
        needed.append(p if target is not None else Replicate())
        out.append(target if target is not None else Replicate())
    return tuple(needed), tuple(out)


def _reshape(func, name, short, args, kwargs):
    """A reshape: the local tensor reshaped to its part of the global result."""
    dt = args[0]
    if any(isinstance(a, dtype) for a in (*args[1:], *kwargs.values())):
        return _view_as_dtype(func, name, args, kwargs)
    out_shape = tuple(global_outputs(func, args, kwargs).shape)
    needed, out_placements = _reshaped_placements(dt, out_shape)
    local = _relaid(dt, needed)
    local_shape = compute_local_shape_and_global_offset(out_shape, dt.device_mesh,
                                                        out_placements, skip_offset=True)[0]
    out = local.view(local_shape) if short in ("view", "view_as") else \
        local.reshape(local_shape)
    return _dtensor(out, dt.device_mesh, out_placements, out_shape)


def _view_as_dtype(func, name, args, kwargs):
    """``view(dtype)``: the bytes of each local tensor reinterpreted; the last dimension, whose
    size may change, must not be sharded."""
    dt = args[0]
    placements = replicate_dims(dt.placements, {dt.dim() - 1})
    out = func(_relaid(dt, placements), *args[1:], **kwargs)
    return _dtensor(out, dt.device_mesh, placements, global_outputs(func, args, kwargs).shape)


def _permute(func, name, short, args, kwargs):
    """A permutation of dimensions: shards follow them, the local tensor permuted alike."""
    dt = args[0]
    tagged = empty([_TAG + d for d in range(dt.dim())], device="meta")
    sizes = list(global_outputs(func, (tagged, *args[1:]), kwargs).shape)
    placements = tuple(Shard(sizes.index(_TAG + p.dim)) if isinstance(p, Shard) else p
                       for p in dt.placements)
    if any(not isinstance(p, Shard) and is_sharding(p) for p in placements):
        raise NotImplementedError(f"{name} on a DTensor with _StridedShard placements")
    out = func(dt._local_tensor, *args[1:], **kwargs)
    shape = [dt.shape[s - _TAG] for s in sizes]
    return _dtensor(out, dt.device_mesh, placements, shape)


def _expand(func, name, short, args, kwargs):
    """``expand``: shards shift past the new leading dimensions; a sharded size-1 dimension
    that broadcasts is replicated first."""
    dt = args[0]
    out_shape = tuple(global_outputs(func, args, kwargs).shape)
    lead = len(out_shape) - dt.dim()
    placements = []
    for p in dt.placements:
        broadcast = is_sharding(p) and dt.shape[p.dim] == 1 and out_shape[p.dim + lead] != 1
        placements.append(Replicate() if broadcast else p)
    local = _relaid(dt, tuple(placements))
    out_placements = tuple(Shard(p.dim + lead) if isinstance(p, Shard) else p
                           for p in placements)
    local_shape = compute_local_shape_and_global_offset(out_shape, dt.device_mesh,
                                                        out_placements, skip_offset=True)[0]
    return _dtensor(local.expand(local_shape), dt.device_mesh, out_placements, out_shape)


def _dim_of(func, args, kwargs, ndim: int) -> int:
    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    dim = bound.arguments.get("dim")
    if dim is None:
        dim = bound.arguments.get("axis")
    if dim is None:
        raise NotImplementedError(f"{func.__name__} on a DTensor without a dim")
    return dim % max(ndim, 1)


def _along_dim(func, name, short, args, kwargs):
    """An op along one dimension: that dimension replicated, the others' shards kept (shifted
    when the op removes it: ``unbind``, ``select``)."""
    dt = args[0]
    dim = _dim_of(func, args, kwargs, dt.dim())
    placements = replicate_dims(dt.placements, {dim})
    local = _relaid(dt, placements)
    if short in ("unbind", "select"):
        placements = tuple(Shard(p.dim - 1) if isinstance(p, Shard) and p.dim > dim else p
                           for p in placements)
    shapes = global_outputs(func, args, kwargs)
    rest = [a.full_tensor() if isinstance(a, DTensor) else a for a in args[1:]]
    kwargs = {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in kwargs.items()}
    return wrap(func(local, *rest, **kwargs), shapes, dt.device_mesh, placements)


def _getitem(func, name, short, args, kwargs):
    """``dt[index]``: shards of dimensions a basic index takes whole follow them; others (all,
    for an advanced index) are replicated first."""
    dt, index = args
    items = list(index) if isinstance(index, tuple) else [index]
    basic = all(i is None or i is Ellipsis or isinstance(i, (int, slice)) and
                not isinstance(i, bool) for i in items)
    if not basic:
        placements = replicate_dims(dt.placements, range(dt.dim()))
        mapping = {}
    else:
        mapping = _basic_index_map(items, dt.dim())
        placements = replicate_dims(dt.placements, [d for d in range(dt.dim())
                                                    if d not in mapping])
    local = _relaid(dt, placements)
    shapes = global_outputs(func, (dt, index), {})
    out_placements = tuple(Shard(mapping[p.dim]) if isinstance(p, Shard) else p
                           for p in placements)
    items = [i.full_tensor() if isinstance(i, DTensor) else i for i in items]
    local_index = tuple(items) if isinstance(index, tuple) else items[0]
    return _dtensor(func(local, local_index), dt.device_mesh, out_placements, shapes.shape)


def _basic_index_map(items: list, ndim: int) -> dict:
    """{input dimension taken whole (``:``): its output dimension} for a basic index."""
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    if Ellipsis not in items:
        items = items + [Ellipsis]
    mapping, in_dim, out_dim = {}, 0, 0
    for item in items:
        if item is Ellipsis:
            for _ in range(ndim - consumed):
                mapping[in_dim] = out_dim
                in_dim, out_dim = in_dim + 1, out_dim + 1
            consumed = ndim  # a second Ellipsis is an error PyTorch raises itself
        elif item is None:
            out_dim += 1
        elif isinstance(item, slice):
            if item == slice(None):
                mapping[in_dim] = out_dim
            in_dim, out_dim = in_dim + 1, out_dim + 1
        else:
            in_dim += 1
    return mapping


RULES = {name: _reshape for name in ("view", "reshape", "view_as", "reshape_as", "flatten",
                                     "unflatten", "squeeze", "unsqueeze")}
RULES.update({name: _permute for name in ("transpose", "swapaxes", "swapdims", "permute", "t",
                                          "movedim", "moveaxis", "T", "mT")})
RULES.update({name: _along_dim for name in ("split", "chunk", "narrow", "unbind", "select",
                                            "tensor_split", "split_with_sizes",
                                            "index_select")})
RULES.update(expand=_expand, expand_as=_expand, broadcast_to=_expand, __getitem__=_getitem)
