"""``torch._foreach_*``: one op over lists of tensors (PyTorch's multi-tensor API, which
optimizers and clipping utilities outside PyTorch call directly).

Each function maps the per-tensor op over the lists, so values, dtype promotion, errors and
autograd are that op's. The out-of-place forms return a tuple of new tensors; the in-place
forms (trailing ``_``) update ``self``'s tensors and return the list. The second operand may be
one scalar, one scalar per tensor, one tensor per tensor, or (``add``/``sub``/``mul``/``div``)
a single tensor for all, as PyTorch's overloads allow.
"""
from __future__ import annotations

import numbers
from typing import Callable, Sequence

import ember
from ember._tensor import Tensor

__all__: list[str] = []  # private API, as in PyTorch: reached as ``ember._foreach_*``


def _check(name: str, tensors: Sequence[Tensor], *others) -> None:
    if len(tensors) == 0:
        raise RuntimeError(f"{name}: Tensor list must have at least one tensor.")
    for other in others:
        if len(other) == len(tensors):
            continue
        if other and isinstance(other[0], numbers.Number):
            raise RuntimeError(f"{name}: Tensor list must have same number of elements as "
                               f"scalar list, got {len(tensors)} and {len(other)}.")
        raise RuntimeError(f"{name}: Tensor lists must have the same number of tensors, got "
                           f"{len(tensors)} and {len(other)}")


def _spread(name: str, tensors: Sequence[Tensor], other) -> Sequence:
    """The second operand, one entry per tensor of ``tensors``."""
    if isinstance(other, (list, tuple)):
        _check(name, tensors, other)
        return other
    _check(name, tensors)
    return [other] * len(tensors)


def _scalars(name: str, tensors: Sequence[Tensor], values) -> Sequence:
    """``addcmul``/``addcdiv``'s value: a scalar, a list of scalars, or a 1-D tensor of them."""
    if isinstance(values, Tensor):
        values = values.tolist()
    return _spread(name, tensors, values)


def _unary(op: Callable, method: str) -> tuple[Callable, Callable]:
    def out_of_place(self: Sequence[Tensor]) -> tuple:
        _check(f"_foreach_{method}", self)
        return tuple(op(t) for t in self)

    def in_place(self: Sequence[Tensor]) -> Sequence[Tensor]:
        _check(f"_foreach_{method}_", self)
        for t in self:
            getattr(t, method + "_")()
        return self
    return out_of_place, in_place


_foreach_abs, _foreach_abs_ = _unary(ember.abs, "abs")
_foreach_acos, _foreach_acos_ = _unary(ember.acos, "acos")
_foreach_asin, _foreach_asin_ = _unary(ember.asin, "asin")
_foreach_atan, _foreach_atan_ = _unary(ember.atan, "atan")
_foreach_ceil, _foreach_ceil_ = _unary(ember.ceil, "ceil")
_foreach_cos, _foreach_cos_ = _unary(ember.cos, "cos")
_foreach_cosh, _foreach_cosh_ = _unary(ember.cosh, "cosh")
_foreach_erf, _foreach_erf_ = _unary(ember.erf, "erf")
_foreach_erfc, _foreach_erfc_ = _unary(ember.erfc, "erfc")
_foreach_exp, _foreach_exp_ = _unary(ember.exp, "exp")
_foreach_expm1, _foreach_expm1_ = _unary(ember.expm1, "expm1")
_foreach_floor, _foreach_floor_ = _unary(ember.floor, "floor")
_foreach_frac, _foreach_frac_ = _unary(ember.frac, "frac")
_foreach_lgamma, _foreach_lgamma_ = _unary(ember.lgamma, "lgamma")
_foreach_log, _foreach_log_ = _unary(ember.log, "log")
_foreach_log10, _foreach_log10_ = _unary(ember.log10, "log10")
_foreach_log1p, _foreach_log1p_ = _unary(ember.log1p, "log1p")
_foreach_log2, _foreach_log2_ = _unary(ember.log2, "log2")
_foreach_neg, _foreach_neg_ = _unary(ember.neg, "neg")
_foreach_reciprocal, _foreach_reciprocal_ = _unary(ember.reciprocal, "reciprocal")
_foreach_round, _foreach_round_ = _unary(ember.round, "round")
_foreach_rsqrt, _foreach_rsqrt_ = _unary(ember.rsqrt, "rsqrt")
_foreach_sigmoid, _foreach_sigmoid_ = _unary(ember.sigmoid, "sigmoid")
_foreach_sign, _foreach_sign_ = _unary(ember.sign, "sign")
_foreach_sin, _foreach_sin_ = _unary(ember.sin, "sin")
_foreach_sinh, _foreach_sinh_ = _unary(ember.sinh, "sinh")
_foreach_sqrt, _foreach_sqrt_ = _unary(ember.sqrt, "sqrt")
_foreach_tan, _foreach_tan_ = _unary(ember.tan, "tan")
_foreach_tanh, _foreach_tanh_ = _unary(ember.tanh, "tanh")
_foreach_trunc, _foreach_trunc_ = _unary(ember.trunc, "trunc")


def _binary(op: Callable, method: str, with_alpha: bool = False) -> tuple[Callable, Callable]:
    """``op(t, other)`` per tensor; ``alpha`` (add and sub) scales a tensor operand."""
    def scaled(alpha):
        if alpha != 1 and not with_alpha:
            raise TypeError(f"_foreach_{method}() got an unexpected keyword argument 'alpha'")
        return {"alpha": alpha} if alpha != 1 else {}

    def out_of_place(self: Sequence[Tensor], other, *, alpha=1) -> tuple:
        extra = scaled(alpha)
        return tuple(op(t, o, **extra) for t, o in zip(self, _spread(f"_foreach_{method}", self,
                                                                        other)))

    def in_place(self: Sequence[Tensor], other, *, alpha=1) -> Sequence[Tensor]:
        extra = scaled(alpha)
        for t, o in zip(self, _spread(f"_foreach_{method}_", self, other)):
            getattr(t, method + "_")(o, **extra)
        return self
    return out_of_place, in_place


_foreach_add, _foreach_add_ = _binary(ember.add, "add", with_alpha=True)
_foreach_sub, _foreach_sub_ = _binary(ember.sub, "sub", with_alpha=True)
_foreach_mul, _foreach_mul_ = _binary(ember.mul, "mul")
_foreach_div, _foreach_div_ = _binary(ember.div, "div")
# With a scalar bound, clamp_min and maximum are one op (NaN propagates through both).
_foreach_clamp_min, _foreach_clamp_min_ = _binary(ember.clamp_min, "clamp_min")
_foreach_clamp_max, _foreach_clamp_max_ = _binary(ember.clamp_max, "clamp_max")
_foreach_maximum, _foreach_maximum_ = _binary(ember.clamp_min, "clamp_min")
_foreach_minimum, _foreach_minimum_ = _binary(ember.clamp_max, "clamp_max")
_pow_tensors, _foreach_pow_ = _binary(ember.pow, "pow")


def _foreach_pow(self, exponent) -> tuple:
    """``self ** exponent`` per tensor; ``self`` may also be one scalar raised to each tensor
    of ``exponent``."""
    if isinstance(self, numbers.Number):
        _check("_foreach_pow", exponent)
        return tuple(ember.pow(self, e) for e in exponent)
    return _pow_tensors(self, exponent)


def _pointwise(op: Callable, method: str) -> tuple[Callable, Callable]:
    """``op(t, t1, t2, value=v)`` per tensor (addcmul, addcdiv)."""
    def out_of_place(self, tensor1, tensor2, value=1, *, scalars=None) -> tuple:
        name = f"_foreach_{method}"
        value = value if scalars is None else scalars
        _check(name, self, tensor1, tensor2)
        return tuple(op(t, a, b, value=v) for t, a, b, v in
                     zip(self, tensor1, tensor2, _scalars(name, self, value)))

    def in_place(self, tensor1, tensor2, value=1, *, scalars=None) -> Sequence[Tensor]:
        name = f"_foreach_{method}_"
        value = value if scalars is None else scalars
        _check(name, self, tensor1, tensor2)
        for t, a, b, v in zip(self, tensor1, tensor2, _scalars(name, self, value)):
            getattr(t, method + "_")(a, b, value=v)
        return self
    return out_of_place, in_place


_foreach_addcmul, _foreach_addcmul_ = _pointwise(ember.addcmul, "addcmul")
_foreach_addcdiv, _foreach_addcdiv_ = _pointwise(ember.addcdiv, "addcdiv")


def _foreach_lerp(self, tensors1, weight) -> tuple:
    """``self + weight * (tensors1 - self)`` per tensor."""
    _check("_foreach_lerp", self, tensors1)
    return tuple(ember.lerp(t, e, w) for t, e, w in
                 zip(self, tensors1, _spread("_foreach_lerp", self, weight)))


def _foreach_lerp_(self, tensors1, weight) -> Sequence[Tensor]:
    _check("_foreach_lerp_", self, tensors1)
    for t, e, w in zip(self, tensors1, _spread("_foreach_lerp_", self, weight)):
        t.lerp_(e, w)
    return self


def _foreach_max(self) -> tuple:
    """The largest value of each tensor (0-d tensors)."""
    _check("_foreach_max", self)
    for t in self:
        if t.numel() == 0:
            raise RuntimeError("_foreach_max cannot compute the maximum of an empty tensor; max "
                               "over zero elements is undefined.")
    return tuple(t.max() for t in self)


def _foreach_norm(self, ord=2, dtype=None) -> tuple:
    """``linalg.vector_norm`` of each tensor."""
    _check("_foreach_norm", self)
    return tuple(ember.linalg.vector_norm(t, ord, dtype=dtype) for t in self)


def _foreach_powsum(self, ord=2, dtype=None) -> tuple:
    """``sum(|t| ** ord)`` of each tensor: the norm before its root."""
    _check("_foreach_powsum", self)
    return tuple((t.abs() if dtype is None else t.abs().to(dtype)).pow(ord).sum() for t in self)


def _foreach_mm(self, mat2) -> tuple:
    _check("_foreach_mm", self, mat2)
    return tuple(ember.mm(a, b) for a, b in zip(self, mat2))


def _foreach_clone(self, *, memory_format=None) -> tuple:
    _check("_foreach_clone", self)
    return tuple(t.clone(memory_format=memory_format) for t in self)


def _foreach_zero_(self) -> Sequence[Tensor]:
    _check("_foreach_zero_", self)
    for t in self:
        t.zero_()
    return self


def _foreach_copy_(self, src, non_blocking: bool = False) -> Sequence[Tensor]:
    _check("_foreach_copy_", self, src)
    for t, s in zip(self, src):
        t.copy_(s, non_blocking=non_blocking)
    return self
