"""Session 12 fast paths of ember.ops.nn: softmax exponentials left unshifted for rows whose
max allows it (decided per row), and the embedding gradient summed by a sparse product."""
import numpy as np
import pytest

import ember
from ember.backend.special import index_sum
from ember.ops import nn as ops_nn


def _rows(dtype):
    """Rows that take each path: max in [0, 64], max above 64, max below 0, -inf, NaN."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 300))
    x[1] += 80.0
    x[2] -= 50.0
    x[3, :5] = -np.inf
    x[4, 7] = np.nan
    x[5] *= 20.0
    return x.astype(dtype)


def _log_softmax_ref(x):
    x = x.astype(np.float64)
    top = x.max(axis=1, keepdims=True)
    return x - top - np.log(np.exp(x - top).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block", [None, 600])
def test_softmax_log_softmax_cross_entropy_mixed_rows(monkeypatch, dtype, block):
    if block:
        monkeypatch.setattr(ops_nn, "_BLOCK_ELEMENTS", block)  # two rows a block
    x = _rows(dtype)
    want = _log_softmax_ref(x)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    got = ember.log_softmax(ember.tensor(x), 1).numpy()
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    got = ember.softmax(ember.tensor(x), 1).numpy()
    np.testing.assert_allclose(got, np.exp(want), rtol=tol, atol=tol)
    keep = [0, 1, 2, 5]  # finite rows
    t = np.array([3, 10, 299, 0])
    xt = ember.tensor(x[keep], requires_grad=True)
    loss = ember.nn.functional.cross_entropy(xt, ember.tensor(t), reduction="sum")
    loss.backward()
    lp = want[keep]
    np.testing.assert_allclose(loss.item(), -lp[np.arange(4), t].sum(), rtol=tol)
    grad = np.exp(lp)
    grad[np.arange(4), t] -= 1
    np.testing.assert_allclose(xt.grad.numpy(), grad, rtol=tol, atol=tol)


def test_blocks_equal_one_block_mixed_rows(monkeypatch):
    x = _rows(np.float32)[[0, 1, 2, 5]]
    t = ember.tensor([1, 2, 3, 4])

    def run():
        xt = ember.tensor(x, requires_grad=True)
        loss = ember.nn.functional.cross_entropy(xt, t)
        loss.backward()
        return loss.item(), xt.grad.numpy()
    one = run()
    monkeypatch.setattr(ops_nn, "_BLOCK_ELEMENTS", 300)
    blocks = run()
    assert one[0] == blocks[0]
    np.testing.assert_array_equal(one[1], blocks[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("n,rows", [(5, 10), (700, 10000), (5000, 7)])
@pytest.mark.parametrize("weighted", [False, True])
def test_index_sum_is_add_at(dtype, n, rows, weighted):
    rng = np.random.default_rng(1)
    index = rng.integers(0, rows, n)
    values = rng.standard_normal((n, 16)).astype(dtype)
    weights = rng.random(n) if weighted else None
    want = np.zeros((rows, 16), dtype)
    np.add.at(want, index, values * weights[:, None].astype(dtype) if weighted else values)
    got = index_sum(np, index, values, rows, weights)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding_idx", [None, 3])
@pytest.mark.parametrize("scale", [False, True])
def test_embedding_grad_large(padding_idx, scale):
    rng = np.random.default_rng(2)
    num, d = 500, 32
    idx = rng.integers(0, 50, (35, 20))  # repeats
    idx[0, :4] = 3
    g = rng.standard_normal((35, 20, d)).astype(np.float32)
    w = ember.tensor(rng.standard_normal((num, d)).astype(np.float32), requires_grad=True)
    ember.nn.functional.embedding(ember.tensor(idx), w, padding_idx=padding_idx,
                                  scale_grad_by_freq=scale).backward(ember.tensor(g))
    flat, gf = idx.reshape(-1), g.reshape(-1, d)
    coef = np.ones(flat.size)
    if scale:
        coef /= np.bincount(flat, minlength=num)[flat]
    if padding_idx is not None:
        coef[flat == padding_idx] = 0
    want = np.zeros((num, d))
    np.add.at(want, flat, gf * coef[:, None])
    np.testing.assert_allclose(w.grad.numpy(), want, rtol=1e-5, atol=1e-5)


def test_embedding_sparse_grad_large():
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 100, (40, 30))
    g = rng.standard_normal((40, 30, 8))
    w = ember.tensor(rng.standard_normal((100, 8)), requires_grad=True)
    ember.nn.functional.embedding(ember.tensor(idx), w, sparse=True).backward(ember.tensor(g))
    assert w.grad.is_sparse
    want = np.zeros((100, 8))
    np.add.at(want, idx.reshape(-1), g.reshape(-1, 8))
    np.testing.assert_allclose(w.grad.to_dense().numpy(), want, rtol=1e-12, atol=1e-12)


def test_embedding_half_grad_large():
    rng = np.random.default_rng(4)
    idx = rng.integers(0, 20, (60, 80))
    g = rng.standard_normal((60, 80, 4)).astype(np.float16)
    w = ember.tensor(np.zeros((20, 4), np.float16), requires_grad=True)
    ember.nn.functional.embedding(ember.tensor(idx), w).backward(ember.tensor(g))
    want = np.zeros((20, 4), np.float32)
    np.add.at(want, idx.reshape(-1), g.reshape(-1, 4).astype(np.float32))
    assert w.grad.dtype == ember.float16
    np.testing.assert_allclose(w.grad.numpy().astype(np.float32), want.astype(np.float16),
                               rtol=1e-3, atol=1e-3)
