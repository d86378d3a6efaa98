"""nanmedian along a dim, einsum's sublist form, histogramdd, nonzero_static, DLPack capsules
and storages against NumPy."""
import numpy as np

import ember


def test_nanmedian_is_numpys_lower_median_of_the_rest():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 7))
    a[rng.random((6, 7)) < 0.3] = np.nan
    out = ember.tensor(a).nanmedian(1)
    for row, value, index in zip(a, out.values.numpy(), out.indices.numpy()):
        rest = np.sort(row[~np.isnan(row)])
        expected = rest[(len(rest) - 1) // 2] if len(rest) else np.nan
        np.testing.assert_equal(value, expected)
        if len(rest):
            assert row[index] == value


def test_einsum_sublists_match_the_equation():
    a, b = np.random.default_rng(1).standard_normal((2, 3, 4, 5))
    ours = ember.einsum(ember.tensor(a), [0, 1, 2], ember.tensor(b), [0, 3, 2], [1, 3])
    np.testing.assert_allclose(ours.numpy(), np.einsum("abc,adc->bd", a, b), rtol=1e-12)


def test_histogramdd_and_nonzero_static():
    pts = np.random.default_rng(2).random((50, 3))
    hist = ember.histogramdd(ember.tensor(pts), bins=[2, 3, 4])
    expected, edges = np.histogramdd(pts, bins=[2, 3, 4])
    np.testing.assert_allclose(hist.hist.numpy(), expected)
    for ours, theirs in zip(hist.bin_edges, edges):
        np.testing.assert_allclose(ours.numpy(), theirs)
    rows = ember.nonzero_static(ember.tensor([[0, 2], [3, 0]]), size=3, fill_value=9)
    assert rows.tolist() == [[0, 1], [1, 0], [9, 9]]


def test_dlpack_and_storage_share_memory():
    t = ember.zeros(3)
    ember.from_dlpack(ember.to_dlpack(t))[2] = 5
    assert t.tolist() == [0, 0, 5]
    s = t.storage()
    s[0] = 1
    assert t.tolist() == [1, 0, 5] and s.dtype == ember.float32 and len(s) == 3
    assert ember.TypedStorage([1, 2], dtype=ember.int64).tolist() == [1, 2]


def test_from_dlpack_of_a_tensor_shares_writable_memory():
    t = ember.arange(4)
    t2 = ember.from_dlpack(t)
    t2[:2] = -1
    assert t.tolist() == [-1, -1, 2, 3]
    a = np.from_dlpack(t)
    a[3] = 9
    assert t.tolist() == [-1, -1, 2, 9]
