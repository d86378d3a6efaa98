"""``torch.cross`` without ``dim`` (deprecated: the first dimension of size 3, with a warning)
versus ``torch.linalg.cross`` (always dim=-1, broadcasting)."""
import numpy as np
import pytest

import ember


def test_linalg_cross_uses_the_last_dim():
    a, b = np.eye(3, dtype=np.float32), np.ones((3, 3), np.float32)
    got = ember.linalg.cross(ember.tensor(a), ember.tensor(b))
    np.testing.assert_array_equal(got.numpy(), np.cross(a, b, axis=-1))


def test_linalg_cross_broadcasts():
    a, b = np.ones((1, 3), np.float32), np.eye(3, dtype=np.float32)
    got = ember.linalg.cross(ember.tensor(a), ember.tensor(b))
    np.testing.assert_array_equal(got.numpy(), np.cross(a, b))


def test_linalg_cross_needs_length_3():
    with pytest.raises(RuntimeError, match="dimension -1 must have length 3"):
        ember.linalg.cross(ember.ones(3, 2), ember.ones(3, 2))


def test_torch_cross_without_dim_warns_and_takes_first_size_3_dim():
    a, b = np.eye(3, dtype=np.float32), np.ones((3, 3), np.float32)
    with pytest.warns(UserWarning, match="without specifying the dim arg is deprecated"):
        got = ember.cross(ember.tensor(a), ember.tensor(b))
    np.testing.assert_array_equal(got.numpy(), np.cross(a, b, axis=0))
    with pytest.warns(UserWarning):
        with pytest.raises(RuntimeError, match="no dimension of size 3"):
            ember.ones(2, 4).cross(ember.ones(2, 4))
