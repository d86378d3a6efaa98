"""ember.nn.attention.flex_attention against a NumPy masked-softmax attention, gradchecks through
query, key, value and a captured bias table, and BlockMask's block lists."""
import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.nn.attention.flex_attention import (
    AuxRequest,
    BlockMask,
    and_masks,
    create_block_mask,
    create_mask,
    flex_attention,
    noop_mask,
    or_masks,
)

RNG = np.random.default_rng(0)


def causal(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


def window(b, h, q_idx, kv_idx):
    return (q_idx - kv_idx).abs() <= 2


def np_attention(q, k, v, keep=None, bias=None, scale=None):
    """softmax(q k^T * scale + bias, masked by keep) v, and the log-sum-exp; fully masked rows
    give zeros and -inf. (B, H, L, E) inputs, with k/v heads repeated for GQA."""
    reps = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, reps, axis=1), np.repeat(v, reps, axis=1)
    scores = q @ k.swapaxes(-1, -2) * (scale or 1 / math.sqrt(q.shape[-1]))
    if bias is not None:
        scores = scores + bias
    if keep is not None:
        scores = np.where(keep, scores, -np.inf)
    peak = scores.max(-1, keepdims=True)
    dead = np.isneginf(peak)
    exp = np.exp(scores - np.where(dead, 0.0, peak))
    total = exp.sum(-1, keepdims=True)
    weights = np.where(dead, 0.0, exp / np.where(dead, 1.0, total))
    lse = np.where(dead, -np.inf, np.log(np.where(dead, 1.0, total)) + np.where(dead, 0, peak))
    return weights @ v, lse[..., 0]


def np_mask(fn, b, h, length, source):
    bi, hi, qi, ki = np.meshgrid(np.arange(b), np.arange(h), np.arange(length),
                                 np.arange(source), indexing="ij")
    return np.vectorize(fn)(bi, hi, qi, ki).astype(bool)


def qkv(b=2, hq=2, hkv=2, length=6, source=6, e=4, ev=3):
    return (RNG.standard_normal((b, hq, length, e)), RNG.standard_normal((b, hkv, source, e)),
            RNG.standard_normal((b, hkv, source, ev)))


def test_plain_matches_softmax_attention_and_lse():
    q, k, v = qkv(length=5, source=7)
    out, lse = flex_attention(*map(ember.tensor, (q, k, v)), return_lse=True)
    want, want_lse = np_attention(q, k, v)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(lse.numpy(), want_lse, rtol=1e-12)


@pytest.mark.parametrize("mask_mod, np_fn", [
    (causal, lambda b, h, q, k: q >= k),
    (window, lambda b, h, q, k: abs(q - k) <= 2),
    (and_masks(causal, window), lambda b, h, q, k: q >= k and abs(q - k) <= 2),
    (or_masks(causal, window), lambda b, h, q, k: q >= k or abs(q - k) <= 2),
])
def test_mask_mods(mask_mod, np_fn):
    q, k, v = qkv()
    block_mask = create_block_mask(mask_mod, None, None, 6, 6, BLOCK_SIZE=2)
    out = flex_attention(*map(ember.tensor, (q, k, v)), block_mask=block_mask)
    want, _ = np_attention(q, k, v, keep=np_mask(np_fn, 1, 1, 6, 6))
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)


def test_document_mask_indexes_a_captured_tensor():
    docs = np.array([0, 0, 1, 1, 1, 2])
    document = ember.tensor(docs)

    def same_document(b, h, q_idx, kv_idx):
        return (document[q_idx] == document[kv_idx]) & (q_idx >= kv_idx)

    q, k, v = qkv()
    block_mask = create_block_mask(same_document, 1, 1, 6, 6, BLOCK_SIZE=2)
    out = flex_attention(*map(ember.tensor, (q, k, v)), block_mask=block_mask)
    keep = np_mask(lambda b, h, i, j: docs[i] == docs[j] and i >= j, 1, 1, 6, 6)
    np.testing.assert_allclose(out.numpy(), np_attention(q, k, v, keep=keep)[0], rtol=1e-12)


def test_score_mod_alibi_and_scale():
    q, k, v = qkv(hq=4, hkv=2)
    slopes = ember.tensor([0.5, 0.25, 0.125, 0.0625])

    def alibi(score, b, h, q_idx, kv_idx):
        return score + slopes[h] * (kv_idx - q_idx)

    out = flex_attention(*map(ember.tensor, (q, k, v)), score_mod=alibi, scale=0.3,
                         enable_gqa=True)
    bias = np.array([0.5, 0.25, 0.125, 0.0625])[:, None, None] * (
        np.arange(6)[None, :] - np.arange(6)[:, None])
    np.testing.assert_allclose(out.numpy(), np_attention(q, k, v, bias=bias, scale=0.3)[0],
                               rtol=1e-12)


def test_fully_masked_rows_give_zeros_and_minus_inf_lse():
    q, k, v = qkv()
    block_mask = create_block_mask(lambda b, h, q_idx, kv_idx: q_idx < 3, 1, 1, 6, 6)
    qt = ember.tensor(q, requires_grad=True)
    out, aux = flex_attention(qt, ember.tensor(k), ember.tensor(v), block_mask=block_mask,
                              return_aux=AuxRequest(lse=True, max_scores=True))
    assert (out[:, :, 3:] == 0).all()
    assert ember.isneginf(aux.lse[:, :, 3:]).all()
    assert ember.isneginf(aux.max_scores[:, :, 3:]).all()
    out.sum().backward()
    assert ember.isfinite(qt.grad).all() and (qt.grad[:, :, 3:] == 0).all()


def test_gradcheck_through_qkv_and_a_bias_table():
    q, k, v = (ember.tensor(a, requires_grad=True) for a in qkv(b=1, hq=2, hkv=1, length=4,
                                                                  source=4, e=3, ev=2))
    table = ember.tensor(RNG.standard_normal((2, 4, 4)), requires_grad=True)

    def fn(q, k, v, table):
        def bias(score, b, h, q_idx, kv_idx):
            return score + table[h, q_idx, kv_idx]

        mask = create_block_mask(causal, None, None, 4, 4, BLOCK_SIZE=2)
        out, lse = flex_attention(q, k, v, score_mod=bias, block_mask=mask, enable_gqa=True,
                                  return_lse=True)
        return out, lse

    assert gradcheck(fn, (q, k, v, table))


def test_create_mask_of_mask_and_score_mods():
    mask = create_mask(causal, 2, None, 3, 4)
    assert mask.shape == (2, 1, 3, 4) and mask.dtype == ember.bool
    np.testing.assert_array_equal(mask.numpy(), np_mask(lambda b, h, q, k: q >= k, 2, 1, 3, 4))
    neg_inf = create_mask(lambda s, b, h, q, k: ember.where(q >= k, s, -math.inf), 1, 1, 3, 3)
    np.testing.assert_array_equal(neg_inf.numpy()[0, 0], np.tril(np.ones((3, 3), bool)))
    assert create_mask(noop_mask, 1, 1, 2, 2).all()


def test_block_mask_lists_partial_and_full_blocks():
    block_mask = create_block_mask(causal, 1, 2, 6, 6, BLOCK_SIZE=2)
    assert block_mask.shape == (1, 2, 6, 6) and block_mask.BLOCK_SIZE == (2, 2)
    np.testing.assert_array_equal(block_mask.kv_num_blocks.numpy()[0, 0], [1, 1, 1])
    np.testing.assert_array_equal(block_mask.full_kv_num_blocks.numpy()[0, 0], [0, 1, 2])
    np.testing.assert_array_equal(block_mask.full_kv_indices.numpy()[0, 0],
                                  [[0, 1, 2], [0, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(block_mask.kv_indices.numpy()[0, 0],
                                  [[0, 1, 2], [1, 0, 2], [2, 0, 1]])
    np.testing.assert_array_equal(block_mask.to_dense().numpy()[0, 0], np.tril(np.ones((3, 3))))
    assert block_mask.kv_indices.dtype == ember.int32
    assert block_mask.sparsity() == pytest.approx(100 * 3 / 9)
    assert block_mask[0, 1].shape == (1, 1, 6, 6)
    assert "BlockMask" in repr(block_mask) and "██" in str(block_mask)


def test_from_kv_blocks_derives_the_query_blocks():
    num = ember.tensor([[[1, 2]]], dtype=ember.int32)
    idx = ember.tensor([[[[1, 0], [0, 1]]]], dtype=ember.int32)
    block_mask = BlockMask.from_kv_blocks(num, idx, BLOCK_SIZE=4)
    assert block_mask.seq_lengths == (8, 8)
    np.testing.assert_array_equal(block_mask.to_dense().numpy()[0, 0], [[0, 1], [1, 1]])
    np.testing.assert_array_equal(block_mask.q_num_blocks.numpy()[0, 0], [1, 2])
    np.testing.assert_array_equal(block_mask.q_indices.numpy()[0, 0], [[1, 0], [0, 1]])


def test_errors():
    q, k, v = map(ember.tensor, qkv(hq=4, hkv=2))
    with pytest.raises(ValueError, match="same number of heads"):
        flex_attention(q, k, v)
    with pytest.raises(ValueError, match="multiple of kv heads"):
        flex_attention(q, k[:, :1].expand(2, 3, 6, 4), v[:, :1].expand(2, 3, 6, 3),
                       enable_gqa=True)
    with pytest.raises(NotImplementedError):
        flex_attention(q[0], k[0], v[0], enable_gqa=True)
    with pytest.raises(ValueError, match="block_mask was created"):
        flex_attention(q, k, v, block_mask=create_block_mask(causal, 1, 1, 8, 8),
                       enable_gqa=True)
    with pytest.raises(ValueError, match="both return_lse and return_aux"):
        flex_attention(q, k, v, enable_gqa=True, return_lse=True, return_aux=AuxRequest())
    with pytest.raises(RuntimeError, match="sliced BlockMask"):
        flex_attention(q, k, v, enable_gqa=True,
                       block_mask=create_block_mask(causal, 2, 1, 6, 6)[0])
