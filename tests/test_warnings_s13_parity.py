"""Warnings PyTorch 2.x gives that third-party code meets: float() of a tensor autograd tracks
(int(), item(), format() and no_grad stay silent) and meshgrid without ``indexing``."""

import warnings

import numpy as np
import pytest

import ember

FLOAT_MESSAGE = "Converting a tensor with requires_grad=True to a scalar may lead to unexpected"
MESHGRID_MESSAGE = "torch.meshgrid: in an upcoming release, it will be required to pass"


def test_float_of_tensor_requiring_grad_warns():
    x = ember.ones((), requires_grad=True) * 2
    with pytest.warns(UserWarning, match=FLOAT_MESSAGE):
        assert float(x) == 2.0
    with pytest.warns(UserWarning, match=FLOAT_MESSAGE):
        assert float(ember.ones(1, requires_grad=True)) == 1.0


@pytest.mark.parametrize("convert", [int, lambda t: t.item(), lambda t: f"{t:.1f}",
                                     lambda t: float(t.detach())])
def test_other_conversions_are_silent(convert):
    x = ember.ones((), requires_grad=True) * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        convert(x)


def test_float_under_no_grad_and_without_grad_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ember.no_grad():
            assert float(ember.ones((), requires_grad=True)) == 1.0
        assert float(ember.ones(())) == 1.0


def test_meshgrid_without_indexing_warns_and_defaults_to_ij():
    a, b = ember.arange(3.0), ember.arange(2.0)
    with pytest.warns(UserWarning, match=MESHGRID_MESSAGE):
        y, x = ember.meshgrid(a, b)
    want_y, want_x = np.meshgrid(np.arange(3.0), np.arange(2.0), indexing="ij")
    np.testing.assert_array_equal(y.numpy(), want_y)
    np.testing.assert_array_equal(x.numpy(), want_x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for indexing in ("ij", "xy"):
            got = ember.meshgrid([a, b], indexing=indexing)
            for g, w in zip(got, np.meshgrid(np.arange(3.0), np.arange(2.0), indexing=indexing)):
                np.testing.assert_array_equal(g.numpy(), w)
