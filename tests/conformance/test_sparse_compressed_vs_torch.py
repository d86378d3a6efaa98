"""Compressed sparse layouts (CSR, CSC, BSR, BSC) against PyTorch: indices, values, nnz,
printing, constructors, sparse_mask and gradients."""
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")
warnings.filterwarnings("ignore", message=".*Sparse (CSR|BSR|BSC|CSC) tensor support.*")

LAYOUTS = [("csr", None), ("csc", None), ("bsr", (2, 1)), ("bsc", (1, 3)), ("bsr", (2, 3))]


def _convert(t, layout, blocksize, dense_dim=None):
    if blocksize is None:
        return getattr(t, f"to_sparse_{layout}")(dense_dim=dense_dim)
    return getattr(t, f"to_sparse_{layout}")(blocksize, dense_dim=dense_dim)


def _accessors(t):
    """Every index and value view of ``t`` that its layout has, as lists."""
    out = {"nnz": t._nnz(), "values": t.values().tolist(), "layout": repr(t.layout),
           "shape": tuple(t.shape), "sparse_dim": t.sparse_dim(), "dense_dim": t.dense_dim()}
    for name in ("crow_indices", "col_indices", "ccol_indices", "row_indices"):
        try:
            out[name] = getattr(t, name)().tolist()
        except RuntimeError as exc:
            out[name] = str(exc).split(" but got")[0]
    return out


def _matrix(shape, seed, density=0.3):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    a[rng.random(shape) > density] = 0
    return a


@pytest.mark.parametrize("layout,blocksize", LAYOUTS)
@pytest.mark.parametrize("seed", [0, 1])
def test_accessors_and_repr_match_torch(layout, blocksize, seed):
    a = _matrix((4, 6), seed)
    e = _convert(ember.tensor(a), layout, blocksize)
    t = _convert(torch.tensor(a), layout, blocksize)
    assert _accessors(e) == _accessors(t)
    assert repr(e) == repr(t)
    assert e.is_sparse_csr == t.is_sparse_csr and e.is_sparse == t.is_sparse
    np.testing.assert_array_equal(e.to_dense().numpy(), t.to_dense().numpy())


@pytest.mark.parametrize("dtype", ["float32", "int64", "float64"])
def test_repr_dtypes_and_requires_grad(dtype):
    a = [[1, 0, 2], [0, 0, 3]]
    e = ember.tensor(a, dtype=getattr(ember, dtype)).to_sparse_csr()
    t = torch.tensor(a, dtype=getattr(torch, dtype)).to_sparse_csr()
    assert repr(e) == repr(t)
    if dtype != "int64":
        assert repr(e.requires_grad_()) == repr(t.requires_grad_())


@pytest.mark.parametrize("layout,blocksize", LAYOUTS)
def test_batched_and_dense_dims_match_torch(layout, blocksize):
    a = np.zeros((2, 4, 6, 2))
    a[0, 0, 0], a[0, 3, 5], a[1, 1, 2], a[1, 2, 4] = 1, 2, 3, 4
    for dense_dim, arr in ((1, a), (0, a[..., 0])):
        e = _convert(ember.tensor(arr), layout, blocksize, dense_dim)
        t = _convert(torch.tensor(arr), layout, blocksize, dense_dim)
        assert _accessors(e) == _accessors(t)
        assert repr(e) == repr(t)


@pytest.mark.parametrize("layout", ["csr", "csc", "bsr", "bsc"])
def test_constructors_match_torch_with_explicit_zeros(layout):
    compressed = [0, 2, 2, 3]
    plain = [0, 2, 1]
    values = [[0.0, 1.0, 2.0]] if layout[0] != "b" else [np.arange(12.0).reshape(3, 2, 2)]
    values = np.array(values[0])
    values[0] = 0  # explicit zero (or zero block): still specified
    for index_dtype in ("int64", "int32"):
        args = [lib.tensor(x, dtype=getattr(lib, index_dtype)) for lib in (ember, torch)
                for x in (compressed, plain)]
        e = getattr(ember, f"sparse_{layout}_tensor")(args[0], args[1], ember.tensor(values))
        t = getattr(torch, f"sparse_{layout}_tensor")(args[2], args[3], torch.tensor(values))
        assert _accessors(e) == _accessors(t)
        assert repr(e) == repr(t)
        assert e.crow_indices().dtype.itemsize == (4 if index_dtype == "int32" else 8) \
            if layout in ("csr", "bsr") else e.ccol_indices().dtype.itemsize > 0
        size = tuple(t.shape)
        g = ember.sparse_compressed_tensor(args[0], args[1], ember.tensor(values), size,
                                           layout=getattr(ember, f"sparse_{layout}"))
        assert repr(g) == repr(t)


@pytest.mark.parametrize("mask_layout", ["coo", "csr", "csc", ("bsr", (2, 2))])
def test_sparse_mask_matches_torch(mask_layout):
    a = _matrix((4, 4), 3, density=0.6)
    m = _matrix((4, 4), 4, density=0.4)
    masks = []
    for lib in (ember, torch):
        mask = lib.tensor(m)
        if mask_layout == "coo":
            masks.append(mask.to_sparse())
        elif isinstance(mask_layout, tuple):
            masks.append(mask.to_sparse_bsr(mask_layout[1]))
        else:
            masks.append(getattr(mask, f"to_sparse_{mask_layout}")())
    e = ember.tensor(a).sparse_mask(masks[0])
    t = torch.tensor(a).sparse_mask(masks[1])
    assert repr(e) == repr(t)


def _loss(s, lib, kind):
    if kind == "values":
        return (s.values() ** 2).sum()
    if kind == "to_dense":
        return (s.to_dense() * lib.arange(24.0).reshape(4, 6)).sum()
    b = np.random.default_rng(6).standard_normal((6, 3))
    return (s @ lib.tensor(b)).sum()


@pytest.mark.parametrize("layout,blocksize", LAYOUTS + [("bsr", (2, 2))])
@pytest.mark.parametrize("kind", ["values", "to_dense", "matmul"])
def test_gradients_are_masked_as_in_torch(layout, blocksize, kind):
    if kind == "matmul" and (layout == "bsc" or blocksize in ((2, 1), (2, 3))):
        pytest.skip("PyTorch's CPU matmul lacks BSC and non-square BSR blocks")
    a = _matrix((4, 6), 5)
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(a, requires_grad=True)
        _loss(_convert(x, layout, blocksize), lib, kind).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_layout_conversions_and_errors_match_torch():
    a = _matrix((4, 6), 8)
    for lib in (ember, torch):
        s = lib.tensor(a).to_sparse(layout=lib.sparse_csr)
        assert s.to_sparse_csr() is s
    e, t = (lib.tensor(a).to_sparse_csr() for lib in (ember, torch))
    assert repr(e.to_sparse()) == repr(t.to_sparse())
    assert repr(e.to_sparse_csc()) == repr(t.to_sparse_csc())
    for name in ("indices", "values", "coalesce", "is_coalesced", "crow_indices",
                 "col_indices", "ccol_indices", "row_indices"):
        with pytest.raises(RuntimeError) as te:
            getattr(torch.ones(2, 2), name)()
        with pytest.raises(RuntimeError) as ee:
            getattr(ember.ones(2, 2), name)()
        assert str(ee.value) == str(te.value)
    for name in ("indices", "coalesce", "ccol_indices", "row_indices"):
        with pytest.raises(RuntimeError) as te:
            getattr(t, name)()
        with pytest.raises(RuntimeError) as ee:
            getattr(e, name)()
        assert str(ee.value) == str(te.value)


def test_coo_to_dense_gradient_and_sparse_mask_match_torch():
    """COO: ``to_dense`` keeps the gradient to the stored entries unless masked_grad=False, and
    ``sparse_mask`` keeps a masked zero specified."""
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    weights = np.array([[1.0, 2.0], [3.0, 4.0]])
    grads = []
    for lib in (ember, torch):
        row = []
        for masked in (None, False):
            x = lib.tensor(a, requires_grad=True)
            kwargs = {} if masked is None else {"masked_grad": masked}
            (x.to_sparse().to_dense(**kwargs) * lib.tensor(weights)).sum().backward()
            row.append(x.grad.numpy())
        m = lib.tensor([[5.0, 6.0], [0.0, 0.0]]).sparse_mask(lib.tensor(a).to_sparse())
        row.append(repr(m))
        grads.append(row)
    for e, t in zip(*grads):
        np.testing.assert_array_equal(e, t)


def _repr_case(lib, case):
    a = _matrix((30, 40), 9, density=0.5)
    b = np.zeros((3, 4, 5))
    b[0, 1], b[2, 3] = 1.5, -2.25
    if case == "wide_csr":
        return lib.tensor(a).to_sparse_csr()
    if case == "coo":
        return lib.tensor(a[:6, :8]).to_sparse()
    if case == "coo_dense_dim":
        return lib.tensor(b).to_sparse(2)
    if case == "bsc_float32":
        return lib.tensor(a[:4, :8]).float().to_sparse_bsc((2, 4))
    if case == "half":
        return lib.tensor(a[:5, :5], dtype=lib.float16).to_sparse_csr()
    if case == "empty_csr":
        return lib.zeros(3, 3).to_sparse_csr()
    return lib.zeros(2, 2, 3).to_sparse(2)


@pytest.mark.parametrize("case", ["wide_csr", "coo", "coo_dense_dim", "bsc_float32",
                                  "half", "empty_csr", "empty_coo"])
def test_repr_wrapping_and_empty_match_torch(case):
    assert repr(_repr_case(ember, case)) == repr(_repr_case(torch, case))
