"""Shared checks for the legacy tests: float64 central differences of a legacy module's or
criterion's explicit gradients."""
from __future__ import annotations

import numpy as np

import ember

EPS = 1e-6


def leaves(value) -> list:
    """The tensors of a tensor or a nested list of tensors, in order."""
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in leaves(v)]
    return [value]


def _numeric(fn, tensors) -> list:
    """d fn() / d t for each tensor in ``tensors`` (perturbed in place), by central
    differences."""
    grads = []
    for t in tensors:
        flat = t._data.reshape(-1)  # a view: perturbs t in place
        g = np.zeros(flat.shape)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + EPS
            hi = fn()
            flat[i] = old - EPS
            lo = fn()
            flat[i] = old
            g[i] = (hi - lo) / (2 * EPS)
        grads.append(g.reshape(t.shape))
    return grads


def _dot(output, weights) -> float:
    return float(sum((o.double() * w).sum().item()
                     for o, w in zip(leaves(output), leaves(weights))))


def check_module(module, input, atol: float = 1e-6, check_params: bool = True):
    """Compare ``module.backward`` (gradInput and accumulated parameter gradients) with
    finite differences of ``sum(forward(input) * gradOutput)`` in float64."""
    module.double()
    input = [x.double() if x.is_floating_point() else x for x in input] \
        if isinstance(input, list) else (input.double() if input.is_floating_point() else input)
    out = module.forward(input)
    grad_out = [ember.randn(o.shape, dtype=ember.float64) for o in leaves(out)]
    if not isinstance(out, list):
        grad_out = grad_out[0]
    module.zeroGradParameters()
    grad_in = module.backward(input, grad_out)

    def loss():
        return _dot(module.forward(input), grad_out)

    float_inputs = [x for x in leaves(input) if x.is_floating_point()]
    expected = _numeric(loss, float_inputs)
    got = [g for g, x in zip(leaves(grad_in), leaves(input)) if x.is_floating_point()]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.numpy(), e, atol=atol, rtol=1e-5)
    params = module.parameters()
    if check_params and params is not None:
        weights, grads = params
        got = [g.numpy().copy() for g in grads]
        expected = _numeric(loss, weights)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, atol=atol, rtol=1e-5)
        # accGradParameters adds: a second backward with scale 0.5 adds half again
        module.forward(input)
        module.backward(input, grad_out, 0.5)
        for g0, g in zip(got, grads):
            np.testing.assert_allclose(g.numpy(), 1.5 * g0, atol=atol, rtol=1e-6)
    return out, grad_in


def check_criterion(criterion, input, target, atol: float = 1e-6):
    """Compare ``criterion.backward`` with finite differences of ``criterion.forward``."""
    criterion.double()
    input = [x.double() for x in input] if isinstance(input, list) else input.double()
    criterion.forward(input, target)
    grad = criterion.backward(input, target)
    expected = _numeric(lambda: criterion.forward(input, target), leaves(input))
    for g, e in zip(leaves(grad), expected):
        np.testing.assert_allclose(g.numpy(), e, atol=atol, rtol=1e-5)
    return criterion.forward(input, target), grad
