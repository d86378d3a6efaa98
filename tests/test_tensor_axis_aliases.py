"""Tensor methods take NumPy's ``axis=`` (and ``keepdims=`` for ``kthvalue``) as PyTorch's do,
with the same result as ``dim=``."""
import numpy as np
import pytest

import ember

X = ember.tensor(np.array([[3.0, 1.0, 2.0, 5.0], [0.5, 4.0, -1.0, 2.0], [7.0, 6.0, 8.0, 0.0]],
                          np.float32))
IDX = ember.tensor([[0, 3], [2, 1], [1, 1]])
VEC = ember.tensor([0, 2])
SRC = ember.ones(3, 4)

CALLS = {
    "sort": lambda x, kw: x.sort(**kw),
    "sort-descending": lambda x, kw: x.sort(descending=True, **kw),
    "argsort": lambda x, kw: x.argsort(**kw),
    "topk": lambda x, kw: x.topk(2, **kw),
    "kthvalue": lambda x, kw: x.kthvalue(2, **kw),
    "gather": lambda x, kw: x.gather(index=IDX, **kw),
    "index_select": lambda x, kw: x.index_select(index=VEC, **kw),
    "scatter": lambda x, kw: x.scatter(index=IDX, src=SRC, **kw),
    "scatter-value": lambda x, kw: x.scatter(index=IDX, value=9.0, **kw),
    "scatter_add": lambda x, kw: x.scatter_add(index=IDX, src=SRC, **kw),
    "scatter_reduce": lambda x, kw: x.scatter_reduce(index=IDX, src=SRC, reduce="amax", **kw),
    "index_add": lambda x, kw: x.index_add(index=VEC, source=ember.ones(3, 2), alpha=2, **kw),
    "index_fill": lambda x, kw: x.index_fill(index=VEC, value=-3.0, **kw),
    "take_along_dim": lambda x, kw: x.take_along_dim(IDX, **kw),
}


def _arrays(result) -> list:
    return [np.asarray(t.numpy()) for t in (result if isinstance(result, tuple) else (result,))]


def _same(a, b) -> None:
    for x, y in zip(_arrays(a), _arrays(b), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", CALLS)
def test_axis_gives_the_same_as_dim(name):
    call = CALLS[name]
    _same(call(X, {"axis": 1}), call(X, {"dim": 1}))


@pytest.mark.parametrize("name", ["sort", "argsort", "topk", "kthvalue"])
def test_axis_along_the_first_dim(name):
    call = CALLS[name]
    x = X.T.contiguous()
    _same(call(x, {"axis": 0}), call(x, {"dim": 0}))


def test_kthvalue_keepdims():
    values, indices = X.kthvalue(2, axis=0, keepdims=True)
    expected = X.kthvalue(2, dim=0, keepdim=True)
    assert values.shape == (1, 4)
    _same((values, indices), expected)


def test_positional_dim_still_works():
    _same(X.gather(1, IDX), X.gather(dim=1, index=IDX))
    _same(X.sort(0), X.sort(dim=0))
    assert X.sort().values.shape == (3, 4)  # dim defaults to -1


def test_gradients_flow_through_the_alias():
    x = X.clone().requires_grad_()
    x.gather(index=IDX, axis=1).sum().backward()
    y = X.clone().requires_grad_()
    y.gather(1, IDX).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.grad.numpy())
