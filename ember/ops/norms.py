"""Norms and distances: ``vector_norm`` and the pairwise p-norm distances of ``cdist``."""
from __future__ import annotations

import math

from ember._tensor import Tensor
from ember.dtypes import promote_types
from ember.ops._util import is_number, scalar_name, write_result
from ember.ops.reduce import check_empty_norm


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None,
                out=None) -> Tensor:
    """The ``ord``-norm of ``x`` over ``dim`` (all elements by default), computed in ``dtype``
    when given; ``ord`` < 0 or inf over an empty dim raises, as PyTorch's."""
    if not is_number(ord):
        raise TypeError("linalg_vector_norm(): argument 'ord' (position 2) must be Number, not "
                        f"{type(ord).__name__}")
    if dtype is not None or not (x.is_floating_point() or x.is_complex()):
        check_norm_dtypes(x, dtype, "linalg.vector_norm")
    if not x._data.size and (ord < 0 or ord == math.inf):
        check_empty_norm(x.shape, ord, dim)
    result = x.norm(ord, dim, keepdim, dtype=dtype)
    return result if out is None else write_result(out, result)


def check_norm_dtypes(x: Tensor, dtype, name: str) -> None:
    """PyTorch's checks of a norm's input dtype and of its ``dtype`` argument."""
    if not (x.is_floating_point() or x.is_complex()):
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{scalar_name(x.dtype)}")
    if dtype is None:
        return
    if not (dtype.is_floating_point or dtype.is_complex):
        raise RuntimeError(f"{name}: dtype should be floating point or complex, but got "
                           f"{scalar_name(dtype)}")
    if x.is_complex() != dtype.is_complex:
        kind = "complex" if x.is_complex() else "real"
        raise RuntimeError(f"{name}: dtype should be {kind} for {kind} inputs, but got "
                           f"{scalar_name(dtype)}")
    if promote_types(x.dtype, dtype) != dtype:
        raise RuntimeError(f"{name}: the dtype of the input ({scalar_name(x.dtype)}) should be "
                           f"convertible without narrowing to the specified dtype "
                           f"({scalar_name(dtype)})")


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M):
    (..., P, R), batch dims broadcast. Euclidean distances (p = 2) come from one matrix
    product, ``||a||^2 + ||b||^2 - 2 a.b``, where ``compute_mode`` asks for it or, by default,
    where either side has more than 25 rows, as in PyTorch: (P, R) memory instead of
    (P, R, M), less accurate for near points."""
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    for name, x in (("X1", x1), ("X2", x2)):
        if not x.is_floating_point():
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{scalar_name(x.dtype)}")
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: "
                               f"{x.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if p == 2 and (compute_mode == "use_mm_for_euclid_dist" or compute_mode == _CDIST_MODES[0]
                   and (x1.shape[-2] > 25 or x2.shape[-2] > 25)):
        return _euclidean_by_product(x1, x2)
    return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).norm(p, dim=-1)


def _euclidean_by_product(x1: Tensor, x2: Tensor) -> Tensor:
    """Euclidean distances from one product of the rows padded with their squared norms and
    ones. Squares that round below zero become 0; while autograd records, 1e-30 instead (as
    PyTorch's differentiable path does), so that sqrt's gradient stays finite."""
    from ember.autograd.grad_mode import is_grad_enabled
    from ember.ops.movement import cat
    n1 = x1.pow(2).sum(-1, keepdim=True)
    n2 = x2.pow(2).sum(-1, keepdim=True)
    a = cat([x1 * -2, n1, n1.new_ones(n1.shape)], -1)
    b = cat([x2, n2.new_ones(n2.shape), n2], -1)
    squares = a.matmul(b.transpose(-1, -2))
    recording = is_grad_enabled() and (x1.requires_grad or x2.requires_grad)
    return squares.clamp_min(1e-30 if recording else 0).sqrt()
