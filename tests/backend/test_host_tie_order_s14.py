"""backend/host_tie_order.py against NumPy: every result is a sort (or selection) of the data,
rows without equal elements keep NumPy's stable order, and std::sort's order on equal keys
follows from its algorithm. (Exact agreement with PyTorch: tests/conformance/
test_tie_order_s14_vs_torch.py.)"""
import numpy as np
import pytest

from ember.backend import host_tie_order as ties


def _stable(a, dim: int, descending: bool):
    if not descending:
        return np.argsort(a, axis=dim, kind="stable")
    n = a.shape[dim]
    return (n - 1) - np.flip(np.argsort(np.flip(a, dim), axis=dim, kind="stable"), dim)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("distinct", [1, 3, 1000])
def test_sort_is_a_sort_and_distinct_rows_stay_stable(descending, distinct):
    rng = np.random.default_rng(distinct)
    a = rng.integers(0, distinct, (4, 300)).astype(np.float64)
    a[0] = rng.permutation(300)  # no ties: NumPy's order
    order = _stable(a, 1, descending)
    result = ties.sort_ties(a, order, 1, descending)
    expected = np.sort(a, 1)[:, ::-1] if descending else np.sort(a, 1)
    np.testing.assert_array_equal(np.take_along_axis(a, result, 1), expected)
    np.testing.assert_array_equal(np.sort(result, 1), np.broadcast_to(np.arange(300), a.shape))
    np.testing.assert_array_equal(result[0], order[0])


def test_std_sort_order_of_equal_keys():
    """20 equal keys: the median of three (positions 1, 10, 19, all equal) is the middle one,
    swapped to the front; the partition then swaps the two ends pairwise up to the middle, and
    the two runs of 10 are left to insertion sort, which keeps them."""
    a = np.zeros(20)
    result = ties.sort_ties(a, np.arange(20), 0, False)
    np.testing.assert_array_equal(result, [10, *range(19, 10, -1), 0, *range(9, 0, -1)])
    # up to 16 elements insertion sort alone runs: stable
    np.testing.assert_array_equal(ties.sort_ties(a[:16], np.arange(16), 0, False), np.arange(16))


@pytest.mark.parametrize("k", [1, 4, 150, 299, 300])
def test_topk_and_kthvalue_select_the_right_values(k):
    rng = np.random.default_rng(k)
    a = rng.integers(0, 5, (3, 300)).astype(np.float32)
    a[1, ::7] = np.nan  # NaN ranks largest
    order = _stable(a, 1, True)
    picked = ties.topk_ties(a, order, 1, k)
    expected = np.take_along_axis(a, order, 1)[:, :k]
    np.testing.assert_array_equal(np.take_along_axis(a, picked, 1), expected)
    assert all(len(set(row)) == k for row in picked)
    ascending = _stable(a, 1, False)
    index = ties.kthvalue_ties(a, ascending, 1, k)
    kth = np.take_along_axis(a, ascending, 1)[:, k - 1]
    np.testing.assert_array_equal(a[np.arange(3), index], kth)


def test_mode_indices_point_at_the_mode():
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 4, (5, 100)).astype(np.float64)
    rows[4, ::9] = np.nan  # std::sort cannot order NaN: the last occurrence
    modes = np.array([np.bincount(row.astype(int)).argmax() for row in np.nan_to_num(rows)])
    index = ties.mode_indices(rows, modes.astype(np.float64))
    np.testing.assert_array_equal(rows[np.arange(5), index], modes)
    assert index[4] == np.flatnonzero(rows[4] == modes[4])[-1]
    short = np.array([[3, 1, 3, 1]])
    assert ties.mode_indices(short, np.array([1]))[0] == 3  # insertion sort alone: the last


def test_gpu_arrays_keep_the_stable_order():
    """Any array other than NumPy's (here a list, standing for CuPy's) is left as it is."""
    a = np.zeros(40)
    order = np.arange(40)
    assert ties.sort_ties(list(a), order, 0, False) is order
    np.testing.assert_array_equal(ties.topk_ties(list(a), order, 0, 3), order[:3])
