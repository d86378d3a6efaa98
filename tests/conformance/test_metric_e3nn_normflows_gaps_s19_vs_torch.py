"""The gaps pytorch-metric-learning, e3nn and normflows found, against real PyTorch: which
list indices PyTorch reads as the tuple of their items (and warns about), reading and writing,
and the dtype of the legacy ``Tensor(...)`` constructor under each default dtype."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

INDICES = [
    lambda lib: [[0, 2], [1, 3]],
    lambda lib: [[0, 2]],
    lambda lib: [0, [1, 3]],
    lambda lib: [[1, 2], slice(None, 3)],
    lambda lib: [0, None],
    lambda lib: [None],
    lambda lib: [Ellipsis, 1],
    lambda lib: [lib.tensor(0), lib.tensor(1)],
    lambda lib: [lib.tensor([0, 2]), lib.tensor([3, 1])],
    lambda lib: [0, 2],
    lambda lib: [[0, 1]] * 32,
    lambda lib: [[0, 1]] * 31,
    lambda lib: np.array([[0, 1], [1, 2]]),
    lambda lib: range(2),
    lambda lib: [[0, 1], [2, 3], [1, 1]],  # too many indices: an error
]


def _read_and_write(lib, index):
    """(t[index], a copy written at index, whether it warned), or the error's type."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            values = lib.arange(12.0).reshape(3, 4)
            read = values[index].numpy().copy()
            values[index] = -1.0
            written = values.numpy()
        except (IndexError, RuntimeError) as exc:
            return type(exc).__name__
    return read, written, any("non-tuple sequence" in str(w.message) for w in caught)


@pytest.mark.parametrize("make", INDICES, ids=range(len(INDICES)))
def test_list_indices_read_and_write_like_torch(make):
    got, expected = _read_and_write(ember, make(ember)), _read_and_write(torch, make(torch))
    if isinstance(expected, str):
        assert got == expected
        return
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert got[2] == expected[2]


@pytest.mark.parametrize("default", ["float32", "float64", "float16", "bfloat16"])
def test_legacy_constructor_dtype_like_torch(default):
    found = []
    for lib in (ember, torch):
        previous = lib.get_default_dtype()
        lib.set_default_dtype(getattr(lib, default))
        try:
            found.append([str(t.dtype) for t in (lib.Tensor(2, 3), lib.Tensor([1, 2]),
                                                 lib.Tensor(lib.Size([4])),
                                                 lib.Tensor(lib.tensor([1, 2])))])
        finally:
            lib.set_default_dtype(previous)
    assert found[0] == found[1]


@pytest.mark.parametrize("index", [
    lambda lib: (lib.tensor(1),), lambda lib: (lib.tensor(0), slice(None), [0, 1]),
    lambda lib: (lib.tensor(-1), lib.tensor(2)), lambda lib: (lib.tensor([1, 0], dtype=lib.uint8),),
    lambda lib: (lib.tensor(1, dtype=lib.uint8),), lambda lib: (Ellipsis, lib.tensor(3)),
])
def test_zero_dim_and_uint8_index_tensors_match_torch(index):
    a = np.arange(24.0).reshape(2, 3, 4)
    results = []
    for lib in (ember, torch):
        t = lib.tensor(a)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = t[index(lib)]
            got.mul_(-1)  # a view writes through, a copy does not
        results.append((got.numpy().copy(), t.numpy().copy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)
