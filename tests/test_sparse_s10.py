"""torch.sparse's functions in ember.sparse (softmax, log_softmax, addmm, sampled_addmm,
spdiags, check_sparse_tensor_invariants, as_sparse_gradcheck, typed constructors), against
NumPy and SciPy; gradients with gradcheck in float64."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck

sp = pytest.importorskip("scipy.sparse")

INDICES = np.array([[0, 0, 1, 2, 2, 3], [0, 2, 1, 0, 2, 3]])
VALUES = np.array([1.0, 2.0, 0.0, 4.0, -1.0, 3.0])  # an explicit zero stays specified
SHAPE = (4, 4)


def _coo(values=VALUES, dtype=ember.float64, requires_grad=False):
    v = ember.tensor(values, dtype=dtype, requires_grad=requires_grad)
    return ember.sparse_coo_tensor(ember.tensor(INDICES), v, SHAPE), v


def _masked_softmax(dense, keep, dim, log):
    """NumPy oracle: softmax over the kept entries (the others -inf), zero off them."""
    x = np.where(keep, dense, -np.inf)
    top = np.max(x, axis=dim, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    e = np.where(keep, np.exp(x - top), 0)
    total = e.sum(axis=dim, keepdims=True)
    if log:
        return np.where(keep, x - top - np.log(np.where(total == 0, 1, total)), 0)
    return np.where(keep, e / np.where(total == 0, 1, total), 0)


def _dense_and_keep():
    dense = np.zeros(SHAPE)
    dense[tuple(INDICES)] = VALUES
    keep = np.zeros(SHAPE, bool)
    keep[tuple(INDICES)] = True
    return dense, keep


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_over_specified_entries_matches_numpy(dim, log):
    a, _ = _coo()
    fn = ember.sparse.log_softmax if log else ember.sparse.softmax
    out = fn(a, dim)
    dense, keep = _dense_and_keep()
    assert out.is_sparse and out.dtype == ember.float64 and out._nnz() == len(VALUES)
    assert out.indices().tolist() == a.coalesce().indices().tolist()
    np.testing.assert_allclose(out.to_dense().numpy(), _masked_softmax(dense, keep, dim, log),
                               rtol=1e-12, atol=1e-12)


def test_softmax_of_hybrid_tensor_normalizes_dense_dims_too():
    v = np.array([[1.0, 2.0], [3.0, -1.0]])
    h = ember.sparse_coo_tensor(ember.tensor([[0, 2]]), ember.tensor(v), (3, 2))
    keep = np.array([[True], [False], [True]])
    dense = np.zeros((3, 2))
    dense[[0, 2]] = v
    for dim in (0, 1):
        np.testing.assert_allclose(ember.sparse.softmax(h, dim).to_dense().numpy(),
                                   _masked_softmax(dense, keep, dim, False), rtol=1e-6)


def test_softmax_dtype_and_errors():
    a, _ = _coo()
    assert ember.sparse.softmax(a.long(), 1, dtype=ember.float32).dtype == ember.float32
    with pytest.raises(NotImplementedError, match="\"softmax\" not implemented for 'Long'"):
        ember.sparse.softmax(a.long(), 1)
    with pytest.raises(NotImplementedError, match="'CPU' backend"):
        ember.sparse.softmax(ember.ones(2, 2), 1)
    with pytest.raises(NotImplementedError, match="'SparseCsrCPU' backend"):
        ember.sparse.log_softmax(a.to_sparse_csr(), 1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember.sparse.softmax(a, 2)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_gradients_on_values(dim, log):
    fn = ember.sparse.log_softmax if log else ember.sparse.softmax
    weight = ember.tensor(np.arange(16.0).reshape(4, 4))

    def f(values):
        a = ember.sparse_coo_tensor(ember.tensor(INDICES), values, SHAPE)
        return (fn(a, dim).to_dense() * weight).sum()
    assert gradcheck(f, (ember.tensor(VALUES, requires_grad=True),))


def test_softmax_gradient_of_sparse_leaf_is_sparse_and_masked():
    a, _ = _coo()
    a = a.coalesce().requires_grad_()
    ember.sparse.softmax(a, 1).to_dense().pow(2).sum().backward()
    assert a.grad.is_sparse
    _, keep = _dense_and_keep()
    assert not a.grad.to_dense().numpy()[~keep].any()


def test_addmm_matches_numpy_and_keeps_gradient_to_the_pattern():
    a, _ = _coo()
    a = a.coalesce().requires_grad_()
    rng = np.random.default_rng(0)
    d, m = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    dd = ember.tensor(d, requires_grad=True)
    out = ember.sparse.addmm(ember.tensor(m), a, dd, beta=0.5, alpha=2.0)
    dense, keep = _dense_and_keep()
    np.testing.assert_allclose(out.detach().numpy(), 0.5 * m + 2.0 * dense @ d)
    assert not out.is_sparse
    out.sum().backward()
    assert a.grad.is_sparse
    np.testing.assert_allclose(a.grad.to_dense().numpy(),
                               np.where(keep, 2.0 * np.ones((4, 3)) @ d.T, 0))
    np.testing.assert_allclose(dd.grad.numpy(), 2.0 * dense.T @ np.ones((4, 3)))
    csr = ember.sparse.addmm(ember.tensor(m[0]), a.detach().to_sparse_csr(), ember.tensor(d))
    np.testing.assert_allclose(csr.numpy(), m[0] + dense @ d)  # mat broadcasts


def test_addmm_errors():
    a, _ = _coo()
    d = ember.ones(4, 3, dtype=ember.float64)
    with pytest.raises(RuntimeError, match="expected strided result tensor"):
        ember.sparse.addmm(d.to_sparse(), a, d)
    with pytest.raises(RuntimeError, match="expected scalar type Double but found Float"):
        ember.sparse.addmm(d, a, d.float())
    with pytest.raises(RuntimeError, match="Expected dim 0 size 4, got 2"):
        ember.sparse.addmm(d, a, ember.ones(2, 3, dtype=ember.float64))


def test_addmm_gradcheck_on_values():
    d = ember.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    m = ember.ones(4, 3, dtype=ember.float64, requires_grad=True)

    def f(values, d, m):
        a = ember.sparse_coo_tensor(ember.tensor(INDICES), values, SHAPE)
        return ember.sparse.addmm(m, a, d, beta=0.3, alpha=-1.5)
    assert gradcheck(f, (ember.tensor(VALUES, requires_grad=True), d, m))


def test_mm_gradient_of_sparse_operand_is_masked():
    a, _ = _coo()
    a = a.coalesce().requires_grad_()
    ember.sparse.mm(a, ember.ones(4, 2, dtype=ember.float64)).sum().backward()
    _, keep = _dense_and_keep()
    assert a.grad.is_sparse
    np.testing.assert_allclose(a.grad.to_dense().numpy(), np.where(keep, 2.0, 0.0))


def _csr():
    dense, _ = _dense_and_keep()
    m = sp.csr_matrix((VALUES, (INDICES[0], INDICES[1])), shape=SHAPE)
    c = ember.sparse_csr_tensor(ember.tensor(m.indptr), ember.tensor(m.indices),
                                ember.tensor(m.data), SHAPE)
    return c, m


def test_sampled_addmm_matches_scipy_at_the_pattern():
    c, m = _csr()
    rng = np.random.default_rng(1)
    m1, m2 = rng.standard_normal((4, 3)), rng.standard_normal((3, 4))
    out = ember.sparse.sampled_addmm(c, ember.tensor(m1), ember.tensor(m2), beta=0.5, alpha=2.0)
    product = m1 @ m2
    expected = 0.5 * m.data + 2.0 * product[INDICES[0], INDICES[1]][np.lexsort(INDICES[::-1])]
    assert out.layout == ember.sparse_csr and out._nnz() == m.nnz  # the explicit zero too
    assert out.crow_indices().tolist() == m.indptr.tolist()
    assert out.col_indices().tolist() == m.indices.tolist()
    np.testing.assert_allclose(out.values().numpy(), expected)


def test_sampled_addmm_broadcasts_over_batches_and_errors():
    c, _ = _csr()
    out = ember.sparse.sampled_addmm(c, ember.ones(2, 4, 3, dtype=ember.float64),
                                     ember.ones(2, 3, 4, dtype=ember.float64))
    assert tuple(out.shape) == (2, 4, 4) and tuple(out.values().shape) == (2, 6)
    with pytest.raises(RuntimeError, match="Expected result to have sparse csr layout"):
        ember.sparse.sampled_addmm(c.to_sparse_csc(), ember.ones(4, 3), ember.ones(3, 4))
    with pytest.raises(NotImplementedError, match="'SparseCPU' backend"):
        ember.sparse.sampled_addmm(c.to_sparse(), ember.ones(4, 3), ember.ones(3, 4))
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.sparse.sampled_addmm(c, ember.ones(4, 3), ember.ones(3, 4))
    with pytest.raises(RuntimeError, match=r"shapes cannot be multiplied \(4x2 and 3x4\)"):
        ember.sparse.sampled_addmm(c, ember.ones(4, 2, dtype=ember.float64),
                                   ember.ones(3, 4, dtype=ember.float64))


def test_sampled_addmm_gradcheck():
    c, _ = _csr()
    rng = np.random.default_rng(2)
    m1 = ember.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    m2 = ember.tensor(rng.standard_normal((3, 4)), requires_grad=True)

    def f(m1, m2):
        return ember.sparse.sampled_addmm(c, m1, m2, alpha=0.7).values()
    assert gradcheck(f, (m1, m2))
    leaf = c.detach().requires_grad_()
    ember.sparse.sampled_addmm(leaf, m1, m2, beta=3.0).values().sum().backward()
    assert leaf.grad.layout == ember.sparse_csr
    np.testing.assert_allclose(leaf.grad.values().numpy(), np.full(6, 3.0))


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (2, 6)])
@pytest.mark.parametrize("layout", [None, "sparse_csr", "sparse_csc"])
def test_spdiags_matches_scipy(shape, layout):
    diagonals = np.arange(1.0, 13.0).reshape(3, 4)
    offsets = np.array([0, -1, 2])
    out = ember.sparse.spdiags(ember.tensor(diagonals), ember.tensor(offsets), shape,
                               layout=None if layout is None else getattr(ember, layout))
    expected = sp.spdiags(diagonals, offsets, *shape).toarray()
    np.testing.assert_array_equal(out.to_dense().numpy(), expected)
    assert out.layout == (ember.sparse_coo if layout is None else getattr(ember, layout))


def test_spdiags_stores_zeros_and_checks_its_arguments():
    out = ember.sparse.spdiags(ember.zeros(1, 3), ember.tensor([0]), (3, 3))
    assert out._nnz() == 3 and not out.is_coalesced()
    assert ember.sparse.spdiags(ember.tensor([1, 2, 3]), ember.tensor(1), (3, 3)).dtype == \
        ember.int64
    with pytest.raises(RuntimeError, match="duplicate"):
        ember.sparse.spdiags(ember.ones(2, 3), ember.tensor([1, 1]), (3, 3))
    with pytest.raises(RuntimeError, match="must have dtype Long"):
        ember.sparse.spdiags(ember.ones(1, 3), ember.tensor([1.0]), (3, 3))
    with pytest.raises(RuntimeError, match="does not match the number of offsets"):
        ember.sparse.spdiags(ember.ones(2, 3), ember.tensor([1]), (3, 3))
    with pytest.raises(RuntimeError, match="Output shape must be 2d"):
        ember.sparse.spdiags(ember.ones(1, 3), ember.tensor([1]), (3,))
    with pytest.raises(RuntimeError, match="got SparseBsr"):
        ember.sparse.spdiags(ember.ones(1, 3), ember.tensor([1]), (3, 3),
                             layout=ember.sparse_bsr)


def test_check_sparse_tensor_invariants_states():
    checks = ember.sparse.check_sparse_tensor_invariants
    assert not checks.is_enabled()
    with checks():
        assert checks.is_enabled()
        with checks(enable=False):
            assert not checks.is_enabled()
        assert checks.is_enabled()
    assert not checks.is_enabled()
    checks.enable()
    assert checks.is_enabled()
    checks.disable()

    @checks()
    def inside():
        return checks.is_enabled()
    assert inside() and not checks.is_enabled()


@pytest.mark.parametrize("crow, col, message", [
    ([0, 1, 3], [0, 5, 1], "`0 <= col_indices < ncols`"),
    ([1, 2, 2], [0, 1], r"`crow_indices\[..., 0\] == 0`"),
    ([0, 2, 1], [1, 0], r"`crow_indices\[..., -1\] == nnz`"),
    ([0, 4, 4], [0, 1, 2, 0], r"<= ncols` is not satisfied"),
    ([0, 2, 3], [1, 0, 1], "are sorted and distinct"),
    ([0, 2, 3], [1, 1, 1], "are sorted and distinct"),
])
def test_compressed_invariants_are_checked_on_request(crow, col, message):
    make = ember.sparse_csr_tensor
    with pytest.raises(RuntimeError, match=message):
        make(crow, col, ember.ones(len(col)), (len(crow) - 1, 3), check_invariants=True)
    with ember.sparse.check_sparse_tensor_invariants(), pytest.raises(RuntimeError,
                                                                       match=message):
        make(crow, col, ember.ones(len(col)), (len(crow) - 1, 3))


def test_valid_compressed_indices_pass_the_checks():
    c = ember.sparse_csc_tensor([0, 2, 3], [0, 2, 1], [1.0, 2.0, 3.0], (3, 2),
                                check_invariants=True)
    assert c.to_dense().tolist() == [[1.0, 0.0], [0.0, 3.0], [2.0, 0.0]]
    with pytest.raises(RuntimeError, match="`0 <= row_indices < nrows`"):
        ember.sparse_csc_tensor([0, 2, 3], [0, 3, 1], [1.0, 2.0, 3.0], (3, 2),
                                check_invariants=True)


def test_coo_indices_out_of_range_always_raise():
    with pytest.raises(RuntimeError, match="found negative index -1 for dim 0"):
        ember.sparse_coo_tensor([[0, -1]], [1.0, 2.0], (3,), check_invariants=True)
    with pytest.raises(RuntimeError, match="found negative index -1 for dim 0"):
        ember.sparse_coo_tensor([[0, -1]], [1.0, 2.0])
    with pytest.raises(RuntimeError, match="for dim 1, size is 3 but found index 5"):
        ember.sparse_coo_tensor([[0, 1], [1, 5]], [1.0, 2.0], (3, 3), check_invariants=True)


def test_constructor_is_differentiable_in_values_and_keeps_explicit_zeros():
    a, v = _coo(requires_grad=True)
    assert a.requires_grad and a._nnz() == len(VALUES)
    (a.to_dense() * ember.arange(16.0, dtype=ember.float64).reshape(4, 4)).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), INDICES[0] * 4.0 + INDICES[1])


def test_casts_keep_the_layout_and_pattern():
    a, _ = _coo()
    for t in (a.float(), a.to(ember.int64), a.clone(), a.to_sparse_csr().double()):
        assert t.layout == a.layout or t.layout == ember.sparse_csr
    assert a.long()._nnz() == len(VALUES)
    assert a.to_sparse_csr().float().layout == ember.sparse_csr
    assert a.to_sparse_csr()._nnz() == len(VALUES)  # the explicit zero converts too


def test_as_sparse_gradcheck_checks_through_specified_values():
    check = ember.sparse.as_sparse_gradcheck(gradcheck)
    x = ember.tensor([[0.0, 1.0], [2.0, 3.0]], dtype=ember.float64).to_sparse()
    assert check(lambda x: x.to_sparse_csr(), x.requires_grad_())
    assert check(lambda x: ember.sparse.log_softmax(x, 1), x)
    d = ember.ones(2, 3, dtype=ember.float64, requires_grad=True)
    assert check(lambda x, d: ember.sparse.mm(x, d), (x, d))


def test_typed_constructors():
    s = ember.sparse.FloatTensor(ember.tensor([[0, 2]]), ember.tensor([1.0, 2.0]), (4,))
    assert s.is_sparse and tuple(s.shape) == (4,) and s.to_dense().tolist() == [1, 0, 2, 0]
    assert isinstance(s, ember.sparse.FloatTensor)
    assert not isinstance(s, ember.sparse.DoubleTensor)
    assert not isinstance(ember.ones(1), ember.sparse.FloatTensor)
    e = ember.sparse.DoubleTensor(2, 3)
    assert e.is_sparse and e.dtype == ember.float64 and e._nnz() == 0 and e.sparse_dim() == 2
    assert tuple(ember.sparse.LongTensor().shape) == (0,)
    with pytest.raises(TypeError, match="only accepts sizes"):
        ember.sparse.FloatTensor([1, 2])
    assert repr(ember.sparse.HalfTensor) == "<class 'torch.sparse.HalfTensor'>"


@pytest.mark.parametrize("left", [True, False])
def test_spsolve_matches_numpy_and_is_differentiable(left):
    a = np.array([[4.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0]])
    b = np.array([1.0, 2.0, 3.0])
    csr = ember.tensor(a).to_sparse_csr()
    x = ember.sparse.spsolve(csr, ember.tensor(b), left=left)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a if left else a.T, b))
    with pytest.raises(NotImplementedError, match="'SparseCPU' backend"):
        ember.sparse.spsolve(csr.to_sparse(), ember.tensor(b))

    def f(values, rhs):
        m = ember.sparse_csr_tensor(csr.crow_indices(), csr.col_indices(), values, (3, 3))
        return ember.sparse.spsolve(m, rhs, left=left)
    assert gradcheck(f, (csr.values().detach().requires_grad_(),
                         ember.tensor(b, requires_grad=True)))
