"""Embedding and index_select refuse negative indices, as PyTorch does (NumPy's take would
count them from the end and silently return the last rows)."""
import pytest

import ember


def test_embedding_refuses_negative_indices():
    with pytest.raises(IndexError, match="index out of range in self"):
        ember.nn.Embedding(5, 2)(ember.tensor([[0, -1]]))
    assert ember.nn.Embedding(5, 2)(ember.tensor([0, 4])).shape == (2, 2)


@pytest.mark.parametrize("dim, error", [(0, IndexError), (1, RuntimeError)])
def test_index_select_refuses_negative_indices(dim, error):
    with pytest.raises(error):
        ember.ones(3, 2).index_select(dim, ember.tensor([1, -1]))
    assert ember.ones(3, 2).index_select(dim, ember.tensor([1, 0])).shape[dim] == 2
