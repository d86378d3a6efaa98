"""``backend.special.grad_where``: ``where(keep, grad, 0)`` / ``where(drop, 0, grad)``, exact in
every float dtype (inf and NaN gradients dropped to 0, kept ones bit for bit, -0.0 included),
on both array paths (the CPU's bit mask, the GPU's ``where`` on the bits run here on NumPy),
against NumPy's ``where``."""
import ml_dtypes
import numpy as np
import pytest

import ember
from ember.backend import special

DTYPES = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]
GRADS = [1.0, np.inf, -np.inf, np.nan, -0.0, 0.0, 3.5, -2.0]
KEEP = [True, False, False, True, True, False, True, False]


def _bits(a):
    return a.view(f"i{a.dtype.itemsize}")


def _oracle(grad, keep):
    return np.where(keep, grad, np.zeros((), grad.dtype)).astype(grad.dtype)


def _both_paths(grad, keep):
    """Each path, called with keep and with drop."""
    drop = np.logical_not(keep)
    return [special.grad_where(grad, keep), special.grad_where(grad, drop=drop),
            special._select_bits(np, None, grad, keep), special._select_bits(np, drop, grad)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_numpy_where_bit_for_bit(dtype):
    grad, keep = np.array(GRADS, dtype), np.array(KEEP)
    want = _oracle(grad, keep)
    for got in _both_paths(grad, keep):
        assert got.dtype == grad.dtype and got.shape == grad.shape
        np.testing.assert_array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_dim(dtype):
    for value, keep in ((np.inf, False), (np.nan, True), (-0.0, True), (2.0, False)):
        grad = np.array(value, dtype)
        for got in _both_paths(grad, np.array(keep)):
            assert isinstance(got, np.ndarray) and got.shape == ()
            np.testing.assert_array_equal(_bits(got), _bits(_oracle(grad, keep)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_and_broadcast(dtype):
    rng = np.random.default_rng(0)
    base = rng.standard_normal((6, 8)).astype(dtype)
    base[::3, ::2] = np.inf
    grad = base.T[::2]  # non-contiguous (4, 6)
    keep = rng.random((4, 6)) > 0.5
    for got in _both_paths(grad, keep):
        np.testing.assert_array_equal(_bits(got), _bits(_oracle(grad, keep)))
    row = rng.random(6) > 0.5  # broadcast over the rows
    np.testing.assert_array_equal(_bits(special.grad_where(grad, row)),
                                  _bits(_oracle(grad, np.broadcast_to(row, grad.shape))))


def test_select_grad_is_differentiable_in_grad():
    """Under create_graph the selection is a masked_fill of grad: its own gradient selects too."""
    from ember.ops.elementwise import select_grad
    g = ember.tensor([1.0, 5.0, 6.0], dtype=ember.float64, requires_grad=True)
    with ember.enable_grad():
        out = select_grad(g, np.array([True, False, True]))
    assert out.tolist() == [1.0, 0.0, 6.0]
    (gg,) = ember.autograd.grad(out.sum(), g)
    assert gg.tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_activation_grads_drop_inf(dtype):
    """Without torch: hardtanh, clamp and elu pass an inf gradient where they pass any, give 0
    where they give none, and send a NaN input where PyTorch does."""
    dt = getattr(ember, dtype)
    F = ember.nn.functional
    x = ember.tensor([float("nan"), -2.0, 0.5, 2.0], dtype=dt, requires_grad=True)
    g = ember.tensor([3.0, float("inf"), float("inf"), float("-inf")], dtype=dt)
    cases = {F.hardtanh: [3.0, 0.0, float("inf"), 0.0],
             lambda t: t.clamp(-1, 1): [0.0, 0.0, float("inf"), 0.0],
             F.elu: [3.0, float("inf"), float("inf"), float("-inf")]}
    for fn, want in cases.items():
        x.grad = None
        fn(x).backward(g)
        assert x.grad.dtype is dt and x.grad.float().tolist() == want
