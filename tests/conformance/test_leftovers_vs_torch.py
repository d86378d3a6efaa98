"""Small parities with torch: Tensor methods' ``axis=`` alias, ``linalg.slogdet``'s named
tuple, ``masked_scatter_``'s node, and recurrent backward on the meta device."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _calls(lib):
    idx = lib.tensor([[0, 3], [2, 1], [1, 1]])
    vec = lib.tensor([0, 2])
    src = lib.ones(3, 4)
    return {
        "sort": lambda x, **kw: x.sort(**kw),
        "argsort": lambda x, **kw: x.argsort(**kw),
        "topk": lambda x, **kw: x.topk(2, **kw),
        "kthvalue": lambda x, **kw: x.kthvalue(2, **kw),
        "gather": lambda x, **kw: x.gather(index=idx, **kw),
        "index_select": lambda x, **kw: x.index_select(index=vec, **kw),
        "scatter": lambda x, **kw: x.scatter(index=idx, src=src, **kw),
        "scatter_add": lambda x, **kw: x.scatter_add(index=idx, src=src, **kw),
        "scatter_reduce": lambda x, **kw: x.scatter_reduce(index=idx, src=src, reduce="sum",
                                                           **kw),
        "index_add": lambda x, **kw: x.index_add(index=vec, source=lib.ones(3, 2), **kw),
        "index_fill": lambda x, **kw: x.index_fill(index=vec, value=-1.0, **kw),
        "take_along_dim": lambda x, **kw: x.take_along_dim(idx, **kw),
    }


KWARGS = [{"axis": 1}, {"axis": 1, "keepdims": True}, {"dim": 1, "out": None},
          {"axis": 1, "out": None}]
X = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::-1].copy()


def _outcome(lib, name, kwargs):
    try:
        result = _calls(lib)[name](lib.tensor(X), **kwargs)
    except TypeError:
        return "TypeError"
    return [t.numpy() for t in (result if isinstance(result, tuple) else (result,))]


@pytest.mark.parametrize("kwargs", KWARGS, ids=lambda kw: ",".join(kw))
@pytest.mark.parametrize("name", list(_calls(ember)))
def test_method_aliases_accepted_or_refused_as_torch(name, kwargs):
    got, want = _outcome(ember, name, kwargs), _outcome(torch, name, kwargs)
    if isinstance(want, str):
        assert got == want
        return
    assert not isinstance(got, str), f"ember refused {name}({kwargs})"
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_linalg_slogdet_type_name():
    a = np.array([[2.0, 1.0], [1.0, 3.0]], np.float32)
    for fn in ("linalg.slogdet", "slogdet"):
        def call(lib, fn=fn):
            f = lib.linalg.slogdet if fn == "linalg.slogdet" else lib.slogdet
            return f(lib.tensor(a))
        got, want = call(ember), call(torch)
        assert type(got).__name__ == type(want).__name__
        assert repr(got).split("(")[0] == repr(want).split("(")[0]
        assert got._fields == ("sign", "logabsdet")
        np.testing.assert_array_equal(got.sign.numpy(), want.sign.numpy())
        np.testing.assert_allclose(got.logabsdet.numpy(), want.logabsdet.numpy(), rtol=1e-6)


def test_linalg_slogdet_out():
    a = np.array([[2.0, 1.0], [1.0, 3.0]], np.float32)
    out = (ember.empty(()), ember.empty(()))
    result = ember.linalg.slogdet(ember.tensor(a), out=out)
    assert result.sign is out[0] and result.logabsdet is out[1]
    np.testing.assert_allclose(out[1].numpy(), np.linalg.slogdet(a)[1], rtol=1e-6)


def test_masked_scatter_inplace_grad_fn():
    def run(lib):
        x = lib.zeros(2, 3, requires_grad=True)
        mask = lib.tensor([[True, False, True], [False, True, False]])
        y = x * 1
        y.masked_scatter_(mask, lib.arange(6.0))
        return type(y.grad_fn).__name__
    assert run(ember) == run(torch)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_backward_on_meta(kind):
    def run(lib):
        with lib.device("meta"):
            layer = getattr(lib.nn, kind)(5, 6, num_layers=2, bidirectional=True)
        x = lib.empty(3, 4, 5, device="meta", requires_grad=True)
        out = layer(x)[0]  # h_n (and c_n) get no gradient: they are materialized as zeros
        out.sum().backward()
        return x.grad, layer.weight_hh_l1.grad
    for got, want in zip(run(ember), run(torch), strict=True):
        assert str(got.device) == str(want.device) == "meta"
        assert tuple(got.shape) == tuple(want.shape)
        assert str(got.dtype) == str(want.dtype)
