"""Ops on nested tensors: ``NestedTensor.__torch_function__`` sends every ember function and
Tensor method called with a nested argument to :func:`dispatch`.

An op runs on the packed values when each component's result depends on its own rows only
(pointwise ops, ``linear``, ``softmax`` or ``layer_norm`` away from the ragged dim, reductions
over regular dims); otherwise it runs on each component and the results are packed again
(:func:`from_components`). Either way the ops are ember's, so autograd needs nothing more
(see NOTE [ Nested tensor storage ] in ember/nested/_tensor.py). Anything else raises, naming
the op.
"""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.nested._tensor import NestedTensor, offsets_of
from ember.overrides import resolve_name

_PREFIXES = ("torch.Tensor.", "torch.nn.functional.", "torch.special.", "torch.")

# Ops applied to the packed values as they are: one result element per input element.
_POINTWISE = frozenset("""
abs absolute acos arccos acosh asin arcsin asinh atan arctan atanh ceil clamp clip cos cosh
deg2rad rad2deg digamma erf erfc erfinv exp exp2 expm1 expit fix floor frac lgamma log log10
log1p log2 logit logical_not bitwise_not neg negative nan_to_num positive reciprocal round
rsqrt sigmoid sign sgn signbit sin sinc sinh sqrt square tan tanh trunc isnan isinf isfinite
isneginf isposinf i0 relu relu6 gelu silu elu selu celu leaky_relu hardtanh hardswish
hardsigmoid softplus softsign mish tanhshrink hardshrink softshrink logsigmoid threshold
dropout alpha_dropout feature_alpha_dropout float double half bfloat16 int long short bool byte
char type_as __neg__ __abs__ __invert__ __pos__ abs_ neg_ exp_ log_ sqrt_ sin_ cos_ tanh_
sigmoid_ relu_ clamp_ clamp_min_ clamp_max_ floor_ ceil_ round_ trunc_ nan_to_num_ zero_ fill_
uniform_ normal_ bernoulli_ elu_ leaky_relu_ hardtanh_ silu_ gelu_ zeros_like ones_like
empty_like rand_like randn_like full_like
""".split())

# Ops of several tensors with PyTorch's broadcasting (and their in-place forms).
_ELEMENTWISE = frozenset("""
add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow
float_power maximum minimum fmax fmin atan2 arctan2 hypot copysign eq ne lt le gt ge greater
less greater_equal less_equal not_equal logical_and logical_or logical_xor bitwise_and
bitwise_or bitwise_xor xlogy masked_fill add_ sub_ mul_ div_ pow_ masked_fill_ copy_
__rsub__ __rtruediv__ __rdiv__ __rpow__ __pow__ __floordiv__ __rfloordiv__ __rmod__ __and__
__or__ __xor__ __rand__ __ror__ __rxor__ __eq__ __ne__ __lshift__ __rshift__
where lerp lerp_ addcmul addcdiv addcmul_ addcdiv_ clamp_min clamp_max
""".split())

# Tensor attributes a nested tensor shares with its values.
_ATTRIBUTES = frozenset({"is_meta", "is_quantized", "is_mkldnn", "itemsize", "is_sparse_csr",
                         "is_xla", "is_mps", "is_xpu", "is_ipu", "is_vulkan"})


def dispatch(func, args: tuple, kwargs: dict):
    """Run ``func`` (an ember function or Tensor method) on arguments that include a nested
    tensor."""
    name = _short(func)
    if name.endswith(".__get__"):
        attr = name[:-len(".__get__")]
        if attr in _ATTRIBUTES:
            return getattr(args[0]._values, attr)
        if attr == "data":
            return args[0]._like(args[0]._values.data)
        raise _unsupported(attr)
    handler = _HANDLERS.get(name)
    if handler is not None:
        return handler(func, name, args, kwargs)
    if name in _POINTWISE:
        return _pointwise(func, name, args, kwargs)
    if name in _ELEMENTWISE:
        return _elementwise(func, name, args, kwargs)
    raise _unsupported(name)


def _short(func) -> str:
    name = resolve_name(func) or getattr(func, "__name__", repr(func))
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _unsupported(name: str) -> NotImplementedError:
    return NotImplementedError(f"{name}(): not supported for nested tensors (torch.nested "
                               "implements only some ops; unbind() the nested tensor or "
                               "convert it with to_padded_tensor() to use it)")


def _shape_str(x) -> str:
    if isinstance(x, NestedTensor):
        if x._is_jagged():
            return "(" + ", ".join(repr(s) for s in x.shape) + ")"
        return "nested_tensor of sizes " + str(x._sizes)
    return str(tuple(x.shape)) if isinstance(x, Tensor) else repr(x)


# ----------------------------------------------------------------------------------------------
# Packing

def packed(nt: NestedTensor):
    """``(values, axis)``: the components concatenated along ``axis`` as one tensor of the
    components' dims, or None for a strided nested tensor whose components differ beyond
    dim 0 (NOTE [ Nested tensor storage ])."""
    if nt._is_jagged():
        return nt._values, nt._ragged_idx - 1
    sizes = nt._sizes
    if not sizes or not sizes[0] or any(s[1:] != sizes[0][1:] for s in sizes):
        return None
    return nt._values.view((sum(s[0] for s in sizes),) + sizes[0][1:]), 0


def from_components(comps, like: NestedTensor, op: str = "nested") -> NestedTensor:
    """A nested tensor of ``like``'s layout holding ``comps`` (gradients flow to them); a
    jagged result keeps ``like``'s ragged size (``j1``) when its lengths are ``like``'s."""
    comps = list(comps)
    if not like._is_jagged():
        flat = ember.cat([c.reshape(-1) for c in comps]) if comps else like._values[:0]
        return NestedTensor._strided(flat, [tuple(c.shape) for c in comps])
    shapes = [tuple(c.shape) for c in comps]
    if not shapes or any(len(s) != len(shapes[0]) for s in shapes) or not shapes[0]:
        raise RuntimeError(f"{op}(): the results cannot form a jagged nested tensor (shapes "
                           f"{shapes})")
    ragged = [d for d in range(len(shapes[0])) if len({s[d] for s in shapes}) > 1]
    if len(ragged) > 1:
        raise RuntimeError(f"{op}(): not supported: the results {shapes} are ragged in more "
                           "than one dim, and a jagged nested tensor has one ragged dim")
    axis = ragged[0] if ragged else min(like._ragged_idx - 1, len(shapes[0]) - 1)
    lens = [s[axis] for s in shapes]
    values = ember.cat(comps, dim=axis)
    if axis == like._ragged_idx - 1 and like._lengths is None and lens == like._lens:
        return NestedTensor._jagged(values, like._offsets, None, axis + 1, like._size)
    return NestedTensor._jagged(values, offsets_of(lens, values.device), None, axis + 1)


def _map(fn, nt: NestedTensor, op: str):
    """``fn`` on each component, packed again (each field, for ops that return tuples)."""
    outs = [fn(c) for c in nt.unbind()]
    if outs and isinstance(outs[0], tuple):
        return _tuple_like(outs[0], [from_components(f, nt, op) for f in zip(*outs)])
    return from_components(outs, nt, op)


def _tuple_like(sample: tuple, items: list) -> tuple:
    """``items`` as a tuple of ``sample``'s type (a named tuple such as max's, or a tuple)."""
    return type(sample)(*items) if hasattr(sample, "_fields") else tuple(items)


# ----------------------------------------------------------------------------------------------
# Pointwise ops

def _pointwise(func, name, args, kwargs):
    nt = args[0]
    if not isinstance(nt, NestedTensor) or any(
            isinstance(a, NestedTensor) for a in (*args[1:], *kwargs.values())):
        raise _unsupported(name)
    out = func(nt._values, *args[1:], **kwargs)
    return nt if out is nt._values else nt._like(out)


def _elementwise(func, name, args, kwargs):
    """An op of several tensors with broadcasting (``add``, ``where``, ``masked_fill``, ...):
    nested operands must share one structure; dense ones broadcast per component."""
    like = next(a for a in args if isinstance(a, NestedTensor))
    if name.endswith("_") and not isinstance(args[0], NestedTensor):
        raise RuntimeError(f"{name}(): an in-place op on a dense tensor cannot take a nested "
                           "operand")
    values = [_aligned(name, like, a) if isinstance(a, NestedTensor)
              else _dense_operand(name, like, a) for a in args]
    out = func(*values, **kwargs)
    first = args[0]
    if isinstance(first, NestedTensor) and out is first._values:  # in place
        return first
    return like._like(out)


def _aligned(name: str, like: NestedTensor, other: NestedTensor) -> Tensor:
    """The packed values of ``other``, a nested tensor of ``like``'s structure."""
    same = (like._size is other._size and like._ragged_idx == other._ragged_idx
            if like._is_jagged() else like._sizes == other._sizes)
    if like._is_jagged() != other._is_jagged() or not same:
        raise RuntimeError(f"cannot call binary pointwise function {name} with inputs of "
                           f"shapes {_shape_str(like)} and {_shape_str(other)}")
    return other._values


def _dense_operand(name: str, nt: NestedTensor, other):
    """``other`` (a scalar or dense tensor) made to broadcast against ``nt``'s packed values
    as it broadcasts against each component (a dense tensor with a batch dim is gathered to
    one row per packed row)."""
    if not isinstance(other, Tensor) or other.dim() == 0:
        return other
    if not nt._is_jagged():
        raise RuntimeError("Expected both self and other to be nested, but got a nested self "
                           "and non-nested other")
    n, r = nt.dim(), nt._ragged_idx
    error = RuntimeError(f"cannot call binary pointwise function {name} with inputs of shapes "
                         f"{_shape_str(nt)} and {_shape_str(other)}")
    if other.dim() > n:
        raise error
    if other.dim() == n:
        if other.shape[0] == 1:
            other = other.squeeze(0)
        elif other.shape[0] == len(nt._starts) and other.shape[r] == 1:
            rows = other.squeeze(r).index_select(0, _row_batch(nt, other.device))
            return rows.movedim(0, r - 1)
        else:
            raise error
    at = other.dim() - (n - r)  # other's dim that lines up with the ragged dim
    if at >= 0 and other.shape[at] != 1:
        raise error
    return other


def _row_batch(nt: NestedTensor, device) -> Tensor:
    """For each packed row along the ragged axis, the index of its component."""
    total = nt._values.shape[nt._ragged_idx - 1]
    batch = [0] * total
    for i, (start, n) in enumerate(zip(nt._starts, nt._lens)):
        batch[start:start + n] = [i] * n
    return ember.tensor(batch, dtype=ember.int64, device=device)


# ----------------------------------------------------------------------------------------------
# Linear algebra and nn functions

def _linear(func, name, args, kwargs):
    x = args[0]
    if not isinstance(x, NestedTensor) or any(isinstance(a, NestedTensor) for a in args[1:]):
        raise _unsupported(name)
    p = packed(x)
    if p is not None and p[1] != p[0].dim() - 1:
        return x._like(func(p[0], *args[1:], **kwargs))
    return _map(lambda c: func(c, *args[1:], **kwargs), x, name)


def _matmul(func, name, args, kwargs):
    """``matmul``/``bmm``/``mm``: a matrix product per component (of a dense operand with a
    batch dim, its matrix for that component), on the packed rows where they allow."""
    a, b = args[0], args[1]
    mm = ember.matmul  # of components, which lack the batch dim bmm expects
    if isinstance(a, NestedTensor) and isinstance(b, NestedTensor):
        if a._is_jagged() != b._is_jagged() or len(a._starts) != len(b._starts):
            raise RuntimeError(f"{name}(): not supported between inputs of shapes "
                               f"{_shape_str(a)} and {_shape_str(b)}")
        return from_components([mm(x, y) for x, y in zip(a.unbind(), b.unbind())], a, name)
    if isinstance(a, NestedTensor):
        if b.dim() == a.dim():
            return from_components([mm(c, b[i]) for i, c in enumerate(a.unbind())], a, name)
        p = packed(a)
        if name == "matmul" and b.dim() <= 2 and p is not None and p[1] < p[0].dim() - 1:
            return a._like(func(p[0], b))
        return _map(lambda c: mm(c, b), a, name)
    if a.dim() == b.dim():
        return from_components([mm(a[i], c) for i, c in enumerate(b.unbind())], b, name)
    return _map(lambda c: mm(a, c), b, name)


def _softmax(func, name, args, kwargs):
    x = args[0]
    kwargs = dict(kwargs)
    dim = args[1] if len(args) > 1 else kwargs.pop("dim", None)
    if dim is None:
        raise RuntimeError(f"{name}(): a nested tensor needs an explicit dim")
    dim = x._dim_index(dim)
    if dim == 0:
        raise RuntimeError(f"{name}(): not supported when reducing across the batch dimension "
                           "for NestedTensor")
    rest = args[2:]
    p = packed(x)
    if p is not None and dim - 1 != p[1]:
        return x._like(func(p[0], dim - 1, *rest, **kwargs))
    return _map(lambda c: func(c, dim - 1, *rest, **kwargs), x, name)


def _layer_norm(func, name, args, kwargs):
    x = args[0]
    shape = args[1] if len(args) > 1 else kwargs["normalized_shape"]
    k = 1 if isinstance(shape, int) else len(shape)
    p = packed(x)
    if p is not None and p[1] < p[0].dim() - k:
        return x._like(func(p[0], *args[1:], **kwargs))
    return _map(lambda c: func(c, *args[1:], **kwargs), x, name)


def _sdpa(func, name, args, kwargs):
    q, k, v = args[0], args[1], args[2]
    if not all(isinstance(t, NestedTensor) for t in (q, k, v)):
        raise RuntimeError(f"{name}(): query, key and value must all be nested tensors")
    if (args[3] if len(args) > 3 else kwargs.get("attn_mask")) is not None:
        raise RuntimeError(f"{name}(): attn_mask is not supported for nested tensors; the "
                           "ragged lengths already mask the padding")
    outs = [func(qi, ki, vi, *args[3:], **kwargs)
            for qi, ki, vi in zip(q.unbind(), k.unbind(), v.unbind())]
    return from_components(outs, q, name)


def _multi_head_attention(func, name, args, kwargs):
    """``F.multi_head_attention_forward`` on batch-first nested query, key and value (what
    ``nn.MultiheadAttention`` passes a nested input to, as PyTorch's fast path takes it):
    projections on the packed rows, attention per component; no masks or attention
    weights."""
    import inspect

    from ember.ops.attention import multi_head_attention_forward
    a = inspect.signature(multi_head_attention_forward).bind(*args, **kwargs).arguments
    if (a.get("need_weights", True) or a.get("key_padding_mask") is not None
            or a.get("attn_mask") is not None or a["bias_k"] is not None or a["add_zero_attn"]):
        raise RuntimeError(f"{name}(): nested tensors need need_weights=False and take no "
                           "masks, bias_k/bias_v or add_zero_attn")
    import ember.nn.functional as F
    heads, e = a["num_heads"], a["embed_dim_to_check"]
    if a.get("use_separate_proj_weight"):
        weights = (a["q_proj_weight"], a["k_proj_weight"], a["v_proj_weight"])
    else:
        weights = a["in_proj_weight"].chunk(3)
    biases = (None,) * 3 if a["in_proj_bias"] is None else a["in_proj_bias"].chunk(3)
    p = a["dropout_p"] if a.get("training", True) else 0.0
    q, k, v = (F.linear(x, w, b) for x, w, b in zip((a["query"], a["key"], a["value"]),
                                                    weights, biases))
    outs = [F.scaled_dot_product_attention(
        *(c.unflatten(-1, (heads, e // heads)).transpose(0, 1) for c in qkv),
        dropout_p=p, is_causal=a.get("is_causal", False)).transpose(0, 1).flatten(1)
        for qkv in zip(q.unbind(), k.unbind(), v.unbind())]
    out = from_components(outs, q, name)
    return F.linear(out, a["out_proj_weight"], a["out_proj_bias"]), None


# ----------------------------------------------------------------------------------------------
# Reductions

def _reduce(func, name, args, kwargs):
    x = args[0]
    if len(args) > 1 and isinstance(args[1], Tensor):  # max(a, b), min(a, b)
        return _elementwise(func, name, args, kwargs)
    kwargs = dict(kwargs)
    dim = args[1] if len(args) > 1 else kwargs.pop("dim", None)
    keepdim = args[2] if len(args) > 2 else kwargs.pop("keepdim", False)
    if dim is None or dim == ():
        return func(_contiguous_values(x), **kwargs)
    dims = sorted({x._dim_index(d) for d in ((dim,) if isinstance(dim, int) else dim)})
    if not x._is_jagged():
        inner = [d - 1 for d in dims]
        if dims[0] == 0:
            raise RuntimeError(f"{name}(): reducing along the batch dimension is not "
                               "supported for strided nested tensors")
        if isinstance(dim, int):
            inner = inner[0]
        return _map(lambda c: func(c, inner, keepdim, **kwargs), x, name)
    r = x._ragged_idx
    if 0 in dims:
        if r not in dims:
            raise RuntimeError(f"{name}(): reducing along the batch dimension but not the "
                               "ragged dimension is not supported for nested tensors")
        out = func(_contiguous_values(x), [d - 1 for d in dims if d], keepdim, **kwargs)
        return out.unsqueeze(0) if keepdim else out
    if r in dims:
        if len(dims) > 1:
            raise RuntimeError(f"{name}(): reducing along a ragged and non-batch dimension "
                               "is not supported for nested tensors")
        outs = [func(c, r - 1, keepdim, **kwargs) for c in x.unbind()]
        if isinstance(outs[0], tuple):
            return _tuple_like(outs[0], [ember.stack(o) for o in zip(*outs)])
        return ember.stack(outs)
    inner = dims[0] - 1 if isinstance(dim, int) else [d - 1 for d in dims]
    out = func(x._values, inner, keepdim, **kwargs)
    r = r if keepdim else r - sum(d < r for d in dims)
    if isinstance(out, tuple):  # max/min: (values, indices)
        return _tuple_like(out, [x._like(o, r) for o in out])
    return x._like(out, r)


def _contiguous_values(x: NestedTensor) -> Tensor:
    """The packed values without the rows a non-contiguous nested tensor skips."""
    if x._lengths is None:
        return x._values
    return ember.cat(x.unbind(), dim=x._ragged_idx - 1)


# ----------------------------------------------------------------------------------------------
# Shape ops

def _transpose(func, name, args, kwargs):
    x = args[0]
    d0 = args[1] if len(args) > 1 else kwargs["dim0"]
    d1 = args[2] if len(args) > 2 else kwargs["dim1"]
    d0, d1 = x._dim_index(d0), x._dim_index(d1)
    if 0 in (d0, d1) and d0 != d1:
        error = ValueError if x._is_jagged() else RuntimeError  # PyTorch's types
        raise error(f"{name}(): nested tensor dimension 0 (the batch dimension) cannot be "
                    "transposed")
    if not x._is_jagged():
        return _map(lambda c: c.transpose(d0 - 1, d1 - 1), x, name)
    r = x._ragged_idx
    r = d1 if r == d0 else d0 if r == d1 else r
    return x._like(x._values.transpose(d0 - 1, d1 - 1), r)


def _permute(func, name, args, kwargs):
    x = args[0]
    dims = args[1:] if len(args) > 2 or isinstance(args[1], int) else tuple(args[1])
    dims = [x._dim_index(d) for d in dims]
    if dims[0] != 0:
        raise RuntimeError(f"{name}(): nested tensor dimension 0 (the batch dimension) cannot "
                           "be permuted")
    inner = [d - 1 for d in dims[1:]]
    if not x._is_jagged():
        return _map(lambda c: c.permute(inner), x, name)
    return x._like(x._values.permute(inner), dims.index(x._ragged_idx))


def _flatten(func, name, args, kwargs):
    x = args[0]
    start = x._dim_index(args[1] if len(args) > 1 else kwargs.get("start_dim", 0))
    end = x._dim_index(args[2] if len(args) > 2 else kwargs.get("end_dim", -1))
    if start == end:
        return x
    r = x._ragged_idx
    if start == 0 or (x._is_jagged() and start <= r <= end):
        raise RuntimeError(f"{name}(): a nested tensor's batch and ragged dims cannot be "
                           "flattened")
    if not x._is_jagged():
        return _map(lambda c: c.flatten(start - 1, end - 1), x, name)
    return x._like(x._values.flatten(start - 1, end - 1), r - (end - start if end < r else 0))


def _unflatten(func, name, args, kwargs):
    x = args[0]
    dim = x._dim_index(args[1] if len(args) > 1 else kwargs["dim"])
    sizes = tuple(args[2] if len(args) > 2 else kwargs["sizes"])
    r = x._ragged_idx
    if dim == 0 or (x._is_jagged() and dim == r):
        raise RuntimeError(f"{name}(): a nested tensor's batch and ragged dims cannot be "
                           "unflattened")
    if not x._is_jagged():
        return _map(lambda c: c.unflatten(dim - 1, sizes), x, name)
    return x._like(x._values.unflatten(dim - 1, sizes), r + (len(sizes) - 1 if dim < r else 0))


def _inner_dim(x: NestedTensor, dim: int, name: str) -> int:
    """``dim`` of ``x`` as a dim of its components (an error for the batch or ragged dim)."""
    dim = x._dim_index(dim)
    if dim == 0 or (x._is_jagged() and dim == x._ragged_idx):
        raise RuntimeError(f"{name}(): not supported for NestedTensor on dim={dim} (its batch "
                           "or ragged dim)")
    return dim - 1


def _unsqueeze(func, name, args, kwargs):
    x = args[0]
    dim = args[1] if len(args) > 1 else kwargs["dim"]
    dim = dim % (x.dim() + 1)
    if dim == 0:
        raise RuntimeError(f"{name}(): not supported for NestedTensor on dim=0")
    if not x._is_jagged():
        return _map(lambda c: c.unsqueeze(dim - 1), x, name)
    r = x._ragged_idx
    return x._like(x._values.unsqueeze(dim - 1), r + 1 if dim <= r else r)


def _squeeze(func, name, args, kwargs):
    x = args[0]
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if dim is None or not isinstance(dim, int):
        raise RuntimeError(f"{name}(): a nested tensor needs one dim to squeeze")
    inner = _inner_dim(x, dim, name)
    if not x._is_jagged():
        return _map(lambda c: c.squeeze(inner), x, name)
    r = x._ragged_idx
    out = x._values.squeeze(inner)
    return x._like(out, r - 1 if inner < r - 1 and out.dim() < x._values.dim() else r)


def _select(func, name, args, kwargs):
    """``select``/``narrow`` (and ``x[..., i]``) of a regular dim."""
    x, dim = args[0], args[1]
    inner = _inner_dim(x, dim, name)
    if not x._is_jagged():
        return _map(lambda c: func(c, inner, *args[2:], **kwargs), x, name)
    r = x._ragged_idx
    out = func(x._values, inner, *args[2:], **kwargs)
    return x._like(out, r - 1 if name == "select" and inner < r - 1 else r)


def _cat(func, name, args, kwargs):
    tensors = list(args[0])
    dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    like = next(t for t in tensors if isinstance(t, NestedTensor))
    inner = _inner_dim(like, dim, name)
    if not all(isinstance(t, NestedTensor) for t in tensors):
        raise RuntimeError(f"{name}(): all tensors must be nested")
    if not like._is_jagged():
        return from_components([func(list(cs), inner) for cs in zip(*(t.unbind()
                                                                     for t in tensors))],
                               like, name)
    return like._like(func([_aligned(name, like, t) for t in tensors], inner))


def _embedding(func, name, args, kwargs):
    ids = args[0]
    if not isinstance(ids, NestedTensor) or isinstance(args[1], NestedTensor):
        raise _unsupported(name)
    return ids._like(func(ids._values, *args[1:], **kwargs))


def _split(func, name, args, kwargs):
    """``chunk``/``split`` along a regular dim: one nested tensor per piece."""
    x = args[0]
    kwargs = dict(kwargs)
    dim = x._dim_index(args[2] if len(args) > 2 else kwargs.pop("dim", 0))
    if dim == 0 or (x._is_jagged() and dim == x._ragged_idx):
        raise RuntimeError(f"{name}(): a nested tensor cannot be split along its batch or "
                           "ragged dim")
    if x._is_jagged():
        return tuple(x._like(piece) for piece in func(x._values, args[1], dim - 1, **kwargs))
    return _map(lambda c: tuple(func(c, args[1], dim - 1, **kwargs)), x, name)


def _reshape(func, name, args, kwargs):
    """``reshape``/``view``: the batch dim stays; -1 keeps a dim's size (the ragged dim's, or
    for a strided nested tensor each component's own), as in PyTorch."""
    x = args[0]
    shape = args[1:] if len(args) > 1 else (kwargs.get("shape") or kwargs.get("size"),)
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = tuple(shape[0])
    error = RuntimeError(f"{name}(): cannot {name} nested tensor of shape {_shape_str(x)} "
                         f"as {list(shape)}")
    if shape[0] not in (-1, len(x._starts)):
        raise error
    if not x._is_jagged():
        def one(c):
            if len(shape) - 1 < c.dim() and -1 in shape[c.dim() + 1:]:
                raise error
            new = [c.shape[k] if s == -1 and k < c.dim() else s
                   for k, s in enumerate(shape[1:])]
            return c.reshape(new) if name == "reshape" else c.view(new)
        return _map(one, x, name)
    v, r = x._values, x._ragged_idx
    lead = shape[1:r + 1]
    if len(lead) < r or lead[-1] not in (-1, x._size) or any(
            s not in (-1, old) for s, old in zip(lead[:-1], v.shape[:r - 1])):
        raise error
    target = tuple(v.shape[:r]) + tuple(shape[r + 1:])
    try:
        return x._like(v.reshape(target) if name == "reshape" else v.view(target))
    except RuntimeError:
        raise error from None


# ----------------------------------------------------------------------------------------------
# Functions that mirror a NestedTensor method

def _method(func, name, args, kwargs):
    x = args[0]
    if not isinstance(x, NestedTensor):
        raise _unsupported(name)
    return getattr(x, name)(*args[1:], **kwargs)


def _is_tensor(func, name, args, kwargs):
    return True


_HANDLERS = {
    "linear": _linear,
    "matmul": _matmul, "bmm": _matmul, "__matmul__": _matmul, "mm": _matmul,
    "softmax": _softmax, "log_softmax": _softmax,
    "layer_norm": _layer_norm,
    "scaled_dot_product_attention": _sdpa,
    "multi_head_attention_forward": _multi_head_attention,
    "sum": _reduce, "mean": _reduce, "nansum": _reduce, "amax": _reduce, "amin": _reduce,
    "transpose": _transpose, "swapaxes": _transpose, "swapdims": _transpose,
    "permute": _permute,
    "reshape": _reshape, "view": _reshape,
    "flatten": _flatten, "unflatten": _unflatten,
    "unsqueeze": _unsqueeze, "squeeze": _squeeze, "select": _select, "narrow": _select,
    "cat": _cat, "concat": _cat, "concatenate": _cat,
    "embedding": _embedding, "rms_norm": _layer_norm,
    "max": _reduce, "min": _reduce, "argmax": _reduce, "argmin": _reduce, "any": _reduce,
    "all": _reduce, "prod": _reduce, "logsumexp": _reduce,
    "chunk": _split, "split": _split, "tensor_split": _split,
    "unbind": _method, "clone": _method, "detach": _method, "numel": _method,
    "contiguous": _method, "is_floating_point": _method, "is_complex": _method,
    "is_tensor": _is_tensor,
}
