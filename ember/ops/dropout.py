"""Dropout as one primitive: a keep mask drawn, applied and kept for backward in one pass.

Elements are kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``; backward multiplies
by the same ``keep * scale``. On the CPU the keep mask is PyTorch's ``bernoulli_(1 - p)`` (a
double uniform per element below ``1 - p``), so a seeded program drops the elements PyTorch
drops; both passes run over cache-sized pieces (draw, compare, scale, multiply while the piece
is in cache) and the mask is kept as bools, a quarter of the float noise's memory. On a GPU
each pass is one kernel whose draws are a hash of a seed (two words drawn from the device's
generator) and the element's index, so the mask is not stored: the backward hashes again
(``cuda_rows.dropout``).
"""
from __future__ import annotations

import numpy as np

from ember._tensor import Tensor, _make
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend import cuda_rows
from ember.backend.device import get_array_module, is_host
from ember.backend.fused import BLOCK

__all__ = ["HashedNoise", "dropout", "keep_draws", "lazy_noise", "noise"]


def _threshold(xp, p: float):
    """A GPU hash draw at or above this keeps its element: probability 1 - p at 2^-32
    resolution."""
    return xp.uint32(min(round(p * (1 << 32)), (1 << 32) - 1))


def _scale(dtype, p: float):
    """``1 / (1 - p)`` as PyTorch's ``noise.div_(1 - p)`` computes it, in the noise's dtype."""
    return dtype.type(1.0) / dtype.type(1.0 - p) if p < 1.0 else dtype.type(0)


def keep_draws(xp, rng, shape, p: float):
    """A bool array of ``shape``, True with probability 1 - p (``rng``: the device's
    stream, ``ember.random.generator_for``)."""
    if p >= 1.0:
        return xp.zeros(shape, bool)
    return rng.bernoulli(1.0 - p, shape)


def _hashed(xp, dtype) -> bool:
    """Whether dropout on arrays of ``xp`` and ``dtype`` draws by hashing on the GPU."""
    return not is_host(xp) and cuda_rows.supports(np.empty(0, dtype))


def _device_seed(xp, rng):
    """Two uint32 words from the device's generator, left on the device."""
    return rng.words(2)


def noise(xp, rng, shape, p: float, dtype):
    """Dropout's noise: ``1 / (1 - p)`` with probability ``1 - p``, else 0, an array of
    ``shape`` and ``dtype``."""
    made = lazy_noise(xp, rng, shape, p, dtype)
    return made.array() if isinstance(made, HashedNoise) else made


def lazy_noise(xp, rng, shape, p: float, dtype):
    """:func:`noise`, but where the GPU draws by hashing, a :class:`HashedNoise` (its seed):
    a fused kernel draws the noise where it uses it."""
    scale = _scale(dtype, p)
    if p < 1.0 and _hashed(xp, dtype):
        return HashedNoise(shape, dtype, _threshold(xp, p), scale, _device_seed(xp, rng))
    return xp.multiply(keep_draws(xp, rng, shape, p), scale, dtype=dtype)  # one pass


def _pieces(size: int):
    for lo in range(0, size, BLOCK):
        yield lo, min(size, lo + BLOCK)


def _host_forward(x, p: float, scale, rng):
    """``x * keep * scale`` and ``keep``, drawn and applied piece by piece (the same draws,
    in the same order, as one ``keep_draws`` call)."""
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.size, x.dtype)
    keep = np.empty(flat.size, bool)
    noise = np.empty(min(flat.size, BLOCK), x.dtype)
    for lo, hi in _pieces(flat.size):
        k = keep[lo:hi] = rng.bernoulli(1.0 - p, (hi - lo,))
        n = np.multiply(k, scale, out=noise[:hi - lo])
        np.multiply(flat[lo:hi], n, out=out[lo:hi])
    return out.reshape(x.shape), keep.reshape(x.shape)


def _host_backward(g, keep, scale):
    """``g * keep * scale``, piece by piece."""
    flat = np.ascontiguousarray(g).reshape(-1)
    mask = keep.reshape(-1)
    out = np.empty(flat.size, g.dtype)
    noise = np.empty(min(flat.size, BLOCK), g.dtype)
    for lo, hi in _pieces(flat.size):
        n = np.multiply(mask[lo:hi], scale, out=noise[:hi - lo])
        np.multiply(flat[lo:hi], n, out=out[lo:hi])
    return out.reshape(g.shape)


class HashedNoise:
    """Dropout's noise on a GPU as its seed (two uint32 on the device): ``scale`` where an
    element's draw, a hash of the seed and its C-order index in ``shape``, is at least
    ``threshold``, else 0. ``apply`` multiplies an array of ``shape`` by it and ``array``
    makes it, each hashing the draws again."""

    __slots__ = ("shape", "dtype", "threshold", "scale", "seed")

    def __init__(self, shape, dtype, threshold, scale, seed):
        self.shape, self.dtype, self.threshold = shape, dtype, threshold
        self.scale, self.seed = scale, seed

    def apply(self, x):
        return cuda_rows.dropout(x, self.threshold, x.dtype.type(self.scale), self.seed)

    def array(self, dtype=None):
        dtype = np.dtype(self.dtype if dtype is None else dtype)
        return cuda_rows.dropout(None, self.threshold, dtype.type(self.scale), self.seed,
                                 self.shape, dtype)


class _Dropout(Primitive, node_name="MulBackward0"):  # PyTorch CPU multiplies by the mask
    @staticmethod
    def forward(ctx, x, p, rng):
        xp = get_array_module(x)
        scale = _scale(x.dtype, p)
        if x.__class__ is np.ndarray:  # (not a meta array, which has no values to draw for)
            out, keep = _host_forward(x, p, scale, rng)
        elif _hashed(xp, x.dtype):
            keep = HashedNoise(x.shape, x.dtype, _threshold(xp, p), scale,
                               _device_seed(xp, rng))
            out = keep.apply(x)
        else:
            keep = keep_draws(xp, rng, x.shape, p)
            out = x * xp.multiply(keep, scale, dtype=x.dtype)
        ctx.keep, ctx.scale = keep, scale
        return out

    @staticmethod
    def backward(ctx, grad):
        keep, scale = ctx.keep, ctx.scale
        g = grad._data
        xp = get_array_module(g)
        if isinstance(keep, HashedNoise):
            if _State.enabled and grad.requires_grad:  # create_graph: differentiable in grad
                return grad * _make(keep.array(g.dtype)), None, None
            return _make(keep.apply(g)), None, None
        if _State.enabled and grad.requires_grad:  # create_graph: differentiable in grad
            return grad * _make(xp.multiply(keep, scale, dtype=g.dtype)), None, None
        if g.__class__ is np.ndarray and g.shape == keep.shape and g.dtype == scale.dtype:
            return _make(_host_backward(g, keep, scale)), None, None
        return _make(g * xp.multiply(keep, scale, dtype=g.dtype)), None, None


def dropout(input: Tensor, p: float, rng) -> Tensor:
    """``input`` with each element zeroed with probability ``0 <= p < 1`` and the rest scaled
    by ``1 / (1 - p)``, drawing from ``rng`` (the device's generator)."""
    return _Dropout.apply(input, p, rng)
