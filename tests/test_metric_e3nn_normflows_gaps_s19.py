"""Gaps pytorch-metric-learning, e3nn and normflows found
(tests/acceptance/test_thirdparty_s19_metric_learning.py and test_thirdparty_s19_e3nn_normflows.py),
checked against NumPy: a short list holding sequences indexes as the tuple of its items
(PyTorch's legacy rule), and the legacy ``Tensor(...)`` constructor makes the default dtype.
``torch._assert`` on an fx Proxy and pickling a scripted GraphModule are tested in tests/fx."""
from __future__ import annotations

import numpy as np
import pytest

import ember

LIST_INDICES = [
    [[0, 2], [1, 3]],  # rows and columns: pairs of elements
    [[0, 2]],  # one list of rows
    [0, [1, 3]],  # an int and a list
    [[1, 2], slice(None, 3)],
    [0, None],
    [Ellipsis, 1],
    [ember.tensor([0, 2]), ember.tensor([3, 1])],
]


def _as_numpy(item):
    return item.numpy() if isinstance(item, ember.Tensor) else item


@pytest.mark.parametrize("index", LIST_INDICES, ids=repr)
def test_list_of_sequences_indexes_as_a_tuple(index):
    values = np.arange(12.0).reshape(3, 4)
    expected = values[tuple(_as_numpy(i) for i in index)]
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        found = ember.tensor(values)[index]
    np.testing.assert_array_equal(found.numpy(), expected)
    written = ember.tensor(values)
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        written[index] = -1.0
    expected_written = values.copy()
    expected_written[tuple(_as_numpy(i) for i in index)] = -1.0
    np.testing.assert_array_equal(written.numpy(), expected_written)


def test_list_of_sequences_index_is_differentiable():
    x = ember.arange(12.0).reshape(3, 4).requires_grad_(True)
    with pytest.warns(UserWarning):
        x[[[0, 2], [1, 3]]].sum().backward()
    expected = np.zeros((3, 4))
    expected[[0, 2], [1, 3]] = 1.0
    np.testing.assert_array_equal(x.grad.numpy(), expected)


@pytest.mark.parametrize("index", [[0, 2], [[0, 1]] * 32, np.array([[0, 1], [1, 2]]), range(2)],
                         ids=["ints", "32 lists", "ndarray", "range"])
def test_other_sequences_stay_one_index(recwarn, index):
    values = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(ember.tensor(values)[index].numpy(),
                                  values[np.asarray(index)])
    assert not [w for w in recwarn if "non-tuple" in str(w.message)]


@pytest.mark.parametrize("default", [ember.float64, ember.float16, ember.bfloat16])
def test_legacy_constructor_makes_the_default_dtype(default):
    previous = ember.get_default_dtype()
    ember.set_default_dtype(default)
    try:
        assert ember.Tensor(2, 3).dtype is default and ember.Tensor(2, 3).shape == (2, 3)
        assert ember.Tensor([1, 2]).dtype is default
        assert ember.Tensor(ember.Size([4])).dtype is default
        assert ember.Tensor(ember.tensor([1, 2])).dtype is ember.int64  # an alias keeps its own
        assert ember.Tensor(2, dtype=ember.float32).dtype is ember.float32
    finally:
        ember.set_default_dtype(previous)
    assert ember.Tensor(2).dtype is ember.float32


def test_a_zero_dim_integer_tensor_indexes_as_the_integer():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = ember.tensor(a)
    row = t[ember.tensor(1)]  # a view, as t[1] (PyTorch selects)
    row.add_(100)
    np.testing.assert_array_equal(t[1].numpy(), a[1] + 100)
    # the int's dimension rule, not NumPy's advanced-index placement (which gives (2, 3))
    assert t[ember.tensor(0), :, [0, 1]].shape == t[0, :, [0, 1]].shape == (3, 2)
    t[ember.tensor(0), ember.tensor(-1)] = -1.0
    assert t[0, 2].tolist() == [-1.0] * 4
    x = ember.arange(4.0, requires_grad=True)
    (x[ember.tensor(2)] * 3).backward()
    assert x.grad.tolist() == [0.0, 0.0, 3.0, 0.0]


def test_uint8_index_tensors_are_masks_with_pytorchs_warning():
    t = ember.arange(6.0).reshape(2, 3)
    with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
        picked = t[ember.tensor([1, 0], dtype=ember.uint8)]
    assert picked.tolist() == [[0.0, 1.0, 2.0]]
    with pytest.warns(UserWarning):
        assert t[ember.tensor(1, dtype=ember.uint8)].shape == (1, 2, 3)
