"""lerp, median along a dim, angle, lgamma and quantile against PyTorch at NaN and infinities,
values and indices compared exactly (the sign of a zero aside: PyTorch's own vector and scalar
loops disagree on it)."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

X = [float("nan"), -1.0, 0.0, -0.0, 2.0, float("inf"), float("-inf"), 3.0]


def _same(fn, dtype="float32"):
    results = []
    for lib in (torch, ember):
        out = fn(lib, lib.tensor(X, dtype=getattr(lib, dtype)))
        outs = out if isinstance(out, tuple) else (out,)
        results.append([[str(v + 0.0) for v in np.ravel(np.array(o.tolist(), dtype=object))]
                        for o in outs])
    assert results[1] == results[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weight", [0.25, 0.5, 0.75, -0.7, 1.0, 1.2])
def test_lerp_scalar_weight(weight, dtype):
    _same(lambda lib, x: lib.lerp(x, x.flip(0), weight), dtype)
    _same(lambda lib, x: x.clone().lerp_(x.flip(0), weight), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lerp_tensor_weight(dtype):
    w = [0.25, 0.75, -0.6, 1.0, 0.5, 0.1, 0.9, 2.0]
    _same(lambda lib, x: lib.lerp(x, x.flip(0), lib.tensor(w, dtype=x.dtype)), dtype)
    _same(lambda lib, x: x.clone().lerp_(x.flip(0), lib.tensor(w, dtype=x.dtype)), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_angle_and_lgamma(dtype):
    _same(lambda lib, x: x.angle(), dtype)
    _same(lambda lib, x: x.lgamma(), dtype)


def test_median_along_a_dim_is_nan_at_the_first_nan():
    rows = [[1.0, float("nan"), 3.0, float("nan"), 0.0], [2.0, 1.0, 5.0, 4.0, 3.0],
            [float("nan"), 1.0, 2.0, 3.0, 4.0]]
    results = []
    for lib in (torch, ember):
        x = lib.tensor(rows, requires_grad=True)
        values, indices = lib.median(x, 1)
        values.sum().backward()
        kept = lib.median(x.detach().t(), 0, keepdim=True)
        results.append((str(values.tolist()), indices.tolist(), x.grad.tolist(),
                        kept.indices.tolist()))
    assert results[1] == results[0]


@pytest.mark.parametrize("fn", ["quantile", "nanquantile"])
def test_quantile_keeps_infinities(fn):
    m = [[float("nan"), 1.0, -2.0], [0.0, -0.0, float("inf")], [5.0, float("-inf"), 1.0]]
    results = []
    for lib in (torch, ember):
        x = lib.tensor(m)
        results.append([str(v) for d in (0, 1) for v in getattr(lib, fn)(x, 0.3, dim=d).tolist()])
    assert results[1] == results[0]
