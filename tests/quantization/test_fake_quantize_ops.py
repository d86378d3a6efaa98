"""fake_quantize_* against a NumPy oracle: values, the straight-through gradient mask, and the
learnable forms' scale and zero-point gradients (central differences of the smooth part)."""
import numpy as np
import pytest

import ember


def _fq(x, scale, zp, lo, hi):
    q = np.rint(x * (np.float32(1) / np.float32(scale))) + zp
    return (np.clip(q, lo, hi) - zp) * np.float32(scale), (q >= lo) & (q <= hi)


@pytest.mark.parametrize("scale_kind", ["number", "tensor"])
def test_per_tensor_values_and_masked_gradient(scale_kind):
    x = np.random.RandomState(0).randn(6, 5).astype(np.float32) * 3
    scale, zp = 0.07, 4
    if scale_kind == "tensor":
        scale_arg, zp_arg = ember.tensor([scale]), ember.tensor([zp], dtype=ember.int32)
    else:
        scale_arg, zp_arg = scale, zp
    t = ember.tensor(x, requires_grad=True)
    y = ember.fake_quantize_per_tensor_affine(t, scale_arg, zp_arg, 0, 63)
    expect, mask = _fq(x, scale, zp, 0, 63)
    np.testing.assert_allclose(y.detach().numpy(), expect, rtol=0, atol=1e-6)
    g = np.random.RandomState(1).randn(6, 5).astype(np.float32)
    y.backward(ember.tensor(g))
    np.testing.assert_array_equal(t.grad.numpy(), g * mask)


def test_per_channel():
    x = np.random.RandomState(2).randn(3, 4).astype(np.float32)
    scales = np.array([0.1, 0.05, 0.2], np.float32)
    zps = np.array([0, 3, -2], np.int32)
    t = ember.tensor(x, requires_grad=True)
    y = ember.fake_quantize_per_channel_affine(t, ember.tensor(scales), ember.tensor(zps), 0,
                                               -8, 7)
    expect, mask = _fq(x, scales[:, None], zps[:, None], -8, 7)
    np.testing.assert_allclose(y.detach().numpy(), expect, atol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), mask.astype(np.float32))


def test_learnable_scale_gradient_is_the_lsq_estimate():
    x = np.array([0.33, -0.21, 5.0, -5.0], np.float32)
    scale = ember.tensor([0.1], requires_grad=True)
    zp = ember.tensor([0.0], requires_grad=True)
    y = ember._fake_quantize_learnable_per_tensor_affine(ember.tensor(x), scale, zp, -10, 10,
                                                         1.0)
    y.sum().backward()
    # inside the range: round(x/s) - x/s; clipped: the clamped level (+10 and -10 here)
    inside = np.rint(x[:2] / 0.1) - x[:2] / 0.1
    assert scale.grad.item() == pytest.approx(inside.sum() + 10 + -10, abs=1e-4)
    assert zp.grad.item() == pytest.approx(-0.1 * 2, abs=1e-6)
