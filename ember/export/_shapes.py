"""Symbolic output shapes of the ops recorded while exporting (see NOTE [ Sizes while
exporting ] in ``_symbolic.py``): exact rules for the common op families, checked against the
real output's shape; a dim no rule explains is opaque (read at run time, never baked in)."""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from ember.export._symbolic import Expr, _SymValue, as_expr, combine

Shape = tuple  # of int | Expr

_BROADCAST = set("""add sub mul div rsub rdiv true_divide floor_divide remainder fmod pow rpow
    eq ne lt le gt ge maximum minimum fmax fmin atan2 hypot logaddexp logaddexp2 copysign
    bitwise_and bitwise_or bitwise_xor logical_and logical_or logical_xor where lerp addcmul
    addcdiv clamp clip masked_fill xlogy nextafter heaviside rremainder rfloordiv
    add_ sub_ mul_ div_ pow_ clamp_ masked_fill_ where_""".split())
_FIRST = set("""relu relu_ relu6 gelu silu sigmoid tanh hardtanh hardtanh_ leaky_relu
    leaky_relu_ elu elu_ selu celu softplus softsign mish hardswish hardsigmoid
    logsigmoid tanhshrink softshrink hardshrink threshold prelu rrelu glu_ exp exp_ log
    log_ log2 log10 log1p expm1 sqrt rsqrt abs abs_ neg neg_ sin cos tan asin acos atan sinh
    cosh asinh acosh atanh erf erfc erfinv floor ceil round trunc frac sign sgn reciprocal
    square positive bitwise_not logical_not isnan isinf isfinite nan_to_num sigmoid_ tanh_
    softmax log_softmax softmin dropout dropout_ alpha_dropout feature_alpha_dropout
    dropout1d dropout2d dropout3d layer_norm batch_norm group_norm instance_norm rms_norm
    local_response_norm normalize clone contiguous to type type_as float double half
    bfloat16 int long short bool byte char detach detach_ alias cumsum cumprod flip roll
    triu tril zeros_like ones_like empty_like full_like rand_like randn_like fill_ zero_
    copy_ clamp_min clamp_max requires_grad_ cpu cuda data T_ fliplr flipud
    uniform_ normal_ bernoulli bernoulli_ exponential_ sort argsort""".split())
_REDUCE = set("""sum mean amax amin prod std var norm logsumexp argmax argmin max min all
    any nansum nanmean median mode""".split())
_CONV_POOL = set("""conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d
    max_pool1d max_pool2d max_pool3d avg_pool1d avg_pool2d avg_pool3d lp_pool1d lp_pool2d
    adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool1d
    adaptive_max_pool2d adaptive_max_pool3d interpolate upsample pixel_shuffle
    pixel_unshuffle""".split())
_ADAPTIVE = {"adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
             "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"}
_FACTORIES = {"zeros", "ones", "empty", "rand", "randn", "new_zeros", "new_ones",
              "new_empty", "full", "new_full", "randint"}
DATA_DEPENDENT = {"nonzero", "masked_select", "unique", "unique_consecutive", "argwhere",
                  "bincount", "repeat_interleave"}


def _broadcast(shapes: list[Shape]) -> Shape:
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        picked: Any = 1
        for s in shapes:
            d = s[i - ndim + len(s)] if i - ndim + len(s) >= 0 else 1
            if isinstance(d, Expr) or (picked == 1 and d != 1):
                picked = d
                if isinstance(d, Expr):
                    break
        out.append(picked)
    return tuple(out)


def _dims(dim: Any, ndim: int) -> list[int]:
    dims = list(dim) if isinstance(dim, (tuple, list)) else [dim]
    return [d % ndim for d in dims] if ndim else []


def _sizes(args: tuple, start: int) -> list:
    rest = args[start:]
    if len(rest) == 1 and isinstance(rest[0], (tuple, list)):
        return list(rest[0])
    return list(rest)


def _size_entry(v: Any) -> Any:
    return v.expr if isinstance(v, _SymValue) else v


def _rule(name: str, args: tuple, kwargs: dict, ins: list[Shape],
          outs: list) -> list[Shape] | None:
    first = ins[0] if ins else ()
    if name in _BROADCAST:
        return [_broadcast(ins)] * len(outs)
    if name in _FIRST:
        return [first] * len(outs)
    if name == "linear":
        return [first[:-1] + (ins[1][0],)]
    if name in ("matmul", "mm", "bmm"):
        a, b = ins[0], ins[1]
        if len(a) == 1 and len(b) == 1:
            return [()]
        if len(b) == 1:
            return [a[:-1]]
        if len(a) == 1:
            return [b[:-2] + b[-1:]]
        return [_broadcast([a[:-2], b[:-2]]) + (a[-2], b[-1])]
    if name in ("view", "reshape", "expand", "broadcast_to", "new_zeros", "new_ones",
                "new_empty", "new_full") or name in _FACTORIES:
        start = 0 if name in _FACTORIES and not name.startswith("new_") else 1
        sizes = [_size_entry(v) for v in _sizes(args, start)]
        if name in ("full", "new_full", "randint"):
            sizes = [_size_entry(v) for v in (args[start] if name != "randint" else
                                               args[-1])]
        if name in ("expand", "broadcast_to"):
            lead = len(sizes) - len(first)
            sizes = [first[i - lead] if s == -1 else s for i, s in enumerate(sizes)]
        elif name in ("view", "reshape") and sizes.count(-1) == 1:
            rest = _divide(_monomial(first), _monomial([d for d in sizes if d != -1]))
            sizes = [rest if d == -1 and rest is not None else d for d in sizes]
        return [tuple(Expr.opaque(o) if s == -1 else s
                      for s, o in zip(sizes, outs[0].shape))]
    if name == "permute":
        dims = _sizes(args, 1)
        return [tuple(first[d % len(first)] for d in dims)]
    if name in ("transpose", "swapaxes", "swapdims"):
        d0, d1 = (d % len(first) for d in args[1:3])
        out = list(first)
        out[d0], out[d1] = out[d1], out[d0]
        return [tuple(out)]
    if name in ("t", "T", "mT"):
        return [first[:-2] + first[-2:][::-1]] if len(first) >= 2 else [first]
    if name == "unsqueeze":
        d = args[1] % (len(first) + 1)
        return [first[:d] + (1,) + first[d:]]
    if name == "squeeze" and len(args) > 1:
        dims = _dims(args[1], len(first))
        return [tuple(s for i, s in enumerate(first) if not (i in dims and s == 1))]
    if name == "flatten":
        n = len(first)
        if n == 0:
            return [(1,)]
        s = (args[1] if len(args) > 1 else kwargs.get("start_dim", 0)) % n
        e = (args[2] if len(args) > 2 else kwargs.get("end_dim", -1)) % n
        merged: Any = 1
        for d in first[s:e + 1]:
            merged = combine("mul", merged, d)
        merged = merged.args[0] if merged.op == "const" else merged
        return [first[:s] + (merged,) + first[e + 1:]]
    if name in _REDUCE:
        dim = args[1] if len(args) > 1 and not isinstance(args[1], bool) else \
            kwargs.get("dim")
        if dim is None or isinstance(dim, str):
            return None
        keep = kwargs.get("keepdim", args[2] if len(args) > 2 and isinstance(args[2], bool)
                          else False)
        dims = _dims(dim, len(first))
        shape = tuple(1 if i in dims else s for i, s in enumerate(first)) if keep else \
            tuple(s for i, s in enumerate(first) if i not in dims)
        return [shape] * len(outs)
    if name in ("cat", "concat", "concatenate", "stack"):
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        shapes = [s for s in ins if s != (0,)]
        if name == "stack":
            d = dim % (len(shapes[0]) + 1)
            return [shapes[0][:d] + (len(shapes),) + shapes[0][d:]]
        d = dim % len(shapes[0])
        total: Any = 0
        for s in shapes:
            total = combine("add", total, s[d])
        total = total.args[0] if total.op == "const" else total
        return [shapes[0][:d] + (total,) + shapes[0][d + 1:]]
    if name == "unbind":
        d = (args[1] if len(args) > 1 else kwargs.get("dim", 0)) % len(first)
        return [first[:d] + first[d + 1:]] * len(outs)
    if name == "embedding":
        return [ins[0] + (ins[1][1],)]
    if name in _CONV_POOL:
        real = outs[0].shape
        spatial = int(name[-2]) if name[-1] == "d" and name[-2].isdigit() else len(first) - 2
        batched = len(first) == spatial + 2
        out = []
        for i, (d, r) in enumerate(zip(first, real)):
            if i == 0 and batched:
                out.append(d)
            elif not isinstance(d, Expr) or (name in _ADAPTIVE and i >= len(first) - spatial):
                out.append(r)
            else:
                out.append(Expr.opaque(r))
        return [tuple(out)]
    if name == "getitem":
        return [_getitem(first, args[1], outs[0].shape)]
    return None


def _monomial(dims) -> tuple[int, Counter]:
    """A product of sizes as a constant times a multiset of symbolic factors."""
    coeff, atoms = 1, Counter()
    for d in dims:
        while isinstance(d, Expr) and d.op == "mul" and d.args[0].op == "const":
            coeff *= d.args[0].args[0]
            d = d.args[1]
        if isinstance(d, Expr) and d.op == "const":
            d = d.args[0]
        if isinstance(d, Expr):
            atoms[d] += 1
        else:
            coeff *= d
    return coeff, atoms


def _divide(total: tuple[int, Counter], part: tuple[int, Counter]) -> Any:
    """``total / part`` when it is a product again (the size ``-1`` stands for), else None."""
    (c1, a1), (c2, a2) = total, part
    if c2 == 0 or c1 % c2 or any(a1[k] < n for k, n in a2.items()):
        return None
    out: Any = c1 // c2
    for atom, n in (a1 - a2).items():
        for _ in range(n):
            out = combine("mul", out, atom)
    return out.args[0] if isinstance(out, Expr) and out.op == "const" else out


_REAL = object()  # a static dim whose size the real output gives


def _getitem(shape: Shape, index: Any, real: tuple) -> Shape:
    from ember._tensor import Tensor
    index = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, (Tensor, list)) for i in index):
        return tuple(Expr.opaque(s) for s in real)
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    out: list = []
    pos = 0
    for i in index:
        if i is None:
            out.append(1)
        elif i is Ellipsis:
            take = len(shape) - n_real
            out.extend(shape[pos:pos + take])
            pos += take
        elif isinstance(i, slice):
            d = shape[pos]
            pos += 1
            whole = i.start is None and i.stop is None and i.step is None
            if whole:
                out.append(d)
            elif not isinstance(d, Expr) and not any(
                    isinstance(v, _SymValue) for v in (i.start, i.stop, i.step)):
                out.append(_REAL)
            elif (i.step in (None, 1) and i.stop is None and isinstance(i.start, int)
                  and i.start >= 0):
                out.append(combine("add", d, -i.start))
            else:
                out.append(None)
        else:
            pos += 1
    out.extend(shape[pos:])
    return tuple(Expr.opaque(r) if o is None else r if o is _REAL else o
                 for o, r in zip(out, real))


def infer(name: str, args: tuple, kwargs: dict, outs: list, ins: list[Shape],
          symbolic: bool, hints: dict[str, int], unbacked: Callable[[], Expr]) -> list[Shape]:
    """The shapes of ``outs`` (the op's real output tensors) as ints and Exprs, given the
    symbolic shapes ``ins`` of its tensor inputs (``symbolic``: whether any input size or size
    argument is symbolic); ``unbacked`` makes the size of a data-dependent dim."""
    if name in DATA_DEPENDENT:
        return [(unbacked(),) + tuple(o.shape[1:]) for o in outs]
    if not symbolic:
        return [tuple(o.shape) for o in outs]
    try:
        shapes = _rule(name, args, kwargs, ins, outs)
    except (IndexError, TypeError, AttributeError, ValueError):
        shapes = None
    result = []
    for i, o in enumerate(outs):
        shape = shapes[i] if shapes is not None and i < len(shapes) else None
        if shape is None or not _agrees(shape, o.shape, hints):
            shape = tuple(Expr.opaque(s) for s in o.shape)
        result.append(tuple(as_expr(d) if isinstance(d, _SymValue) else d for d in shape))
    return result


def _agrees(shape: Shape, real: tuple, hints: dict[str, int]) -> bool:
    """Whether the rule's shape gives the real sizes for the example's symbol values (a wrong
    rule falls back to opaque sizes instead of baking a wrong expression in)."""
    if len(shape) != len(real):
        return False
    for d, r in zip(shape, real):
        d = as_expr(d) if isinstance(d, _SymValue) else d
        if isinstance(d, Expr):
            if d.has("opaque") or d.has("unbacked"):
                continue
            if d.evaluate(hints) != r:
                return False
        elif d != r:
            return False
    return True

