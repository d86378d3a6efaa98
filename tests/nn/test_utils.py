"""ember.nn.utils: clip_grad_norm_, clip_grad_value_, parameters_to_vector and back."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)


def _params(grads):
    params = []
    for g in grads:
        p = nn.Parameter(ember.zeros(*np.shape(g)))
        p.grad = ember.tensor(np.asarray(g, dtype=np.float32))
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
def test_clip_grad_norm(norm_type):
    grads = [np.array([3.0, -4.0]), np.array([[1.0, 2.0]])]
    flat = np.concatenate([g.ravel() for g in grads])
    total = np.abs(flat).max() if math.isinf(norm_type) else \
        (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    params = _params(grads)
    out = clip_grad_norm_(params, 1.0, norm_type)
    assert out.item() == pytest.approx(total, rel=1e-6)
    scale = 1.0 / (total + 1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * scale, rtol=1e-5)
    params = _params(grads)
    clip_grad_norm_(iter(params), 1.0, norm_type)  # a generator works too
    np.testing.assert_allclose(params[1].grad.numpy(), grads[1] * scale, rtol=1e-5)
    params = _params(grads)
    clip_grad_norm_(params, 1000.0, norm_type)  # below the limit: unchanged
    np.testing.assert_allclose(params[0].grad.numpy(), grads[0])


def test_clip_grad_norm_nonfinite_and_single_tensor():
    p = _params([[np.inf, 1.0]])
    with pytest.raises(RuntimeError, match="is non-finite"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    single = _params([[0.0, 2.0]])[0]
    assert clip_grad_norm_(single, 1.0).item() == pytest.approx(2.0)
    assert clip_grad_norm_([nn.Parameter(ember.zeros(1))], 1.0).item() == 0.0


def test_clip_grad_value():
    params = _params([[-3.0, 0.5, 2.0]])
    clip_grad_value_(params, 1.0)
    np.testing.assert_array_equal(params[0].grad.numpy(), [-1.0, 0.5, 1.0])


def test_parameters_vector_roundtrip():
    lin = nn.Linear(3, 2)
    vec = parameters_to_vector(lin.parameters())
    assert vec.shape == (8,)
    np.testing.assert_array_equal(vec.detach().numpy()[:6],
                                  lin.weight.detach().numpy().ravel())
    vector_to_parameters(ember.arange(8.0), lin.parameters())
    np.testing.assert_array_equal(lin.bias.detach().numpy(), [6.0, 7.0])
    assert isinstance(lin.weight, nn.Parameter)
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        vector_to_parameters([1.0], lin.parameters())
