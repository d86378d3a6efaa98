"""Convolutions on both column layouts (NOTE [ Convolution column layouts ]) against torch:
outputs and the grads of input, weight and bias, in float32 and float64."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
import ember.nn.functional as EF  # noqa: E402

TF = torch.nn.functional

CASES = [  # (x shape, w shape, kwargs): 3 and 32 channels per group straddle the switch
    ((2, 3, 9, 8), (8, 3, 3, 3), {"padding": 1}),
    ((2, 32, 6, 5), (16, 32, 3, 3), {"padding": 1}),
    ((2, 64, 5, 5), (8, 32, 3, 2), {"stride": (2, 1), "dilation": (1, 2), "groups": 2}),
    ((1, 24, 4, 7, 3), (4, 24, 2, 3, 1), {"padding": (1, 0, 1)}),
    # channels-first input gradients: per sample (few columns), batch-last (many), the latter
    # with no offset covering the input, with groups and stride, and with tiling windows
    ((2, 4, 7, 6), (16, 4, 1, 1), {}),
    ((3, 6, 14, 14), (16, 6, 5, 5), {}),
    ((2, 4, 9, 9), (6, 2, 3, 3), {"stride": 2, "padding": 1, "groups": 2}),
    ((2, 3, 8, 8), (4, 3, 2, 2), {"stride": 2}),
    # channels-last input gradients: an offset covering the input from every output (its
    # product written straight into the result), from only some (wide padding), and none
    ((2, 48, 5, 6), (8, 24, 3, 3), {"padding": 1, "groups": 2}),
    ((2, 24, 4, 4), (6, 24, 3, 3), {"padding": 2}),
    ((2, 24, 7, 6), (6, 24, 3, 3), {"padding": 2, "dilation": 2}),
    ((2, 24, 7, 6), (6, 24, 3, 2), {"padding": (1, 0)}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs,ws,kw", CASES)
def test_conv_matches_torch(xs, ws, kw, dtype):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dtype) for s in (xs, ws, ws[:1])]
    e_in = [ember.tensor(a, requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    nd = len(xs) - 2
    e_out = getattr(EF, f"conv{nd}d")(*e_in, **kw)
    t_out = getattr(TF, f"conv{nd}d")(*t_in, **kw)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-10}
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), **tol)
    g = rng.standard_normal(tuple(t_out.shape)).astype(dtype)
    e_out.backward(ember.tensor(g))
    t_out.backward(torch.tensor(g))
    for e, t in zip(e_in, t_in):
        assert e.grad.dtype == e.dtype
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), **tol)
