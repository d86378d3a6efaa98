"""torch.nn.attention.varlen against a NumPy oracle: attention per packed sequence."""

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.nn.attention.varlen import AuxRequest, varlen_attn, varlen_attn_out


def _reference(q, k, v, cu_q, cu_k, window=(-1, -1), scale=None):
    """Per-sequence softmax(q k^T * scale + window mask) v and its log-sum-exp, in float64;
    a query's window is placed relative to the sequence's last key."""
    heads, dim = q.shape[1], q.shape[2]
    scale = 1 / np.sqrt(dim) if scale is None else scale
    out = np.zeros(q.shape)
    lse = np.full((heads, len(q)), np.inf)
    for i in range(len(cu_q) - 1):
        qs = q[cu_q[i]:cu_q[i + 1]].astype(np.float64)
        ks = k[cu_k[i]:cu_k[i + 1]].astype(np.float64)
        vs = v[cu_k[i]:cu_k[i + 1]].astype(np.float64)
        rep = heads // ks.shape[1]
        ks, vs = np.repeat(ks, rep, axis=1), np.repeat(vs, rep, axis=1)
        scores = np.einsum("lhd,shd->hls", qs, ks) * scale
        pos = np.arange(len(qs))[:, None] + len(ks) - len(qs)
        keys = np.arange(len(ks))[None, :]
        keep = np.ones((len(qs), len(ks)), bool)
        if window[0] >= 0:
            keep &= keys >= pos - window[0]
        if window[1] >= 0:
            keep &= keys <= pos + window[1]
        scores = np.where(keep, scores, -np.inf)
        top = scores.max(-1, keepdims=True)
        top[~np.isfinite(top)] = 0
        weights = np.exp(scores - top)
        total = weights.sum(-1, keepdims=True)
        seen = total[..., 0] > 0
        rows = np.log(np.where(seen, total[..., 0], 1)) + top[..., 0]
        lse[:, cu_q[i]:cu_q[i + 1]] = np.where(seen, rows, np.inf)
        out[cu_q[i]:cu_q[i + 1]] = np.einsum("hls,shd->lhd", weights / np.where(total, total, 1),
                                             vs)
    return out, lse


def _inputs(lengths_q, lengths_k=None, heads=2, heads_kv=None, dim=4, seed=0):
    rng = np.random.default_rng(seed)
    lengths_k = lengths_q if lengths_k is None else lengths_k
    q = rng.standard_normal((sum(lengths_q), heads, dim)).astype(np.float32)
    k, v = (rng.standard_normal((sum(lengths_k), heads_kv or heads, dim)).astype(np.float32)
            for _ in range(2))
    cu_q = np.concatenate([[0], np.cumsum(lengths_q)]).astype(np.int32)
    cu_k = np.concatenate([[0], np.cumsum(lengths_k)]).astype(np.int32)
    return q, k, v, cu_q, cu_k


def _call(q, k, v, cu_q, cu_k, **kwargs):
    t = ember.tensor
    return varlen_attn(t(q), t(k), t(v), t(cu_q), t(cu_k), int(np.diff(cu_q).max()),
                       int(np.diff(cu_k).max()), **kwargs)


@pytest.mark.parametrize("window", [(-1, -1), (-1, 0), (2, 0), (1, 1)])
def test_matches_numpy_per_sequence(window):
    q, k, v, cu_q, cu_k = _inputs([3, 1, 6])
    out, lse = _call(q, k, v, cu_q, cu_k, window_size=window,
                     return_aux=AuxRequest(lse=True))
    expected, expected_lse = _reference(q, k, v, cu_q, cu_k, window)
    assert out.shape == (10, 2, 4) and out.is_contiguous()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert lse.shape == (2, 10) and lse.dtype == ember.float32
    np.testing.assert_allclose(lse.numpy(), expected_lse, rtol=1e-5)


def test_fewer_queries_than_keys_align_causal_window_to_the_last_key():
    q, k, v, cu_q, cu_k = _inputs([2, 3], [5, 3])
    out, lse = _call(q, k, v, cu_q, cu_k, window_size=(-1, 0), scale=0.3,
                     return_aux=AuxRequest(lse=True))
    expected, expected_lse = _reference(q, k, v, cu_q, cu_k, (-1, 0), scale=0.3)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lse.numpy(), expected_lse, rtol=1e-5)


def test_query_seeing_no_key_gives_zeros_and_infinite_lse():
    q, k, v, cu_q, cu_k = _inputs([3], [1])  # causal: queries 0 and 1 sit before the key
    out, lse = _call(q, k, v, cu_q, cu_k, window_size=(-1, 0),
                     return_aux=AuxRequest(lse=True))
    assert (out.numpy()[:2] == 0).all()
    assert np.isposinf(lse.numpy()[:, :2]).all() and np.isfinite(lse.numpy()[:, 2]).all()


def test_grouped_query_attention():
    q, k, v, cu_q, cu_k = _inputs([4, 3], heads=4, heads_kv=2)
    out = _call(q, k, v, cu_q, cu_k, enable_gqa=True)
    np.testing.assert_allclose(out.numpy(), _reference(q, k, v, cu_q, cu_k)[0],
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="enable_gqa=True"):
        _call(q, k, v, cu_q, cu_k)


def test_seqused_k_and_paged_keys():
    q, k, v, cu_q, cu_k = _inputs([2, 3], [4, 4])
    used = np.array([3, 2], np.int32)
    out = _call(q, k, v, cu_q, cu_k, seqused_k=ember.tensor(used))
    kept = np.concatenate([np.arange(0, 3), np.arange(4, 6)])
    expected = _reference(q, k[kept], v[kept], cu_q, np.array([0, 3, 5]))[0]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)

    # the same keys in pages of two rows, stored out of order in a pool
    pool_k, pool_v = np.zeros((4, 2, 2, 4), np.float32), np.zeros((4, 2, 2, 4), np.float32)
    table = np.array([[2, 0], [3, 1]], np.int32)
    for seq, pages in enumerate(table):
        for slot, page in enumerate(pages):
            rows = slice(4 * seq + 2 * slot, 4 * seq + 2 * slot + 2)
            pool_k[page], pool_v[page] = k[rows], v[rows]
    t = ember.tensor
    paged = varlen_attn(t(q), t(pool_k), t(pool_v), t(cu_q), None, 3, 4,
                        seqused_k=t(used), block_table=t(table))
    np.testing.assert_allclose(paged.numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="seqused_k"):
        varlen_attn(t(q), t(pool_k), t(pool_v), t(cu_q), None, 3, 4, block_table=t(table))


def test_out_variant_writes_into_out():
    q, k, v, cu_q, cu_k = _inputs([3, 2])
    out = ember.empty(5, 2, 4)
    result = varlen_attn_out(out, ember.tensor(q), ember.tensor(k), ember.tensor(v),
                             ember.tensor(cu_q), ember.tensor(cu_k), 3, 3,
                             window_size=(-1, 0))
    assert result is out
    np.testing.assert_allclose(out.numpy(), _reference(q, k, v, cu_q, cu_k, (-1, 0))[0],
                               rtol=1e-5, atol=1e-6)


def test_gradients_match_finite_differences():
    q, k, v, cu_q, cu_k = _inputs([2, 3], dim=3)
    leaves = [ember.tensor(a.astype(np.float64), requires_grad=True) for a in (q, k, v)]
    cu = ember.tensor(cu_q)

    def attention(query, key, value):
        return varlen_attn(query, key, value, cu, cu, 3, 3, window_size=(1, 0))

    assert gradcheck(attention, leaves)
