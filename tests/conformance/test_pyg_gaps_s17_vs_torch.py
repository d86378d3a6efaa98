"""The gaps PyTorch Geometric found, against real PyTorch: ``torch.sparse.mm`` with a reduction
(values and gradients), CSR's transpose, the COO / CSR index conversions, the layout of advanced
indexing results and ``torch.ops.aten`` calls."""
from __future__ import annotations

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin"])
def test_sparse_mm_reduce_values_and_gradients(reduce):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 4)) * (rng.random((5, 4)) < 0.5)
    a[2] = 0.0  # a row without entries
    b = rng.standard_normal((4, 3))
    results = []
    for lib in (ember, torch):
        csr = lib.tensor(a).to_sparse_csr()
        values = csr.values().detach().requires_grad_()
        csr = lib.sparse_csr_tensor(csr.crow_indices(), csr.col_indices(), values, (5, 4))
        other = lib.tensor(b, requires_grad=True)
        out = lib.sparse.mm(csr, other, reduce)
        (out * lib.arange(15.0, dtype=out.dtype).reshape(5, 3)).sum().backward()
        results.append([out.detach().numpy(), values.grad.numpy(), other.grad.numpy()])
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_csr_transpose_and_index_conversions():
    a = np.array([[0.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 4.0, 0.0]])
    got, expected = (lib.tensor(a).to_sparse_csr().t() for lib in (ember, torch))
    assert str(got.layout) == str(expected.layout)
    for name in ("ccol_indices", "row_indices", "values"):
        np.testing.assert_array_equal(getattr(got, name)().numpy(),
                                      getattr(expected, name)().numpy())
    rows = np.array([0, 0, 2, 2, 2, 5])
    for out_int32 in (False, True):
        got, expected = (lib._convert_indices_from_coo_to_csr(lib.tensor(rows), 7,
                                                              out_int32=out_int32)
                         for lib in (ember, torch))
        assert str(got.dtype) == str(expected.dtype)
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    crow, cols = np.array([0, 2, 2, 5, 6]), np.array([1, 3, 0, 1, 2, 0])
    for transpose in (False, True):
        got, expected = (lib._convert_indices_from_csr_to_coo(lib.tensor(crow), lib.tensor(cols),
                                                              transpose=transpose)
                         for lib in (ember, torch))
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("index", [
    (slice(None), np.array([True, False, True])),
    (slice(None), slice(None), np.array([0, 2])),
    (np.array([1, 0]), slice(None), np.array([0, 3])),
    (slice(None), np.array([2, 0])),
])
def test_advanced_indexing_strides(index):
    a = np.arange(24).reshape(2, 3, 4)
    got, expected = (lib.tensor(a)[tuple(lib.tensor(i) if isinstance(i, np.ndarray) else i
                                         for i in index)] for lib in (ember, torch))
    assert got.stride() == expected.stride() and got.is_contiguous()
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_aten_calls_match():
    a = np.arange(12.0).reshape(3, 4)
    index = np.array([2, 0])
    for name, args in [("index_select", (0, index)), ("slice", (1, 1, None, 2)),
                       ("index", ([None, index],)), ("add", (a,)), ("flip", ([0],))]:
        overload = {"slice": "Tensor", "index": "Tensor", "add": "Tensor"}.get(name, "default")
        outs = []
        for lib in (ember, torch):
            call_args = [[lib.tensor(i) if isinstance(i, np.ndarray) else i for i in arg]
                         if isinstance(arg, list) else
                         lib.tensor(arg) if isinstance(arg, np.ndarray) else arg for arg in args]
            outs.append(getattr(getattr(lib.ops.aten, name), overload)(lib.tensor(a),
                                                                        *call_args).numpy())
        np.testing.assert_array_equal(*outs, err_msg=name)
