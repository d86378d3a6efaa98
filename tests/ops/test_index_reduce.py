"""index_reduce / index_reduce_ against a NumPy loop, with float64 gradchecks; masked_scatter
broadcasting ``self`` against ``mask``."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck

REDUCTIONS = {"prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}


def _reference(a, dim, index, source, reduce, include_self):
    """Slice ``index[i]`` of ``a`` along ``dim``, reduced with every slice ``i`` of source."""
    a, source = np.moveaxis(a, dim, 0), np.moveaxis(source, dim, 0)
    out = a.copy()
    for target in set(index.tolist()):
        parts = [source[i] for i in range(len(index)) if index[i] == target]
        if include_self:
            parts.append(a[target])
        out[target] = REDUCTIONS[reduce](np.stack(parts), axis=0)
    return np.moveaxis(out, 0, dim)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, (4, 3, 5))
    source = rng.uniform(0.5, 2.0, (4, 6, 5))
    index = np.array([0, 2, 0, 0, 2, 0])  # repeats, and slice 1 untouched
    return a, source, index


@pytest.mark.parametrize("reduce", list(REDUCTIONS))
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce_matches_numpy(reduce, include_self):
    a, source, index = _data()
    out = ember.tensor(a).index_reduce(1, ember.tensor(index), ember.tensor(source), reduce,
                                       include_self=include_self)
    np.testing.assert_allclose(out.numpy(), _reference(a, 1, index, source, reduce,
                                                       include_self))
    fn = ember.index_reduce(ember.tensor(a), -2, ember.tensor(index), ember.tensor(source),
                            reduce, include_self=include_self)
    np.testing.assert_allclose(fn.numpy(), out.numpy())
    t = ember.tensor(a)
    assert t.index_reduce_(1, ember.tensor(index), ember.tensor(source), reduce,
                           include_self=include_self) is t
    np.testing.assert_allclose(t.numpy(), out.numpy())


@pytest.mark.parametrize("reduce", list(REDUCTIONS))
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce_gradcheck(reduce, include_self):
    a, source, index = _data(1)
    x = ember.tensor(a[:, :, :2], requires_grad=True)
    s = ember.tensor(source[:, :, :2], requires_grad=True)
    assert gradcheck(lambda x, s: x.index_reduce(1, ember.tensor(index), s, reduce,
                                                 include_self=include_self), (x, s))
    assert type(x.index_reduce(1, ember.tensor(index), s, reduce).grad_fn).__name__ == \
        "IndexReduceBackward0"


def test_index_reduce_integers_scalars_and_errors():
    x = ember.tensor([[1, 2, 3], [4, 5, 6]])
    src = ember.tensor([[1, 2, 4], [3, 3, 3]])
    assert x.index_reduce(0, ember.tensor([0, 0]), src, "mean").tolist() == [[1, 2, 3],
                                                                            [4, 5, 6]]
    assert x.index_reduce(0, ember.tensor([0, 0]), src, "amax",
                          include_self=False).tolist() == [[3, 3, 4], [4, 5, 6]]
    s = ember.tensor(2.0)
    assert s.index_reduce(0, ember.tensor([0]), ember.tensor(3.0), "prod").item() == 6.0
    s.index_reduce_(0, ember.tensor([0]), ember.tensor(5.0), "amax")
    assert s.item() == 5.0
    z = ember.zeros(3, 2)
    with pytest.raises(RuntimeError, match="one of prod, mean, amax or amin"):
        z.index_reduce(0, ember.tensor([0, 1]), ember.ones(2, 2), "sum")
    with pytest.raises(RuntimeError, match="source tensor shape must match"):
        z.index_reduce(0, ember.tensor([0, 1]), ember.ones(2, 3), "prod")
    with pytest.raises(RuntimeError, match="Number of indices"):
        z.index_reduce(0, ember.tensor([0, 1, 2]), ember.ones(2, 2), "prod")
    with pytest.raises(RuntimeError, match="int32/int64"):
        z.index_reduce(0, ember.tensor([0.0, 1.0]), ember.ones(2, 2), "prod")
    with pytest.raises(RuntimeError, match="same scalar type"):
        z.index_reduce(0, ember.tensor([0, 1]), ember.ones(2, 2, dtype=ember.float64), "prod")


def test_masked_scatter_broadcasts_self_against_mask():
    mask = np.array([[0, 0, 0, 1, 1], [1, 1, 0, 1, 1]], bool)
    source = np.arange(10).reshape(2, 5)
    out = ember.zeros(5, dtype=ember.int64).masked_scatter(ember.tensor(mask),
                                                          ember.tensor(source))
    expected = np.zeros((2, 5), np.int64)
    expected[mask] = source.reshape(-1)[:mask.sum()]
    np.testing.assert_array_equal(out.numpy(), expected)
    x = ember.zeros(5, requires_grad=True)
    src = ember.tensor(source.astype(float), requires_grad=True)
    y = x.masked_scatter(ember.tensor(mask), src)
    y.backward(ember.tensor(np.arange(10.0).reshape(2, 5)))
    grad = np.where(mask, 0.0, np.arange(10.0).reshape(2, 5))
    np.testing.assert_array_equal(x.grad.numpy(), grad.sum(0))
    flat_grad = np.zeros(10)
    flat_grad[:mask.sum()] = np.arange(10.0).reshape(2, 5)[mask]
    np.testing.assert_array_equal(src.grad.numpy(), flat_grad.reshape(2, 5))
    # the mask broadcasts too (in place, only the mask may broadcast)
    t = ember.zeros(2, 5)
    t.masked_scatter_(ember.tensor(mask[0]), src.detach())
    np.testing.assert_array_equal(t.numpy(), [[0, 0, 0, 0, 1], [0, 0, 0, 2, 3]])
