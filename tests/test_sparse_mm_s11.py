"""Products of two sparse matrices (``ember.sparse.mm``, ``@``, ``Tensor.matmul``/``mm``) are
sparse in the first operand's layout, storing the structural product of the operands' entries,
against SciPy; their gradients, kept to each operand's stored entries and in its layout, with
gradcheck in float64; a sparse leaf's gradient in a sparse-dense product."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck

sp = pytest.importorskip("scipy.sparse")

IDX_A = np.array([[0, 0, 1, 2, 3], [0, 2, 1, 0, 3]])
VAL_A = np.array([1.0, 2.0, 0.0, 4.0, -1.0])  # an explicit zero stays stored
IDX_B = np.array([[0, 1, 2, 2, 3], [1, 2, 0, 3, 3]])
VAL_B = np.array([3.0, -2.0, 1.0, 5.0, 2.0])
SHAPE = (4, 4)


def _scipy(idx, val):
    return sp.coo_matrix((val, tuple(idx)), shape=SHAPE).tocsr()


def _coo(idx, val, requires_grad=False):
    v = ember.tensor(val, dtype=ember.float64, requires_grad=requires_grad)
    return ember.sparse_coo_tensor(ember.tensor(idx), v, SHAPE), v


def _structural(idx_a, idx_b):
    """The stored entries of the product: (i, j) where some k pairs a[i, k] with b[k, j]."""
    pa = sp.coo_matrix((np.ones(idx_a.shape[1]), tuple(idx_a)), shape=SHAPE)
    pb = sp.coo_matrix((np.ones(idx_b.shape[1]), tuple(idx_b)), shape=SHAPE)
    return (pa @ pb).toarray() > 0


PRODUCTS = {
    "sparse.mm": lambda a, b: ember.sparse.mm(a, b),
    "matmul operator": lambda a, b: a @ b,
    "Tensor.matmul": lambda a, b: a.matmul(b),
    "Tensor.mm": lambda a, b: a.mm(b),
}


@pytest.mark.parametrize("product", PRODUCTS.values(), ids=PRODUCTS.keys())
def test_coo_times_coo_is_coo_with_the_structural_pattern(product):
    a, _ = _coo(IDX_A, VAL_A)
    b, _ = _coo(IDX_B, VAL_B)
    out = product(a, b)
    assert out.layout == ember.sparse_coo and out.is_coalesced()
    expected = (_scipy(IDX_A, VAL_A) @ _scipy(IDX_B, VAL_B)).toarray()
    np.testing.assert_allclose(out.to_dense().numpy(), expected)
    keep = _structural(IDX_A, IDX_B)
    np.testing.assert_array_equal(out.indices().numpy(), np.stack(np.nonzero(keep)))
    assert out._nnz() == keep.sum()  # a structural entry whose sum is 0 is stored, as in PyTorch


def test_a_cancelling_sum_stays_stored():
    a = ember.tensor([[1.0, 1.0], [0.0, 2.0]]).to_sparse()
    b = ember.tensor([[1.0, 0.0], [-1.0, 0.0]]).to_sparse()
    out = ember.sparse.mm(a, b)
    assert out.indices().tolist() == [[0, 1], [0, 0]] and out.values().tolist() == [0.0, -2.0]


def test_uncoalesced_operands_give_a_coalesced_product():
    u = ember.sparse_coo_tensor([[0, 0, 1], [1, 1, 0]], [1.0, 2.0, 3.0], (2, 2))
    assert not u.is_coalesced()
    out = ember.sparse.mm(u, u)
    assert out.is_coalesced() and out._nnz() == 2
    assert out.to_dense().tolist() == [[9.0, 0.0], [0.0, 9.0]]


def test_compressed_sum_keeps_the_layout_and_unites_the_entries():
    a = ember.tensor([[1.0, 0.0], [2.0, 0.0]]).to_sparse_csr()
    b = ember.tensor([[0.0, 3.0], [0.0, 1.0]]).to_sparse_csr()
    out = a + b
    assert out.layout == ember.sparse_csr and out._nnz() == 4
    assert out.to_dense().tolist() == [[1.0, 3.0], [2.0, 1.0]]
    assert (a + b.to_dense()).layout == ember.strided


# (first, second) -> the layout of ``@`` and of ``torch.sparse.mm`` (None: refused)
COMPRESSED = {("csr", "csr"): ("csr", "csr"), ("csc", "csc"): ("csr", "csc"),
              ("csr", "csc"): ("csr", None), ("csc", "csr"): ("csr", "csr")}


@pytest.mark.parametrize("layouts", COMPRESSED)
def test_compressed_products(layouts):
    """``@`` gives CSR; ``torch.sparse.mm`` the second operand's layout, refusing CSR @ CSC."""
    a, _ = _coo(IDX_A, VAL_A)
    b, _ = _coo(IDX_B, VAL_B)
    a, b = (getattr(t, f"to_sparse_{name}")() for t, name in zip((a, b), layouts))
    expected = (_scipy(IDX_A, VAL_A) @ _scipy(IDX_B, VAL_B)).toarray()
    keep = _structural(IDX_A, IDX_B)  # the COO tensors' explicit zero stays stored
    for out, layout in zip((lambda: a @ b, lambda: ember.sparse.mm(a, b)), COMPRESSED[layouts]):
        if layout is None:
            with pytest.raises(RuntimeError, match="SparseCsc \\+ SparseCsr @ SparseCsc"):
                out()
            continue
        out = out()
        assert out.layout == getattr(ember, f"sparse_{layout}")
        np.testing.assert_allclose(out.to_dense().numpy(), expected)
        assert out._nnz() == keep.sum()
        ref = sp.csr_matrix(keep) if layout == "csr" else sp.csc_matrix(keep)
        compressed = out.crow_indices() if layout == "csr" else out.ccol_indices()
        plain = out.col_indices() if layout == "csr" else out.row_indices()
        np.testing.assert_array_equal(compressed.numpy(), ref.indptr)
        np.testing.assert_array_equal(plain.numpy(), ref.indices)


def test_mixed_and_unsupported_layouts_raise_as_pytorch():
    a, _ = _coo(IDX_A, VAL_A)
    with pytest.raises(RuntimeError, match="Sparse \\+ Sparse @ SparseCsr"):
        a @ a.to_sparse_csr()
    with pytest.raises(RuntimeError, match="for SparseCsr \\+ SparseCsr @ Sparse"):
        a.to_sparse_csr() @ a
    with pytest.raises(RuntimeError, match="for Sparse \\+ SparseCsr @ Sparse"):
        ember.sparse.mm(a.to_sparse_csr(), a)
    hybrid = ember.sparse_coo_tensor([[0, 1]], ember.ones(2, 2), (2, 2))
    with pytest.raises(RuntimeError, match="scalar values expected, got 1D values"):
        ember.sparse.mm(hybrid, hybrid)
    bsr = a.to_dense().to_sparse_bsr((2, 2))
    with pytest.raises(RuntimeError, match="non-block"):
        bsr @ bsr


def test_sparse_times_dense_stays_dense():
    a, _ = _coo(IDX_A, VAL_A)
    d = ember.ones(4, 2, dtype=ember.float64)
    for out in (a @ d, ember.sparse.mm(a, d), a.to_sparse_csr() @ d):
        assert out.layout == ember.strided
        np.testing.assert_allclose(out.numpy(), _scipy(IDX_A, VAL_A) @ np.ones((4, 2)))


@pytest.mark.parametrize("product", PRODUCTS.values(), ids=PRODUCTS.keys())
def test_gradcheck_through_the_values(product):
    def f(va, vb):
        a = ember.sparse_coo_tensor(ember.tensor(IDX_A), va, SHAPE)
        b = ember.sparse_coo_tensor(ember.tensor(IDX_B), vb, SHAPE)
        return product(a, b).to_dense()
    va = ember.tensor(VAL_A, dtype=ember.float64, requires_grad=True)
    vb = ember.tensor(VAL_B, dtype=ember.float64, requires_grad=True)
    assert gradcheck(f, (va, vb))


def test_sparse_mm_leaves_get_masked_sparse_gradients():
    """``torch.sparse.mm``: each gradient kept to its operand's stored entries."""
    a = _coo(IDX_A, VAL_A)[0].requires_grad_()
    b = _coo(IDX_B, VAL_B)[0].requires_grad_()
    g = np.arange(16.0).reshape(SHAPE)
    ember.sparse.mm(a, b).to_dense().backward(ember.tensor(g))
    g = np.where(_structural(IDX_A, IDX_B), g, 0)  # to_dense's gradient: the stored entries
    dense_a, dense_b = _scipy(IDX_A, VAL_A).toarray(), _scipy(IDX_B, VAL_B).toarray()
    keep_a = _structural(IDX_A, np.stack(np.diag_indices(4)))  # A's stored entries
    keep_b = _structural(np.stack(np.diag_indices(4)), IDX_B)
    for leaf, expected, keep in ((a, g @ dense_b.T, keep_a), (b, dense_a.T @ g, keep_b)):
        assert leaf.grad.layout == ember.sparse_coo
        assert leaf.grad._nnz() == keep.sum()
        np.testing.assert_allclose(leaf.grad.to_dense().numpy(), np.where(keep, expected, 0))


OPERATORS = {k: v for k, v in PRODUCTS.items() if k != "sparse.mm"}


@pytest.mark.parametrize("product", OPERATORS.values(), ids=OPERATORS.keys())
def test_operator_leaves_get_sparse_products_as_gradients(product):
    """``@``, ``matmul``, ``mm``: the incoming (sparse) gradient times the other operand,
    whole, stored where that sparse product is (PyTorch's MmBackward0)."""
    a = _coo(IDX_A, VAL_A)[0].requires_grad_()
    b = _coo(IDX_B, VAL_B)[0].requires_grad_()
    g = np.arange(16.0).reshape(SHAPE)
    out_keep = _structural(IDX_A, IDX_B)
    product(a, b).to_dense().backward(ember.tensor(g))
    g = np.where(out_keep, g, 0)
    dense_a, dense_b = _scipy(IDX_A, VAL_A).toarray(), _scipy(IDX_B, VAL_B).toarray()
    stored = np.stack(np.nonzero(out_keep))
    for leaf, expected, keep in ((a, g @ dense_b.T, _structural(stored, IDX_B[::-1])),
                                 (b, dense_a.T @ g, _structural(IDX_A[::-1], stored))):
        assert leaf.grad.layout == ember.sparse_coo and leaf.grad._nnz() == keep.sum()
        np.testing.assert_allclose(leaf.grad.to_dense().numpy(), expected)


def test_compressed_leaf_gets_a_compressed_gradient():
    a = _coo(IDX_A, VAL_A)[0].to_sparse_csr().requires_grad_()
    (a @ a).to_dense().sum().backward()
    assert a.grad.layout == ember.sparse_csr
    dense = a.detach().to_dense().numpy()
    g = _structural(IDX_A, IDX_A).astype(float)
    np.testing.assert_allclose(a.grad.to_dense().numpy(), g @ dense.T + dense.T @ g)


def test_sparse_dense_gradients_follow_pytorch():
    """``sparse.mm(S, D)`` keeps S's gradient sparse and masked; ``S @ D`` (``mm``,
    ``matmul``) gives a dense, unmasked one, as PyTorch's do."""
    d = ember.tensor(np.linspace(-1, 1, 8).reshape(4, 2), requires_grad=True)
    dense_a = _scipy(IDX_A, VAL_A).toarray()
    keep = _structural(IDX_A, np.stack(np.diag_indices(4)))
    full = np.ones((4, 2)) @ d.detach().numpy().T
    a = _coo(IDX_A, VAL_A)[0].requires_grad_()
    ember.sparse.mm(a, d).sum().backward()
    assert a.grad.layout == ember.sparse_coo
    np.testing.assert_allclose(a.grad.to_dense().numpy(), np.where(keep, full, 0))
    np.testing.assert_allclose(d.grad.numpy(), dense_a.T @ np.ones((4, 2)))
    for product in (lambda s: s @ d, lambda s: ember.mm(s, d), lambda s: ember.matmul(s, d)):
        a = _coo(IDX_A, VAL_A)[0].requires_grad_()
        product(a).sum().backward()
        assert a.grad.layout == ember.strided
        np.testing.assert_allclose(a.grad.numpy(), full)


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_gradcheck_sparse_times_dense(layout):
    def f(va, d):
        a = ember.sparse_coo_tensor(ember.tensor(IDX_A), va, SHAPE)
        a = a if layout == "coo" else a.to_sparse_csr()
        return ember.sparse.mm(a, d)
    va = ember.tensor(VAL_A, dtype=ember.float64, requires_grad=True)
    d = ember.tensor(np.linspace(-1, 1, 12).reshape(4, 3), requires_grad=True)
    assert gradcheck(f, (va, d))
    assert gradgradcheck(f, (va, d))


def test_gradgradcheck_sparse_times_sparse():
    def f(va, vb):
        a = ember.sparse_coo_tensor(ember.tensor(IDX_A), va, SHAPE)
        b = ember.sparse_coo_tensor(ember.tensor(IDX_B), vb, SHAPE)
        return ember.sparse.mm(a, b).to_dense()
    va = ember.tensor(VAL_A, dtype=ember.float64, requires_grad=True)
    vb = ember.tensor(VAL_B, dtype=ember.float64, requires_grad=True)
    assert gradgradcheck(f, (va, vb))


def test_graph_nodes_are_named_as_pytorch_names_them():
    a = _coo(IDX_A, VAL_A)[0].requires_grad_()
    b = _coo(IDX_B, VAL_B)[0].requires_grad_()
    d = ember.ones(4, 2, dtype=ember.float64, requires_grad=True)
    csr = a.detach().to_sparse_csr().requires_grad_()
    cases = [(ember.sparse.mm(a, b), "SparseSparseMatmulBackward0", (a, b)),
             (a @ b, "MmBackward0", (a, b)),
             (ember.sparse.mm(a, d), "SparseAddmmBackward0", (None, a, d)),
             (ember.sparse.mm(csr, csr), "SparseAddmmBackward0", (None, csr, csr))]
    for out, name, leaves in cases:
        assert out.grad_fn.name() == name
        edges = [None if fn is None else fn.variable for fn, _ in out.grad_fn.next_functions]
        assert len(edges) == len(leaves) and all(e is t for e, t in zip(edges, leaves))


def test_coo_transpose_stays_sparse():
    a = _coo(IDX_A, VAL_A)[0].requires_grad_()
    t = a.t()
    assert t.layout == ember.sparse_coo and not t.is_coalesced()  # as PyTorch marks it
    np.testing.assert_array_equal(t.coalesce().indices().numpy(),
                                  np.stack(np.nonzero(_structural(IDX_A[::-1], np.stack(
                                      np.diag_indices(4))))))
    (a @ a.t()).to_dense().sum().backward()
    dense = _scipy(IDX_A, VAL_A).toarray()
    g = _structural(IDX_A, IDX_A[::-1]).astype(float)
    assert a.grad.layout == ember.sparse_coo
    np.testing.assert_allclose(a.grad.to_dense().numpy(), g @ dense + g.T @ dense)

    def f(va):
        s = ember.sparse_coo_tensor(ember.tensor(IDX_A), va, SHAPE)
        return (s @ s.t()).to_dense()
    va = ember.tensor(VAL_A, dtype=ember.float64, requires_grad=True)
    assert gradcheck(f, (va,)) and gradgradcheck(f, (va,))
