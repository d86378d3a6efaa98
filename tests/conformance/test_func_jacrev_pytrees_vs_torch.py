"""ember.func.jacrev over pytree inputs (a parameter dict, a tuple) and pytree outputs, as
torch.func.jacrev: the output's structure outside, the input's inside, leaves of shape
``output_leaf.shape + input_leaf.shape``."""
import numpy as np
import pytest

import ember
import ember.func

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
W, B, X = (RNG.standard_normal(s).astype(np.float32) for s in ((3, 4), (3,), (2, 4)))


def _f(lib):
    def f(params, x):
        return lib.tanh(x @ params["w"].T + params["b"])
    return f


def _g(lib):
    def g(pair):
        a, b = pair
        return {"sum": (a * b).sum(), "prod": a.sin() * b}
    return g


def test_jacrev_dict_input_matches_torch():
    got = ember.func.jacrev(_f(ember))({"w": ember.tensor(W), "b": ember.tensor(B)},
                                       ember.tensor(X))
    want = torch.func.jacrev(_f(torch))({"w": torch.tensor(W), "b": torch.tensor(B)},
                                        torch.tensor(X))
    assert list(got) == ["w", "b"]
    for k in want:
        assert tuple(got[k].shape) == tuple(want[k].shape)
        np.testing.assert_allclose(got[k].numpy(), want[k].numpy(), rtol=1e-5, atol=1e-6)


def test_jacrev_tuple_input_dict_output_matches_torch():
    a, b = RNG.standard_normal((2, 3)).astype(np.float32)
    got = ember.func.jacrev(_g(ember))((ember.tensor(a), ember.tensor(b)))
    want = torch.func.jacrev(_g(torch))((torch.tensor(a), torch.tensor(b)))
    for key in ("sum", "prod"):
        assert isinstance(got[key], tuple) and len(got[key]) == 2
        for g, w in zip(got[key], want[key]):
            assert tuple(g.shape) == tuple(w.shape)
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-6)


def test_jacrev_argnums_tuple_with_dict_matches_torch():
    got = ember.func.jacrev(_f(ember), argnums=(0, 1))(
        {"w": ember.tensor(W), "b": ember.tensor(B)}, ember.tensor(X))
    want = torch.func.jacrev(_f(torch), argnums=(0, 1))(
        {"w": torch.tensor(W), "b": torch.tensor(B)}, torch.tensor(X))
    np.testing.assert_allclose(got[0]["w"].numpy(), want[0]["w"].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1].numpy(), want[1].numpy(), rtol=1e-5, atol=1e-6)
