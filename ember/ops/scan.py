"""Scans (cumsum, cumprod, cummax, cummin, logcumsumexp) and their inverses, differences (diff,
gradient)."""
from __future__ import annotations

import builtins
import math

import numpy as np

from ember import dtypes as _dt
from ember import return_types
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.backend.special import cumulative
from ember.ops._util import accepts_out, refuse_complex, scalar_name, wrap_dim, write_result
from ember.ops.extrema import amax


class Cumsum(Primitive, node_name="CumsumBackward0"):
    _node_saved = {"dim": lambda ctx: ctx.dim}

    @staticmethod
    def forward(ctx, a, dim, dtype):
        ctx.dim = dim
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64
        out_dtype = a.dtype if dtype is None else np.dtype(dtype)
        if _dt.is_half(out_dtype):  # cast to the half dtype, accumulated in float32 (PyTorch)
            return cumulative(get_array_module(a), "cumsum", a.astype(out_dtype, copy=False),
                              dim, np.float32).astype(out_dtype)
        return cumulative(get_array_module(a), "cumsum", a, dim, dtype)

    @staticmethod
    def backward(ctx, grad):
        return cumsum(grad.flip(ctx.dim), ctx.dim).flip(ctx.dim)


def cumsum(input: Tensor, dim=None, *, dtype=None, axis=None, out=None) -> Tensor:
    dim = dim if axis is None else axis
    np_dtype = None if dtype is None else _dt.to_dtype(dtype).np_dtype
    if input.ndim == 0:  # on the 1-element view: the dtype rules still apply
        wrap_dim(dim, 0)
        result = Cumsum.apply(input.reshape(1), 0, np_dtype).reshape(())
        return result if out is None else write_result(out, result)
    result = Cumsum.apply(input, wrap_dim(dim, input.ndim), np_dtype)
    return result if out is None else write_result(out, result)


class Cumprod(Primitive, node_name="CumprodBackward0"):
    @staticmethod
    def forward(ctx, a, dim, dtype):
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64
        out_dtype = a.dtype if dtype is None else np.dtype(dtype)
        if _dt.is_half(out_dtype):  # as cumsum: cast to the half dtype, accumulated in float32
            out = cumulative(get_array_module(a), "cumprod", a.astype(out_dtype, copy=False),
                             dim, np.float32).astype(out_dtype)
        else:
            out = cumulative(get_array_module(a), "cumprod", a, dim, dtype)
        ctx.save_for_backward(a, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        d = ctx.dim
        if a.is_complex():  # the adjoint multiplies by conjugate derivatives
            a, out = a.conj(), out.conj()
        if not bool((a._data == 0).any()):
            # d out_j / d a_i = out_j / a_i for j >= i.
            return cumsum((grad * out).flip(d), d).flip(d) / a
        return _cumprod_grad_with_zeros(a, grad, d)


def _cumprod_grad_with_zeros(a: Tensor, grad: Tensor, d: int) -> Tensor:
    """Exact cumprod gradient when ``a`` has zeros: grad_i = sum_{j >= i} g_j prod_{k <= j,
    k != i} a_k, from an (n, n) matrix per row whose row i is ``a`` with a_i set to 1."""
    x = a.movedim(d, -1)
    g = grad.movedim(d, -1)
    n = x.shape[-1]
    xp = a._xp
    rows = x.unsqueeze(-2).expand(*x.shape[:-1], n, n).masked_fill(
        _make(xp.eye(n, dtype=bool)), 1)
    upper = _make(xp.triu(xp.ones((n, n), a._data.dtype)))  # keeps j >= i
    return (cumprod(rows, -1) * upper * g.unsqueeze(-2)).sum(-1).movedim(-1, d)


def cumprod(input: Tensor, dim=None, *, dtype=None, axis=None, out=None) -> Tensor:
    dim = dim if axis is None else axis
    np_dtype = None if dtype is None else _dt.to_dtype(dtype).np_dtype
    if input.ndim == 0:  # on the 1-element view: the dtype rules still apply
        wrap_dim(dim, 0)
        result = Cumprod.apply(input.reshape(1), 0, np_dtype).reshape(())
        return result if out is None else write_result(out, result)
    result = Cumprod.apply(input, wrap_dim(dim, input.ndim), np_dtype)
    return result if out is None else write_result(out, result)


def _cum_extreme(input: Tensor, dim: int, largest: bool, name: str):
    d = wrap_dim(dim, input.ndim)
    xp = input._xp
    refuse_complex(input._data, f"{name}(): not implemented for complex tensors")
    if input.ndim == 0:
        return getattr(return_types, name)(input.clone(), _make(xp.zeros((), np.int64)))
    a = xp.moveaxis(input._data, d, -1)
    n = a.shape[-1]
    idx = xp.zeros(a.shape, np.int64)
    best = a[..., :1].copy()
    best_idx = xp.zeros(a.shape[:-1] + (1,), np.int64)
    for i in range(n):
        cur = a[..., i:i + 1]
        better = (cur >= best) if largest else (cur <= best)
        if _dt.np_kind(a.dtype) == "f":
            better = better | xp.isnan(cur)
        best = xp.where(better, cur, best)
        best_idx = xp.where(better, i, best_idx)
        idx[..., i:i + 1] = best_idx
    indices = _make(xp.ascontiguousarray(xp.moveaxis(idx, -1, d)))
    from ember.ops.gather_scatter import gather
    return getattr(return_types, name)(gather(input, d, indices), indices)


def cummax(input: Tensor, dim=None, *, axis=None, out=None):
    dim = dim if axis is None else axis
    result = _cum_extreme(input, dim, True, "cummax")
    return result if out is None else write_result(out, result)


@accepts_out
def cummin(input: Tensor, dim=None, *, axis=None):
    dim = dim if axis is None else axis
    return _cum_extreme(input, dim, False, "cummin")


def logcumsumexp(input: Tensor, dim=None, *, axis=None, out=None) -> Tensor:
    dim = dim if axis is None else axis
    d = wrap_dim(dim, input.ndim)
    if not (input.is_floating_point() or input.is_complex()):
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for '
                                  f"'{scalar_name(input.dtype)}'")
    if input.numel() == 0 or input.ndim == 0:
        result = input.clone()
        return result if out is None else write_result(out, result)
    if _dt.is_half(input._data.dtype):  # computed in float32, as PyTorch does
        result = logcumsumexp(input.float(), d).to(input.dtype)
        return result if out is None else write_result(out, result)
    # The largest real part bounds the magnitudes (complex inputs have no order themselves).
    m = amax((input.real if input.is_complex() else input).detach(), d, keepdim=True)
    m = m.masked_fill(~m.isfinite(), 0)  # all -inf (or an inf) must not give inf - inf
    result = cumsum((input - m).exp(), d).log() + m
    if input.is_complex():
        result = result + _log_add_exp_branch(input.detach()._data, result.detach()._data, d)
    return result if out is None else write_result(out, result)


def _log_add_exp_branch(x, out, d: int) -> Tensor:
    """The multiples of 2*pi*i that move ``out``'s imaginary parts (each in (-pi, pi]) to the
    branch PyTorch's running log-add-exp lands on: out_i = max + log1p(exp(min - max)) of x_i
    and out_{i-1} ordered by real part, within pi/2 of the larger one's imaginary part."""
    xp = get_array_module(x)
    x, out = xp.moveaxis(x, d, 0), xp.moveaxis(out, d, 0)
    turns = xp.empty(out.shape, out.real.dtype)
    turns[0] = xp.round((x[0].imag - out[0].imag) / (2 * math.pi))
    prev_real, prev_imag = x[0].real, x[0].imag  # the first output is x_0 exactly
    for i in range(1, x.shape[0]):
        larger = x[i].real >= prev_real  # ties go to x_i, as in PyTorch
        turns[i] = xp.round((xp.where(larger, x[i].imag, prev_imag) - out[i].imag) /
                            (2 * math.pi))
        prev_real, prev_imag = out[i].real, out[i].imag + 2 * math.pi * turns[i]
    turns = xp.nan_to_num(turns, nan=0, posinf=0, neginf=0)  # non-finite outputs stay as they are
    return _make(xp.moveaxis(turns, 0, d) * (2j * math.pi))


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None, *,
         axis=None, out=None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (after concatenating ``prepend`` and
    ``append``); bool inputs differ by xor. ``n`` = 0 gives a copy of ``input`` alone, and an
    ``n`` past the dim's size an empty result, as in PyTorch."""
    dim = dim if axis is None else axis
    from ember.ops.movement import cat
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = wrap_dim(dim, input.ndim)
    if n == 0:
        result = input.clone()
        return result if out is None else write_result(out, result)
    if prepend is not None or append is not None:
        parts = ([prepend] if prepend is not None else []) + [input] + (
            [append] if append is not None else [])
        input = cat(parts, d)
    for _ in range(builtins.min(n, input.shape[d])):
        size = input.shape[d]
        later, earlier = input.narrow(d, 1, size - 1), input.narrow(d, 0, size - 1)
        input = later ^ earlier if input.dtype is _dt.bool else later - earlier
    result = input
    return result if out is None else write_result(out, result)


def gradient(input: Tensor, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """d input / dx along each of ``dim`` (all dims by default): central differences inside,
    one-sided ones of order ``edge_order`` (1 or 2) at the edges, as NumPy's ``gradient``.
    ``spacing``: one step for every dim (1 by default), one per dim, or per dim the sample
    coordinates (1-D tensors). Returns one tensor per dim."""
    dims = range(input.ndim) if dim is None else [dim] if isinstance(dim, int) else dim
    dims = [wrap_dim(d, input.ndim) for d in dims]
    if len(set(dims)) != len(dims):
        repeated = next(d for d in dims if dims.count(d) > 1)
        raise RuntimeError(f"dim {repeated} appears multiple times in the list of dims")
    if spacing is None:
        spacing = 1
    if isinstance(spacing, (int, float)) or (isinstance(spacing, Tensor) and not spacing.ndim):
        spacing = [spacing] * len(dims)
    if len(spacing) != len(dims):
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or "
                           f"it's spacing and dim arguments to have the same length, but got "
                           f"a spacing argument of length {len(spacing)} and a dim argument of "
                           f"length {len(dims)}.")
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    for h in spacing:
        if isinstance(h, Tensor) and h.device != input.device:
            raise RuntimeError(f"torch.gradient expected each tensor to be on the same device, "
                               f"but got devices {input.device} and {h.device}!")
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        input = input.to(_dt.get_default_dtype())
    return tuple(_gradient_along(input, d, h, edge_order) for d, h in zip(dims, spacing))


def _gradient_along(f: Tensor, d: int, h, edge_order: int) -> Tensor:
    """NumPy's second-order-accurate differences for samples ``h`` apart (a number) or at
    coordinates ``h`` (a 1-D tensor), along dim ``d``."""
    from ember.ops.movement import cat
    n = f.shape[d]
    if n < edge_order + 1:
        raise RuntimeError(f"torch.gradient expected each dimension size to be at least "
                           f"edge_order+1, got size {n} for dim {d}")

    def at(start: int, stop: int = 0):  # f[start:stop] along d (stop <= 0 counts from the end)
        return f.narrow(d, start, n + stop - start if stop <= 0 else stop - start)

    if isinstance(h, Tensor) and h.ndim == 1:  # coordinates: the steps between samples
        shape = [1] * f.ndim
        shape[d] = -1
        steps = (h[1:] - h[:-1]).to(f.dtype).reshape(shape)
        h1, h2 = steps.narrow(d, 0, n - 2), steps.narrow(d, 1, n - 2)
        first, second = steps.narrow(d, 0, 1), steps.narrow(d, builtins.min(1, n - 2), 1)
        penultimate, last = steps.narrow(d, builtins.max(n - 3, 0), 1), steps.narrow(d, n - 2, 1)
    else:  # one step for the whole dim
        h1 = h2 = first = second = penultimate = last = float(h)
    inner = (-h2 / (h1 * (h1 + h2))) * at(0, -2) + ((h2 - h1) / (h1 * h2)) * at(1, -1) \
        + (h1 / (h2 * (h1 + h2))) * at(2)
    if edge_order == 1:
        left = (at(1, 2) - at(0, 1)) / first
        right = (at(n - 1) - at(n - 2, n - 1)) / last
    else:  # second-order one-sided differences
        a, b = first, second
        left = (-(2 * a + b) / (a * (a + b))) * at(0, 1) + ((a + b) / (a * b)) * at(1, 2) \
            + (-a / (b * (a + b))) * at(2, 3)
        a, b = penultimate, last
        right = (b / (a * (a + b))) * at(n - 3, n - 2) + (-(a + b) / (a * b)) * at(n - 2, n - 1) \
            + ((2 * b + a) / (b * (a + b))) * at(n - 1)
    return cat([left, inner, right], d)
