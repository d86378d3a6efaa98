"""Masked half-type attention as PyTorch's CPU flash kernel computes it (oracles in NumPy and
ml_dtypes): scaled_dot_product_attention with a mask of shape (L, S) or (B|1, H|1, L, S) adds
it to the float32 scores, rounds exp(s - max) to the half type before it meets V and divides by
the float32 sum; a query whose every key is masked gives zeros and zero gradients. Other mask
shapes take the math path (float32 throughout, rounded once). MultiheadAttention without
weights hands its heads to scaled_dot_product_attention, as PyTorch's does."""
import math

import ml_dtypes
import numpy as np
import pytest

import ember
import ember.nn.functional as F

HALF = [(ember.bfloat16, ml_dtypes.bfloat16), (ember.float16, np.float16)]


def _rounded(array, np_half):
    """``array`` rounded once to the half type, back in float32."""
    return np.asarray(array, np.float32).astype(np_half).astype(np.float32)


def _values(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _flash(q, k, v, mask, np_half):
    """The CPU flash kernel's forward on half-rounded float32 arrays."""
    scores = (q @ k.swapaxes(-1, -2)) * np.float32(1 / math.sqrt(q.shape[-1])) + mask
    top = scores.max(-1, keepdims=True)
    dead = top == -np.inf
    weights = np.exp(scores - np.where(dead, 0, top))
    total = np.where(dead, 1, weights.sum(-1, keepdims=True))
    return _rounded((_rounded(weights, np_half) @ v) / total, np_half)


def _qkv(np_half, length=5, source=7):
    shapes = [(2, 3, length, 8), (2, 3, source, 8), (2, 3, source, 8)]
    return [_rounded(_values(shape, seed), np_half) for seed, shape in enumerate(shapes)]


@pytest.mark.parametrize("dtype, np_half", HALF)
@pytest.mark.parametrize("mask_shape", [(5, 7), (2, 1, 5, 7), (1, 3, 1, 7)])
def test_float_mask_is_added_in_float32_before_the_rounded_weights(dtype, np_half, mask_shape):
    q, k, v = _qkv(np_half)
    mask = _values(mask_shape, seed=9)  # float32: added as it is, not rounded
    out = F.scaled_dot_product_attention(*(ember.tensor(a).to(dtype) for a in (q, k, v)),
                                         attn_mask=ember.tensor(mask))
    np.testing.assert_array_equal(out.float().numpy(), _flash(q, k, v, mask, np_half))


@pytest.mark.parametrize("dtype, np_half", HALF)
def test_bool_mask_and_a_query_masked_whole(dtype, np_half):
    q, k, v = _qkv(np_half)
    keep = np.random.default_rng(3).random((2, 3, 5, 7)) > 0.3
    keep[:, :, 1] = False  # query 1 sees no key
    tensors = [ember.tensor(a).to(dtype).requires_grad_() for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*tensors, attn_mask=ember.tensor(keep))
    additive = np.where(keep, np.float32(0), np.float32(-np.inf))
    np.testing.assert_array_equal(out.detach().float().numpy(),
                                  _flash(q, k, v, additive, np_half))
    assert out.grad_fn.name() == "ScaledDotProductFlashAttentionForCpuBackward0"
    out.backward(ember.ones_like(out))
    query_grad = tensors[0].grad.float().numpy()
    np.testing.assert_array_equal(query_grad[:, :, 1], 0)
    assert np.isfinite(query_grad).all()
    for t in tensors[1:]:
        assert np.isfinite(t.grad.float().numpy()).all()


@pytest.mark.parametrize("dtype, np_half", HALF)
def test_other_mask_shapes_take_the_float32_math_path(dtype, np_half):
    q, k, v = _qkv(np_half)
    mask = _values((3, 5, 7), seed=4)  # 3-D: not a flash kernel mask
    out = F.scaled_dot_product_attention(*(ember.tensor(a).to(dtype) for a in (q, k, v)),
                                         attn_mask=ember.tensor(mask))
    scores = (q @ k.swapaxes(-1, -2)) * np.float32(1 / math.sqrt(8)) + mask
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    expected = (weights / weights.sum(-1, keepdims=True)) @ v
    np.testing.assert_allclose(out.float().numpy(), _rounded(expected, np_half), rtol=1e-2,
                               atol=1e-2)


@pytest.mark.parametrize("dtype, np_half", HALF)
@pytest.mark.parametrize("masked", [False, True])
def test_multihead_attention_without_weights_is_flash_attention(dtype, np_half, masked):
    ember.manual_seed(0)
    mha = ember.nn.MultiheadAttention(16, 2, batch_first=True).to(dtype)
    x = ember.tensor(_values((2, 6, 16), seed=5)).to(dtype)
    mask = np.triu(np.full((6, 6), -np.inf, np.float32), 1) if masked else np.zeros((6, 6))
    out = mha(x, x, x, need_weights=False,
              attn_mask=ember.tensor(mask).to(dtype) if masked else None)[0]
    qkv = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).detach().float().numpy()
    heads = [part.reshape(2, 6, 2, 8).transpose(0, 2, 1, 3) for part in np.split(qkv, 3, -1)]
    attended = _flash(*heads, mask.astype(np.float32), np_half)
    attended = ember.tensor(attended.transpose(0, 2, 1, 3).reshape(2, 6, 16)).to(dtype)
    expected = F.linear(attended, mha.out_proj.weight, mha.out_proj.bias)
    np.testing.assert_array_equal(out.detach().float().numpy(),
                                  expected.detach().float().numpy())
