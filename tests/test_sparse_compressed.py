"""Compressed sparse layouts (CSR, CSC, BSR, BSC) against SciPy's indices and NumPy's values."""
import numpy as np
import pytest

import ember

sp = pytest.importorskip("scipy.sparse")


def _matrix(rows=6, cols=8, seed=0, density=0.3):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((rows, cols))
    a[rng.random((rows, cols)) > density] = 0
    return a


def _same(t: ember.Tensor, expected) -> None:
    np.testing.assert_array_equal(t.numpy(), np.asarray(expected))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_csr_and_csc_indices_match_scipy(seed):
    a = _matrix(seed=seed)
    csr, ref = ember.tensor(a).to_sparse_csr(), sp.csr_matrix(a)
    assert csr.layout is ember.sparse_csr and csr.is_sparse_csr and not csr.is_sparse
    _same(csr.crow_indices(), ref.indptr)
    _same(csr.col_indices(), ref.indices)
    _same(csr.values(), ref.data)
    assert csr._nnz() == ref.nnz and csr.crow_indices().dtype is ember.int64
    csc, ref = ember.tensor(a).to_sparse_csc(), sp.csc_matrix(a)
    assert csc.layout is ember.sparse_csc and not csc.is_sparse_csr
    _same(csc.ccol_indices(), ref.indptr)
    _same(csc.row_indices(), ref.indices)
    _same(csc.values(), ref.data)
    _same(csc.to_dense(), a)
    _same(csr.to_dense(), a)


@pytest.mark.parametrize("blocksize", [(2, 2), (3, 4), (1, 2)])
def test_bsr_and_bsc_blocks_match_scipy(blocksize):
    a = _matrix(6, 8, seed=3, density=0.15)
    bsr, ref = ember.tensor(a).to_sparse_bsr(blocksize), sp.bsr_matrix(a, blocksize=blocksize)
    ref.eliminate_zeros()  # SciPy keeps all-zero blocks; PyTorch specifies only nonzero ones
    ref.sort_indices()
    _same(bsr.crow_indices(), ref.indptr)
    _same(bsr.col_indices(), ref.indices)
    _same(bsr.values(), ref.data)
    # BSC is BSR of the transpose, with each block transposed back.
    bsc = ember.tensor(a).to_sparse_bsc(blocksize)
    reft = sp.bsr_matrix(a.T, blocksize=blocksize[::-1])
    reft.eliminate_zeros()
    reft.sort_indices()
    _same(bsc.ccol_indices(), reft.indptr)
    _same(bsc.row_indices(), reft.indices)
    _same(bsc.values(), reft.data.transpose(0, 2, 1))
    _same(bsr.to_dense(), a)
    _same(bsc.to_dense(), a)


@pytest.mark.parametrize("layout", ["csr", "csc"])
def test_constructor_round_trips_scipy_and_keeps_explicit_zeros(layout):
    a = _matrix(5, 7, seed=4)
    a[0, 0] = 0
    ref = getattr(sp, layout + "_matrix")(a)
    ref.data[0] = 0.0  # an explicitly stored zero stays specified
    make = getattr(ember, f"sparse_{layout}_tensor")
    t = make(ember.tensor(ref.indptr), ember.tensor(ref.indices), ember.tensor(ref.data),
             a.shape)
    compressed, plain = (t.crow_indices(), t.col_indices()) if layout == "csr" else (
        t.ccol_indices(), t.row_indices())
    _same(compressed, ref.indptr)
    _same(plain, ref.indices)
    _same(t.values(), ref.data)
    assert t._nnz() == ref.nnz
    _same(t.to_dense(), ref.toarray())


def test_bsr_constructor_and_inferred_size():
    values = np.arange(24.0).reshape(2, 3, 4)
    t = ember.sparse_bsr_tensor([0, 1, 2], [0, 2], values)
    ref = sp.bsr_matrix((values, [0, 2], [0, 1, 2]), shape=(6, 12))
    assert tuple(t.shape) == (6, 12)
    _same(t.to_dense(), ref.toarray())
    _same(t.values(), values)
    g = ember.sparse_compressed_tensor([0, 1, 2], [0, 2], values, (6, 12),
                                       layout=ember.sparse_bsr)
    _same(g.to_dense(), ref.toarray())


def test_matmul_with_dense_operands_and_grad():
    a = _matrix(4, 5, seed=5)
    b = np.random.default_rng(6).standard_normal((5, 3))
    x = ember.tensor(a, requires_grad=True)
    for s in (x.to_sparse_csr(), x.to_sparse_csc(), x.to_sparse_bsr((2, 5))):
        np.testing.assert_allclose((s @ ember.tensor(b)).detach().numpy(), a @ b)
        np.testing.assert_allclose((ember.tensor(b.T) @ s.t()).detach().numpy(), b.T @ a.T)
    (x.to_sparse_csr() @ ember.tensor(b)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(b.sum(1), (4, 5)))


def test_values_are_differentiable():
    a = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    x = ember.tensor(a, requires_grad=True)
    (x.to_sparse_csc().values() * ember.tensor([10.0, 20.0, 30.0])).sum().backward()
    _same(x.grad, [[10.0, 0.0, 30.0], [0.0, 20.0, 0.0]])


def test_batched_and_dense_dims():
    a = np.zeros((2, 3, 3))
    a[0, 0, 1], a[0, 2, 2], a[1, 1, 0], a[1, 2, 1] = 1, 2, 3, 4
    t = ember.tensor(a).to_sparse_csr()
    for b in range(2):
        ref = sp.csr_matrix(a[b])
        _same(t.crow_indices()[b], ref.indptr)
        _same(t.col_indices()[b], ref.indices)
        _same(t.values()[b], ref.data)
    assert t._nnz() == 2
    uneven = a.copy()
    uneven[1, 0, 0] = 5
    with pytest.raises(RuntimeError, match="same number of specified elements"):
        ember.tensor(uneven).to_sparse_csr()
    d = np.arange(24.0).reshape(2, 4, 3)
    d[0, 1] = 0
    h = ember.tensor(d).to_sparse_csr(dense_dim=1)
    assert h.dense_dim() == 1 and h.sparse_dim() == 2
    _same(h.values(), d.reshape(8, 3)[[0, 2, 3, 4, 5, 6, 7]])
    _same(h.to_dense(), d)


def test_conversions_between_layouts():
    a = _matrix(4, 6, seed=7)
    csr = ember.tensor(a).to_sparse(layout=ember.sparse_csr)
    assert csr.to_sparse_csr() is csr
    _same(csr.to_sparse_csc().to_dense(), a)
    coo = csr.to_sparse()
    assert coo.layout is ember.sparse_coo
    _same(coo.indices(), np.nonzero(a))
    _same(coo.to_sparse_csr().crow_indices(), sp.csr_matrix(a).indptr)
    bsc = ember.tensor(a).to_sparse(layout=ember.sparse_bsc, blocksize=(2, 3))
    _same(bsc.to_dense(), a)


def test_sparse_mask_takes_the_mask_pattern():
    a = np.array([[5.0, 6.0], [0.0, 0.0]])
    mask = ember.tensor([[1.0, 0.0], [0.0, 2.0]])
    for layout_mask in (mask.to_sparse(), mask.to_sparse_csr()):
        r = ember.tensor(a).sparse_mask(layout_mask)
        assert r.layout is layout_mask.layout and r._nnz() == 2
        _same(r.values(), [5.0, 0.0])  # the masked zero stays specified
        _same(r.to_dense(), [[5.0, 0.0], [0.0, 0.0]])
    x = ember.tensor(a, requires_grad=True)
    x.sparse_mask(mask.to_sparse_csr()).to_dense().sum().backward()
    _same(x.grad, [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(RuntimeError, match="incompatible sizes"):
        ember.ones(3, 2).sparse_mask(mask.to_sparse())


def test_layout_errors_and_strided_accessors():
    a = ember.eye(3)
    assert a.sparse_dim() == 0 and a.dense_dim() == 2 and not a.is_sparse_csr
    with pytest.raises(RuntimeError, match="crow_indices expected sparse row compressed tensor "
                                           "layout but got Strided"):
        a.crow_indices()
    with pytest.raises(RuntimeError, match="values expected sparse tensor layout"):
        a.values()
    with pytest.raises(RuntimeError, match="got SparseCsr"):
        a.to_sparse_csr().indices()
    with pytest.raises(RuntimeError, match="got SparseBsr"):
        a.to_sparse_bsr((1, 1)).row_indices()
    with pytest.raises(RuntimeError, match="divisible"):
        a.to_sparse_bsr((2, 2))
    with pytest.raises(RuntimeError, match="compressed tensor layout"):
        ember.sparse_compressed_tensor([0, 1], [0], [1.0])


def test_reblocking_keeps_dense_dims():
    d = np.zeros((4, 4, 2))
    d[0, 1] = [1.0, 2.0]
    d[3, 2] = [3.0, 0.0]
    csr = ember.tensor(d).to_sparse_csr(dense_dim=1)
    bsr = csr.to_sparse_bsr((2, 2))
    assert bsr.dense_dim() == 1 and tuple(bsr.values().shape) == (2, 2, 2, 2)
    _same(bsr.to_dense(), d)
    _same(bsr.crow_indices(), [0, 1, 2])
    _same(bsr.col_indices(), [0, 1])
