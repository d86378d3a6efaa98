"""ember.vision.ops.deform_conv2d / DeformConv2d against real torchvision (its Python wrapper
over the reference kernel of tests/conformance/real_torchvision.py): values and the gradients
w.r.t. input, offset, mask, weight and bias, in float64."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.vision.ops import DeformConv2d, deform_conv2d
from tests.conformance.real_torchvision import real_torchvision

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tv():
    return real_torchvision()


CASES = [
    # (N, C, H, W, C_out, groups, offset_groups, kernel, stride, padding, dilation, mask, bias)
    (2, 3, 6, 5, 4, 1, 1, (3, 3), 1, 0, 1, True, True),
    (1, 4, 7, 6, 6, 2, 2, (3, 2), (2, 1), (1, 2), (1, 2), True, False),
    (2, 4, 5, 5, 2, 1, 4, (2, 2), 2, 1, 1, False, True),
    (1, 2, 4, 6, 2, 2, 1, (1, 3), 1, (0, 1), (1, 2), False, False),
]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


@pytest.mark.parametrize("case", CASES)
def test_values_and_gradients(tv, case):
    n, c, h, w, co, groups, og, (kh, kw), stride, padding, dilation, use_mask, use_bias = case
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    out_h = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    rng = np.random.default_rng(0)
    arrays = {
        "input": rng.standard_normal((n, c, h, w)),
        "offset": rng.uniform(-3, 3, (n, 2 * og * kh * kw, out_h, out_w)),
        "weight": rng.standard_normal((co, c // groups, kh, kw)),
        "bias": rng.standard_normal(co) if use_bias else None,
        "mask": rng.uniform(0, 1, (n, og * kh * kw, out_h, out_w)) if use_mask else None,
    }
    names = [k for k, v in arrays.items() if v is not None]
    e_in = {k: ember.tensor(arrays[k], requires_grad=True) for k in names}
    t_in = {k: torch.tensor(arrays[k], requires_grad=True) for k in names}
    e_out = deform_conv2d(e_in["input"], e_in["offset"], e_in["weight"], e_in.get("bias"),
                          stride, padding, dilation, e_in.get("mask"))
    t_out = tv.ops.deform_conv2d(t_in["input"], t_in["offset"], t_in["weight"], t_in.get("bias"),
                                 stride, padding, dilation, t_in.get("mask"))
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    upstream = rng.standard_normal(tuple(t_out.shape))
    e_out.backward(ember.tensor(upstream))
    t_out.backward(torch.tensor(upstream))
    for k in names:
        np.testing.assert_allclose(e_in[k].grad.numpy(), t_in[k].grad.numpy(), rtol=1e-10,
                                   atol=1e-10, err_msg=k)


def test_module_state_dict_and_forward(tv):
    torch.manual_seed(0)
    t_layer = tv.ops.DeformConv2d(4, 6, kernel_size=3, stride=2, padding=1, dilation=1, groups=2)
    e_layer = DeformConv2d(4, 6, kernel_size=3, stride=2, padding=1, dilation=1, groups=2)
    e_layer.load_state_dict({k: ember.tensor(v.numpy()) for k, v in
                             t_layer.state_dict().items()}, strict=True)
    assert repr(e_layer) == repr(t_layer)
    assert list(e_layer.state_dict()) == list(t_layer.state_dict())
    x = np.random.default_rng(1).standard_normal((2, 4, 7, 7)).astype(np.float32)
    offset = np.random.default_rng(2).standard_normal((2, 18, 4, 4)).astype(np.float32)
    expected = t_layer(torch.tensor(x), torch.tensor(offset)).detach().numpy()
    got = e_layer(ember.tensor(x), ember.tensor(offset)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    t_plain = tv.ops.DeformConv2d(2, 3, (1, 3), bias=False)
    assert repr(DeformConv2d(2, 3, (1, 3), bias=False)) == repr(t_plain)
