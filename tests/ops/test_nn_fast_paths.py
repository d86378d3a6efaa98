"""The small-array paths of ember.ops.nn and ember.ops.normalization give what the general ones
give, bit for bit: the cross-entropy's one-block exponentials, and normalization's means."""
import numpy as np
import pytest

import ember
from ember.ops import nn as ops_nn
from ember.ops import normalization as ops_norm


def _cross_entropy(x, t):
    x = ember.tensor(x, requires_grad=True)
    loss = ember.nn.functional.cross_entropy(x, ember.tensor(t), ignore_index=2)
    loss.backward()
    return loss.item(), x.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_block_equals_blocks(monkeypatch, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((9, 7)) * 5).astype(dtype)
    t = rng.integers(0, 7, 9)
    one = _cross_entropy(x, t)
    monkeypatch.setattr(ops_nn, "_BLOCK_ELEMENTS", 14)  # two rows a block
    blocks = _cross_entropy(x, t)
    assert one[0] == blocks[0]
    np.testing.assert_array_equal(one[1], blocks[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])  # (half input is widened first)
@pytest.mark.parametrize("axes", [(1,), (1, 2), (0, 2)])
def test_mean_is_numpys(dtype, axes):
    a = np.random.default_rng(1).standard_normal((3, 5, 4)).astype(dtype)
    count = int(np.prod([a.shape[i] for i in axes]))
    got = ops_norm._mean(a, axes, count)
    want = a.mean(axis=axes, keepdims=True)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
