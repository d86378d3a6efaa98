"""Complex autograd (conj, imag, angle, holomorphic ops), complex sampling, QR, solve and norm
against NumPy and finite differences."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck

RNG = np.random.default_rng(0)


def _complex(shape):
    return ember.tensor(RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape),
                        requires_grad=True)


@pytest.mark.parametrize("fn", [
    lambda z: z.conj() * z.exp(), lambda z: z.imag * z.real, lambda z: z.angle(),
    lambda z: z.sin() / z.cos(), lambda z: z.sigmoid(), lambda z: z.reciprocal() ** 2.5,
    lambda z: z.acosh(), lambda z: (z.reshape(2, 2) @ z.reshape(2, 2).mT).reshape(-1),
    lambda z: z.cumprod(0), lambda z: z.reshape(2, 2).det().reshape(1),
    lambda z: z.reshape(2, 2).inverse().reshape(-1), lambda z: z.logsumexp(0).reshape(1),
    lambda z: z.vdot(z.exp()).reshape(1), lambda z: (1.5 + 0.5j) ** z, lambda z: z / (2 - 1j)])
def test_complex_gradients_by_finite_differences(fn):
    # gradcheck differentiates the real and imaginary parts separately
    assert gradcheck(fn, (_complex(4),))


def test_imag_and_conj_are_differentiable_and_conj_of_real_is_itself():
    z = _complex(3)
    (z.conj().imag.sum() + z.imag.sum()).backward()
    np.testing.assert_allclose(z.grad.numpy(), np.zeros(3))  # -Im z + Im z
    x = ember.ones(2)
    assert x.conj() is x
    np.testing.assert_allclose(ember.angle(ember.tensor([-1.0, 2.0])).numpy(), [np.pi, 0.0])


def test_complex_sampling_splits_the_variance():
    ember.manual_seed(0)
    z = ember.randn(200_000, dtype=ember.complex64)
    assert abs(z.real.var().item() - 0.5) < 0.01 and abs(z.imag.var().item() - 0.5) < 0.01
    u = ember.rand(100_000, dtype=ember.complex128)
    assert 0 <= u.real.min().item() and u.imag.max().item() < 1
    assert abs(u.imag.mean().item() - 0.5) < 0.01


@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (3, 5), (2, 4, 3)])
def test_qr_reconstructs_and_is_differentiable(shape):
    a = ember.tensor(RNG.standard_normal(shape), requires_grad=True)
    q, r = ember.linalg.qr(a)
    np.testing.assert_allclose((q @ r).detach().numpy(), a.detach().numpy(), atol=1e-12)
    eye = np.eye(q.shape[-1])
    np.testing.assert_allclose((q.mT @ q).detach().numpy(), np.broadcast_to(eye, q.shape[:-2]
                                                                         + eye.shape),
                               atol=1e-12)
    np.testing.assert_array_equal(np.tril(r.detach().numpy(), -1), 0)
    assert gradcheck(lambda t: ember.linalg.qr(t), (a,))
    with pytest.raises(RuntimeError, match="unrecognized mode"):
        ember.linalg.qr(a, mode="full")


def test_solve_vector_and_matrix_right_hand_sides():
    a = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b_vec, b_col = RNG.standard_normal(3), RNG.standard_normal((3, 1))
    x = ember.linalg.solve(ember.tensor(a), ember.tensor(b_vec))
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a, b_vec[:, None])[..., 0])
    x = ember.linalg.solve(ember.tensor(a), ember.tensor(b_col))
    assert x.shape == (2, 3, 1)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a, b_col))
    at, bt = ember.tensor(a, requires_grad=True), ember.tensor(b_vec, requires_grad=True)
    assert gradcheck(ember.linalg.solve, (at, bt))


def test_norm_dispatch():
    m = RNG.standard_normal((3, 4))
    n = ember.linalg.norm
    assert n(ember.tensor(m)).item() == pytest.approx(np.linalg.norm(m))
    assert n(ember.tensor(m), ord=2).item() == pytest.approx(np.linalg.norm(m, 2))
    np.testing.assert_allclose(n(ember.tensor(m), ord=1, dim=1).numpy(),
                               np.linalg.norm(m, 1, axis=1))
    np.testing.assert_allclose(n(ember.tensor(m), "nuc").item(), np.linalg.norm(m, "nuc"))


def test_assert_close_checks_strides_when_asked():
    a, b = ember.ones(2, 3).t(), ember.ones(3, 2)
    ember.testing.assert_close(a, b)
    with pytest.raises(AssertionError, match="stride"):
        ember.testing.assert_close(a, b, check_stride=True)
