"""mode along a dim with NaNs: each NaN counts once (no NaN equals another), so a row's mode
is its most frequent other value (the smallest on ties) at its last index; all-NaN rows give
NaN. (It used to fail looking up a NaN mode by equality.)"""
import numpy as np

import ember


def test_rows_with_nans():
    rows = np.array([[1.0, np.nan, -2.0, np.nan], [1.0, 2.0, 2.0, 1.0],
                     [np.nan] * 4, [3.0, np.nan, 3.0, 0.0]])
    values, indices = ember.mode(ember.tensor(rows), 1)
    np.testing.assert_array_equal(values.numpy(), [-2.0, 1.0, np.nan, 3.0])
    np.testing.assert_array_equal(indices.numpy(), [2, 3, 3, 2])
