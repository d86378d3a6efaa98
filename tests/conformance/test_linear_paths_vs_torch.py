"""F.linear's paths against PyTorch: its dtype errors, its graph (one Addmm, batch dims folded
into rows), and under autocast its output dtype and casts (the weight before its transpose)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

CASES = [  # input shape, input dtype, weight shape, weight dtype, bias shape, bias dtype
    ((2, 4), "float64", (3, 4), "float32", (3,), "float32"),
    ((2, 4), "float32", (3, 4), "float32", (3,), "float64"),
    ((5, 2, 4), "float32", (3, 4), "float32", (3,), "float64"),
    ((2, 4), "float32", (3, 5), "float32", (3,), "float32"),
    ((2, 4), "float32", (3, 4), "float32", (2, 3), "float32"),
    ((2, 4), "float32", (3, 4), "float32", (1,), "float32"),
    ((4,), "float32", (3, 4), "float32", (3,), "float32"),
    ((5, 2, 4), "float64", (3, 4), "float64", (3,), "float64"),
    ((2, 4), "float64", (3, 4), "float32", None, None),
]


def _linear(lib, case):
    rng = np.random.default_rng(0)
    xs, xd, ws, wd, bs, bd = case
    x = lib.tensor(rng.standard_normal(xs).astype(xd))
    w = lib.tensor(rng.standard_normal(ws).astype(wd))
    b = None if bs is None else lib.tensor(rng.standard_normal(bs).astype(bd))
    try:
        out = lib.nn.functional.linear(x, w, b)
    except RuntimeError as e:
        return str(e)
    return out.numpy(), str(out.dtype).split(".")[-1]


@pytest.mark.parametrize("case", CASES)
def test_linear_matches_torch(case):
    got, want = _linear(ember, case), _linear(torch, case)
    if isinstance(want, str):
        assert got == want
        return
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    assert got[1] == want[1]


def _graph(node, depth=3):
    if node is None or depth == 0:
        return None
    return (node.name(), tuple(_graph(n, depth - 1) for n, _ in node.next_functions))


def _autocast_linears(lib):
    lib.manual_seed(0)
    lin = lib.nn.Linear(4, 4)
    x = lib.randn(2, 5, 4)
    with lib.autocast("cpu", dtype=lib.bfloat16):
        a = lin(x)
        b = lin(a)  # a bf16 input with float32 parameters
        c = lin(x[0])
    return ([str(t.dtype).split(".")[-1] for t in (a, b, c)], _graph(a.grad_fn, 4),
            _graph(b.grad_fn, 4), _graph(c.grad_fn))


def test_linear_under_autocast_matches_torch():
    assert _autocast_linears(ember) == _autocast_linears(torch)


def _bias_graphs(lib):
    lib.manual_seed(0)
    x = lib.randn(2, 3, 4, requires_grad=True)
    w = lib.randn(5, 4, requires_grad=True)
    b = lib.randn(5, requires_grad=True)
    F = lib.nn.functional
    return [_graph(F.linear(a, w, b).grad_fn, 4) for a in (x, x[0], x[0, 0])]


def test_linear_graphs_match_torch():
    assert _bias_graphs(ember) == _bias_graphs(torch)
