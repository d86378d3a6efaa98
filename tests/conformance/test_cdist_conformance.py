"""cdist against PyTorch: each compute_mode (Euclidean distances from one matrix product over
25 rows or when asked for, else from the differences), batches, p, gradients, errors."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

MODES = ["use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
         "donot_use_mm_for_euclid_dist"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rows", [(5, 6), (30, 4), (3, 40)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_and_gradients(mode, rows, dtype):
    rng = np.random.default_rng(sum(rows))
    a = rng.standard_normal((2, rows[0], 5)).astype(dtype)
    b = rng.standard_normal((1, rows[1], 5)).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    weights = rng.standard_normal((2, *rows)).astype(dtype)
    grads = []
    for lib in (torch, ember):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        d = lib.cdist(x, y, compute_mode=mode)
        (d * lib.tensor(weights)).sum().backward()
        grads.append((d.detach().numpy(), x.grad.numpy(), y.grad.numpy()))
    for want, got in zip(*grads):
        np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("p", [0.0, 1.0, 1.5, 3.0, float("inf")])
def test_other_norms(p):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((30, 4)), rng.standard_normal((7, 4))
    want = torch.cdist(torch.tensor(a), torch.tensor(b), p).numpy()
    np.testing.assert_allclose(ember.cdist(ember.tensor(a), ember.tensor(b), p).numpy(), want,
                               rtol=1e-12)


def test_same_points_without_grad_are_zero_apart():
    x = np.random.default_rng(2).standard_normal((40, 3))
    for lib in (torch, ember):
        assert (lib.cdist(lib.tensor(x), lib.tensor(x)).diagonal() >= 0).all()
    assert ember.cdist(ember.tensor(x), ember.tensor(x)).diagonal().max().item() < 1e-6


@pytest.mark.parametrize("args, kwargs", [
    (((3, 4), (5, 4)), dict(compute_mode="bad")),
    (((3, 4), (5, 3)), {}),
    (((4,), (5, 4)), {}),
    (((3, 4), (5, 4)), dict(p=-1.0)),
])
def test_errors(args, kwargs):
    messages = []
    for lib in (torch, ember):
        tensors = [lib.zeros(s) for s in args]
        with pytest.raises((ValueError, RuntimeError)) as info:
            lib.cdist(*tensors, **kwargs)
        messages.append((info.type, str(info.value)))
    assert messages[0] == messages[1]


def test_integer_inputs_are_refused():
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="cdist only supports floating-point dtypes, "
                                               "X1 got: Long"):
            lib.cdist(lib.zeros(3, 4, dtype=lib.int64), lib.zeros(5, 4))
