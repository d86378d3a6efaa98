"""Neural-network primitives fused for speed or numerical stability: softmax, activations,
normalization, embedding, CTC loss. ``ember.nn.functional`` composes the rest from these."""
from __future__ import annotations

import math

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend import cuda_rows
from ember.backend.cuda import leading_sum
from ember.backend.device import as_dtype, get_array_module, is_host, zeros_as
from ember.backend.special import grad_where, index_sum, special
from ember.ops._util import float_array, promote, scalar_name, wrap_dim
from ember.ops.elementwise import clip_array, select_grad, where, with_saved_edge
from ember.ops.indexing import has_negative
from ember.ops.movement import sum_to_size
from ember.sparse import row_sparse

# Cache-sized blocks of rows: each pass of a fused softmax then reads what the previous pass
# left in L2 instead of streaming the whole array from memory again (~1.6x on 700 x 10000).
_BLOCK_ELEMENTS = 1 << 18


def _row_blocks(shape, dim: int, xp=None) -> list:
    """Slices of dim 0 that split an array of ``shape`` into blocks of about _BLOCK_ELEMENTS,
    each holding whole slices along ``dim`` (one block when ``dim`` is 0, and on a GPU, where
    each block would cost kernel launches and there is no CPU cache to fit)."""
    rows = shape[0] if shape else 1
    if dim == 0 or rows == 0 or (xp is not None and not is_host(xp)):
        return [slice(None)]
    step = max(1, _BLOCK_ELEMENTS * rows // max(math.prod(shape), 1))
    return [slice(i, i + step) for i in range(0, rows, step)]


# A row whose max lies in [0, _UNSHIFTED_MAX] needs no shift: exp(a) cannot overflow, nor sum
# past float32's range (C * e**64 < 3.4e38 for C < 5e10), nor underflow where exp(a - max)
# would not (a - max <= a). Decided per row, so blocking never changes a result.
_UNSHIFTED_MAX = 64.0


def _shifted_exp(xp, a, top, out, host: bool):
    """Write exp(a - shift) into ``out`` and return the shift: ``top``, the maxima, or on the
    host 0 for the rows that need none (all of them, typically: the subtraction pass saved)."""
    if host:
        safe = (top >= 0.0) & (top <= _UNSHIFTED_MAX)  # NaN fails both
        if safe.all():
            xp.exp(a, out=out)
            return xp.zeros_like(top)
        top = xp.where(safe, top.dtype.type(0), top)
    xp.subtract(a, top, out=out)
    xp.exp(out, out=out)
    return top


def _exp_blocks(xp, a, dim: int, out):
    """Write exp(a - shift) along ``dim`` into ``out`` block by block, yielding each block's
    (rows, exp block, shift, sum of exp) with ``dim`` kept, for the caller to finish in cache."""
    host = a.__class__ is xp.ndarray and is_host(xp)
    for rows in _row_blocks(a.shape, dim, xp):
        block = out[rows]
        top = _shifted_exp(xp, a[rows], a[rows].max(axis=dim, keepdims=True), block, host)
        yield rows, block, top, block.sum(axis=dim, keepdims=True)


class Softmax(Primitive, node_name="SoftmaxBackward0"):
    _node_saved = {"result": 0, "dim": lambda ctx: ctx.dim}

    @staticmethod
    def forward(ctx, a, dim):
        xp = get_array_module(a)
        a = float_array(a)
        half = a.dtype if a.dtype.itemsize == 2 else None
        if half is not None:  # float16, bfloat16: in float32, rounded once, as PyTorch does
            a = a.astype(xp.float32)
        out = xp.empty_like(a)
        if a.size:
            for _, block, _, total in _exp_blocks(xp, a, dim, out):
                block /= total
        if half is not None:
            out = out.astype(half)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        if _State.enabled:  # create_graph
            gy = grad * out
            return gy - out * gy.sum(ctx.dim, keepdim=True)
        y, g = out._data, grad._data
        gx = y * g
        # y * (g - sum(y * g)): the product's buffer, once summed, holds the result
        get_array_module(y).subtract(g, gx.sum(axis=ctx.dim, keepdims=True), out=gx)
        gx *= y
        return _make(gx)


class LogSoftmax(Primitive, node_name="LogSoftmaxBackward0"):
    _node_saved = {"result": 0, "dim": lambda ctx: ctx.dim}

    @staticmethod
    def forward(ctx, a, dim):
        xp = get_array_module(a)
        a = float_array(a)
        half = a.dtype if a.dtype.itemsize == 2 else None
        if half is not None:  # float16, bfloat16: in float32, rounded once, as PyTorch does
            a = a.astype(xp.float32)
        out = xp.empty_like(a)
        if a.size:
            for rows, block, top, total in _exp_blocks(xp, a, dim, out):
                top += xp.log(total)
                xp.subtract(a[rows], top, out=block)
        if half is not None:
            out = out.astype(half)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        if _State.enabled:  # create_graph
            return grad - out.exp() * grad.sum(ctx.dim, keepdim=True)
        xp = get_array_module(out._data)
        gx = xp.exp(out._data)
        gx *= grad._data.sum(axis=ctx.dim, keepdims=True)
        xp.subtract(grad._data, gx, out=gx)
        return _make(gx)


def _softmax_dim(input: Tensor, dim) -> int:
    if dim is None:  # PyTorch's legacy implicit choice
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return wrap_dim(dim, input.ndim)


def _check_softmax(input: Tensor, dim, name: str) -> None:
    """PyTorch's softmax kernels are floating only: an integer, bool or complex input with
    elements raises, naming the kernel (the last-dim one, or the strided one)."""
    if not input.dtype.is_floating_point and input.numel():
        last = input.ndim == 0 or _softmax_dim(input, dim) == input.ndim - 1
        kernel = f"{name}_lastdim_kernel_impl" if last else f"{name}_kernel_impl"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_name(input.dtype)}'")


def softmax(input: Tensor, dim=None, dtype=None, *, _stacklevel: int = 3) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, computed stably."""
    if dtype is not None:
        input = input.to(_dt.to_dtype(dtype))
    _check_softmax(input, dim, "softmax")
    if input.ndim == 0:
        return Softmax.apply(input.reshape(1), 0).reshape(())
    return Softmax.apply(input, _softmax_dim(input, dim))


def log_softmax(input: Tensor, dim=None, dtype=None, *, _stacklevel: int = 3) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably."""
    if dtype is not None:
        input = input.to(_dt.to_dtype(dtype))
    _check_softmax(input, dim, "log_softmax")
    if input.ndim == 0:
        return LogSoftmax.apply(input.reshape(1), 0).reshape(())
    return LogSoftmax.apply(input, _softmax_dim(input, dim))


def _mask(tensor: Tensor, array) -> Tensor:
    """A constant 0/1 tensor of ``tensor``'s dtype (the derivative of a piecewise-linear op)."""
    return _make(array.astype(tensor._data.dtype, copy=False))


# ----------------------------------------------------------------------------------------------
# Activations whose composition would be slow or unstable

def _leaky_slope(a, negative_slope):
    """1 where ``a > 0``, else ``negative_slope`` (a number or an array), in ``a``'s dtype: a
    product with it selects exactly (x * 1 is x, inf and NaN included) at a quarter of the
    time of NumPy's ``where``. A NaN takes the slope, as in PyTorch."""
    positive = a > 0
    slope = get_array_module(a).logical_not(positive).astype(a.dtype)
    slope *= negative_slope
    slope += positive
    return slope


class LeakyRelu(Primitive, node_name="LeakyReluBackward0"):
    @staticmethod
    def forward(ctx, a, negative_slope):
        ctx.save_for_backward(a)
        ctx.slope = negative_slope
        return as_dtype(a * _leaky_slope(a, negative_slope), a.dtype)  # CuPy: bf16 * bf16 is f32

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx._saved_arrays
        return with_saved_edge(grad * _make(_leaky_slope(a, ctx.slope)), ctx)


class Prelu(Primitive, node_name="PreluKernelBackward0"):
    """x where x > 0, else weight * x; ``w`` is already shaped to broadcast against x."""

    @staticmethod
    def forward(ctx, a, w):
        ctx.save_for_backward(a, w)
        return get_array_module(a).where(a > 0, a, as_dtype(a * w, a.dtype))  # CuPy bf16

    @staticmethod
    def backward(ctx, grad):
        a, w = ctx._saved_arrays
        xp = get_array_module(a)
        positive = _make(a > 0)
        if _State.enabled:  # create_graph: composed, differentiable in grad, x and weight
            a_t, w_t = ctx.saved_tensors
            ga = with_saved_edge(where(positive, grad, grad * w_t), ctx)
            gw = where(positive, 0.0, grad * a_t) if ctx.needs_input_grad[1] else None
        else:
            g = grad._data
            ga = _make(g * _leaky_slope(a, w))  # a NaN takes the weight, as in PyTorch
            gw = _make(xp.where(positive._data, 0, g * a)) if ctx.needs_input_grad[1] else None
        return ga, None if gw is None else sum_to_size(gw, w.shape)


class Hardtanh(Primitive, node_name="HardtanhBackward0"):
    @staticmethod
    def forward(ctx, a, min_val, max_val):
        xp = get_array_module(a)
        ctx.save_for_backward(a)
        ctx.bounds = (min_val, max_val)
        return xp.clip(a, min_val, max_val).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx._saved_arrays
        lo, hi = ctx.bounds
        # a NaN passes its gradient
        return with_saved_edge(select_grad(grad, drop=(a <= lo) | (a >= hi)), ctx)


class Threshold(Primitive, node_name="ThresholdBackward0"):
    @staticmethod
    def forward(ctx, a, threshold, value):
        xp = get_array_module(a)
        ctx.save_for_backward(a)
        ctx.threshold = threshold
        return xp.where(a <= threshold, value, a).astype(a.dtype, copy=False)  # NaN stays

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx._saved_arrays
        # a NaN passes its gradient
        return with_saved_edge(select_grad(grad, drop=a <= ctx.threshold), ctx)


class Hardsigmoid(Primitive, node_name="HardsigmoidBackward0"):
    @staticmethod
    def forward(ctx, a):
        xp = get_array_module(a)
        a = float_array(a)
        ctx.save_for_backward(a)
        return (xp.clip(a + 3, 0, 6) / 6).astype(a.dtype, copy=False)  # relu6(x + 3) / 6

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx._saved_arrays
        return select_grad(grad, (a > -3) & (a < 3)) / 6  # a NaN passes no gradient


class Hardswish(Primitive, node_name="HardswishBackward0"):
    @staticmethod
    def forward(ctx, a):
        xp = get_array_module(a)
        a = float_array(a)
        ctx.save_for_backward(a)
        return (a * xp.clip(a + 3, 0, 6) / 6).astype(a.dtype, copy=False)  # x relu6(x + 3) / 6

    @staticmethod
    def backward(ctx, grad):
        """0 up to -3, then x / 3 + 1/2, then 1 from 3 on and at NaN, as in PyTorch."""
        (a,) = ctx._saved_arrays
        flat = ~(a < 3)
        if _State.enabled:  # create_graph: differentiable in x
            slope = (ctx.saved_tensors[0] / 3 + 0.5).masked_fill(_make(flat), 1)
        else:  # x / 3 + 1/2 is never -0.0: adding 0 or 1 to it below is exact
            slope = grad_where(as_dtype(a / 3 + 0.5, a.dtype), drop=flat)
            slope += flat
            slope = _make(slope)
        return select_grad(grad * slope, drop=a <= -3)


class Elu(Primitive, node_name="EluBackward0"):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)): ELU, SELU and CELU."""

    @staticmethod
    def forward(ctx, a, alpha, scale, input_scale):
        xp = get_array_module(a)
        a = float_array(a)
        ctx.save_for_backward(a)
        ctx.params = (alpha, scale, input_scale)
        # Each part is 0 (+0.0) where the other applies: their sum is exact, -0.0 and NaN kept.
        neg = (alpha * scale) * xp.expm1(clip_array(a, None, 0) * input_scale)
        return (scale * clip_array(a, 0, None) + neg).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        """scale where x > 0 or NaN (as in PyTorch), else the exponential's slope."""
        alpha, scale, input_scale = ctx.params
        if _State.enabled:  # create_graph: differentiable in x
            (a,) = ctx.saved_tensors
            negative = a._data <= 0
            exp_slope = (a.masked_fill(_make(~negative), 0) * input_scale).exp()
            positive = _mask(a, ~negative)
            return grad * scale * (positive + (1 - positive) * exp_slope * (alpha * input_scale))
        (a,) = ctx._saved_arrays
        xp = get_array_module(a)
        negative = a <= 0
        slope = grad_where(as_dtype(xp.exp(clip_array(a, None, 0) * input_scale), a.dtype),
                           negative)
        slope *= alpha * input_scale * scale
        positive = xp.logical_not(negative).astype(a.dtype)
        slope += positive * scale if scale != 1 else positive  # exact: adds to +0.0 or 0
        return _make(as_dtype(grad._data * slope, grad._data.dtype))


class Gelu(Primitive, node_name="GeluBackward0"):
    _node_saved = {"self": 0, "approximate": lambda ctx: ctx.approximate}

    @staticmethod
    def forward(ctx, a, approximate):
        xp = get_array_module(a)
        a = float_array(a)
        ctx.save_for_backward(a)
        ctx.approximate = approximate
        if approximate == "tanh":
            inner = math.sqrt(2 / math.pi) * (a + 0.044715 * a * a * a)
            out = 0.5 * a * (1 + xp.tanh(inner))
        else:
            out = 0.5 * a * (1 + special(xp).erf(a * (1 / math.sqrt(2))))
        return as_dtype(out, a.dtype)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = (k * (a + 0.044715 * a * a * a)).tanh()
            d = 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * (k * (1 + 3 * 0.044715 * a * a))
        else:
            cdf = 0.5 * (1 + (a * (1 / math.sqrt(2))).erf())
            pdf = (a * a * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
            d = cdf + a * pdf
        return grad * d


class Silu(Primitive, node_name="SiluBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        return (a * special(get_array_module(a)).expit(a)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        s = a.sigmoid()
        return grad * (s * (1 + a * (1 - s)))


class Mish(Primitive, node_name="MishBackward0"):
    @staticmethod
    def forward(ctx, a):
        xp = get_array_module(a)
        a = float_array(a)
        ctx.save_for_backward(a)
        softplus = xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a)))
        return (a * xp.tanh(softplus)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        t = Softplus.apply(a, 1.0, math.inf).tanh()
        return grad * (t + a * (1 - t * t) * a.sigmoid())


class Softplus(Primitive, node_name="SoftplusBackward0"):
    @staticmethod
    def forward(ctx, a, beta, threshold):
        xp = get_array_module(a)
        a = float_array(a)
        ctx.save_for_backward(a)
        ctx.params = (beta, threshold)
        z = a * beta
        # log1p(exp(z)) = max(z, 0) + log1p(exp(-|z|)) never overflows
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
        return xp.where(z > threshold, a, soft).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        beta, threshold = ctx.params
        linear = _mask(a, a._data * beta > threshold)
        return grad * (linear + (1 - linear) * (a * beta).sigmoid())


def _shrunk(a, lambd: float):
    """Where ``-lambd <= a <= lambd``: the zero band of hardshrink and softshrink (never NaN)."""
    return (a >= -lambd) & (a <= lambd)


class Hardshrink(Primitive, node_name="HardshrinkBackward0"):
    """x outside [-lambd, lambd], else 0 (+0.0); a NaN passes, with its gradient."""

    @staticmethod
    def forward(ctx, a, lambd):
        shrunk = _shrunk(a, lambd)
        ctx.save_for_backward(a)
        ctx.shrunk = shrunk
        return grad_where(a, drop=shrunk)  # an exact selection of x

    @staticmethod
    def backward(ctx, grad):
        return with_saved_edge(select_grad(grad, drop=ctx.shrunk), ctx)


class Softshrink(Primitive, node_name="SoftshrinkBackward0"):
    """x - lambd above lambd, x + lambd below -lambd, else 0; a NaN passes, with its gradient."""

    @staticmethod
    def forward(ctx, a, lambd):
        ctx.save_for_backward(a)
        ctx.shrunk = _shrunk(a, lambd)
        return a - clip_array(a, -lambd, lambd)

    @staticmethod
    def backward(ctx, grad):
        return with_saved_edge(select_grad(grad, drop=ctx.shrunk), ctx)


# ----------------------------------------------------------------------------------------------
# Normalization: batch, layer, group and instance norm share one primitive

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


# ----------------------------------------------------------------------------------------------
# Negative log-likelihood: one gather forward, one scatter backward

def _weighted_reduction(ctx, xp, losses, w, reduction: str):
    """NLL's reductions of per-target ``losses`` weighted ``w``: 'mean' divides by the total
    weight. Sets ``ctx.coef``, each loss's factor in the result, for the backward."""
    if reduction == "none":
        ctx.coef = w
        return losses
    if reduction == "sum":
        ctx.coef = w
        # "any": a meta 0-d sum stays meta
        return xp.asanyarray(_wide_sum(losses).astype(losses.dtype, copy=False))
    total = _wide_sum(w)  # all targets ignored: 0 / 0 = nan, as in PyTorch
    # ... but a zero gradient, as PyTorch's: w is all 0 then, so dividing by 1 gives it
    ctx.coef = (w / (total + (total == 0))).astype(w.dtype, copy=False)
    return xp.asanyarray((_wide_sum(losses) / total).astype(losses.dtype, copy=False))


class NllLoss(Primitive, node_name="NllLossBackward0"):
    """-logp[n, target[n], ...] * weight[target[n]] over (N, C, *) log-probabilities, with
    ``ignore_index`` entries weighing 0 and 'mean' dividing by the total weight."""

    @staticmethod
    def forward(ctx, logp, target, weight, ignore_index, reduction):
        xp = get_array_module(logp)
        valid = target != ignore_index
        safe = xp.where(valid, target, 0)[:, None]
        w = valid.astype(logp.dtype)
        if weight is not None:
            w = w * weight[safe[:, 0]]
        losses = -xp.take_along_axis(logp, safe, axis=1)[:, 0] * w
        ctx.params = (safe, logp.shape, logp.dtype)
        return _weighted_reduction(ctx, xp, losses, w, reduction)

    @staticmethod
    def backward(ctx, grad):
        safe, shape, dtype = ctx.params
        xp = get_array_module(safe)
        src = (grad * _make(-ctx.coef)).unsqueeze(1)
        return _make(zeros_as(xp, safe, shape, dtype)).scatter(1, _make(safe), src), None


class NllLoss2d(NllLoss, node_name="NllLoss2DBackward0"):
    """NllLoss over (N, C, d1, ...): PyTorch names the node apart."""


class CrossEntropy(Primitive, node_name="NllLossBackward0"):  # PyTorch's last node
    """nll_loss(log_softmax(x, 1), target) over (N, C) logits in one node: the exponentials
    are computed once, in cache-sized blocks, and reused by the backward, softmax - one_hot."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        xp = get_array_module(x)
        x = float_array(x)
        exp, total, lse = _softmax_parts(xp, x)
        valid = target != ignore_index
        safe = target * valid  # ignored targets read class 0, with weight 0
        w = valid.astype(x.dtype)
        if weight is not None:
            w *= weight[safe]
        rows = xp.arange(x.shape[0])
        losses = (lse[:, 0] - x[rows, safe]) * w
        ctx.save_for_backward(x)
        ctx.parts = (exp, total)
        ctx.index = (rows, safe)
        return _weighted_reduction(ctx, xp, losses, w, reduction)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        rows, safe = ctx.index
        if _State.enabled:  # create_graph: compose softmax - one_hot differentiably
            coef = grad * _make(ctx.coef)  # d loss / d log p[n, target[n]], negated
            one_hot = _make(zeros_as(get_array_module(safe), safe, x.shape, x._data.dtype))
            one_hot = one_hot.scatter(1, _make(safe[:, None]), 1.0)
            return (Softmax.apply(x, 1) - one_hot) * coef.unsqueeze(1), None
        # The gradient takes over the exponentials' buffer; a retained graph's next backward
        # finds it gone and recomputes it.
        exp, total = ctx.parts or _softmax_parts(get_array_module(safe), x._data)[:2]
        ctx.parts = None
        c = (grad._data * ctx.coef).astype(exp.dtype, copy=False)
        exp *= c[:, None] / total
        exp[rows, safe] -= c
        return _make(exp), None


class CrossEntropy2d(CrossEntropy, node_name="NllLoss2DBackward0"):
    """CrossEntropy over the rows of (N, C, d1, ...) input: PyTorch names the node apart."""


def _softmax_parts(xp, x):
    """exp(x - shift) of (N, C) rows (see _shifted_exp) with each row's sum of exp and
    log-sum-exp (N, 1)."""
    if x.size <= _BLOCK_ELEMENTS or not is_host(xp):  # one block: its arithmetic, no loop
        exp = xp.empty_like(x)
        host = x.__class__ is xp.ndarray and is_host(xp)
        top = _shifted_exp(xp, x, x.max(axis=1, keepdims=True), exp, host)
        total = exp.sum(axis=1, keepdims=True)
        lse = xp.log(total)
        lse += top
        return exp, total, lse
    exp = xp.empty_like(x)
    lse = xp.empty_like(x, shape=(x.shape[0], 1))  # like x: a meta x gives meta buffers
    total = xp.empty_like(lse)
    for block, _, top, sums in _exp_blocks(xp, x, 1, exp):
        total[block] = sums
        xp.log(sums, out=lse[block])
        lse[block] += top
    return exp, total, lse


def _reduced_grad(grad: Tensor, shape, reduction: str) -> Tensor:
    """The incoming gradient of a reduced loss spread over the elementwise losses."""
    if reduction == "none":
        return grad
    n = 1
    for s in shape:
        n *= s
    g = grad.expand(shape)
    return g / n if reduction == "mean" else g


def _wide_sum(a):
    """The sum of ``a``; float16/bfloat16 accumulated in float32 (PyTorch's reductions), else
    NumPy's own (float16's pairwise sum drifts; bfloat16's, adding one element at a time,
    stalls once the total dwarfs an element)."""
    return a.sum(dtype="float32") if _dt.is_half(a.dtype) else a.sum()


def _reduce_array(xp, losses, reduction: str):
    if reduction == "none":
        return losses
    total = _wide_sum(losses)
    if reduction == "mean":
        total = total / losses.size
    return xp.asanyarray(total.astype(losses.dtype, copy=False))


class MseLoss(Primitive, node_name="MseLossBackward0"):
    """(input - target)^2, reduced; operands already broadcast to one shape."""

    @staticmethod
    def forward(ctx, a, t, reduction):
        xp = get_array_module(a)
        ctx.save_for_backward(a, t)
        ctx.reduction = reduction
        diff = xp.subtract(*promote(a, t))  # float32 input, int64 target: float32, as PyTorch
        return _reduce_array(xp, diff * diff, reduction)

    @staticmethod
    def backward(ctx, grad):
        a, t = ctx.saved_tensors
        g = _reduced_grad(grad, a.shape, ctx.reduction) * (a - t) * 2
        return g, -g


class BinaryCrossEntropyWithLogits(Primitive,
                                   node_name="BinaryCrossEntropyWithLogitsBackward0"):
    """w * ((1 - t) x + (1 + (pw - 1) t) softplus(-x)), reduced, without overflow."""

    @staticmethod
    def forward(ctx, x, t, weight, pos_weight, reduction):
        xp = get_array_module(x)
        ctx.save_for_backward(x, t, weight, pos_weight)
        ctx.reduction = reduction
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        log_weight = 1 if pos_weight is None else (pos_weight - 1) * t + 1
        loss = (1 - t) * x + log_weight * softplus_neg
        if weight is not None:
            loss = loss * weight
        return _reduce_array(xp, loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t, weight, pos_weight = ctx.saved_tensors
        g = _reduced_grad(grad, x.shape, ctx.reduction)
        if weight is not None:
            g = g * weight
        sig_neg = (-x).sigmoid()
        if pos_weight is None:
            gx = g * ((1 - t) - sig_neg)
            gt = g * -x if ctx.needs_input_grad[1] else None
        else:
            log_weight = (pos_weight - 1) * t + 1
            gx = g * ((1 - t) - log_weight * sig_neg)
            gt = None
            if ctx.needs_input_grad[1]:
                softplus_neg = Softplus.apply(-x, 1.0, math.inf)
                gt = g * (-x + (pos_weight - 1) * softplus_neg)
        return gx, gt, None, None


def _clamped_log(xp, a):
    """log(a) clamped below at -100 (PyTorch's BCE), without evaluating log(0)."""
    positive = a > 0
    return xp.maximum(xp.where(positive, xp.log(xp.where(positive, a, 1)), -100), -100)


class BinaryCrossEntropy(Primitive, node_name="BinaryCrossEntropyBackward0"):
    """-w (t log x + (1 - t) log(1 - x)), each log clamped at -100, reduced.

    One node rather than a composition: the gradient is PyTorch's
    (x - t) / max(x (1 - x), 1e-12), finite where x saturates at 0 or 1 (a composed log would
    give 0 * inf = nan there).
    """

    @staticmethod
    def forward(ctx, x, t, weight, reduction):
        xp = get_array_module(x)
        ctx.save_for_backward(x, t, weight)
        ctx.reduction = reduction
        loss = -(t * _clamped_log(xp, x) + (1 - t) * _clamped_log(xp, 1 - x))
        if weight is not None:
            loss = loss * weight
        return _reduce_array(xp, loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, t, weight = ctx.saved_tensors
        g = _reduced_grad(grad, x.shape, ctx.reduction)
        if weight is not None:
            g = g * weight
        gx = g * (x - t) / ((1 - x) * x).clamp_min(1e-12)
        gt = None
        if ctx.needs_input_grad[1]:
            gt = g * ((1 - x).log() - x.log())  # unclamped: ±inf at x = 0 or 1, as PyTorch
        return gx, gt


# ----------------------------------------------------------------------------------------------
# Embedding

class Embedding(Primitive, node_name="EmbeddingBackward0"):
    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq, sparse, widen=False):
        xp = get_array_module(weight)
        ctx.save_for_backward(indices)
        ctx.params = (weight.shape[0], padding_idx, scale_grad_by_freq, sparse, weight.dtype)
        if has_negative(indices):
            raise IndexError("index out of range in self")
        try:
            rows = xp.take(weight, indices, axis=0)
        except IndexError:
            raise IndexError("index out of range in self") from None
        return rows.astype(xp.float32) if widen else rows

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        num, padding_idx, scale_grad_by_freq, sparse, dtype = ctx.params
        if sparse and scale_grad_by_freq:
            raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse "
                               "gradients")
        flat = indices.reshape(-1)
        g = grad.reshape(-1, grad.shape[-1])
        xp = get_array_module(flat._data)
        keep = None
        if padding_idx is not None:
            keep = flat._data != padding_idx
        if scale_grad_by_freq:
            counts = xp.bincount(flat._data, minlength=num)[flat._data]
            scale = 1.0 / counts
            keep = scale if keep is None else scale * keep
        if _State.enabled:  # create_graph
            if keep is not None:
                g = g * _make(keep.astype(g._data.dtype, copy=False)[:, None])
            out = _make(zeros_as(xp, g._data, (num, g.shape[1]), g._data.dtype))
            out = out.index_add(0, flat, g).to(_dt.from_numpy_dtype(dtype))
        elif _dt.is_half(dtype):
            # half weight: the rows summed in float32 and rounded once (closer than PyTorch's
            # embedding, which adds them one by one in the half dtype)
            wide = g._data.astype(xp.float32, copy=False)
            out = _make(index_sum(xp, flat._data, wide, num, keep).astype(dtype))
        else:
            out = _make(index_sum(xp, flat._data, g._data, num, keep))
        if sparse:  # stores the rows looked up, padding_idx's excepted (PyTorch's COO gradient)
            rows = flat._data if padding_idx is None else flat._data[flat._data != padding_idx]
            out = row_sparse(out, rows)
        return out, None


def embedding_lookup(weight: Tensor, indices: Tensor, padding_idx=None,
                     scale_grad_by_freq: bool = False, sparse: bool = False,
                     widen: bool = False) -> Tensor:
    """Rows ``weight[indices]`` with the gradient of ``padding_idx`` held at zero; with
    ``sparse`` the weight's gradient is a COO tensor of the rows looked up. ``widen`` returns
    the rows in float32 (for sums of half rows), without a float32 copy of the whole weight."""
    return Embedding.apply(weight, indices, padding_idx, scale_grad_by_freq, sparse, widen)


# ----------------------------------------------------------------------------------------------
# CTC loss: the alpha-beta recursion in log space over the arrays

class CtcLoss(Primitive, node_name="CtcLossBackward0"):
    """Per-sample negative log-likelihood of CTC alignments; input (T, N, C) log-probs.

    Backward returns PyTorch's gradient, ``exp(lp) - posterior``: the derivative with respect
    to the logits when ``log_probs`` is a log_softmax (how CTC is always used).
    """

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
        xp = get_array_module(log_probs)
        T, N, C = log_probs.shape
        neg_inf = -xp.inf
        losses = xp.zeros(N, log_probs.dtype)
        grad = xp.zeros_like(log_probs)
        offsets = [0]
        for n in target_lengths[:-1]:
            offsets.append(offsets[-1] + n)
        for b in range(N):
            tlen = int(input_lengths[b])
            slen = int(target_lengths[b])
            if targets.ndim == 2:
                tgt = targets[b, :slen]
            else:
                tgt = targets[offsets[b]:offsets[b] + slen]
            ext = xp.full(2 * slen + 1, blank, dtype=targets.dtype)
            ext[1::2] = tgt
            S = ext.shape[0]
            # transitions from s-2 are allowed onto a label that differs from the one two back
            skip = xp.zeros(S, bool)
            if S > 2:
                skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
            lp = log_probs[:tlen, b, :][:, ext]  # (tlen, S)
            alpha = xp.full((max(tlen, 1), S), neg_inf, log_probs.dtype)
            beta = xp.full((max(tlen, 1), S), neg_inf, log_probs.dtype)
            if tlen > 0:
                alpha[0, 0] = lp[0, 0]
                if S > 1:
                    alpha[0, 1] = lp[0, 1]
                for t in range(1, tlen):
                    prev = alpha[t - 1]
                    acc = prev.copy()
                    acc[1:] = xp.logaddexp(acc[1:], prev[:-1])
                    acc[2:] = xp.where(skip[2:], xp.logaddexp(acc[2:], prev[:-2]), acc[2:])
                    alpha[t] = acc + lp[t]
                beta[tlen - 1, S - 1] = lp[tlen - 1, S - 1]
                if S > 1:
                    beta[tlen - 1, S - 2] = lp[tlen - 1, S - 2]
                for t in range(tlen - 2, -1, -1):
                    nxt = beta[t + 1]
                    acc = nxt.copy()
                    acc[:-1] = xp.logaddexp(acc[:-1], nxt[1:])
                    acc[:-2] = xp.where(skip[2:], xp.logaddexp(acc[:-2], nxt[2:]), acc[:-2])
                    beta[t] = acc + lp[t]
                ll = alpha[tlen - 1, S - 1]
                if S > 1:
                    ll = xp.logaddexp(ll, alpha[tlen - 1, S - 2])
            else:
                ll = xp.asarray(0.0 if S == 1 else neg_inf)
            nll = -ll
            losses[b] = nll
            if tlen == 0:
                continue
            if not xp.isfinite(nll):
                if zero_infinity:
                    losses[b] = 0
                    continue
            # alpha and beta both include the emission at t; the formula below divides once
            ab = alpha[:tlen] + beta[:tlen]
            lcab = xp.full((tlen, C), neg_inf, log_probs.dtype)
            for s in range(S):
                lcab[:, ext[s]] = xp.logaddexp(lcab[:, ext[s]], ab[:, s])
            lpb = log_probs[:tlen, b, :]
            grad[:tlen, b, :] = xp.exp(lpb) - xp.exp(lcab + nll - lpb)
        ctx.grad = grad
        return losses

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(1, -1, 1) * _make(ctx.grad)
