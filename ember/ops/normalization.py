"""Normalization primitives: batch, layer, group and instance norm share one primitive,
``_Normalize`` (its statistics kept for BatchNorm's running ones, its gradients on arrays unless
create_graph); layer norm runs as ember's CUDA row kernels on a GPU."""
from __future__ import annotations

import math

from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend import cuda_rows
from ember.backend.cuda import leading_sum
from ember.backend.device import get_array_module, is_host
from ember.ops._util import float_array
from ember.ops.movement import sum_to_size


class _Normalize(Primitive):
    """y = (x - mean) * rstd * weight + bias, with mean/var over ``axes`` of x viewed as
    ``stat_shape`` and weight/bias viewed as ``param_shape``.

    ``stats``, when a list, receives the (mean, biased var) arrays so BatchNorm can update its
    running statistics without a second pass.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stat_shape, axes, param_shape, eps, stats):
        return _normalize(ctx, x, weight, bias, stat_shape, axes, param_shape, eps, stats, False)

    @staticmethod
    def backward(ctx, grad):
        x, weight, bias, mean, rstd = ctx.saved_tensors
        stat_shape, axes, param_shape, eps = ctx.shapes
        if not _State.enabled:
            return _normalize_grads(ctx, grad._data, x._data, weight, bias, mean._data,
                                    rstd._data)
        # create_graph: the stats must depend on x for the second derivative
        xs = x.reshape(stat_shape)
        mean = xs.mean(axes, keepdim=True)
        rstd = ((xs - mean) ** 2).mean(axes, keepdim=True).add(eps).rsqrt()
        xhat = (xs - mean) * rstd
        gxhat = grad if weight is None else grad * weight.reshape(param_shape)
        g = gxhat.reshape(stat_shape)
        gx = rstd * (g - g.mean(axes, keepdim=True)
                     - xhat * (g * xhat).mean(axes, keepdim=True))
        gx = gx.reshape(x.shape)
        gw = gb = None
        if weight is not None and ctx.needs_input_grad[1]:
            gw = (grad * xhat.reshape(x.shape)).sum_to_size(param_shape).reshape(weight.shape)
        if bias is not None and ctx.needs_input_grad[2]:
            gb = grad.sum_to_size(param_shape).reshape(bias.shape)
        return gx, gw, gb


def _normalize(ctx, x, weight, bias, stat_shape, axes, param_shape, eps, stats,
               round_first: bool):
    """_Normalize's forward. Half input is normalized in float32 and rounded once; its mean and
    rstd are rounded to its dtype for backward (PyTorch saves them so), and batch norm
    (``round_first``) normalizes with the rounded ones too, as PyTorch's kernel does."""
    xp = get_array_module(x)
    x = float_array(x)
    half = x.dtype if x.dtype.itemsize == 2 else None
    if half is not None:
        x = x.astype(xp.float32)
    xs = x.reshape(stat_shape)
    count = _count(stat_shape, axes)
    mean = _mean(xs, axes, count)
    y = xs - mean
    var = _mean(xp.square(y), axes, count)
    if round_first and half is not None and half != xp.float16:
        # PyTorch's bfloat16 kernel keeps the sum of squared deviations in bfloat16 too
        var = (var * count).astype(half).astype(xp.float32) / count
    rstd = 1 / xp.sqrt(var + eps)
    saved_mean, saved_rstd = mean, rstd
    if half is not None:
        saved_mean = mean.astype(half).astype(xp.float32)
        saved_rstd = rstd.astype(half).astype(xp.float32)
        if round_first:
            y = xs - saved_mean
            rstd = saved_rstd
    y *= rstd  # y is a fresh temporary: scaled and shifted in place
    y = y.reshape(x.shape)
    if weight is not None:
        y = _mul_fresh(xp, y, weight.reshape(param_shape))
    if bias is not None:
        y = _add_fresh(xp, y, bias.reshape(param_shape))
    if stats is not None:
        stats.extend((mean, var))
    ctx.save_for_backward(x, weight, bias, saved_mean, saved_rstd)
    ctx.shapes = (stat_shape, axes, param_shape, eps)
    return y.astype(half or y.dtype, copy=False)


def _count(shape: tuple, axes: tuple) -> int:
    return math.prod([shape[i] for i in axes])


def _mean(a, axes: tuple, count: int):
    """``a.mean(axis=axes, keepdims=True)``: NumPy's sum then division, without the Python
    wrapper of ``mean`` (microseconds, the cost of the whole op on small arrays). (Half input
    reaches it in float32: see _normalize.)"""
    total = a.sum(axis=axes, keepdims=True)
    total /= count
    return total


def _mul_fresh(xp, y, other):
    """y * other, in place when ``y`` (a temporary) already has the result's dtype."""
    if other.dtype == y.dtype or xp.result_type(y, other) == y.dtype:
        y *= other
        return y
    return y * other


def _add_fresh(xp, y, other):
    if other.dtype == y.dtype or xp.result_type(y, other) == y.dtype:
        y += other
        return y
    return y + other


def _normalize_grads(ctx, g, x, weight, bias, mean, rstd):
    """_Normalize's gradients on arrays (no create_graph): the same formulas, fewer passes."""
    stat_shape, axes, param_shape, _ = ctx.shapes
    if g.dtype.itemsize == 2:  # half input: x was saved in float32, the grads follow it
        g = g.astype(x.dtype)
    xhat = x.reshape(stat_shape) - mean
    xhat *= rstd
    gxhat = g if weight is None else g * weight._data.reshape(param_shape)
    gs = gxhat.reshape(stat_shape)
    gw = gb = None
    if weight is not None and ctx.needs_input_grad[1]:
        gw = _param_grad(g * xhat.reshape(x.shape), param_shape, weight)
    if bias is not None and ctx.needs_input_grad[2]:
        gb = _param_grad(g, param_shape, bias)
    # rstd * (g - mean(g) - xhat * mean(g * xhat)), reusing xhat's buffer for the last term
    count = _count(stat_shape, axes)
    m2 = _mean(gs * xhat, axes, count)
    gx = gs - _mean(gs, axes, count)
    xhat *= m2
    gx -= xhat
    gx *= rstd
    return _make(gx.reshape(x.shape)), gw, gb


def _param_grad(g, param_shape: tuple, param: Tensor) -> Tensor:
    """The gradient ``g`` (an array of the input's shape) summed to a weight or bias."""
    out = sum_to_size(_make(g), param_shape)._data
    return _make(out if out.shape == param._data.shape else out.reshape(param._data.shape))


class BatchNormTrain(_Normalize, node_name="NativeBatchNormBackward0"):
    @staticmethod
    def forward(ctx, x, weight, bias, stat_shape, axes, param_shape, eps, stats):
        return _normalize(ctx, x, weight, bias, stat_shape, axes, param_shape, eps, stats, True)


class LayerNormFn(_Normalize, node_name="NativeLayerNormBackward0"):
    """Layer norm; on a GPU, in float32/float64, one row kernel each way (see cuda_rows)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stat_shape, axes, param_shape, eps, stats):
        if not _row_kernels(x, weight, bias):
            return _Normalize.forward(ctx, x, weight, bias, stat_shape, axes, param_shape, eps,
                                      stats)
        n = math.prod(param_shape)
        y, mean, rstd = cuda_rows.layer_norm_forward(x.reshape(-1, n), weight, bias, eps)
        kept = x.shape[:x.ndim - len(axes)] + (1,) * len(axes)  # as _Normalize keeps them
        ctx.save_for_backward(x, weight, bias, mean.reshape(kept), rstd.reshape(kept))
        ctx.shapes = (stat_shape, axes, param_shape, eps)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x, weight, bias, mean, rstd = ctx.saved_tensors
        w = None if weight is None else weight._data
        if _State.enabled or not _row_kernels(grad._data, w, None) \
                or grad._data.dtype != x._data.dtype:
            return _Normalize.backward(ctx, grad)
        param_shape = ctx.shapes[2]
        n = math.prod(param_shape)
        want_w = weight is not None and ctx.needs_input_grad[1]
        rows = grad._xp.ascontiguousarray(grad._data.reshape(-1, n))
        gx, g_xhat = cuda_rows.layer_norm_backward(rows, x._data.reshape(-1, n), w,
                                                   mean._data.reshape(-1),
                                                   rstd._data.reshape(-1), want_w)
        gw = _make(leading_sum(g_xhat, (0,), False).reshape(weight.shape)) if want_w else None
        gb = None
        if bias is not None and ctx.needs_input_grad[2]:
            gb = _make(leading_sum(rows, (0,), False).reshape(bias.shape))
        return _make(gx.reshape(x.shape)), gw, gb


def _row_kernels(x, weight, bias) -> bool:
    """Whether layer norm runs as ember's CUDA row kernels: a GPU array of float32/float64,
    with weight and bias (if any) of its dtype."""
    return (not is_host(get_array_module(x)) and x.dtype.name in ("float32", "float64")
            and x.size > 0 and all(p is None or p.dtype == x.dtype for p in (weight, bias)))


class GroupNormFn(_Normalize, node_name="NativeGroupNormBackward0"):
    pass

