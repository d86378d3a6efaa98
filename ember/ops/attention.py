"""Scaled dot-product attention, composed of ember ops (so every order of gradient works), and
multi-head self-attention's core as one primitive over the packed q, k, v projection."""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from ember import dtypes as _dt
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import get_autocast_dtype, is_autocast_enabled
from ember.autograd import grad as _grad
from ember.autograd.function import Primitive
from ember.autograd.grad_mode import _State
from ember.backend import cuda_flash, cuda_rows
from ember.backend.device import as_dtype, get_array_module, is_host
from ember.backend.special import matmul as backend_matmul
from ember.ops import dropout as _dropout
from ember.ops.linalg import matmul
from ember.ops.movement import cat
from ember.ops.nn import _row_blocks, softmax
from ember.random import generator_for

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T * scale + mask) V.

    Args:
        query: (..., L, E); key: (..., S, E); value: (..., S, Ev).
        attn_mask: bool (True = take part) or float (added to the scores), broadcastable to
            (..., L, S); or a ``torch.nn.attention.bias.CausalBias``.
        dropout_p: dropout probability on the attention weights.
        is_causal: mask out keys after each query (no ``attn_mask`` allowed then).
        scale: defaults to 1/sqrt(E).
        enable_gqa: repeat key/value heads (dim -3) to match the query's.

    Returns: (..., L, Ev).
    """
    from ember.nn.attention import _fused_kernel  # the nn layer sits above ops
    from ember.nn.functional import dropout

    if attn_mask is not None and attn_mask.__class__ is not Tensor:
        from ember.nn.attention.bias import CausalBias
        if isinstance(attn_mask, CausalBias):  # torch.nn.attention.bias's masks
            return attn_mask._sdpa(query, key, value, dropout_p, is_causal, scale, enable_gqa)
    fused = _fused_kernel(query.device.type == "cpu", dropout_p)
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query and key must share their last "
                           f"dimension, got {list(query.shape)} and {list(key.shape)}")
    if enable_gqa and key.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        reps = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(reps, dim=-3)
        value = value.repeat_interleave(reps, dim=-3)
    factor = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    flash = _flash_inputs(query, key, value) if attn_mask is None else None
    if flash is not None:
        return _flash_attention(*flash, factor, is_causal, dropout_p)
    dtype = query.dtype
    low = dtype is _dt.float16 or dtype is _dt.bfloat16
    if low and fused and _half_flash_on_host(query, key, value, attn_mask):
        mask = _additive_mask(query, key, attn_mask, False)
        out = HalfFlashAttention.apply(query, key, value, factor, is_causal, mask)
        return _in_layout_of(out, query)
    if low:  # as PyTorch's math path: float32 inside, the result cast back
        query, key, value = query.float(), key.float(), value.float()
    if fused and _fused_on_host(query, key, value, attn_mask):
        mask = _additive_mask(query, key, attn_mask, is_causal)
        out = HostAttention.apply(query, key, value, factor, mask)
        out = out.to(dtype) if low else out
        return _in_layout_of(out, query) if query.ndim == 4 else out
    scores = matmul(query, key.transpose(-2, -1)) * factor
    length, source = query.shape[-2], key.shape[-2]
    if is_causal:
        attn_mask = scores.new_ones((length, source), dtype=_dt.bool).tril()
    if attn_mask is not None:
        if attn_mask.dtype == _dt.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), -math.inf)
        else:
            scores = scores + attn_mask
    weights = softmax(scores, -1) if attn_mask is None else _safe_softmax(scores)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    out = matmul(weights, value)
    out = out.to(dtype) if low else out
    return _in_layout_of(out, query) if fused and query.ndim == 4 else out


# PyTorch's CPU flash kernel splits the keys into blocks of this many, rescaling its running
# sums between blocks; HalfFlashAttention follows it up to one block.
_FLASH_KV_BLOCK = 512


def _half_flash_on_host(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None) -> bool:
    """Whether PyTorch's CPU flash kernel takes these half-type inputs in one block of keys:
    (B, H, L, E) NumPy arrays of one dtype with one head size and batch and head counts, and a
    mask (if any) that is not differentiated, of shape (L or 1, S or 1) or (B or 1, H or 1,
    L or 1, S or 1); other masks take PyTorch's math path."""
    if not (query.device.type == "cpu" and query.ndim == key.ndim == value.ndim == 4
            and query.dtype is key.dtype is value.dtype
            and query.shape[:2] == key.shape[:2] == value.shape[:2]
            and query.shape[-1] == key.shape[-1] == value.shape[-1]
            and key.shape[-2] == value.shape[-2] <= _FLASH_KV_BLOCK):
        return False
    if mask is None:
        return True
    sizes = query.shape[:3] + key.shape[2:3]
    return (not mask.requires_grad and mask.ndim in (2, 4)
            and all(m in (1, n) for m, n in zip(mask.shape[::-1], sizes[::-1])))


class HalfFlashAttention(Primitive, node_name="ScaledDotProductFlashAttentionForCpuBackward0"):
    """softmax(Q K^T * scale + mask) V of float16/bfloat16 as PyTorch's CPU flash kernel
    computes it: in float32 (the additive mask too), but with the unnormalised weights
    exp(s - max) rounded to the half type before they meet V (the sum that normalises them is
    the float32 one), and in backward the weights and the score gradients rounded to the half
    type before their products; each result rounded once. A query whose every key is masked
    gives zeros and zero gradients. Scores keep their log-sum-exp for backward, as the
    kernel's does."""

    @staticmethod
    def forward(ctx, query, key, value, scale, causal, mask):
        xp = get_array_module(query)
        half = query.dtype
        scores = _half_flash_scores(xp, query, key, scale, causal, mask)
        top = scores.max(axis=-1, keepdims=True)
        dead = top == -xp.inf  # rows masked whole: exp gives 0 below, their sums stay 0
        top[dead] = 0
        weights = xp.exp(scores - top)
        total = weights.sum(axis=-1, keepdims=True)
        out = backend_matmul(weights.astype(half).astype(xp.float32), value.astype(xp.float32))
        out = (out / xp.where(dead, xp.float32(1), total)).astype(half)
        # +inf log-sum-exp for dead rows, so that backward's exp(s - lse) gives them 0
        lse = xp.where(dead, xp.float32(xp.inf), top + xp.log(total))
        ctx.save_for_backward(query, key, value)
        ctx.state = (scale, causal, mask, out, lse)
        return out

    @staticmethod
    def backward(ctx, grad):
        query, key, value = ctx.saved_tensors
        scale, causal, mask, out, lse = ctx.state
        if _State.enabled:  # create_graph: differentiate the composed computation in float32
            grads = _composed_grads(grad.float(), query.float(), key.float(), value.float(),
                                    scale, causal=causal, mask=mask)
            return (*(g.to(query.dtype) for g in grads), None, None, None)
        q, k, v, half = query._data, key._data, value._data, query._data.dtype
        xp = get_array_module(q)
        wide = xp.float32
        g = grad._data.astype(wide)
        weights = xp.exp(_half_flash_scores(xp, q, k, scale, causal, mask) - lse)
        dsum = (g * out.astype(wide)).sum(axis=-1, keepdims=True)
        ds = weights * (backend_matmul(g, v.astype(wide).swapaxes(-1, -2)) - dsum)
        ds = ds.astype(half).astype(wide)
        dq = scale * backend_matmul(ds, k.astype(wide))
        # dk and dv gather over the queries block by block, each block's sum added to them in
        # the half type, as the kernel's products accumulate into its half-type outputs
        weights = weights.astype(half).astype(wide)
        dk = xp.zeros(k.shape, half)
        dv = xp.zeros(v.shape, half)
        rows = _flash_query_block(q.shape[-2])
        for start in range(0, q.shape[-2], rows):
            block = slice(start, start + rows)
            dk = (dk + scale * backend_matmul(ds[..., block, :].swapaxes(-1, -2),
                                              q[..., block, :].astype(wide))).astype(half)
            dv = (dv + backend_matmul(weights[..., block, :].swapaxes(-1, -2),
                                      g[..., block, :])).astype(half)
        return _make(dq.astype(half)), _make(dk), _make(dv), None, None, None


def _flash_query_block(length: int) -> int:
    """The rows of queries PyTorch's CPU flash kernel takes at a time for ``length`` queries."""
    return 256 if length >= 768 else 64 if length >= 192 else 32


def _half_flash_scores(xp, query, key, scale: float, causal: bool, mask):
    """Q K^T * scale in float32, plus the additive ``mask`` (or None) in float32, -inf above
    the diagonal when ``causal``."""
    wide = xp.float32
    scores = backend_matmul(query.astype(wide), key.astype(wide).swapaxes(-1, -2))
    scores *= wide(scale)
    if mask is not None:
        scores += mask.astype(wide, copy=False)
    if causal:
        scores += _causal_mask(*scores.shape[-2:])
    return scores


def _fused_on_host(query: Tensor, key: Tensor, value: Tensor, attn_mask) -> bool:
    """Whether attention runs as ``HostAttention``: NumPy arrays of one floating dtype and the
    same leading dims, and a mask (if any) that is not differentiated."""
    return (query.device.type == "cpu" and query.is_floating_point() and query.ndim >= 2
            and query.dtype is key.dtype is value.dtype
            and query.shape[:-2] == key.shape[:-2] == value.shape[:-2]
            and (attn_mask is None or not attn_mask.requires_grad))


@functools.lru_cache(maxsize=16)
def _causal_mask(length: int, source: int):
    """-inf above the diagonal of an (L, S) float32 NumPy matrix, built once per shape
    (read-only, as calls share it)."""
    mask = np.triu(np.full((length, source), -np.inf, np.float32), 1)
    mask.flags.writeable = False
    return mask


def _additive_mask(query: Tensor, key: Tensor, attn_mask, causal: bool):
    """SDPA's mask as an array added to the scores (bool: 0 where True, -inf where False;
    causal: -inf above the diagonal), or None."""
    xp = query._xp
    if causal:
        length, source = query.shape[-2], key.shape[-2]
        if is_host(xp):
            return _causal_mask(length, source)
        return xp.triu(xp.full((length, source), -xp.inf, xp.float32), 1)
    if attn_mask is None:
        return None
    mask = attn_mask._data
    if mask.dtype == bool:
        return xp.where(mask, xp.float32(0), xp.float32(-xp.inf))
    return mask


class HostAttention(Primitive, node_name="ScaledDotProductFlashAttentionForCpuBackward0"):
    """softmax(Q K^T * scale + mask) V on the CPU as one node: the scores are scaled, masked
    and normalised in place a cache-sized block at a time (``_softmax_rows``), instead of a
    pass over memory per composed op; the backward is softmax's in closed form, and double
    backward differentiates the composed computation."""

    @staticmethod
    def forward(ctx, query, key, value, scale, mask):
        xp = get_array_module(query)
        scores = backend_matmul(query, key.swapaxes(-1, -2))
        shape = scores.shape
        rows = scores.reshape((-1,) + shape[-2:])  # blocks of whole (L, S) score matrices
        if mask is not None:
            mask = xp.broadcast_to(mask, shape).reshape(rows.shape)
        probs, weights = _softmax_rows(xp, rows, scale, mask, None)
        probs, weights = probs.reshape(shape), weights.reshape(shape)
        ctx.save_for_backward(query, key, value)
        ctx.state = (scale, mask, probs, weights)
        return backend_matmul(weights, value)

    @staticmethod
    def backward(ctx, grad):
        query, key, value = ctx.saved_tensors
        scale, mask, probs, weights = ctx.state
        if _State.enabled:  # create_graph: differentiate the composed computation
            mask = None if mask is None else mask.reshape(probs.shape)
            return (*_composed_grads(grad, query, key, value, scale, mask=mask), None, None)
        q, k, v, g = query._data, key._data, value._data, grad._data
        xp = get_array_module(q)
        dv = backend_matmul(weights.swapaxes(-1, -2), g)
        ds = backend_matmul(g, v.swapaxes(-1, -2)).astype(probs.dtype, copy=False)
        ds = _softmax_rows_backward(xp, ds, probs).astype(q.dtype, copy=False)
        dq = backend_matmul(ds, k)  # the scale on the (L, E) products, not the (L, S) scores
        dk = backend_matmul(ds.swapaxes(-1, -2), q)
        dq *= scale
        dk *= scale
        return _make(dq), _make(dk), _make(dv), None, None


def _flash_inputs(query: Tensor, key: Tensor, value: Tensor):
    """(query, key, value) as the fused CUDA kernels take them (cast to autocast's dtype, as
    PyTorch's attention is a lower-precision op), or None where they do not: (B, H, L, E)
    inputs on a GPU of one batch and head count that ``cuda_flash.supports``."""
    if query.device.type != "cuda" or query.ndim != 4 or key.ndim != 4 or value.ndim != 4:
        return None
    if key.shape[:2] != query.shape[:2] or value.shape[:3] != key.shape[:3]:
        return None
    if is_autocast_enabled("cuda") and query.is_floating_point():
        low = get_autocast_dtype("cuda")
        query, key, value = (t.to(low) for t in (query, key, value))
    if not cuda_flash.supports(query._data, key._data, value._data):
        return None
    return query, key, value


def _flash_attention(query: Tensor, key: Tensor, value: Tensor, scale: float, causal: bool,
                     dropout_p: float) -> Tensor:
    noise = None
    if dropout_p > 0.0:
        shape = query.shape[:3] + key.shape[2:3]
        noise = _dropout.lazy_noise(query._xp, generator_for(query.device), shape, dropout_p,
                                    query._data.dtype)
    return FlashAttention.apply(query, key, value, scale, causal, noise)


class FlashAttention(Primitive, node_name="ScaledDotProductFlashAttentionBackward0"):
    """softmax(Q K^T * scale) V as ember's fused CUDA kernels (``cuda_flash``): neither the
    scores nor the weights are kept; the backward recomputes them from each row's
    log-sum-exp. ``noise``: dropout's ``HashedNoise`` on the weights, or None."""

    @staticmethod
    def forward(ctx, query, key, value, scale, causal, noise):
        xp = get_array_module(query)
        # The output laid out in memory as the query is (see _in_layout_of).
        order = sorted(range(4), key=lambda d: -query.strides[d])
        out = xp.empty([query.shape[d] for d in order], query.dtype).transpose(
            sorted(range(4), key=order.__getitem__))
        lse = cuda_flash.forward(query, key, value, out, scale, causal, noise)
        ctx.save_for_backward(query, key, value)
        ctx.state = (scale, causal, noise, out, lse)
        return out

    @staticmethod
    def backward(ctx, grad):
        query, key, value = ctx.saved_tensors
        scale, causal, noise, out, lse = ctx.state
        if _State.enabled:  # create_graph: differentiate the composed computation
            return _composed_grads(grad, query, key, value, scale, causal=causal, noise=noise)
        xp = get_array_module(out)
        q, k, v = query._data, key._data, value._data
        dq, dk, dv = xp.empty_like(q), xp.empty_like(k), xp.empty_like(v)
        cuda_flash.backward(q, k, v, out, _flash_operand(xp, grad._data, out), lse, dq, dk, dv,
                            scale, causal, noise)
        return _make(dq), _make(dk), _make(dv)


def _safe_softmax(scores: Tensor) -> Tensor:
    """softmax along the last dim, where a row whose every score is -inf (every key masked)
    gives zeros, as PyTorch's attention kernels do, with a finite gradient: such rows take
    the softmax of zeros, then are zeroed."""
    dead = (scores == -math.inf).all(-1, keepdim=True)
    return softmax(scores.masked_fill(dead, 0.0), -1).masked_fill(dead, 0.0)


def _in_layout_of(out: Tensor, query: Tensor) -> Tensor:
    """``out`` laid out in memory in the query's dim order, as PyTorch's fused kernels write it:
    for heads viewed out of a (N, L, H * E) projection as (N, H, L, E), the output's memory is
    (N, L, H, E), so ``out.transpose(1, 2).view(N, L, H * E)`` (common in attention modules)
    needs no copy."""
    if query.is_contiguous():
        return out
    order = sorted(range(4), key=lambda d: -query.stride(d))  # outermost dim first
    inverse = sorted(range(4), key=order.__getitem__)
    return out.permute(*order).contiguous().permute(*inverse)



# ----------------------------------------------------------------------------------------------
# Self-attention over the packed projection. The heads are strided views of the (L, N, 3E)
# array, which BLAS reads in place, so no head is copied out; the backward writes dq, dk and dv
# into one packed gradient, the in-projection's, instead of concatenating three.

def _heads(packed, parts: int, heads: int):
    """(L, N, parts * E) -> ``parts`` views (N, heads, L, E / heads)."""
    length, batch = packed.shape[:2]
    split = packed.reshape(length, batch, parts, heads, -1)
    return [split[:, :, i].transpose(1, 2, 0, 3) for i in range(parts)]


class PackedSelfAttention(Primitive,
                          node_name="ScaledDotProductFlashAttentionForCpuBackward0"):
    @staticmethod
    def forward(ctx, qkv, mask, heads, scale, noise):
        """qkv (L, N, 3E); mask: additive, broadcastable to (N, heads, L, L), or None; noise:
        dropout's scaled keep mask (N, heads, L, L) or None. Returns (L, N, E)."""
        xp = get_array_module(qkv)
        q, k, v = _heads(qkv, 3, heads)
        if mask is None and _on_flash_kernels(xp, q, k, v):
            out = xp.empty(qkv.shape[:2] + (qkv.shape[2] // 3,), qkv.dtype)
            lse = cuda_flash.forward(q, k, v, _heads(out, 1, heads)[0], scale, False, noise)
            ctx.save_for_backward(qkv)
            ctx.state = (mask, heads, scale, noise, None, None, (out, lse))
            return out
        if isinstance(noise, _dropout.HashedNoise):
            noise = noise.array()
        scores = backend_matmul(q, k.swapaxes(-1, -2))
        if _on_gpu_kernels(xp, scores, mask):
            probs, weights = cuda_rows.softmax_forward(scores, scale, noise)
        else:
            probs, weights = _softmax_rows(xp, scores, scale, mask, noise)
        # Made like qkv (C order), so that a meta qkv gives a meta result.
        out = xp.empty_like(qkv, shape=qkv.shape[:2] + (qkv.shape[2] // 3,), order="C")
        _heads(out, 1, heads)[0][...] = backend_matmul(weights, v)
        ctx.save_for_backward(qkv)
        ctx.state = (mask, heads, scale, noise, probs, weights, None)
        return out

    @staticmethod
    def backward(ctx, grad):
        (qkv,) = ctx.saved_tensors
        mask, heads, scale, noise, probs, weights, flash = ctx.state
        if _State.enabled:  # create_graph: differentiate the composed computation
            out = _composed_self_attention(qkv, mask, heads, scale, noise)
            return _grad(out, qkv, grad, create_graph=True)
        xp = get_array_module(qkv._data)
        q, k, v = _heads(qkv._data, 3, heads)
        packed = xp.empty_like(qkv._data, order="C")
        dq, dk, dv = _heads(packed, 3, heads)
        if flash is not None:
            out, lse = flash
            (g,) = _heads(_flash_operand(xp, grad._data, out), 1, heads)
            cuda_flash.backward(q, k, v, _heads(out, 1, heads)[0], g, lse, dq, dk, dv, scale,
                                False, noise)
            return _make(packed)
        (g,) = _heads(grad._data, 1, heads)
        dv[...] = backend_matmul(weights.swapaxes(-1, -2), g)
        ds = backend_matmul(g, v.swapaxes(-1, -2))  # d weights, turned into d scores in place
        if _on_gpu_kernels(xp, ds, mask):
            ds = cuda_rows.softmax_backward(xp.ascontiguousarray(ds), probs, scale, noise)
        else:
            ds = ds.astype(probs.dtype, copy=False)  # float32 for half inputs, as the forward
            if noise is not None:
                ds *= noise
            ds = _softmax_rows_backward(xp, ds, probs)
            ds *= scale
            ds = ds.astype(qkv._data.dtype, copy=False)
        dq[...] = backend_matmul(ds, k)
        dk[...] = backend_matmul(ds.swapaxes(-1, -2), q)
        return _make(packed)


def _on_flash_kernels(xp, *arrays) -> bool:
    """Whether attention over these (B, H, L, D) arrays runs as the fused kernels: on a GPU,
    in half precision, with a head dim and strides they take (``cuda_flash.supports``)."""
    return not is_host(xp) and cuda_flash.supports(*arrays)


def _flash_operand(xp, grad, like):
    """The output's gradient as the fused backward reads it: ``like``'s dtype, and contiguous
    unless its strides already suit."""
    grad = as_dtype(grad, like.dtype)
    return grad if grad.strides == like.strides else xp.ascontiguousarray(grad)


def _on_gpu_kernels(xp, scores, mask) -> bool:
    """Whether the softmax runs as ember's CUDA kernels: on a GPU, without a mask (a mask
    broadcasts in many ways; those take the CuPy path)."""
    return mask is None and not is_host(xp) and cuda_rows.supports(scores)


def _softmax_rows(xp, scores, scale: float, mask, noise):
    """``(probs, weights)``: softmax(scores * scale + mask) along the last axis, in place over
    ``scores`` a cache-sized block at a time (in float32 for half-precision scores, as SDPA
    kernels compute it), and that times ``noise`` in the scores' dtype."""
    dtype = scores.dtype
    probs = scores.astype(xp.float32) if scores.dtype.itemsize < 4 else scores
    for rows in _row_blocks(probs.shape, 3, xp):
        block = probs[rows]
        block *= scale
        if mask is not None:
            block += mask[rows] if mask.shape[0] > 1 else mask
        top = block.max(axis=-1, keepdims=True)
        if mask is not None:  # a row masked whole gives zeros (see _safe_softmax)
            top[top == -xp.inf] = 0
        block -= top
        xp.exp(block, out=block)
        total = block.sum(axis=-1, keepdims=True)
        if mask is not None:
            total[total == 0] = 1
        block /= total
    weights = (probs if noise is None else probs * noise).astype(dtype, copy=False)
    return probs, weights


def _softmax_rows_backward(xp, ds, probs):
    """``ds``, the gradient of softmax's ``probs`` along the last axis, turned into the
    scores' in place, a cache-sized block of (L, S) matrices at a time: p * (d - sum(d * p))."""
    shape = ds.shape
    rows, p = ds.reshape((-1,) + shape[-2:]), probs.reshape((-1,) + shape[-2:])
    for block in _row_blocks(rows.shape, 3, xp):
        d, pb = rows[block], p[block]
        d -= (d * pb).sum(axis=-1, keepdims=True)
        d *= pb
    return rows.reshape(shape)  # ds itself, unless reshaping had to copy


def _composed_attention(query: Tensor, key: Tensor, value: Tensor, scale: float,
                        causal: bool = False, mask=None, noise=None) -> Tensor:
    """The fused kernels' attention in ember ops (for double backward): ``mask`` additive,
    ``noise`` dropout's noise (an array or a ``HashedNoise``) on the weights."""
    scores = matmul(query, key.transpose(-2, -1)) * scale
    if causal:
        keep = scores.new_ones(scores.shape[-2:], dtype=_dt.bool).tril()
        scores = scores.masked_fill(keep.logical_not(), -math.inf)
    if mask is not None:
        scores = scores + _make(mask)
    weights = softmax(scores, -1)
    if noise is not None:
        weights = weights * _make(noise.array() if isinstance(noise, _dropout.HashedNoise)
                                  else noise)
    return matmul(weights, value)


def _composed_grads(grad: Tensor, query: Tensor, key: Tensor, value: Tensor, scale: float,
                    **options) -> tuple:
    """The gradients of ``_composed_attention`` for its three inputs, differentiable again.
    Each input enters through a view of its own, so that a partial derivative never runs
    through another input computed from it (``k = 2 * q``) or equal to it (``q, q, q``)."""
    q, k, v = (t.view_as(t) for t in (query, key, value))
    out = _composed_attention(q, k, v, scale, **options)
    return _grad(out, (q, k, v), grad, create_graph=True)


def _composed_self_attention(qkv: Tensor, mask, heads: int, scale: float, noise) -> Tensor:
    """PackedSelfAttention in ember ops (for double backward)."""
    length, batch, width = qkv.shape
    split = qkv.reshape(length, batch, 3, heads, width // (3 * heads))
    q, k, v = (split.select(2, i).permute(1, 2, 0, 3) for i in range(3))
    out = _composed_attention(q, k, v, scale, mask=mask, noise=noise)
    return out.permute(2, 0, 1, 3).reshape(length, batch, width // 3)


def packed_self_attention(qkv: Tensor, num_heads: int, attn_mask: Tensor | None = None,
                          noise=None) -> Tensor:
    """Multi-head self-attention's core: (L, N, 3E) packed q, k, v -> (L, N, E).

    ``attn_mask`` is additive (not differentiated), broadcastable to (N, num_heads, L, L);
    ``noise`` is dropout's scaled keep mask of that shape, or None.
    """
    scale = 1 / math.sqrt(qkv.shape[2] // (3 * num_heads))
    mask = None if attn_mask is None else attn_mask._data
    return PackedSelfAttention.apply(qkv, mask, num_heads, scale, noise)


def _packed_mask(attn_mask: Tensor | None, key_padding_mask: Tensor | None, like: Tensor,
                 num_heads: int) -> Tensor | None:
    """MultiheadAttention's masks as one additive mask broadcastable to (N, heads, L, S)."""
    mask = _as_float_mask(attn_mask, like, "attn_mask")
    if mask is not None:  # (L, S) or (N * heads, L, S) -> 4-D
        lead = (-1, num_heads) if mask.ndim == 3 and mask.shape[0] > 1 else (1, 1)
        mask = mask.reshape(lead + tuple(mask.shape[-2:]))
    if key_padding_mask is not None:
        kpm = _as_float_mask(key_padding_mask, like, "key_padding_mask")
        kpm = kpm.reshape(kpm.shape[0], 1, 1, kpm.shape[-1])
        mask = kpm if mask is None else mask + kpm
    return mask


def _none_or_dtype(input: Tensor | None):
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask: Tensor | None, mask_name: str, other_type, other_name: str,
                    target_type, check_other: bool = True) -> Tensor | None:
    """MultiheadAttention's and the transformer layers' masks as PyTorch takes them: bool True
    means "do not attend" (the opposite of scaled_dot_product_attention's) and becomes -inf in
    an additive mask of ``target_type``; a float mask is added as it is. Warns, as PyTorch
    does, when the other mask given with it (of dtype ``other_type``) has another dtype."""
    if mask is None:
        return None
    if mask.dtype is not _dt.bool and not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. "
                      "Use same type for both instead.", stacklevel=2)
    if mask.dtype is _dt.bool:
        return mask.new_zeros(mask.shape, dtype=target_type).masked_fill(mask, -math.inf)
    return mask


def _as_float_mask(mask: Tensor | None, like: Tensor, name: str) -> Tensor | None:
    """An additive mask of ``like``'s dtype (see ``_canonical_mask``)."""
    mask = _canonical_mask(mask, name, None, "", like.dtype, check_other=False)
    return None if mask is None else mask.to(like.dtype)


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor,
                                 embed_dim_to_check: int, num_heads: int,
                                 in_proj_weight: Tensor | None, in_proj_bias: Tensor | None,
                                 bias_k: Tensor | None, bias_v: Tensor | None,
                                 add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
                                 out_proj_bias: Tensor | None, training: bool = True,
                                 key_padding_mask: Tensor | None = None,
                                 need_weights: bool = True, attn_mask: Tensor | None = None,
                                 use_separate_proj_weight: bool = False,
                                 q_proj_weight: Tensor | None = None,
                                 k_proj_weight: Tensor | None = None,
                                 v_proj_weight: Tensor | None = None,
                                 static_k: Tensor | None = None,
                                 static_v: Tensor | None = None,
                                 average_attn_weights: bool = True,
                                 is_causal: bool = False):
    """Multi-head attention on sequence-first inputs: query (L, N, E), key/value (S, N, E_k/v)
    or unbatched (L, E). Returns (output (L, N, E), weights (N, L, S) averaged over heads, or
    (N, H, L, S), or None without ``need_weights``)."""
    from ember.nn.functional import dropout, linear, pad

    batched = query.ndim == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    tgt_len, bsz, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        attn_mask = query.new_ones((tgt_len, key.shape[0]), dtype=_dt.bool).triu(1)
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    if use_separate_proj_weight:
        q = linear(query, q_proj_weight, b_q)
        k = linear(key, k_proj_weight, b_k)
        v = linear(value, v_proj_weight, b_v)
    elif query is key and key is value:
        # self-attention: one matmul for all three projections
        qkv = linear(query, in_proj_weight, in_proj_bias)
        if (not need_weights and bias_k is None and not add_zero_attn and static_k is None
                and static_v is None and not _half_on_host(qkv)):
            mask = _packed_mask(attn_mask, key_padding_mask, qkv, num_heads)
            if mask is None or not mask.requires_grad:
                p = dropout_p if training else 0.0
                noise = _dropout.lazy_noise(qkv._xp, generator_for(qkv.device),
                                            (bsz, num_heads, tgt_len, tgt_len), p,
                                            qkv._data.dtype) if p else None
                out = packed_self_attention(qkv, num_heads, mask, noise)
                out = linear(out.reshape(tgt_len * bsz, embed_dim), out_proj_weight,
                             out_proj_bias).reshape(tgt_len, bsz, -1)
                return (out if batched else out.squeeze(1)), None
        q, k, v = qkv.chunk(3, -1)
    else:
        w_q, w_k, w_v = in_proj_weight.chunk(3)
        q = linear(query, w_q, b_q)
        k = linear(key, w_k, b_k)
        v = linear(value, w_v, b_v)
    attn_mask = _as_float_mask(attn_mask, q, "attn_mask")
    if attn_mask is not None and attn_mask.ndim == 2:
        attn_mask = attn_mask.unsqueeze(0)
    if bias_k is not None and bias_v is not None:
        k = _cat_seq(k, bias_k.repeat(1, bsz, 1))
        v = _cat_seq(v, bias_v.repeat(1, bsz, 1))
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = (static_k if static_k is not None
         else k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1))
    v = (static_v if static_v is not None
         else v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1))
    if add_zero_attn:
        k = cat([k, k.new_zeros((bsz * num_heads, 1, head_dim))], 1)
        v = cat([v, v.new_zeros((bsz * num_heads, 1, head_dim))], 1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        kpm = _as_float_mask(key_padding_mask, q, "key_padding_mask")
        kpm = kpm.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    p = dropout_p if training else 0.0
    if not need_weights and _half_on_host(q):
        # PyTorch hands these to scaled_dot_product_attention, whose CPU flash kernel rounds
        # the half types its own way (see HalfFlashAttention)
        if attn_mask is not None:
            lead = (1, 1) if attn_mask.shape[0] == 1 else (bsz, num_heads)
            attn_mask = attn_mask.reshape(lead + tuple(attn_mask.shape[-2:]))
        out = scaled_dot_product_attention(
            q.reshape(bsz, num_heads, tgt_len, head_dim),
            k.reshape(bsz, num_heads, src_len, head_dim),
            v.reshape(bsz, num_heads, src_len, head_dim), attn_mask, p)
        out = out.permute(2, 0, 1, 3).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        return (out if batched else out.squeeze(1)), None
    scores = matmul(q * (1.0 / math.sqrt(head_dim)), k.transpose(-2, -1))
    if attn_mask is not None:
        scores = scores + attn_mask
    # Without weights to return PyTorch runs its attention kernels, which give a row masked
    # whole zeros; with them, its composed softmax gives NaN.
    weights = softmax(scores, -1) if need_weights or attn_mask is None else \
        _safe_softmax(scores)
    if p > 0.0:
        weights = dropout(weights, p, True)
    out = matmul(weights, v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    # The output width is out_proj_weight's: CLIP's attention pool projects to another width.
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not batched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        weights = weights.mean(1)
    return out, weights if batched else weights.squeeze(0)


def _half_on_host(t: Tensor) -> bool:
    return t.device.type == "cpu" and (t.dtype is _dt.float16 or t.dtype is _dt.bfloat16)


def _cat_seq(a: Tensor, b: Tensor) -> Tensor:
    return cat([a, b], 0)
