"""A custom Function that saves several of its own outputs: each saved output, unpacked in
backward, is that output (its own ``output_nr``), so double backward reaches the right slot
(the Sinh example of PyTorch's "Double Backward with Custom Functions" tutorial)."""
import numpy as np

import ember
from ember.autograd import Function, gradcheck, gradgradcheck


class Sinh(Function):
    @staticmethod
    def forward(ctx, x):
        expx, expnegx = ember.exp(x), ember.exp(-x)
        ctx.save_for_backward(expx, expnegx)
        return (expx - expnegx) / 2, expx, expnegx

    @staticmethod
    def backward(ctx, grad_out, grad_exp, grad_negexp):
        expx, expnegx = ctx.saved_tensors
        return grad_out * (expx + expnegx) / 2 + grad_exp * expx - grad_negexp * expnegx


def sinh(x):
    return Sinh.apply(x)[0]


def test_saved_outputs_unpack_with_their_output_index():
    x = ember.rand(3, requires_grad=True, dtype=ember.float64)
    outs = Sinh.apply(x)
    node = outs[0].grad_fn
    saved = node.saved_tensors
    assert [t._output_nr for t in saved] == [1, 2]
    assert all(t.grad_fn is node for t in saved)


def test_second_derivative_through_saved_outputs():
    x = ember.rand(4, requires_grad=True, dtype=ember.float64)
    (g,) = ember.autograd.grad(sinh(x).sum(), x, create_graph=True)
    (gg,) = ember.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), np.sinh(x.detach().numpy()), rtol=1e-12)
    assert gradcheck(sinh, (x,)) and gradgradcheck(sinh, (x,))


def test_modified_saved_output_names_its_index():
    x = ember.rand(2, requires_grad=True, dtype=ember.float64)
    out, expx, _ = Sinh.apply(x)
    expx.mul_(2)
    try:
        out.sum().backward()
    except RuntimeError as e:
        assert "which is output 1 of Sinh" in str(e)
    else:
        raise AssertionError("expected the in-place check to fail")
