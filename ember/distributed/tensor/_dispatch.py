"""The ops a DTensor runs (``DTensor.__torch_function__``): each public function or method is
looked up by its short PyTorch name in ``_RULES``; a rule lays out the DTensor operands, runs the
op on the local tensors and wraps the result with the placements PyTorch's sharding propagation
gives it. Autograd follows NOTE [ DTensor autograd ] (``_api.py``). This file holds the rules
below; matrix products, views and nn ops have theirs in ``_matrix_ops.py``, ``_view_ops.py``
and ``_nn_ops.py`` (on the strategy machinery of ``_sharding.py``), merged in at the end.

Rules:
* metadata (shape, dtype, size, ...) is answered by the global meta tensor;
* pointwise ops (and their in-place forms, hence ``_foreach_*``, which apply them per tensor)
  take the layout of the DTensor operand sharded on most mesh dimensions (``self`` for an
  in-place op); other DTensor operands are redistributed to it, or, when they broadcast along
  a sharded dimension, used whole with their gradient summed (``SumGrad``). Plain tensors may
  join only as 0-d scalars, as in PyTorch. A Partial layout survives ops that are linear in it
  (negation, scaling by a number, sums of partials, detach, dtype casts); other ops (clone
  included, as in PyTorch) reduce it first;
* reductions (sum, mean, norms, amax, amin, max/min of all elements) over a sharded dimension
  give ``Partial`` as PyTorch's: ``sum``, ``avg`` (a mean: local sums scaled so that uneven
  shards average right), ``max``/``min`` (and infinite-order norms), ``_NormPartial`` for
  other norms. A partial input survives sums, means and extrema of its kind; norms reduce it.
"""
from __future__ import annotations

import copy
import inspect
import numbers

from ember import overrides
from ember._tensor import Tensor
from ember.distributed.tensor._api import DTensor, _dtensor
from ember.distributed.tensor._redistribute import SumGrad, _NormPartial, _with_dim, grad_layout
from ember.distributed.tensor._utils import is_sharding
from ember.distributed.tensor.placement_types import Partial, Replicate
from ember.overrides import DisableTorchFunctionSubclass, resolve_name

# Attributes that read only metadata, answered by the global meta tensor
_METADATA = frozenset({"shape", "dtype", "size", "dim", "ndim", "ndimension", "numel",
                       "nelement", "nbytes", "itemsize", "element_size", "layout", "is_leaf",
                       "is_floating_point", "is_complex", "__len__", "__hash__", "stride",
                       "is_contiguous", "retains_grad"})
# Attributes of the local tensor's storage
_LOCAL = frozenset({"is_meta", "is_cuda", "is_cpu", "get_device", "is_sparse", "is_quantized",
                    "data_ptr"})
# Conversions to Python values, made from the full value
_TO_PYTHON = frozenset({"item", "tolist", "__float__", "__int__", "__bool__", "__index__"})

_UNARY = ("abs absolute acos arccos acosh arccosh asin arcsin asinh arcsinh atan arctan atanh "
          "arctanh ceil cos cosh deg2rad rad2deg digamma erf erfc erfinv exp exp2 expm1 floor "
          "frac lgamma log log10 log1p log2 logit isnan isinf isfinite isposinf isneginf "
          "nan_to_num neg negative positive reciprocal relu relu6 round rsqrt sigmoid sign sgn "
          "signbit sin sinc sinh sqrt square tan tanh trunc fix gelu silu mish softplus elu "
          "selu celu leaky_relu hardtanh hardsigmoid hardswish logical_not bitwise_not clamp clip "
          "clamp_min clamp_max float double half bfloat16 bool int long to contiguous clone "
          "detach real imag conj angle threshold fill zero dropout cpu cuda type").split()
_BINARY = ("add sub subtract mul multiply div divide true_divide floor_divide remainder fmod "
           "pow float_power atan2 arctan2 maximum minimum fmax fmin eq ne lt le gt ge greater "
           "greater_equal less less_equal not_equal logical_and logical_or logical_xor "
           "bitwise_and bitwise_or bitwise_xor hypot xlogy copysign rsub addcmul addcdiv lerp "
           "where masked_fill isclose").split()
_DUNDERS = ("__rsub__ __rtruediv__ __rdiv__ __pow__ __rpow__ __floordiv__ __rfloordiv__ "
            "__eq__ __and__ __or__ __xor__ __rand__ __ror__ __rxor__ __invert__ __rmod__ "
            "__lshift__ __rshift__").split()
# Ops that keep values: any Partial layout survives them (clone does not, as in PyTorch)
_COPIES = frozenset("contiguous detach to float double half bfloat16 zero".split())
# Ops linear in their DTensor operands (with the conditions of _linear): sum and average
# partials survive them
_LINEAR = frozenset("neg negative positive real imag conj mul multiply div divide true_divide "
                    "add sub subtract".split())


def dispatch(func, args: tuple, kwargs: dict):
    """Run ``func`` (an ember function or Tensor method) on DTensor arguments."""
    name = resolve_name(func) or getattr(func, "__name__", repr(func))
    parts = name.split(".")
    short = parts[-2] if parts[-1] == "__get__" else parts[-1]
    if short in _METADATA:
        with DisableTorchFunctionSubclass():
            return func(*args, **kwargs)
    if name.startswith("torch.nn.init."):
        # a composition of Tensor methods: its body runs on the DTensor, whose fills dispatch
        return overrides._wrapped.get(func, func)(*args, **kwargs)
    rule = _RULES.get(short)
    if rule is None:
        raise NotImplementedError(
            f"{name} on a DTensor: ember has no sharding rule for this op (see NOTE [ ember's "
            "DTensor ]); call to_local() or full_tensor() and run it on a plain tensor")
    return rule(func, name, short, args, kwargs)


def _mixed(name: str) -> RuntimeError:
    return RuntimeError(f"{name}: got mixed torch.Tensor and DTensor, need to convert all "
                        "torch.Tensor to DTensor before calling distributed operators!")


def _same_mesh(name: str, dtensors: list):
    mesh = dtensors[0].device_mesh
    for dt in dtensors[1:]:
        if dt.device_mesh != mesh:
            raise RuntimeError(f"{name}: DTensor does not support cross-mesh operation yet! "
                               f"Got meshes: {mesh} {dt.device_mesh}")
    return mesh


def _broadcast_shape(shapes: list) -> tuple:
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for shape in shapes:
        for i, n in enumerate(shape, ndim - len(shape)):
            if n != 1:
                out[i] = n
    return tuple(out)


def _count_shards(dt: DTensor) -> int:
    return sum(is_sharding(p) for p in dt.placements)


# ------------------------------------------------------------------------------------------------
# Pointwise

def _linear(short: str, dtensors: list, others: list) -> bool:
    """Whether the op is linear in its DTensor operands, so sum/avg partials may stay."""
    base = short.rstrip("_")
    if base in _COPIES:
        return True
    if base not in _LINEAR:
        return False
    if base in ("add", "sub", "subtract"):  # partial + partial, laid out alike
        return len(dtensors) == 2 and not others and \
            dtensors[0].placements == dtensors[1].placements
    if base in ("mul", "multiply", "div", "divide", "true_divide"):  # scaled by a number
        return len(dtensors) == 1 and all(isinstance(o, numbers.Number) for o in others)
    return len(dtensors) == 1 and not others


def _pointwise(func, name: str, short: str, args: tuple, kwargs: dict):
    in_place = short.endswith("_") and not short.endswith("__")
    operands = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
    numbers_ = [a for a in (*args[1:], *kwargs.values()) if isinstance(a, numbers.Number)]
    dtensors = [a for a in operands if isinstance(a, DTensor)]
    for a in operands:
        if not isinstance(a, DTensor) and a.dim() > 0:
            raise _mixed(name)
    if in_place and not isinstance(args[0], DTensor):
        raise _mixed(name)
    mesh = _same_mesh(name, dtensors)
    out_shape = _broadcast_shape([tuple(a.shape) for a in operands])
    lead = args[0] if in_place else max(dtensors, key=_count_shards)
    shift = len(out_shape) - lead.dim()
    target = [_with_dim(p, p.dim + shift) if is_sharding(p) else p for p in lead.placements]
    if any(p.is_partial() for p in target):
        others = [o for o in operands if not isinstance(o, DTensor)] + numbers_
        keeps = _linear(short, dtensors, others)
        if keeps and short.rstrip("_") not in _COPIES:
            keeps = all(p.reduce_op in ("sum", "avg") and not isinstance(p, _NormPartial)
                        for p in target if p.is_partial())
        if not keeps:
            if in_place:
                raise RuntimeError(f"{name}: in-place op on a DTensor with Partial placements "
                                   f"{lead.placements} would need to reduce it first")
            target = list(grad_layout(tuple(target)))
    locals_ = {id(dt): _operand_local(dt, mesh, target, out_shape) for dt in dtensors}

    def local(a):
        return locals_[id(a)] if isinstance(a, DTensor) else a
    out = func(*[local(a) for a in args], **{k: local(v) for k, v in kwargs.items()})
    if in_place:
        return args[0]
    return _wrap(out, mesh, tuple(target), out_shape)


def _operand_local(dt: DTensor, mesh, target: list, out_shape: tuple) -> Tensor:
    """``dt``'s local tensor laid out for a result laid out by ``target``."""
    shift = len(out_shape) - dt.dim()
    want, sum_over = [], []
    for i, p in enumerate(target):
        if is_sharding(p):
            dim = p.dim - shift
            if dim < 0 or (dt.shape[dim] == 1 and out_shape[p.dim] != 1):
                want.append(Replicate())  # broadcast along the sharded dimension
                sum_over.append(i)
            else:
                want.append(_with_dim(p, dim))
        else:  # a partial result only comes of operands partial alike (_linear)
            want.append(p)
    local = dt._local_tensor if tuple(want) == dt.placements else \
        dt.redistribute(mesh, want)._local_tensor
    if sum_over and local.requires_grad:
        local = SumGrad.apply(local, mesh, tuple(sum_over))
    return local


def _wrap(out, mesh, placements: tuple, shape):
    if isinstance(out, Tensor):
        return _dtensor(out, mesh, placements, shape)
    if isinstance(out, tuple):
        return tuple(_wrap(o, mesh, placements, shape) for o in out)
    return out


def _max_min(func, name: str, short: str, args: tuple, kwargs: dict):
    """``max``/``min``: of two tensors pointwise, of all elements a reduction."""
    other = args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("dim"))
    if isinstance(other, Tensor):
        return _pointwise(func, name, short, args, kwargs)
    if other is not None:
        raise NotImplementedError(f"{name} over a dimension on a DTensor: ember has no "
                                  "sharding rule for it; use amax/amin")
    return _reduction(func, name, short, args, kwargs)


# ------------------------------------------------------------------------------------------------
# Reductions

def _reduction(func, name: str, short: str, args: tuple, kwargs: dict):
    bound = inspect.signature(func).bind(*args, **kwargs)
    values = bound.arguments
    first = next(iter(values))
    dt = values[first]
    mesh = dt.device_mesh
    dim = values.get("dim")
    keepdim = bool(values.get("keepdim", False))
    ndim = dt.dim()
    if dim is None or dim == () or dim == []:
        dims = set(range(ndim))
    else:
        dims = {d % max(ndim, 1) for d in ((dim,) if isinstance(dim, int) else dim)}
    kind = _partial_kind(short, values)
    placements = list(dt.placements)
    # a partial input survives sums, means and extrema of its own kind; norms reduce it
    kept = all(not p.is_partial() for p in placements) or (
        not isinstance(kind, _NormPartial) and any(p == kind for p in placements))
    if not kept or (kind is not None and any(p.is_partial() and p != kind
                                             for p in placements)):
        placements = list(grad_layout(dt.placements))
        dt = dt.redistribute(mesh, placements)
    local = dt._local_tensor
    out_placements = []
    for p in placements:
        if is_sharding(p) and p.dim in dims:
            out_placements.append(kind)
        elif is_sharding(p):
            out_placements.append(_with_dim(p, p.dim if keepdim else
                                            p.dim - sum(d < p.dim for d in dims)))
        else:
            out_placements.append(p)
    if kind is None and any(is_sharding(p) and p.dim in dims for p in placements):
        raise NotImplementedError(f"{name} over a sharded dimension of a DTensor: ember has no "
                                  "sharding rule for it")
    averaged = [i for i, p in enumerate(placements) if is_sharding(p) and p.dim in dims]
    if short == "mean" and averaged:
        # Partial("avg") as PyTorch's, of local sums scaled so that their average is the
        # global mean however uneven the shards
        count = 1
        for d in dims:
            count *= dt.shape[d]
        for i in averaged:
            count /= mesh.size(i)
        out = local.sum(tuple(sorted(dims)), keepdim, dtype=values.get("dtype")) / count
    else:
        values[first] = local
        out = func(*bound.args, **bound.kwargs)
    shape = [1 if d in dims else n for d, n in enumerate(dt.shape) if keepdim or d not in dims]
    return _dtensor(out, mesh, tuple(out_placements), shape)


def _partial_kind(short: str, values: dict):
    """The Partial that a reduction over a sharded dimension leaves (None: no rule)."""
    if short in ("sum", "nansum"):
        return Partial("sum")
    if short == "mean":
        return Partial("avg")
    if short in ("amax", "max"):
        return Partial("max")
    if short in ("amin", "min"):
        return Partial("min")
    p = values.get("ord", values.get("p", 2))
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        return None
    if p in (float("inf"), float("-inf")):
        return Partial("max" if p > 0 else "min")
    return Partial("sum") if p == 0 else _NormPartial(p)


# ------------------------------------------------------------------------------------------------
# Joining, factories, copies, autograd and conversions

def _stack_cat(func, name: str, short: str, args: tuple, kwargs: dict):
    tensors = list(args[0] if args else kwargs["tensors"])
    dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    if not all(isinstance(t, DTensor) for t in tensors):
        raise _mixed(name)
    mesh = _same_mesh(name, tensors)
    placements = tensors[0].placements
    if any(t.placements != placements for t in tensors):
        tensors = [t.redistribute(mesh, grad_layout(placements)) for t in tensors]
        placements = grad_layout(placements)
    ndim = tensors[0].dim() + (short == "stack")
    dim %= max(ndim, 1)
    if short == "cat" and any(is_sharding(p) and p.dim == dim for p in placements):
        tensors = [t.redistribute(mesh, [Replicate() if is_sharding(p) and p.dim == dim else p
                                         for p in placements]) for t in tensors]
        placements = tensors[0].placements
    if short == "stack":
        placements = tuple(_with_dim(p, p.dim + 1) if is_sharding(p) and p.dim >= dim else p
                           for p in placements)
    out = func([t._local_tensor for t in tensors], dim)
    shape = list(tensors[0].shape)
    if short == "stack":
        shape.insert(dim, len(tensors))
    else:
        shape[dim] = sum(t.shape[dim] for t in tensors)
    return _dtensor(out, mesh, placements, shape)


def _like(func, name: str, short: str, args: tuple, kwargs: dict):
    """``*_like``: a tensor of the same layout (a partial one's made whole)."""
    dt = args[0] if args else kwargs.pop("input")
    out = func(dt._local_tensor, *args[1:], **kwargs)
    return _dtensor(out, dt.device_mesh, grad_layout(dt.placements), dt.shape)


def _copy_(func, name: str, short: str, args: tuple, kwargs: dict):
    self, src = args[0], (args[1] if len(args) > 1 else kwargs.pop("src"))
    if not isinstance(self, DTensor) or not isinstance(src, DTensor) and src.dim() > 0:
        raise _mixed(name)
    if isinstance(src, DTensor):
        src = src._local_tensor if src.placements == self.placements else \
            src.redistribute(self.device_mesh, self.placements)._local_tensor
    func(self._local_tensor, src, *args[2:], **kwargs)
    return self


def _fill_local(func, name: str, short: str, args: tuple, kwargs: dict):
    """``normal_``/``uniform_``: each rank fills its local tensor from its own generator, as
    PyTorch's DTensor does on a mesh without DTensor random support (CPU)."""
    dt = args[0]
    if any(p.is_partial() for p in dt.placements):
        raise NotImplementedError(f"{name} on a DTensor with a Partial placement")
    func(dt._local_tensor, *args[1:], **kwargs)
    return dt


def _requires_grad_(func, name, short, args, kwargs):
    args[0]._local_tensor.requires_grad_(*args[1:], **kwargs)
    return args[0]


def _detach_(func, name, short, args, kwargs):
    args[0]._local_tensor.detach_()
    return args[0]


def _backward(func, name, short, args, kwargs):
    self = args[0]
    values = inspect.signature(func).bind(*args, **kwargs).arguments
    gradient = values.pop("gradient", None)
    if isinstance(gradient, DTensor):
        layout = grad_layout(self.placements)
        gradient = gradient.redistribute(self.device_mesh, layout)._local_tensor
    elif gradient is not None:
        raise _mixed(name)
    values.pop("self")
    self._local_tensor.backward(gradient, **values)


def _register_hook(func, name, short, args, kwargs):
    self, hook = args[0], (args[1] if len(args) > 1 else kwargs["hook"])
    mesh, layout, shape = self.device_mesh, grad_layout(self.placements), self.shape

    def on_local(grad):
        out = hook(_dtensor(grad, mesh, layout, shape))
        return out._local_tensor if isinstance(out, DTensor) else out
    return self._local_tensor.register_hook(on_local)


def _deepcopy(func, name, short, args, kwargs):
    """A DTensor (of the same class: a parameter stays one) over a deep copy of the local
    tensor, on the same mesh."""
    dt, memo = args[0], (args[1] if len(args) > 1 else {})
    out = _dtensor(copy.deepcopy(dt._local_tensor, memo), dt.device_mesh, dt.placements,
                   dt.shape)
    out.__class__ = type(dt)
    memo[id(dt)] = out
    return out


def _on_local(func, name, short, args, kwargs):
    return func(args[0]._local_tensor, *args[1:], **kwargs)


def _format(func, name, short, args, kwargs):
    """``format(dt, spec)``: a 0-d DTensor formats its value, others their repr."""
    dt, spec = args[0], (args[1] if len(args) > 1 else "")
    return format(dt.item() if dt.dim() == 0 else repr(dt), spec)


def _to_python(func, name, short, args, kwargs):
    return func(args[0].full_tensor(), *args[1:], **kwargs)


_RULES: dict = {}
for _name in _UNARY + _BINARY:
    _RULES[_name] = _RULES[_name + "_"] = _pointwise
for _name in _DUNDERS:
    _RULES[_name] = _pointwise
for _name in ("max", "min"):
    _RULES[_name] = _max_min
for _name in ("sum", "nansum", "mean", "norm", "vector_norm", "amax", "amin"):
    _RULES[_name] = _reduction
for _name in ("zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like"):
    _RULES[_name] = _like
_RULES.update({name: _on_local for name in _LOCAL})
_RULES.update({name: _to_python for name in _TO_PYTHON})
_RULES.update(stack=_stack_cat, cat=_stack_cat, concat=_stack_cat, copy_=_copy_,
              requires_grad_=_requires_grad_, detach_=_detach_, backward=_backward,
              register_hook=_register_hook, __deepcopy__=_deepcopy, normal_=_fill_local,
              uniform_=_fill_local,
              __format__=_format)
del _name

# the rules of matrix products, views and nn ops live beside the machinery they share
from ember.distributed.tensor import _matrix_ops, _nn_ops, _view_ops  # noqa: E402

for _rules in (_matrix_ops.RULES, _view_ops.RULES, _nn_ops.RULES):
    _RULES.update(_rules)
del _rules
