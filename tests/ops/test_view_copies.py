"""The *_copy ops: fresh memory, gradients intact; torch.vmap's alias (NumPy oracles)."""
import numpy as np

import ember


def test_copies_do_not_alias_and_keep_gradients():
    x = ember.zeros(2, 3, requires_grad=True)
    y = ember.transpose_copy(x, 0, 1)
    assert not np.shares_memory(y.detach().numpy(), x.detach().numpy())
    np.testing.assert_array_equal(ember.view_copy(ember.arange(6.0), 2, 3).numpy(),
                                  np.arange(6.0).reshape(2, 3))
    (y * ember.arange(6.0).reshape(3, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(3, 2).T)


def test_vmap_is_func_vmap():
    x = ember.randn(4, 3)
    np.testing.assert_allclose(ember.vmap(lambda r: r.sum())(x).numpy(), x.sum(1).numpy(),
                               rtol=1e-6)


def test_adjoint_and_nuclear_norm():
    a = np.array([[1 + 2j, 3j], [4, 5 - 1j]])
    np.testing.assert_array_equal(ember.adjoint(ember.tensor(a)).numpy(), a.conj().T)
    m = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(ember.nuclear_norm(ember.tensor(m)).item(),
                               np.linalg.norm(m, "nuc"), rtol=1e-12)
    np.testing.assert_allclose(ember.frobenius_norm(ember.tensor(m)).item(),
                               np.linalg.norm(m), rtol=1e-12)
