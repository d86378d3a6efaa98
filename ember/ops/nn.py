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
from ember.ops._util import float_array, in_float32, scalar_name, wrap_dim
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
        if _dt.is_half(a.dtype):
            out = _half_softmax(xp, a, dim, log=False)
        else:
            out = xp.empty_like(a)
            if a.size:
                for _, block, _, total in _exp_blocks(xp, a, dim, out):
                    block /= total
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        dim = ctx.dim
        if _State.enabled:  # create_graph
            return in_float32(lambda g, y: _softmax_grad(g, y, dim), grad, out)
        return _make(in_float32(lambda g, y: _softmax_grad(g, y, dim), grad._data, out._data))


class LogSoftmax(Primitive, node_name="LogSoftmaxBackward0"):
    _node_saved = {"result": 0, "dim": lambda ctx: ctx.dim}

    @staticmethod
    def forward(ctx, a, dim):
        xp = get_array_module(a)
        a = float_array(a)
        if _dt.is_half(a.dtype):
            out = _half_softmax(xp, a, dim, log=True)
        else:
            out = xp.empty_like(a)
            if a.size:
                for rows, block, top, total in _exp_blocks(xp, a, dim, out):
                    top += xp.log(total)
                    xp.subtract(a[rows], top, out=block)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        dim = ctx.dim
        if _State.enabled:  # create_graph
            return in_float32(lambda g, y: g - y.exp() * g.sum(dim, keepdim=True), grad, out)
        return _make(in_float32(lambda g, y: _log_softmax_grad(g, y, dim), grad._data, out._data))


def _half_softmax(xp, a, dim: int, log: bool):
    """softmax or log_softmax of a float16 or bfloat16 array as PyTorch's vectorised CPU kernels
    compute it: in float32 from x - max, rounded once; log_softmax along the last dim keeps the
    row's sum of exp and its log in the input type, rounding each. (Along other dims PyTorch's
    scalar tail columns, which its thread count places, round exp first: an ulp apart there.)"""
    if not a.size:
        return a.copy()
    wide = a.astype(xp.float32)
    shifted = wide - wide.max(axis=dim, keepdims=True)
    exp = xp.exp(shifted)
    total = exp.sum(axis=dim, keepdims=True)
    if not log:
        if dim == a.ndim - 1:  # PyTorch's last-dim kernel multiplies by the reciprocal
            return (exp * (1 / total)).astype(a.dtype)
        return (exp / total).astype(a.dtype)
    if dim == a.ndim - 1:
        total = total.astype(a.dtype).astype(xp.float32)
        lse = xp.log(total).astype(a.dtype).astype(xp.float32)
    else:
        lse = xp.log(total)
    return (shifted - lse).astype(a.dtype)


# Half types compute both gradients in float32 and round once, as PyTorch's kernels.
def _softmax_grad(g, y, dim: int):
    """y * (g - sum(y * g)), on arrays (the product's buffer, once summed, holds the result)
    or, under create_graph, on Tensors."""
    if isinstance(g, Tensor):
        gy = g * y
        return gy - y * gy.sum(dim, keepdim=True)
    gx = y * g
    get_array_module(y).subtract(g, gx.sum(axis=dim, keepdims=True), out=gx)
    gx *= y
    return gx


def _log_softmax_grad(g, y, dim: int):
    """g - exp(y) * sum(g)."""
    xp = get_array_module(y)
    gx = xp.exp(y)
    gx *= g.sum(axis=dim, keepdims=True)
    xp.subtract(g, gx, out=gx)
    return gx


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
        # as_dtype: CuPy's bf16 * bf16 is f32
        return in_float32(lambda x: as_dtype(x * _leaky_slope(x, negative_slope), x.dtype), a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx._saved_arrays
        slope = ctx.slope
        return with_saved_edge(in_float32(lambda g, x: g * _make(_leaky_slope(x, slope)),
                                          grad, a), ctx)


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
        return in_float32(lambda x: (xp.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False),
                          a)  # relu6(x + 3) / 6

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
        return in_float32(lambda x: (x * xp.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False),
                          a)  # x relu6(x + 3) / 6

    @staticmethod
    def backward(ctx, grad):
        """0 up to -3, then x / 3 + 1/2, then 1 from 3 on and at NaN, as in PyTorch."""
        (a,) = ctx._saved_arrays
        flat = ~(a < 3)
        if _State.enabled:  # create_graph: differentiable in x
            slope = (ctx.saved_tensors[0] / 3 + 0.5).masked_fill(_make(flat), 1)
            return select_grad(grad * slope, drop=a <= -3)
        return select_grad(in_float32(_hardswish_grad, grad, a), drop=a <= -3)


def _hardswish_grad(grad: Tensor, a) -> Tensor:
    """grad * (x / 3 + 1/2) below 3, grad from 3 on and at NaN (the caller drops x <= -3)."""
    flat = ~(a < 3)
    slope = grad_where(as_dtype(a / 3 + 0.5, a.dtype), drop=flat)
    slope += flat  # x / 3 + 1/2 is never -0.0: adding 0 or 1 to it is exact
    return grad * _make(slope)


class Elu(Primitive, node_name="EluBackward0"):
    """scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)): ELU, SELU and CELU.
    ``grad_input_scale`` replaces ``input_scale`` in backward (CELU's, rounded as in PyTorch)."""

    @staticmethod
    def forward(ctx, a, alpha, scale, input_scale, grad_input_scale=None):
        xp = get_array_module(a)
        a = float_array(a)
        ctx.save_for_backward(a)
        ctx.params = (alpha, scale, input_scale if grad_input_scale is None else grad_input_scale)
        return in_float32(lambda x: _elu(xp, x, alpha, scale, input_scale), a)

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
        return _make(in_float32(lambda g, x: _elu_grad(g, x, *ctx.params), grad._data, a))


def _elu(xp, a, alpha: float, scale: float, input_scale: float):
    # Each part is 0 (+0.0) where the other applies: their sum is exact, -0.0 and NaN kept.
    neg = (alpha * scale) * xp.expm1(clip_array(a, None, 0) * input_scale)
    return (scale * clip_array(a, 0, None) + neg).astype(a.dtype, copy=False)


def _elu_grad(grad, a, alpha: float, scale: float, input_scale: float):
    xp = get_array_module(a)
    negative = a <= 0
    slope = grad_where(as_dtype(xp.exp(clip_array(a, None, 0) * input_scale), a.dtype), negative)
    slope *= alpha * input_scale * scale
    positive = xp.logical_not(negative).astype(a.dtype)
    slope += positive * scale if scale != 1 else positive  # exact: adds to +0.0 or 0
    return as_dtype(grad * slope, grad.dtype)


class Gelu(Primitive, node_name="GeluBackward0"):
    _node_saved = {"self": 0, "approximate": lambda ctx: ctx.approximate}

    @staticmethod
    def forward(ctx, a, approximate):
        xp = get_array_module(a)
        a = float_array(a)
        ctx.save_for_backward(a)
        ctx.approximate = approximate
        return in_float32(lambda x: as_dtype(_gelu(xp, x, approximate), x.dtype), a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return in_float32(lambda g, x: g * _gelu_slope(x, ctx.approximate), grad, a)


def _gelu(xp, a, approximate: str):
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (a + 0.044715 * a * a * a)
        return 0.5 * a * (1 + xp.tanh(inner))
    return 0.5 * a * (1 + special(xp).erf(a * (1 / math.sqrt(2))))


def _gelu_slope(a: Tensor, approximate: str) -> Tensor:
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        t = (k * (a + 0.044715 * a * a * a)).tanh()
        return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * (k * (1 + 3 * 0.044715 * a * a))
    cdf = 0.5 * (1 + (a * (1 / math.sqrt(2))).erf())
    pdf = (a * a * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
    return cdf + a * pdf


class Silu(Primitive, node_name="SiluBackward0"):
    _node_saved = {"self": 0}

    @staticmethod
    def forward(ctx, a):
        a = float_array(a)
        ctx.save_for_backward(a)
        expit = special(get_array_module(a)).expit
        return in_float32(lambda x: (x * expit(x)).astype(x.dtype, copy=False), a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return in_float32(_silu_grad, grad, a)


def _silu_grad(grad: Tensor, a: Tensor) -> Tensor:
    s = a.sigmoid()
    return grad * (s * (1 + a * (1 - s)))


class Mish(Primitive, node_name="MishBackward0"):
    @staticmethod
    def forward(ctx, a):
        xp = get_array_module(a)
        a = float_array(a)
        ctx.save_for_backward(a)
        return in_float32(lambda x: _mish(xp, x), a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return in_float32(_mish_grad, grad, a)


def _mish(xp, a):
    softplus = xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a)))
    return (a * xp.tanh(softplus)).astype(a.dtype, copy=False)


def _mish_grad(grad: Tensor, a: Tensor) -> Tensor:
    t = Softplus.apply(a, 1.0, math.inf).tanh()
    return grad * (t + a * (1 - t * t) * a.sigmoid())


class Softplus(Primitive, node_name="SoftplusBackward0"):
    @staticmethod
    def forward(ctx, a, beta, threshold):
        xp = get_array_module(a)
        a = float_array(a)
        ctx.save_for_backward(a)
        ctx.params = (beta, threshold)
        return in_float32(lambda x: _softplus(xp, x, beta, threshold), a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return in_float32(lambda g, x: _softplus_grad(g, x, *ctx.params), grad, a)


def _softplus(xp, a, beta: float, threshold: float):
    z = a * beta
    # log1p(exp(z)) = max(z, 0) + log1p(exp(-|z|)) never overflows
    soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
    return xp.where(z > threshold, a, soft).astype(a.dtype, copy=False)


def _softplus_grad(grad: Tensor, a: Tensor, beta: float, threshold: float) -> Tensor:
    z = a._data * beta
    linear = _mask(a, z > threshold)
    if _State.enabled:  # create_graph: PyTorch's second derivative is 0 from the threshold on
        a = where(_make(z >= threshold), a.detach(), a)
    return grad * (linear + (1 - linear) * (a * beta).sigmoid())


class LogSigmoid(Primitive, node_name="LogSigmoidBackward0"):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), saving exp(-|x|) (PyTorch's buffer, in
    x's dtype, which half types round) for the gradient."""
    _node_saved = {"self": 0, "buffer": 1}

    @staticmethod
    def forward(ctx, a):
        xp = get_array_module(a)
        a = float_array(a)
        out, buffer = in_float32(lambda x: _log_sigmoid(xp, x), a)
        ctx.save_for_backward(a, buffer)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, buffer = ctx.saved_tensors
        if _State.enabled:  # create_graph: sigmoid(-x), smooth at 0 as PyTorch's derivative
            return in_float32(lambda g, x: g * (-x).sigmoid(), grad, a)
        return in_float32(_log_sigmoid_grad, grad, a, buffer)


def _log_sigmoid(xp, a) -> tuple:
    """log(sigmoid(x)) (0.0 at x = inf, as in PyTorch, not -0.0) and the buffer exp(-|x|)."""
    buffer = xp.exp(-xp.abs(a))
    return (xp.minimum(a, 0) - xp.log1p(buffer)).astype(a.dtype, copy=False), buffer


def _log_sigmoid_grad(grad: Tensor, a: Tensor, buffer: Tensor) -> Tensor:
    """grad * (1 - b / (1 + b)) where x < 0, else grad * b / (1 + b), with b = exp(-|x|)."""
    share = buffer / (1 + buffer)
    return grad * where(_make(a._data < 0), 1 - share, share)


def _shrunk(a, lambd: float):
    """Where ``-lambd <= a <= lambd``: the zero band of hardshrink and softshrink (never NaN),
    with ``lambd`` rounded to ``a``'s dtype as PyTorch's kernels compare (NumPy would widen a
    bfloat16 ``a`` instead)."""
    lambd = a.dtype.type(lambd)
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
        return in_float32(lambda x: x - clip_array(x, -lambd, lambd), a)

    @staticmethod
    def backward(ctx, grad):
        return with_saved_edge(select_grad(grad, drop=ctx.shrunk), ctx)

