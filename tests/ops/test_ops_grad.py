"""Gradients of every differentiable op-table row: float64 gradcheck against central
differences, and gradgradcheck (double backward) where the row says so."""
import numpy as np
import pytest
from op_table import call, case_id, cases, samples_of, tensor_inputs

import ember
from ember.autograd import gradcheck, gradgradcheck

GRADGRAD_SAMPLES = 2  # double backward is slower; its first samples cover the formula


def _make(a, requires_grad=False):
    # A private copy with the same strides, so perturbing it cannot touch the sample.
    data = np.empty_like(a)
    data[...] = a
    if a.ndim and not a.flags.c_contiguous and not a.flags.f_contiguous:
        data = np.repeat(a[..., None], 2, axis=-1)[..., 0]  # keep it non-contiguous
    return ember.from_numpy(data).requires_grad_(requires_grad)


def _checkable(op, dt, limit):
    for sample in samples_of(op, dt)[:limit]:
        args, kwargs = call(op, sample, ember, _make, requires_grad=True)[1:]
        inputs = tensor_inputs(args, kwargs)
        if not inputs or any(t.numel() == 0 for t in inputs):
            continue
        yield sample, args, kwargs, inputs


def _bound(op, args, kwargs):
    """The op on the sample's tensors; gradcheck perturbs those tensors in place, so the
    function ignores the inputs it is handed."""
    def fn(*_):
        return op.fn(ember, *args, **kwargs)
    return fn


GRAD_CASES = cases(grad=True)


@pytest.mark.parametrize("case", GRAD_CASES, ids=[case_id(c) for c in GRAD_CASES])
def test_gradcheck(case):
    op, dt = case
    checked = 0
    for sample, args, kwargs, inputs in _checkable(op, dt, op.grad_samples):
        assert gradcheck(_bound(op, args, kwargs), tuple(inputs)), f"{op.name}{sample}"
        checked += 1
    assert checked, f"{op.name}: no sample has a floating input"


GRADGRAD_CASES = cases(gradgrad=True)


@pytest.mark.parametrize("case", GRADGRAD_CASES, ids=[case_id(c) for c in GRADGRAD_CASES])
def test_gradgradcheck(case):
    op, dt = case
    for sample, args, kwargs, inputs in _checkable(op, dt, GRADGRAD_SAMPLES):
        assert gradgradcheck(_bound(op, args, kwargs), tuple(inputs)), f"{op.name}{sample}"
