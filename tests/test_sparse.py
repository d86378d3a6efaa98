"""Sparse COO tensors (ember.sparse): construction, the COO view, and ops against dense NumPy."""
import numpy as np
import pytest

import ember


def _example():
    indices = np.array([[0, 1, 1, 0], [2, 0, 2, 2]])
    values = np.array([3.0, 4.0, 5.0, 1.0])
    dense = np.zeros((2, 3))
    np.add.at(dense, tuple(indices), values)  # the repeated (0, 2) adds up
    return indices, values, dense


def test_construction_sums_repeats_and_shows_the_coo_view():
    indices, values, dense = _example()
    s = ember.sparse_coo_tensor(ember.tensor(indices), ember.tensor(values), (2, 3))
    assert s.is_sparse and repr(s.layout) == "torch.sparse_coo" and isinstance(s, ember.Tensor)
    assert not s.is_coalesced()
    with pytest.raises(RuntimeError, match="uncoalesced"):
        s.indices()
    c = s.coalesce()
    assert c.is_coalesced() and c._nnz() == 3
    assert c.indices().tolist() == [[0, 1, 1], [2, 0, 2]]
    assert c.values().tolist() == [4.0, 4.0, 5.0]
    np.testing.assert_array_equal(s.to_dense().numpy(), dense)
    assert not s.to_dense().is_sparse


def test_size_is_inferred_and_checked():
    s = ember.sparse_coo_tensor([[0, 2]], [1.0, 2.0])
    assert tuple(s.shape) == (3,)
    with pytest.raises(RuntimeError, match="size is inconsistent"):
        ember.sparse_coo_tensor([[0, 3]], [1.0, 2.0], (3,))
    with pytest.raises(RuntimeError, match="same number of entries"):
        ember.sparse_coo_tensor([[0, 1]], [1.0], (3,))


def test_hybrid_values_keep_their_dense_dims():
    s = ember.sparse_coo_tensor([[1, 0]], [[1.0, 2.0], [3.0, 4.0]], (3, 2)).coalesce()
    assert (s.sparse_dim(), s.dense_dim()) == (1, 1)
    assert s.indices().tolist() == [[0, 1]]
    assert s.values().tolist() == [[3.0, 4.0], [1.0, 2.0]]


def test_to_sparse_round_trips_and_products_are_dense():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 5)) * (rng.random((4, 5)) < 0.4)
    b = rng.standard_normal((5, 3))
    s = ember.tensor(a).to_sparse()
    assert s.is_coalesced() and s._nnz() == int((a != 0).sum())
    np.testing.assert_allclose((s @ ember.tensor(b)).numpy(), a @ b)
    np.testing.assert_allclose(ember.sparse.mm(s, ember.tensor(b)).numpy(), a @ b)
    np.testing.assert_allclose(ember.spmm(s, ember.tensor(b)).numpy(), a @ b)
    dense = ember.dsmm(s, ember.tensor(b))  # (GPyTorch's interpolation products)
    assert not dense.is_sparse
    np.testing.assert_allclose(dense.numpy(), a @ b)
    np.testing.assert_allclose((ember.eye(4, 5, dtype=ember.float64) + s).numpy(),
                               np.eye(4, 5) + a)
    assert ember.sparse.sum(s).item() == pytest.approx(a.sum())
    assert ember.tensor(a).to_dense() is not None and not ember.tensor(a).is_sparse


def test_gradient_flows_to_the_dense_operand():
    rng = np.random.default_rng(1)
    adj = ember.tensor((rng.random((4, 4)) < 0.5).astype(np.float64)).to_sparse()
    w = ember.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    (adj @ w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), adj.to_dense().numpy().T @ np.ones((4, 2)))


def test_to_sparse_and_coalesce_stay_in_the_graph():
    x = ember.tensor([[0.0, 2.0], [3.0, 0.0]], requires_grad=True)
    s = x.to_sparse().coalesce()
    assert s.is_sparse and s.grad_fn is not None
    (s @ ember.ones(2, 1)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 2)))
