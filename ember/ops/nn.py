"""Neural-network primitives fused for speed or numerical stability: softmax and log_softmax
(with the blocked exponentials cross-entropy reuses) and the activations. The fused
normalization, loss and embedding primitives live beside it (normalization.py, losses.py,
embedding.py); ``ember.nn.functional`` composes the rest from these."""
from __future__ import annotations

import math

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend.device import as_dtype, get_array_module, is_host
from ember.backend.special import grad_where, special
from ember.ops._util import float_array, scalar_name, wrap_dim
from ember.ops.elementwise import (
    clip_array,
    select_grad,
    where,
    with_saved_edge,
    without_derivative,
)
from ember.ops.movement import sum_to_size

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
        # a NaN passes no gradient; PyTorch's kernel scales by 1/6 rounded to float32
        result = select_grad(grad, (a > -3) & (a < 3)) * 0.1666666716337204
        return without_derivative(result, grad, ctx, "hardsigmoid_backward")


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
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)): ELU, SELU and CELU.
    ``grad_input_scale`` replaces ``input_scale`` in backward (CELU's, rounded as in PyTorch)."""

    @staticmethod
    def forward(ctx, a, alpha, scale, input_scale, grad_input_scale=None):
        xp = get_array_module(a)
        a = float_array(a)
        ctx.save_for_backward(a)
        ctx.params = (alpha, scale, input_scale if grad_input_scale is None else grad_input_scale)
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
            # 0 takes the exponential's slope, but PyTorch's second derivative there is 0.
            exp_slope = (a.masked_fill(_make(~(a._data < 0)), 0) * input_scale).exp()
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
        z = a._data * beta
        linear = _mask(a, z > threshold)
        if _State.enabled:  # create_graph: PyTorch's second derivative is 0 from the threshold on
            a = where(_make(z >= threshold), a.detach(), a)
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

