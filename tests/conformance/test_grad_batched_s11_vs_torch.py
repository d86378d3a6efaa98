"""``autograd.grad(..., is_grads_batched=True)`` and ``grad`` inside ``vmap`` against PyTorch."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _jacobian(lib, vmap_it: bool) -> np.ndarray:
    x = lib.tensor([0.5, -1.0, 2.0, 0.25], dtype=lib.float64, requires_grad=True)
    y = (x.unsqueeze(1) * x.unsqueeze(0)).tanh().sum(1)
    basis = lib.eye(4, dtype=lib.float64)
    if vmap_it:
        jac = lib.vmap(lambda v: lib.autograd.grad(y, x, v)[0])(basis)
    else:
        (jac,) = lib.autograd.grad(y, x, basis, is_grads_batched=True)
    return jac.detach().numpy()


@pytest.mark.parametrize("vmap_it", [False, True])
def test_batched_jacobian_matches_pytorch(vmap_it):
    np.testing.assert_allclose(_jacobian(ember, vmap_it), _jacobian(torch, vmap_it), rtol=1e-12)
