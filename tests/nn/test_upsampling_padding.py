"""Padding, interpolation, pixel shuffle and fold/unfold vs NumPy, with float64 gradchecks."""
import itertools

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck

NP_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
            "circular": "wrap"}


@pytest.mark.parametrize("mode", list(NP_MODES))
@pytest.mark.parametrize("pads", [(1, 2), (2, 1, 0, 3), (1, 1, 2, 0, 1, 2)])
def test_pad_matches_numpy(mode, pads):
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 6))
    nd = len(pads) // 2
    widths = [(0, 0)] * (4 - nd) + [(pads[2 * i], pads[2 * i + 1])
                                    for i in reversed(range(nd))]
    out = F.pad(ember.tensor(x), pads, mode=mode)
    np.testing.assert_array_equal(out.numpy(), np.pad(x, widths, mode=NP_MODES[mode]))


def test_pad_value_negative_and_errors():
    x = np.arange(12.0).reshape(1, 3, 4)
    out = F.pad(ember.tensor(x), (1, -2, -1, 0), value=7.0)
    ref = np.pad(x[:, 1:, :2], [(0, 0), (0, 0), (1, 0)], constant_values=7.0)
    np.testing.assert_array_equal(out.numpy(), ref)
    with pytest.raises(RuntimeError, match="divisible by 2"):
        F.pad(ember.tensor(x), (1,))
    with pytest.raises(RuntimeError, match="Padding size should be less"):
        F.pad(ember.tensor(x), (4, 0), mode="reflect")


def _leaf(*shape, seed=0):
    return ember.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("mode", list(NP_MODES))
def test_pad_gradcheck(mode):
    x = _leaf(1, 2, 4, 3)
    def fn(t):
        return F.pad(t, (2, 1, 1, 2), mode=mode)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def bilinear_ref(x, oh, ow, align):
    h, w = x.shape[2:]

    def src(o, n, out_n):
        if align:
            return o * (n - 1) / (out_n - 1) if out_n > 1 else 0.0
        return max((o + 0.5) * n / out_n - 0.5, 0.0)
    y = np.zeros(x.shape[:2] + (oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        sy, sx = src(i, h, oh), src(j, w, ow)
        y0, x0 = min(int(np.floor(sy)), h - 1), min(int(np.floor(sx)), w - 1)
        y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
        ly, lx = sy - y0, sx - x0
        y[..., i, j] = ((1 - ly) * ((1 - lx) * x[..., y0, x0] + lx * x[..., y0, x1])
                        + ly * ((1 - lx) * x[..., y1, x0] + lx * x[..., y1, x1]))
    return y


@pytest.mark.parametrize("size", [(7, 9), (3, 2), (5, 1)])
@pytest.mark.parametrize("align", [True, False])
def test_bilinear_matches_reference(size, align):
    x = np.random.default_rng(1).standard_normal((2, 2, 4, 5))
    out = F.interpolate(ember.tensor(x), size=size, mode="bilinear", align_corners=align)
    np.testing.assert_allclose(out.numpy(), bilinear_ref(x, *size, align), rtol=1e-12,
                               atol=1e-12)


def test_nearest_and_linear_and_bicubic():
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 4))
    out = F.interpolate(ember.tensor(x), scale_factor=2)
    np.testing.assert_array_equal(out.numpy(), x.repeat(2, 2).repeat(2, 3))
    out = F.interpolate(ember.tensor(x), size=(5, 3), mode="nearest")
    rows = np.minimum(np.floor(np.arange(5) * 3 / 5), 2).astype(int)
    cols = np.minimum(np.floor(np.arange(3) * 4 / 3), 3).astype(int)
    np.testing.assert_array_equal(out.numpy(), x[:, :, rows][:, :, :, cols])
    x1 = x[:, :, 0]
    lin = F.interpolate(ember.tensor(x1), size=7, mode="linear", align_corners=True)
    ref = np.stack([np.interp(np.linspace(0, 3, 7), np.arange(4), r) for r in x1.reshape(-1, 4)])
    np.testing.assert_allclose(lin.numpy().reshape(-1, 7), ref, rtol=1e-12)
    # bicubic reproduces a linear ramp exactly away from the borders (cubic convolution is exact
    # on linear functions) and keeps a constant image constant
    ramp = np.tile(np.arange(8.0), (1, 1, 8, 1))
    cub = F.interpolate(ember.tensor(ramp), size=(8, 15), mode="bicubic", align_corners=True)
    np.testing.assert_allclose(cub.numpy()[0, 0, 0, 2:-2], np.linspace(0, 7, 15)[2:-2],
                               atol=1e-12)
    const = F.interpolate(ember.ones(1, 1, 3, 3, dtype=ember.float64), size=(5, 7),
                          mode="bicubic")
    np.testing.assert_allclose(const.numpy(), 1.0, atol=1e-12)
    with pytest.raises(ValueError):
        F.interpolate(ember.tensor(x), size=(2, 2), scale_factor=2)


@pytest.mark.parametrize("kw", [
    {"size": (5, 7), "mode": "bilinear", "align_corners": False},
    {"scale_factor": 1.5, "mode": "bicubic", "align_corners": True},
    {"size": (6, 2), "mode": "nearest"},
    {"size": (2, 3), "mode": "area"},
])
def test_interpolate_gradcheck(kw):
    assert gradcheck(lambda t: F.interpolate(t, **kw), (_leaf(1, 2, 4, 3),))


def test_pixel_shuffle_roundtrip_and_reference():
    x = np.random.default_rng(3).standard_normal((2, 8, 3, 2))
    out = F.pixel_shuffle(ember.tensor(x), 2)
    ref = x.reshape(2, 2, 2, 2, 3, 2).transpose(0, 1, 4, 2, 5, 3).reshape(2, 2, 6, 4)
    np.testing.assert_array_equal(out.numpy(), ref)
    np.testing.assert_array_equal(F.pixel_unshuffle(out, 2).numpy(), x)
    assert nn.PixelShuffle(2)(ember.tensor(x)).shape == (2, 2, 6, 4)
    assert repr(nn.PixelUnshuffle(3)) == "PixelUnshuffle(downscale_factor=3)"
    assert gradcheck(lambda t: F.pixel_shuffle(t, 2), (_leaf(1, 4, 2, 3),))


def test_unfold_fold_match_naive_and_are_adjoint():
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 6))
    k, d, p, s = (2, 3), (2, 1), (1, 0), (1, 2)
    cols = F.unfold(ember.tensor(x), k, d, p, s).numpy()
    xp_ = np.pad(x, [(0, 0), (0, 0), (1, 1), (0, 0)])
    oh = (xp_.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (xp_.shape[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    ref = np.zeros((2, 3 * 6, oh * ow))
    for c, i, j, a, b in itertools.product(range(3), range(2), range(3), range(oh), range(ow)):
        ref[:, c * 6 + i * 3 + j, a * ow + b] = xp_[:, c, a * s[0] + i * d[0], b * s[1] + j * d[1]]
    np.testing.assert_array_equal(cols, ref)
    # <unfold(x), y> == <x, fold(y)>
    y = np.random.default_rng(5).standard_normal(cols.shape)
    back = F.fold(ember.tensor(y), (5, 6), k, d, p, s).numpy()
    np.testing.assert_allclose((cols * y).sum(), (x * back).sum(), rtol=1e-12)
    assert nn.Unfold((2, 3), 1, 0, 1)(ember.randn(2, 5, 3, 4)).shape == (2, 30, 4)
    assert nn.Fold((3, 4), (2, 3))(ember.randn(2, 30, 4)).shape == (2, 5, 3, 4)
    with pytest.raises(RuntimeError, match="sliding blocks"):
        F.fold(ember.randn(1, 6, 5), (3, 4), (1, 2))
    assert gradcheck(lambda t: F.fold(F.unfold(t, 2, 1, 1, 1), (3, 3), 2, 1, 1, 1),
                     (_leaf(1, 2, 3, 3),))


def test_padding_and_upsampling_modules():
    x = ember.randn(1, 2, 3, 3)
    assert nn.ZeroPad2d((1, 1, 2, 0))(x).shape == (1, 2, 5, 5)
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ConstantPad1d(2, 3.5)) == "ConstantPad1d(padding=(2, 2), value=3.5)"
    assert nn.ConstantPad3d(1, 2.0)(ember.zeros(1, 1, 1, 1)).sum().item() == 2.0 * 26
    assert nn.ReflectionPad1d(2)(ember.randn(2, 4)).shape == (2, 8)
    assert nn.ReplicationPad2d((1, 0, 0, 1))(x).shape == (1, 2, 4, 4)
    assert nn.CircularPad2d(1)(x).shape == (1, 2, 5, 5)
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert nn.Upsample(scale_factor=2)(x).shape == (1, 2, 6, 6)
    assert repr(nn.UpsamplingBilinear2d(size=4)) == "UpsamplingBilinear2d(size=4, mode='bilinear')"
    up = nn.UpsamplingBilinear2d(scale_factor=2)(x)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
    np.testing.assert_array_equal(up.numpy(), ref.numpy())
    assert nn.UpsamplingNearest2d(size=(4, 5))(x).shape == (1, 2, 4, 5)
