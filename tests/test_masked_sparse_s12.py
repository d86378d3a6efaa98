"""Sparse COO / CSR MaskedTensors (``torch.masked``'s sparse layouts): construction from a sparse
data and mask pair, the layout conversions, and the layout an elementwise result keeps. The
expected values are PyTorch's (see tests/acceptance/test_tutorials_s12_maskedtensor_sparse.py
for the tutorials compared with PyTorch line by line)."""

import copy

import pytest

import ember
from ember.masked import masked_tensor

I = [[0, 1, 1], [2, 0, 2]]


def _coo_pair():
    data = ember.sparse_coo_tensor(I, ember.tensor([3.0, 4.0, 5.0]), (2, 3))
    mask = ember.sparse_coo_tensor(I, ember.tensor([True, False, True]), (2, 3))
    return data, mask


def test_sparse_pair_keeps_the_mask_positions():
    data, mask = _coo_pair()
    mt = masked_tensor(data, mask)
    assert mt.is_sparse and mt.is_sparse_coo() and not mt.is_sparse_csr()
    assert mt.layout is ember.sparse_coo
    assert mt.get_mask() is not None and mt.get_mask().layout is ember.sparse_coo
    got = mt.get_data()
    assert got.layout is ember.sparse_coo and got._nnz() == 3
    assert got.to_dense().tolist() == [[0.0, 0.0, 3.0], [4.0, 0.0, 5.0]]


def test_data_outside_the_mask_is_dropped():
    data, _ = _coo_pair()
    mask = ember.tensor([[False, False, True], [False, False, True]]).to_sparse()
    got = masked_tensor(data, mask).get_data()
    assert got._indices().tolist() == [[0, 1], [2, 2]]
    assert got._values().tolist() == [3.0, 5.0]


def test_layouts_must_match():
    data, _ = _coo_pair()
    with pytest.raises(TypeError, match="same layout"):
        masked_tensor(data, ember.ones(2, 3, dtype=ember.bool))


def test_conversions_between_layouts():
    values = ember.tensor([[0, 0, 3], [4, 0, 5]])
    mask = ember.tensor([[False, False, True], [False, False, True]])
    mt = masked_tensor(values, mask)
    assert not mt.is_sparse and mt.to_dense() is mt
    coo = mt.to_sparse_coo()
    assert coo.get_data()._values().tolist() == [3, 5]
    csr = coo.to_sparse_csr()
    assert csr.layout is ember.sparse_csr
    assert csr.get_data().crow_indices().tolist() == [0, 1, 2]
    back = csr.to_dense()
    assert not back.is_sparse and back.get_mask().tolist() == mask.tolist()
    assert back.to_tensor(0).tolist() == [[0, 0, 3], [0, 0, 5]]


def test_elementwise_results_keep_the_layout():
    data, mask = _coo_pair()
    mt = masked_tensor(data, mask)
    other = masked_tensor(*_coo_pair())
    for out in (mt.sqrt(), mt * other, ember.div(other, mt), mt.add(1e-10), mt.double()):
        assert out.is_sparse_coo()
        assert out.get_data()._nnz() == 3
    quotient = ember.div(other, mt).get_data().to_dense()
    assert quotient[0, 2].item() == 1.0 and quotient[1, 2].item() == 1.0
    assert copy.deepcopy(mt).is_sparse_coo()
    # a reduction answers in the strided layout
    assert not mt.sum().is_sparse and mt.sum().get_data().item() == 8.0


def test_as_masked_tensor_of_a_sparse_pair_keeps_history():
    from ember.masked import as_masked_tensor
    values = ember.tensor([3.0, 4.0, 5.0], requires_grad=True)
    data = ember.sparse_coo_tensor(I, values, (2, 3))
    mask = ember.sparse_coo_tensor(I, ember.tensor([True, False, True]), (2, 3))
    mt = as_masked_tensor(data, mask)
    assert mt.is_sparse_coo() and mt.requires_grad
    mt.get_data().to_dense().sum().backward()  # the data at all three stored positions
    assert values.grad.tolist() == [1.0, 1.0, 1.0]
