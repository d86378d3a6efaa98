"""ember.sparse against PyTorch: printing, the COO view, and sparse-dense products with grads."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_repr_and_coo_view_match_torch(dtype):
    indices = [[0, 1, 1, 0], [2, 0, 2, 2]]
    values = [3, 4, 5, 1]
    e = ember.sparse_coo_tensor(indices, values, (2, 3), dtype=getattr(ember, dtype))
    t = torch.sparse_coo_tensor(indices, values, (2, 3), dtype=getattr(torch, dtype))
    assert e.is_coalesced() == t.is_coalesced()
    assert repr(e.coalesce()) == repr(t.coalesce())
    assert e.coalesce().indices().tolist() == t.coalesce().indices().tolist()
    assert e.coalesce().values().tolist() == t.coalesce().values().tolist()
    dense = torch.eye(2, 3)
    assert repr(ember.eye(2, 3).to_sparse()) == repr(dense.to_sparse())


def test_gat_style_adjacency_matches_torch():
    rng = np.random.default_rng(0)
    edges = rng.integers(0, 6, (9, 2)).astype(np.int32)
    feats = rng.random((6, 4))
    results = []
    for lib in (ember, torch):
        adj = lib.sparse_coo_tensor(edges.T, lib.ones(9), (6, 6), dtype=lib.int64)
        adj = lib.eye(6) + adj
        scale = lib.diag(1 / lib.tensor(feats).sum(1)).to_sparse()
        w = lib.tensor(rng.standard_normal((4, 3)), requires_grad=True) if lib is ember else \
            torch.tensor(results[0][2], requires_grad=True)
        out = (adj > 0).double() @ ((scale @ lib.tensor(feats)) @ w)
        out.sum().backward()
        results.append((adj.numpy(), out.detach().numpy(), w.detach().numpy(), w.grad.numpy()))
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-12)
