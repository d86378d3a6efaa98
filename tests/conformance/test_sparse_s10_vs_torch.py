"""torch.sparse's softmax, log_softmax, addmm, sampled_addmm, spdiags,
check_sparse_tensor_invariants, as_sparse_gradcheck and typed constructors, ember against
PyTorch: values, layouts, patterns, dtypes, gradients and errors."""
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
warnings.filterwarnings("ignore", message=".*Sparse (CSR|BSR|BSC|CSC) tensor support.*")
warnings.filterwarnings("ignore", message=".*Sparse invariant checks are implicitly disabled.*")

INDICES = [[0, 0, 1, 2, 2, 3], [0, 2, 1, 0, 2, 3]]
VALUES = [1.0, 2.0, 0.0, 4.0, -1.0, 3.0]  # an explicit zero: specified in both
WEIGHT = np.arange(16.0).reshape(4, 4)


def _both(fn):
    """``fn(lib)`` on ember and on torch; an exception is returned as (type name, message)."""
    out = []
    for lib in (ember, torch):
        try:
            out.append(fn(lib))
        except Exception as exc:  # noqa: BLE001 - compared between the libraries
            out.append((type(exc).__name__, str(exc).split("\n")[0]))
    return out


def _summary(t):
    """A sparse or strided result as comparable plain data."""
    info = {"layout": str(t.layout), "dtype": str(t.dtype), "shape": tuple(t.shape)}
    if t.layout != torch.strided and str(t.layout) != "torch.strided":
        info["nnz"] = t._nnz()
        if t.is_sparse:  # ember shows an uncoalesced tensor's coalesced entries
            info["nnz"] = t.detach().coalesce()._nnz()
            info["indices"] = t.detach().coalesce().indices().tolist()
        elif "csr" in str(t.layout) or "bsr" in str(t.layout):
            info["crow"] = t.crow_indices().tolist()
            info["col"] = t.col_indices().tolist()
        else:
            info["ccol"] = t.ccol_indices().tolist()
            info["row"] = t.row_indices().tolist()
    return info, t.detach().to_dense().double().numpy() if info.get("nnz") is not None else \
        t.detach().double().numpy()


def _assert_same(e, t, rtol=1e-6):
    if isinstance(t, tuple):
        assert e[0] == t[0] and t[1].startswith(e[1]), (e, t)
        return
    assert not isinstance(e, tuple), e
    (ei, ev), (ti, tv) = _summary(e), _summary(t)
    assert ei == ti
    np.testing.assert_allclose(ev, tv, rtol=rtol, atol=1e-12, equal_nan=True)


def _coo(lib, values=VALUES, dtype="float64", requires_grad=False):
    v = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=requires_grad)
    return lib.sparse_coo_tensor(lib.tensor(INDICES), v, (4, 4)), v


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("values", [VALUES, [1.0, float("inf"), 0.0, float("-inf"), 2.0, 0.0]])
def test_softmax_values_and_gradients_match_torch(name, dim, values):
    def run(lib):
        a, v = _coo(lib, values, requires_grad=True)
        out = getattr(lib.sparse, name)(a, dim)
        if values is VALUES:
            (out.to_dense() * lib.tensor(WEIGHT)).sum().backward()
        return out, v.grad
    (e, eg), (t, tg) = _both(run)
    _assert_same(e, t)
    if values is VALUES and dim >= 0:  # PyTorch's gradient for a negative dim is wrong
        np.testing.assert_allclose(eg.numpy(), tg.numpy(), rtol=1e-10)


@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_hybrid_and_sparse_leaf_gradient_match_torch(dim):
    def run(lib):
        h = lib.sparse_coo_tensor(lib.tensor([[0, 2]]), lib.tensor([[1.0, 2.0], [3.0, -1.0]],
                                                                   dtype=lib.float64), (3, 2))
        h = h.coalesce().requires_grad_()
        out = lib.sparse.log_softmax(h, dim)
        (out.to_dense() * lib.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
                                     dtype=lib.float64)).sum().backward()
        return out, h.grad
    (e, eg), (t, tg) = _both(run)
    _assert_same(e, t)
    _assert_same(eg, tg)


@pytest.mark.parametrize("case", [
    lambda lib, a: lib.sparse.softmax(a, 1, dtype=lib.float32),
    lambda lib, a: lib.sparse.softmax(a.long(), 1),
    lambda lib, a: lib.sparse.log_softmax(a.long(), 1),
    lambda lib, a: lib.sparse.softmax(a.long(), 0, dtype=lib.float64),
    lambda lib, a: lib.sparse.softmax(a.half(), 1),
    lambda lib, a: lib.sparse.softmax(a, 2),
    lambda lib, a: lib.sparse.softmax(a.to_dense(), 1),
    lambda lib, a: lib.sparse.softmax(a.to_sparse_csr(), 1),
    lambda lib, a: lib.sparse.softmax(lib.sparse_coo_tensor(
        lib.zeros(2, 0, dtype=lib.int64), lib.zeros(0), (3, 3)), 1),
])
def test_softmax_dtypes_and_errors_match_torch(case):
    e, t = _both(lambda lib: case(lib, _coo(lib)[0]))
    _assert_same(e, t)


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_addmm_values_and_gradients_match_torch(layout):
    def run(lib):
        a = _coo(lib)[0].coalesce()
        a = (a if layout == "coo" else a.to_sparse_csr()).requires_grad_()
        d = lib.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
        m = lib.tensor(np.ones(3), requires_grad=True)
        out = lib.sparse.addmm(m, a, d, beta=0.5, alpha=-2.0)
        (out * lib.tensor(np.arange(12.0).reshape(4, 3))).sum().backward()
        return out, a.grad, d.grad, m.grad
    for e, t in zip(*_both(run)):
        _assert_same(e, t)


@pytest.mark.parametrize("case", [
    lambda lib, a, d: lib.sparse.addmm(d.to_sparse(), a, d),
    lambda lib, a, d: lib.sparse.addmm(d, a, d.to_sparse()),
    lambda lib, a, d: lib.sparse.addmm(lib.ones(4, 4, dtype=lib.float64), a, d),
    lambda lib, a, d: lib.sparse.addmm(d, a, d.float()),
    lambda lib, a, d: lib.sparse.addmm(d.float(), a, d),
    lambda lib, a, d: lib.sparse.addmm(d, a, lib.ones(2, 3, dtype=lib.float64)),
    lambda lib, a, d: lib.sparse.addmm(d, a.to_dense(), d),
])
def test_addmm_errors_match_torch(case):
    e, t = _both(lambda lib: case(lib, _coo(lib)[0], lib.ones(4, 3, dtype=lib.float64)))
    _assert_same(e, t)


def _csr(lib):
    return _coo(lib)[0].coalesce().to_sparse_csr()


def test_sampled_addmm_values_and_gradients_match_torch():
    rng = np.random.default_rng(0)
    m1, m2 = rng.standard_normal((4, 3)), rng.standard_normal((3, 4))

    def run(lib):
        c = _csr(lib).requires_grad_()
        x1, x2 = lib.tensor(m1, requires_grad=True), lib.tensor(m2, requires_grad=True)
        out = lib.sparse.sampled_addmm(c, x1, x2, beta=0.5, alpha=3.0)
        out.values().pow(2).sum().backward()
        return out, c.grad, x1.grad, x2.grad
    for e, t in zip(*_both(run)):
        _assert_same(e, t)


def test_csr_constructor_gradient_on_values_matches_torch():
    def run(lib):
        v = lib.tensor([1.0, 2.0, 0.0, 4.0], dtype=lib.float64, requires_grad=True)
        c = lib.sparse_csr_tensor(lib.tensor([0, 2, 3, 4]), lib.tensor([0, 2, 1, 0]), v, (3, 3))
        m1 = lib.tensor(np.arange(6.0).reshape(3, 2))
        out = lib.sparse.sampled_addmm(c, m1, m1.T.contiguous(), beta=2.0)
        out.values().pow(2).sum().backward()
        return out, v.grad
    for e, t in zip(*_both(run)):
        _assert_same(e, t)


@pytest.mark.parametrize("case", [
    lambda lib, c: lib.sparse.sampled_addmm(c, lib.ones(2, 4, 3, dtype=lib.float64),
                                            lib.ones(2, 3, 4, dtype=lib.float64)),
    lambda lib, c: lib.sparse.sampled_addmm(
        lib.stack([c.to_dense(), 2 * c.to_dense()]).to_sparse_csr(),
        lib.ones(2, 4, 3, dtype=lib.float64), lib.ones(2, 3, 4, dtype=lib.float64)),
    lambda lib, c: lib.sparse.sampled_addmm(
        lib.stack([c.to_dense(), 2 * c.to_dense()]).to_sparse_csr(),
        lib.ones(4, 3, dtype=lib.float64), lib.ones(3, 4, dtype=lib.float64)),
    lambda lib, c: lib.sparse.sampled_addmm(c, lib.ones(4, 3, dtype=lib.float64),
                                            lib.ones(3, 4, dtype=lib.float64), beta=0),
    lambda lib, c: lib.sparse.sampled_addmm(c, lib.ones(4, 3, dtype=lib.float64),
                                            lib.ones(3, 4, dtype=lib.float64), out=c.clone()),
    lambda lib, c: lib.sparse.sampled_addmm(c.to_sparse(), lib.ones(4, 3), lib.ones(3, 4)),
    lambda lib, c: lib.sparse.sampled_addmm(c.to_dense(), lib.ones(4, 3), lib.ones(3, 4)),
    lambda lib, c: lib.sparse.sampled_addmm(c.to_sparse_csc(), lib.ones(4, 3),
                                            lib.ones(3, 4)),
    lambda lib, c: lib.sparse.sampled_addmm(c, lib.ones(4, 3).to_sparse_csr(),
                                            lib.ones(3, 4)),
    lambda lib, c: lib.sparse.sampled_addmm(c, lib.ones(4, 3, dtype=lib.float64),
                                            lib.ones(3, 4)),
    lambda lib, c: lib.sparse.sampled_addmm(c, lib.ones(4, 3), lib.ones(3, 4)),
    lambda lib, c: lib.sparse.sampled_addmm(c.long(), lib.ones(4, 3, dtype=lib.int64),
                                            lib.ones(3, 4, dtype=lib.int64)),
    lambda lib, c: lib.sparse.sampled_addmm(c, lib.ones(4, 2, dtype=lib.float64),
                                            lib.ones(3, 4, dtype=lib.float64)),
    lambda lib, c: lib.sparse.sampled_addmm(c, lib.ones(5, 3, dtype=lib.float64),
                                            lib.ones(3, 4, dtype=lib.float64)),
    lambda lib, c: lib.sparse.sampled_addmm(c, lib.ones(4, 3, dtype=lib.float64),
                                            lib.ones(3, 2, dtype=lib.float64)),
])
def test_sampled_addmm_cases_match_torch(case):
    e, t = _both(lambda lib: case(lib, _csr(lib)))
    _assert_same(e, t)


# PyTorch writes out of bounds (and may crash) for diagonals longer than the columns or
# offsets past the shape, so the cases here keep within both.
DIAGONALS = np.arange(1.0, 13.0).reshape(3, 4)


@pytest.mark.parametrize("case", [
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS), lib.tensor([0, -1, 2]), (4, 4)),
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS), lib.tensor([0, -1, 2]), (5, 4)),
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS), lib.tensor([0, -1, 2]), (2, 6)),
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS), lib.tensor([0, -1, 2]), (4, 4),
                                   layout=lib.sparse_csr),
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS), lib.tensor([0, -1, 2]), (4, 4),
                                   layout=lib.sparse_csc),
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS[0]), lib.tensor(1), (4, 4)),
    lambda lib: lib.sparse.spdiags(lib.zeros(1, 3), lib.tensor([0]), (3, 3)),
    lambda lib: lib.sparse.spdiags(lib.tensor([[1, 2, 3]]), lib.tensor([-1]), (3, 3)),
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS), lib.tensor([0, -1, 2]), (4, 4),
                                   layout=lib.sparse_bsr),
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS), lib.tensor([0, 0, 2]), (4, 4)),
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS), lib.tensor([0, 1]), (4, 4)),
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS), lib.tensor([0.0, 1, 2]), (4, 4)),
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS), [0, 1, 2], (4, 4)),
    lambda lib: lib.sparse.spdiags(lib.tensor(DIAGONALS), lib.tensor([0, 1, 2]), (4, 4, 4)),
])
def test_spdiags_matches_torch(case):
    e, t = _both(case)
    _assert_same(e, t)
    if not isinstance(t, tuple) and t.layout == torch.sparse_coo:
        assert e.is_coalesced() == t.is_coalesced()


@pytest.mark.parametrize("layout, compressed, plain, size", [
    ("csr", [0, 1, 3], [0, 5, 1], (2, 3)),
    ("csr", [1, 2, 2], [0, 1], (2, 3)),
    ("csr", [0, 2, 1], [1, 0], (2, 3)),
    ("csr", [0, 4, 4], [0, 1, 2, 0], (2, 3)),
    ("csr", [0, 2, 3], [1, 0, 1], (2, 3)),
    ("csr", [0, 2, 3], [1, 1, 1], (2, 3)),
    ("csr", [1, 1, 2], [5, 1], (2, 3)),
    ("csr", [0, 5, 3], [0, 1, 9], (2, 3)),
    ("csr", [0, 2, 3], [0, 2, 1], (2, 3)),
    ("csr", [[0, 1, 2], [0, 2, 2]], [[0, 1], [1, 0]], (2, 2, 3)),
    ("csc", [0, 5, 3], [0, 1, 2], (3, 2)),
    ("csc", [0, 2, 3], [1, 0, 2], (3, 2)),
    ("csc", [1, 2, 3], [1, 0, 2], (3, 2)),
    ("csc", [0, 2, 3], [0, 3, 1], (3, 2)),
    ("csc", [0, 2, 3], [0, 2, 1], (3, 2)),
])
def test_compressed_invariant_checks_match_torch(layout, compressed, plain, size):
    nnz = np.asarray(plain).shape[-1]
    batch = np.asarray(plain).shape[:-1]

    def run(lib):
        make = getattr(lib, f"sparse_{layout}_tensor")
        return make(compressed, plain, lib.ones(*batch, nnz), size, check_invariants=True)
    e, t = _both(run)
    _assert_same(e, t)

    def run_in_context(lib):
        with lib.sparse.check_sparse_tensor_invariants():
            return run(lib)
    e, t = _both(run_in_context)
    _assert_same(e, t)


@pytest.mark.parametrize("case", [
    lambda lib: lib.sparse_csr_tensor(lib.tensor([0, 1, 2], dtype=lib.int32), lib.tensor([0, 1]),
                                      lib.ones(2), (2, 3), check_invariants=True),
    lambda lib: lib.sparse_csc_tensor(lib.tensor([0, 1, 2]), lib.tensor([0, 1], dtype=lib.int32),
                                      lib.ones(2), (3, 2), check_invariants=True),
    lambda lib: lib.sparse_bsr_tensor([0, 2, 2], [1, 0], lib.ones(2, 2, 2), (4, 4),
                                      check_invariants=True),
    lambda lib: lib.sparse_bsr_tensor([0, 1, 2], [0, 2], lib.ones(2, 2, 2), (4, 4),
                                      check_invariants=True),
    lambda lib: lib.sparse_csr_tensor([0, 1, 2], [0, 2], lib.ones(2), check_invariants=True),
    lambda lib: lib.sparse_coo_tensor([[0, 3]], [1.0, 2.0], (3,), check_invariants=True),
    lambda lib: lib.sparse_coo_tensor([[0, -1]], [1.0, 2.0], check_invariants=True),
    lambda lib: lib.sparse_coo_tensor([[0, -1]], [1.0, 2.0]),
    lambda lib: lib.sparse_coo_tensor([[0, 1], [1, -5]], [1.0, 2.0], (3, 3),
                                      check_invariants=True),
    lambda lib: lib.sparse_coo_tensor([[0, 1], [1, 5]], [1.0, 2.0], (3, 3),
                                      check_invariants=True),
    lambda lib: lib.sparse_coo_tensor([[0, 0]], [1.0, 2.0], (1,), check_invariants=True),
])
def test_constructor_checks_match_torch(case):
    e, t = _both(case)
    _assert_same(e, t)


def test_check_sparse_tensor_invariants_state_matches_torch():
    def run(lib):
        checks = lib.sparse.check_sparse_tensor_invariants
        seen = [checks.is_enabled()]
        with checks():
            seen.append(checks.is_enabled())
            with checks(False):
                seen.append(checks.is_enabled())
        seen.append(checks.is_enabled())
        checks.enable()
        seen.append(checks.is_enabled())
        checks.disable()

        @checks()
        def inside():
            return checks.is_enabled()
        seen += [inside(), checks.is_enabled()]
        manager = checks()
        with manager:
            try:
                with manager:
                    pass
            except RuntimeError as exc:
                seen.append(str(exc))
        return seen
    e, t = _both(run)
    assert e == t


def test_as_sparse_gradcheck_matches_torch():
    def run(lib):
        check = lib.sparse.as_sparse_gradcheck(lib.autograd.gradcheck)
        x = lib.tensor([[0.0, 1.0], [2.0, 3.0]], dtype=lib.float64).to_sparse()
        d = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
        x.requires_grad_()
        return [check(lambda x: x.to_sparse_csr(), x),
                check(lambda x: lib.sparse.softmax(x, 1), x),
                check(lambda x, d: lib.sparse.mm(x, d), (x, d))]
    e, t = _both(run)
    assert e == t == [True, True, True]


@pytest.mark.parametrize("case", [
    lambda lib: lib.sparse.FloatTensor(),
    lambda lib: lib.sparse.FloatTensor(2, 3),
    lambda lib: lib.sparse.DoubleTensor(lib.tensor([[0, 1]]), lib.tensor([1.0, 2.0])),
    lambda lib: lib.sparse.LongTensor(lib.tensor([[0, 1]]), lib.tensor([1, 2]), (3,)),
    lambda lib: lib.sparse.BFloat16Tensor(2),
    lambda lib: lib.sparse.FloatTensor([1, 2]),
])
def test_typed_constructors_match_torch(case):
    e, t = _both(case)
    _assert_same(e, t)


def test_typed_classes_match_torch():
    def run(lib):
        s = lib.sparse_coo_tensor(lib.tensor([[0]]), lib.tensor([1.0]))
        return [isinstance(s, lib.sparse.FloatTensor), isinstance(s, lib.sparse.DoubleTensor),
                isinstance(lib.ones(1), lib.sparse.FloatTensor), repr(lib.sparse.ShortTensor),
                str(lib.sparse.IntTensor.dtype), lib.sparse.IntTensor.is_sparse]
    e, t = _both(run)
    assert e == t
