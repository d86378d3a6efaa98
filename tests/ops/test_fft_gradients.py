"""Gradients of ember.fft's transforms by finite differences (gradcheck, float64), first and
second order, and the adjoint identities they rest on."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def _real(shape):
    return ember.tensor(RNG.standard_normal(shape), requires_grad=True)


def _complex(shape):
    return ember.tensor(RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape),
                        requires_grad=True)


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_gradcheck_every_kind(norm):
    fft = ember.fft
    assert gradcheck(lambda a: fft.fft(a, n=6, norm=norm), (_complex((2, 5)),))
    assert gradcheck(lambda a: fft.rfft(a, n=10, norm=norm), (_real((3, 8)),))
    assert gradcheck(lambda a: fft.irfft(a, n=7, norm=norm), (_complex((3, 5)),))
    assert gradcheck(lambda a: fft.hfft(a, norm=norm), (_complex((2, 4)),))
    assert gradcheck(lambda a: fft.ihfft(a, norm=norm), (_real((2, 6)),))
    assert gradcheck(lambda a: fft.rfftn(a, s=(3, 4), norm=norm), (_real((2, 5, 3)),))
    assert gradcheck(lambda a: fft.irfft2(a, norm=norm), (_complex((3, 4)),))


def test_second_order():
    assert gradgradcheck(lambda a: ember.fft.fft(a) ** 2, (_complex((3, 5)),))
    assert gradgradcheck(lambda a: ember.fft.irfft(a) ** 2, (_complex((3, 5)),))
    assert gradgradcheck(lambda a: ember.fft.rfft(a).real ** 2, (_real((3, 6)),))


def test_parseval_gradient():
    # sum |fft(x)|^2 / n = sum x^2, so its gradient is 2x
    x = _real(16)
    (ember.fft.fft(x).abs() ** 2).sum().div(16).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy(), rtol=1e-12)
