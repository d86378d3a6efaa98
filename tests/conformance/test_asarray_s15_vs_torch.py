"""``asarray`` against PyTorch's: dtype, shape, values, memory sharing and refusals."""
from __future__ import annotations

import array
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

CASES = {
    "list": lambda lib: ([1, 2.5], {}),
    "int list": lambda lib: ([[1, 2], [3, 4]], {}),
    "numpy": lambda lib: (np.arange(4, dtype=np.int16), {}),
    "numpy to float": lambda lib: (np.arange(4), {"dtype": lib.float32}),
    "numpy scalar": lambda lib: (np.float64(2.5), {}),
    "int32 scalar": lambda lib: (np.int32(3), {}),
    "bytes": lambda lib: (b"\x00\x00\x80\x3f\x00\x00\x00\x40", {}),
    "bytearray int16": lambda lib: (bytearray(range(8)), {"dtype": lib.int16}),
    "array of doubles": lambda lib: (array.array("d", [1.0, 2.0]), {}),
    "tensor to float64": lambda lib: (lib.arange(3), {"dtype": lib.float64}),
    "python scalar": lambda lib: (3, {}),
    "bool list": lambda lib: ([True, False], {}),
}


def _both(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-writable buffers warn in both
        obj_t, kw_t = CASES[case](torch)
        obj_e, kw_e = CASES[case](ember)
        return torch.asarray(obj_t, **kw_t), ember.asarray(obj_e, **kw_e)


@pytest.mark.parametrize("case", sorted(CASES))
def test_asarray_matches_torch(case):
    expected, got = _both(case)
    assert str(got.dtype) == str(expected.dtype)
    assert tuple(got.shape) == tuple(expected.shape)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_storage_bytes_and_slices_match_torch():
    for lib in (torch, ember):
        storage = lib.arange(4, dtype=lib.float32).untyped_storage()
        whole = lib.asarray(storage, dtype=lib.uint8)
        assert tuple(whole.shape) == (16,)
        assert lib.asarray(storage[4:8], dtype=lib.float32).tolist() == [1.0]
    np.testing.assert_array_equal(
        ember.asarray(ember.arange(4.0).untyped_storage()).numpy(),
        torch.asarray(torch.arange(4.0).untyped_storage()).numpy())


@pytest.mark.parametrize("make", [lambda lib: ([1, 2], {"copy": False}),
                                  lambda lib: (lib.ones(2), {"dtype": lib.int32, "copy": False})])
def test_refusals_match_torch(make):
    for lib in (torch, ember):
        obj, kw = make(lib)
        with pytest.raises(ValueError, match="can't alias"):
            lib.asarray(obj, **kw)


def test_requires_grad_rules_match_torch():
    for lib in (torch, ember):
        leaf = lib.ones(3)
        assert lib.asarray(leaf, requires_grad=True) is leaf and leaf.requires_grad
        product = lib.ones(3, requires_grad=True) * 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert lib.asarray(product) is product
        assert lib.asarray(product, requires_grad=False).grad_fn is None
