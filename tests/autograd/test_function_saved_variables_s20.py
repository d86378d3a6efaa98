"""``ctx.saved_variables``: PyTorch's deprecated name for ``saved_tensors``, still read by older
custom Functions (pytorchvideo's Swish)."""
from __future__ import annotations

import numpy as np
import pytest

import ember


class _Square(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_variables
        return 2 * x * grad


def test_saved_variables_gives_the_saved_tensors_with_a_deprecation_warning():
    x = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    with pytest.warns(DeprecationWarning, match="saved_variables"):
        _Square.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 6.0])
