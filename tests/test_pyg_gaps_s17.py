"""Gaps PyTorch Geometric found (tests/acceptance/test_thirdparty_s17_pyg.py), checked against
NumPy: ``torch.__config__``, ``torch.ops.aten``'s operator objects, ``torch.jit._overload``,
``torch._tensor_str._tensor_str``, row-major results of advanced indexing, the COO / CSR index
conversions, CSR's transpose to CSC, ``Tensor._coalesced_`` and ``torch.sparse.mm`` with a
reduction."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.ops import aten


def test_config_reports_the_engines_and_build_flags():
    text = ember.__config__.show()
    assert text.startswith("PyTorch built with:") and "TORCH_VERSION=2.13.0" in text
    assert "USE_MKL=OFF" in text  # no MKL-only sparse kernels to count on
    assert f"at::get_num_threads() : {ember.get_num_threads()}" in ember.__config__.parallel_info()


def test_aten_operators_are_cached_keys_that_call_ember():
    x = ember.arange(12.0).reshape(3, 4)
    index = ember.tensor([2, 0])
    assert aten.index_select.default is aten.index_select.default
    handlers = {aten.add.Tensor: "add", aten.clone.default: "clone"}
    assert handlers[aten.add.Tensor] == "add"
    assert repr(aten.add.Tensor) == "aten.add.Tensor"
    assert aten.add.Tensor.name() == "aten::add.Tensor"
    expected = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(aten.index_select.default(x, 0, index).numpy(),
                                  expected[[2, 0]])
    np.testing.assert_array_equal(aten.add.Tensor(x, x).numpy(), 2 * expected)
    np.testing.assert_array_equal(aten.slice.Tensor(x, 1, 1, None, 2).numpy(), expected[:, 1::2])
    np.testing.assert_array_equal(aten.index.Tensor(x, [None, index]).numpy(), expected[:, [2, 0]])
    copy = aten._to_copy.default(x, dtype=ember.float64)
    assert copy.dtype == ember.float64 and copy.data_ptr() != x.data_ptr()
    alias = aten.alias.default(x)
    assert alias is not x and alias.data_ptr() == x.data_ptr()
    assert not hasattr(aten, "no_such_operator")


def test_jit_overload_declarations_leave_the_function():
    def f(x: int) -> int:
        return x

    assert ember.jit._overload(f) is f and ember.jit._overload_method(f) is f


def test_tensor_str_is_the_body_of_repr():
    from ember._tensor_str import _tensor_str
    t = ember.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert repr(t) == "tensor(" + _tensor_str(t, indent=7) + ")"
    assert _tensor_str(ember.zeros(0), 0) == "[]"


@pytest.mark.parametrize("make_index", [
    lambda t: (slice(None), ember.tensor([True, False, True, True, False, True])),
    lambda t: (slice(None), ember.tensor([0, 2])),
    lambda t: (ember.tensor([1, 0]),),
])
def test_advanced_indexing_returns_row_major_tensors(make_index):
    t = ember.arange(12).reshape(2, 6)
    picked = t[make_index(t)]
    assert picked.is_contiguous()
    assert picked.stride() == (picked.shape[1], 1)
    np.testing.assert_array_equal(picked.view(-1).numpy(), picked.numpy().ravel())


def test_coo_csr_index_conversions():
    rows = np.array([0, 0, 1, 3, 3, 3])
    crow = ember._convert_indices_from_coo_to_csr(ember.tensor(rows), 5)
    np.testing.assert_array_equal(crow.numpy(),
                                  np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=5))]))
    assert crow.dtype == ember.int64
    assert ember._convert_indices_from_coo_to_csr(ember.tensor(rows), 5,
                                                  out_int32=True).dtype == ember.int32
    cols = np.array([1, 2, 0, 1, 2, 3])
    coo = ember._convert_indices_from_csr_to_coo(crow, ember.tensor(cols))
    np.testing.assert_array_equal(coo.numpy(), np.stack([rows, cols]))
    flipped = ember._convert_indices_from_csr_to_coo(crow, ember.tensor(cols), transpose=True,
                                                     out_int32=True)
    assert flipped.dtype == ember.int32
    np.testing.assert_array_equal(flipped.numpy(), np.stack([cols, rows]))


def test_csr_transposes_to_csc_and_back():
    dense = np.array([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    values = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    csr = ember.sparse_csr_tensor(ember.tensor([0, 1, 3, 3]), ember.tensor([1, 0, 2]), values,
                                  (3, 3))
    csc = csr.t()
    assert csc.layout is ember.sparse_csc
    np.testing.assert_array_equal(csc.to_dense().detach().numpy(), dense.T)
    assert csc.ccol_indices().tolist() == [0, 1, 3, 3] and csc.row_indices().tolist() == [1, 0, 2]
    assert csc.t().layout is ember.sparse_csr
    weights = np.arange(9.0).reshape(3, 3)
    (csc.to_dense() * ember.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(values.grad.numpy(), weights.T[[0, 1, 1], [1, 0, 2]])
    bsr = ember.arange(1.0, 17.0).reshape(4, 4).to_sparse_bsr((2, 1))
    bsc = bsr.t()
    assert bsc.layout is ember.sparse_bsc and tuple(bsc.values().shape[1:]) == (1, 2)
    np.testing.assert_array_equal(bsc.to_dense().numpy(), np.arange(1.0, 17.0).reshape(4, 4).T)


def test_coalesced_flag_is_set_in_place():
    coo = ember.sparse_coo_tensor(ember.tensor([[1, 0], [0, 1]]), ember.ones(2), (2, 2))
    assert not coo.is_coalesced()
    assert coo._coalesced_(True) is coo and coo.is_coalesced()


def _csr_operands():
    rng = np.random.default_rng(0)
    a = np.array([[0.0, 1.5, -2.0, 0.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.5, 1.0]])
    b = rng.standard_normal((4, 2))
    return a, b


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin", "max"])
def test_sparse_mm_reduces_each_row_products(reduce):
    a, b = _csr_operands()
    got = ember.sparse.mm(ember.tensor(a).to_sparse_csr(), ember.tensor(b), reduce).numpy()
    combine = {"sum": np.sum, "mean": np.mean, "amax": np.max, "amin": np.min,
               "max": np.max}[reduce]
    expected = np.zeros((3, 2))
    for i, row in enumerate(a):
        if row.any():
            expected[i] = combine(row[row != 0, None] * b[row != 0], axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_sparse_mm_mean_gradients():
    a, b = _csr_operands()
    csr = ember.tensor(a).to_sparse_csr()
    values = csr.values().detach().requires_grad_()
    dense = ember.tensor(b, requires_grad=True)
    csr = ember.sparse_csr_tensor(csr.crow_indices(), csr.col_indices(), values, (3, 4))
    ember.sparse.mm(csr, dense, "mean").sum().backward()
    rows, cols = np.nonzero(a)
    counts = np.bincount(rows, minlength=3)
    np.testing.assert_allclose(values.grad.numpy(), b[cols].sum(1) / counts[rows])
    expected = np.zeros_like(b)
    np.add.at(expected, cols, (a[rows, cols] / counts[rows])[:, None])
    np.testing.assert_allclose(dense.grad.numpy(), expected)


def test_sparse_mm_reduce_needs_csr():
    a, b = _csr_operands()
    with pytest.raises(NotImplementedError, match="_sparse_mm_reduce_impl"):
        ember.sparse.mm(ember.tensor(a).to_sparse(), ember.tensor(b), "mean")
