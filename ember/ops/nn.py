"""Neural-network primitives fused for speed or numerical stability (softmax, ...)."""
from __future__ import annotations

from ember import dtypes as _dt
from ember._tensor import Tensor
from ember.autograd.function import Primitive
from ember.backend.device import get_array_module
from ember.ops._util import float_array, wrap_dim


class Softmax(Primitive, node_name="SoftmaxBackward0"):
    @staticmethod
    def forward(ctx, a, dim):
        xp = get_array_module(a)
        a = float_array(a)
        e = xp.exp(a - a.max(axis=dim, keepdims=True))
        e /= e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(e)
        ctx.dim = dim
        return e

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        gy = grad * out
        return gy - out * gy.sum(ctx.dim, keepdim=True)


class LogSoftmax(Primitive, node_name="LogSoftmaxBackward0"):
    @staticmethod
    def forward(ctx, a, dim):
        xp = get_array_module(a)
        a = float_array(a)
        shifted = a - a.max(axis=dim, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad - out.exp() * grad.sum(ctx.dim, keepdim=True)


def _softmax_dim(input: Tensor, dim) -> int:
    if dim is None:  # PyTorch's legacy implicit choice
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return wrap_dim(dim, input.ndim)


def softmax(input: Tensor, dim=None, dtype=None, *, _stacklevel: int = 3) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, computed stably."""
    if dtype is not None:
        input = input.to(_dt.to_dtype(dtype))
    if input.ndim == 0:
        return Softmax.apply(input.reshape(1), 0).reshape(())
    return Softmax.apply(input, _softmax_dim(input, dim))


def log_softmax(input: Tensor, dim=None, dtype=None, *, _stacklevel: int = 3) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably."""
    if dtype is not None:
        input = input.to(_dt.to_dtype(dtype))
    if input.ndim == 0:
        return LogSoftmax.apply(input.reshape(1), 0).reshape(())
    return LogSoftmax.apply(input, _softmax_dim(input, dim))
