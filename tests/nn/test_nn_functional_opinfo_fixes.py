"""nn.functional fixes found by the OpInfo audit: complex convolution gradients, transposed
convolution gradients with output_padding of a stride or more, empty inputs, circular padding
with negative pads, prelu's shape, batch norm on an empty batch and the native norms' saved
statistics. Oracles: NumPy, hand-computed values and float64 gradcheck."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck


def _rand(*shape, dtype=ember.float64):
    return ember.randn(*shape, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("nd", [1, 2])
def test_complex_conv_gradients(nd):
    # complex adjoints pair the gradient with the conjugated input and weight
    x = _rand(1, 2, *(5,) * nd, dtype=ember.complex128)
    w = _rand(3, 2, *(3,) * nd, dtype=ember.complex128)
    b = _rand(3, dtype=ember.complex128)
    conv = getattr(F, f"conv{nd}d")
    assert gradcheck(lambda x, w, b: conv(x, w, b, padding=1, stride=2), (x, w, b))
    assert gradgradcheck(lambda x, w: conv(x, w, padding=1), (x, w))


@pytest.mark.parametrize("nd", [1, 2])
def test_complex_conv_transpose_gradients(nd):
    x = _rand(1, 3, *(4,) * nd, dtype=ember.complex128)
    w = _rand(3, 2, *(3,) * nd, dtype=ember.complex128)
    b = _rand(2, dtype=ember.complex128)
    conv_t = getattr(F, f"conv_transpose{nd}d")
    assert gradcheck(lambda x, w, b: conv_t(x, w, b, stride=2, output_padding=1), (x, w, b))
    assert gradgradcheck(lambda x, w: conv_t(x, w, stride=2), (x, w))


def test_complex_conv_gradient_is_conjugate_adjoint():
    # y = x * w (one tap): dL/dx for L = sum(y) (real part) is conj(w) in PyTorch's convention
    x = ember.tensor([[[1 + 2j, 3 - 1j]]], requires_grad=True)
    w = ember.tensor([[[2 + 1j]]], requires_grad=True)
    F.conv1d(x, w).real.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((1, 1, 2), 2 - 1j))
    np.testing.assert_allclose(w.grad.numpy(), np.array([[[(1 - 2j) + (3 + 1j)]]]))


@pytest.mark.parametrize("kw", [
    dict(stride=(3, 2), padding=(1, 2), output_padding=(2, 3), groups=2, dilation=(4, 4)),
    dict(stride=1, padding=(0, 3), output_padding=1, dilation=(2, 4)),
])
def test_conv_transpose2d_output_padding_past_stride(kw):
    # output_padding >= stride (allowed while < dilation) adds trailing rows that no window of
    # the adjoint convolution reaches; the gradients used to fail on a matmul shape mismatch
    groups = kw.get("groups", 1)
    x = _rand(1, 2, 2, 3)
    w = _rand(2, 4 // groups, 2, 3)
    b = _rand(4)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), (x, w, b))
    assert gradgradcheck(lambda x, w: F.conv_transpose2d(x, w, **kw), (x, w))


def test_unfold_empty_batch():
    out = F.unfold(ember.randn(0, 1, 5, 5), 2)
    assert tuple(out.shape) == (0, 4, 16)


def test_fractional_max_pool3d_empty_batch():
    out, ind = F.fractional_max_pool3d(ember.randn(0, 1, 4, 5, 4), (2, 2, 1), output_size=2,
                                       return_indices=True)
    assert tuple(out.shape) == (0, 1, 2, 2, 2) and tuple(ind.shape) == (0, 1, 2, 2, 2)


@pytest.mark.parametrize("pads, want", [
    ((-1, 1), [1, 2, 3, 4, 5, 1]),       # crop the left, then wrap what is left
    ((1, -2), [3, 0, 1, 2, 3]),
    ((-1, -1), [1, 2, 3, 4]),
    ((2, -1), [3, 4, 0, 1, 2, 3, 4]),
    ((-3, 2), [3, 4, 5, 3, 4]),
])
def test_pad_circular_negative(pads, want):
    x = ember.arange(6.0).reshape(1, 1, 6)
    assert F.pad(x, pads, mode="circular").reshape(-1).tolist() == want


def test_pad_circular_negative_gradcheck():
    x = _rand(1, 2, 4, 4)
    assert gradcheck(lambda x: F.pad(x, (-1, 1, -2, 1), mode="circular"), (x,))


def test_prelu_keeps_input_shape():
    x = ember.tensor(-2.0)
    assert F.prelu(x, ember.tensor([0.25])).shape == ()
    assert F.prelu(x, ember.tensor([0.25])).item() == -0.5
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers"):
        F.prelu(ember.randn(2, 3), ember.randn(4))
    with pytest.raises(RuntimeError, match="scalar or 1D"):
        F.prelu(ember.randn(2, 3), ember.randn(1, 1))


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 2), (2, 3, 0)])
def test_batch_norm_training_empty_batch(shape):
    # an empty batch gives an empty output and leaves the running statistics alone
    rm, rv = ember.full((3,), 5.0), ember.full((3,), 2.0)
    w, b = _rand(3), _rand(3)
    x = _rand(*shape)
    y = F.batch_norm(x, rm, rv, w, b, training=True)
    y.sum().backward()
    assert tuple(y.shape) == shape
    assert rm.tolist() == [5.0] * 3 and rv.tolist() == [2.0] * 3
    assert w.grad.tolist() == [0.0] * 3 and b.grad.tolist() == [0.0] * 3


def test_batch_norm_empty_1d_passes_through():
    y = F.batch_norm(ember.randn(0), ember.zeros(0), ember.ones(0), training=True)
    assert tuple(y.shape) == (0,)


def test_native_norm_statistics_are_not_differentiable():
    x = _rand(4, 3)
    w, b = _rand(3), _rand(3)
    out, mean, invstd = ember.native_batch_norm(x, w, b, None, None, True, 0.1, 1e-5)
    assert out.requires_grad and not mean.requires_grad and not invstd.requires_grad
    np.testing.assert_allclose(mean.numpy(), x.detach().numpy().mean(0))
    out, mean, rstd = ember.native_layer_norm(x, (3,), w, b, 1e-5)
    assert out.requires_grad and not mean.requires_grad and not rstd.requires_grad
    np.testing.assert_allclose(rstd.numpy()[:, 0],
                               1 / np.sqrt(x.detach().numpy().var(1) + 1e-5))


def test_native_group_norm_empty_batch():
    out, mean, rstd = ember.native_group_norm(ember.randn(0, 4, 3), None, None, 0, 4, 3, 2, 1e-5)
    assert tuple(out.shape) == (0, 4, 3)
    assert tuple(mean.shape) == (0, 2) and tuple(rstd.shape) == (0, 2)


def test_softmin_uint8_negates_in_uint8():
    # -uint8 wraps (-1 is 255) before the cast to the requested dtype
    out = F.softmin(ember.tensor([0, 1], dtype=ember.uint8), 0, dtype=ember.float64)
    want = np.exp([0.0, 255.0]) / np.exp([0.0, 255.0]).sum()
    np.testing.assert_allclose(out.numpy(), want)


def test_conv_bfloat16_output_dtype():
    x = ember.randn(1, 2, 5, 5).to(ember.bfloat16).requires_grad_()
    w = ember.randn(3, 2, 3, 3).to(ember.bfloat16).requires_grad_()
    y = F.conv2d(x, w)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == w.grad.dtype == ember.bfloat16
    want = F.conv2d(x.detach().float(), w.detach().float())
    np.testing.assert_allclose(y.float().detach().numpy(), want.numpy(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16])
def test_sdpa_half_is_float32_result_rounded(dtype):
    q, k = ember.randn(2, 3, 8).to(dtype), ember.randn(2, 5, 8).to(dtype)
    out = F.scaled_dot_product_attention(q, k, k, is_causal=True)
    want = F.scaled_dot_product_attention(q.float(), k.float(), k.float(), is_causal=True)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.float().numpy(), want.to(dtype).float().numpy())


def test_interpolate_uint8_rounds_each_pass():
    x = ember.tensor([[[[0, 255], [255, 0]]]], dtype=ember.uint8)
    out = F.interpolate(x, (3, 3), mode="bilinear", align_corners=True)
    assert out.dtype == ember.uint8
    # width pass first: [0, 127.5 -> 128, 255] (half up); then height averages the rows
    assert out.reshape(-1).tolist() == [0, 128, 255, 128, 128, 128, 255, 128, 0]
