"""Photometric and geometric functionals added for torchvision parity (invert, posterize,
solarize, sharpness, autocontrast, equalize, gamma, hue, perspective, elastic, five/ten crop)
and their Random* classes: PIL inputs against PIL's ImageOps/ImageEnhance, tensors against
NumPy statements of torchvision's tensor math, and the two paths against each other."""
import colorsys

import numpy as np
import pytest

import ember
from ember.vision import transforms as T
from ember.vision.transforms import functional as F

Image = pytest.importorskip("PIL.Image")
from PIL import ImageEnhance, ImageOps  # noqa: E402


def _u8(shape, seed=0, low=0, high=256):
    return np.random.default_rng(seed).integers(low, high, shape, dtype=np.uint8)


def _pil(chw: np.ndarray):
    return Image.fromarray(chw[0] if chw.shape[0] == 1 else chw.transpose(1, 2, 0))


def _chw(img) -> np.ndarray:
    a = np.asarray(img)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _t(a):
    return ember.from_numpy(np.ascontiguousarray(a))


# ------------------------------------------------------------------------------- exact ops

@pytest.mark.parametrize("channels", [1, 3])
def test_invert_posterize_solarize_match_imageops_and_numpy(channels):
    a = _u8((channels, 9, 11))
    img, x = _pil(a), _t(a)
    cases = [(F.invert, (), ImageOps.invert, 255 - a),
             (F.posterize, (3,), lambda i: ImageOps.posterize(i, 3), a & 0b11100000),
             (F.solarize, (100,), lambda i: ImageOps.solarize(i, 100),
              np.where(a >= 100, 255 - a, a))]
    for fn, args, pil_fn, want in cases:
        got = fn(x, *args)
        assert got.dtype == ember.uint8
        np.testing.assert_array_equal(got.numpy(), want)
        np.testing.assert_array_equal(_chw(fn(img, *args)), _chw(pil_fn(img)))
    np.testing.assert_array_equal(F.posterize(x, 0).numpy(), np.zeros_like(a))
    np.testing.assert_array_equal(F.posterize(x, 8).numpy(), a)


def test_float_tensors_invert_and_solarize_on_the_unit_range():
    a = np.random.default_rng(1).random((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(F.invert(_t(a)).numpy(), 1 - a, rtol=1e-6)
    np.testing.assert_array_equal(F.solarize(_t(a), 0.5).numpy(), np.where(a >= 0.5, 1 - a, a))
    with pytest.raises(TypeError, match="Threshold"):
        F.solarize(_t(a), 2.0)
    with pytest.raises(TypeError, match="uint8"):
        F.posterize(_t(a), 4)
    with pytest.raises(TypeError, match="uint8"):
        F.equalize(_t(a))
    with pytest.raises(TypeError, match="channel"):
        F.invert(ember.zeros(4, 3, 3))
    with pytest.raises(ValueError, match="bits"):
        F.posterize(_t(_u8((3, 2, 2))), 9)


def _pil_equalize_lut(hist):
    """PIL's ImageOps.equalize, written as its docs describe it."""
    levels = [h for h in hist if h]
    step = (sum(levels) - levels[-1]) // 255 if len(levels) > 1 else 0
    if not step:
        return np.arange(256)
    n, lut = step // 2, []
    for h in hist:
        lut.append(min(n // step, 255))
        n += h
    return np.array(lut)


@pytest.mark.parametrize("low,high", [(0, 256), (40, 90), (7, 9), (5, 6)])
def test_equalize_is_per_channel_histogram_equalisation_exactly_as_pil(low, high):
    a = _u8((3, 17, 13), seed=2, low=low, high=high)
    a[1] = np.sort(a[1], axis=None).reshape(17, 13) // 2  # a skewed channel
    want = np.stack([_pil_equalize_lut(np.bincount(c.ravel(), minlength=256))[c] for c in a])
    got = F.equalize(_t(a))
    assert got.dtype == ember.uint8
    np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(_chw(F.equalize(_pil(a))), want)
    batch = F.equalize(_t(np.stack([a, a[::-1].copy()])))  # leading dims are images
    np.testing.assert_array_equal(batch.numpy()[0], want)


def test_autocontrast_rescales_each_channel_min_to_max():
    a = _u8((3, 8, 10), seed=3, low=30, high=200)
    a[2] = 77  # a flat channel stays as it is
    x = a.astype(np.float32)
    lo, hi = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
    flat = hi == lo
    scale = np.where(flat, 1, 255 / np.where(flat, 1, hi - lo)).astype(np.float32)
    want = np.clip((x - np.where(flat, 0, lo)) * scale, 0, 255).astype(np.uint8)
    got = F.autocontrast(_t(a)).numpy()
    np.testing.assert_array_equal(got, want)
    assert got[:2].min() == 0 and got[:2].max() == 255 and (got[2] == 77).all()
    pil = _chw(F.autocontrast(_pil(a)))
    np.testing.assert_array_equal(pil, _chw(ImageOps.autocontrast(_pil(a))))
    assert np.abs(pil.astype(int) - got).max() <= 1  # PIL rounds its table differently
    f = np.random.default_rng(4).uniform(0.2, 0.6, (3, 5, 5)).astype(np.float32)
    out = F.autocontrast(_t(f)).numpy()
    np.testing.assert_allclose(out.min(axis=(1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(out.max(axis=(1, 2)), 1, atol=1e-6)


def _smooth_oracle(a):
    k = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float64) / 13
    x = a.astype(np.float64)
    out = x.copy()
    h, w = a.shape[-2:]
    inner = sum(k[i, j] * x[..., i:h - 2 + i, j:w - 2 + j] for i in range(3) for j in range(3))
    out[..., 1:-1, 1:-1] = np.round(inner) if a.dtype == np.uint8 else inner
    return out


@pytest.mark.parametrize("factor", [0.0, 0.5, 1.0, 2.0])
def test_adjust_sharpness_blends_with_a_smoothed_image_keeping_borders(factor):
    a = _u8((3, 10, 12), seed=5)
    got = F.adjust_sharpness(_t(a), factor).numpy().astype(int)
    want = np.clip(factor * a + (1 - factor) * _smooth_oracle(a), 0, 255).astype(np.uint8)
    assert np.abs(got - want).max() <= 1  # float32 vs float64 at truncation boundaries
    np.testing.assert_array_equal(got[:, 0], a[:, 0])
    np.testing.assert_array_equal(got[:, :, -1], a[:, :, -1])
    pil = _chw(F.adjust_sharpness(_pil(a), factor)).astype(int)
    np.testing.assert_array_equal(pil, _chw(ImageEnhance.Sharpness(_pil(a)).enhance(factor)))
    assert np.abs(pil - got).max() <= 2 and np.abs(pil - got).mean() < 0.5
    f = np.random.default_rng(6).random((1, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(F.adjust_sharpness(_t(f), 0.0).numpy(),
                               np.clip(_smooth_oracle(f), 0, 1), atol=1e-6)
    small = _t(_u8((3, 2, 5)))
    assert F.adjust_sharpness(small, 3.0) is small
    with pytest.raises(ValueError, match="non-negative"):
        F.adjust_sharpness(small, -1)


def test_brightness_contrast_saturation_on_uint8_tensors_follow_the_blend():
    a = _u8((3, 6, 7), seed=7)
    x = a.astype(np.float32)
    gray = (0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]).astype(np.uint8)[None]

    def blend(ratio, other):
        return np.clip(ratio * x + (1 - ratio) * np.float32(other), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(F.adjust_brightness(_t(a), 1.3).numpy(), blend(1.3, 0))
    np.testing.assert_array_equal(F.adjust_contrast(_t(a), 0.4).numpy(),
                                  blend(0.4, gray.astype(np.float32).mean()))
    np.testing.assert_array_equal(F.adjust_saturation(_t(a), 1.7).numpy(), blend(1.7, gray))
    with pytest.raises(ValueError, match="non-negative"):
        F.adjust_brightness(_t(a), -0.1)


def test_adjust_gamma_tensor_and_pil():
    a = _u8((3, 5, 6), seed=8)
    want = (np.clip(1.2 * (a / 255.0) ** 0.7, 0, 1) * 255.999).astype(np.uint8)
    got = F.adjust_gamma(_t(a), 0.7, gain=1.2)
    assert got.dtype == ember.uint8
    assert np.abs(got.numpy().astype(int) - want).max() <= 1
    pil = _chw(F.adjust_gamma(_pil(a), 0.7, gain=1.2)).astype(int)
    assert np.abs(pil - got.numpy()).max() <= 1
    f = np.random.default_rng(9).random((1, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(F.adjust_gamma(_t(f), 2.0).numpy(), f ** 2, rtol=1e-6)
    with pytest.raises(ValueError, match="Gamma"):
        F.adjust_gamma(_t(f), -1)


def test_adjust_hue_on_tensors_rotates_the_hsv_hue():
    f = np.random.default_rng(10).random((3, 4, 5)).astype(np.float32)
    want = np.empty_like(f)
    for i in range(4):
        for j in range(5):
            h, s, v = colorsys.rgb_to_hsv(*f[:, i, j])
            want[:, i, j] = colorsys.hsv_to_rgb((h + 0.3) % 1.0, s, v)
    np.testing.assert_allclose(F.adjust_hue(_t(f), 0.3).numpy(), want, atol=1e-5)
    batch = F.adjust_hue(_t(np.stack([f, f])), 0.3)
    np.testing.assert_allclose(batch.numpy()[1], want, atol=1e-5)
    u = _u8((3, 4, 5), seed=11)
    out = F.adjust_hue(_t(u), -0.2)
    assert out.dtype == ember.uint8 and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(F.adjust_hue(_t(u), 0.0).numpy(), u)
    gray = _t(u[:1])
    assert F.adjust_hue(gray, 0.2) is gray


# ---------------------------------------------------------------------------------- geometry

def test_five_crop_and_ten_crop_pil_and_tensor():
    a = _u8((3, 7, 9), seed=12)
    crops = F.five_crop(_t(a), [3, 4])
    want = [a[:, :3, :4], a[:, :3, 5:], a[:, 4:, :4], a[:, 4:, 5:], a[:, 2:5, 2:6]]
    for got, w in zip(crops, want):
        np.testing.assert_array_equal(got.numpy(), w)
    for got, w in zip(T.FiveCrop((3, 4))(_pil(a)), want):
        np.testing.assert_array_equal(_chw(got), w)
    ten = T.TenCrop((3, 4))(_t(a))
    assert len(ten) == 10
    np.testing.assert_array_equal(ten[5].numpy(), a[:, :3, ::-1][:, :, :4])
    vten = F.ten_crop(_t(a), 3, vertical_flip=True)
    np.testing.assert_array_equal(vten[5].numpy(), a[:, ::-1][:, :3, :3])
    assert repr(T.TenCrop(3)) == "TenCrop(size=(3, 3), vertical_flip=False)"
    assert repr(T.FiveCrop(3)) == "FiveCrop(size=(3, 3))"
    with pytest.raises(ValueError, match="bigger than input"):
        F.five_crop(_t(a), 8)


def test_perspective_coefficients_and_a_translation():
    start = [[0, 0], [9, 0], [9, 7], [0, 7]]
    end = [[2, 1], [11, 1], [11, 8], [2, 8]]
    a, b, c, d, e, f, g, h = F._perspective_coeffs(start, end)
    for (xe, ye), (xs, ys) in zip(end, start):
        den = g * xe + h * ye + 1
        assert abs((a * xe + b * ye + c) / den - xs) < 1e-4
        assert abs((d * xe + e * ye + f) / den - ys) < 1e-4
    img = _u8((3, 8, 10), seed=13)
    moved = F.perspective(_t(img), start, end, T.InterpolationMode.NEAREST)
    want = np.zeros_like(img)
    want[:, 1:, 2:] = img[:, :-1, :-2]
    np.testing.assert_array_equal(moved.numpy(), want)
    pil = F.perspective(_pil(img), start, end, T.InterpolationMode.NEAREST, fill=[9, 8, 7])
    want[:, 0, :], want[:, :, :2] = [[9], [8], [7]], np.array([9, 8, 7])[:, None, None]
    np.testing.assert_array_equal(_chw(pil), want)
    same = F.perspective(_t(img), start, start, T.InterpolationMode.NEAREST)
    np.testing.assert_array_equal(same.numpy(), img)
    batch = F.perspective(_t(np.stack([img, img])), start, end, fill=5)
    assert batch.shape == (2, 3, 8, 10)
    np.testing.assert_array_equal(batch.numpy()[1], F.perspective(_t(img), start, end,
                                                                  fill=5).numpy())


def test_random_perspective_draws_corners_inside_their_boxes():
    ember.manual_seed(0)
    for _ in range(20):
        start, end = T.RandomPerspective.get_params(20, 10, 0.5)
        assert start == [[0, 0], [19, 0], [19, 9], [0, 9]]
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = end
        assert 0 <= x0 <= 5 and 0 <= y0 <= 2 and 14 <= x1 <= 19 and 0 <= y1 <= 2
        assert 14 <= x2 <= 19 and 7 <= y2 <= 9 and 0 <= x3 <= 5 and 7 <= y3 <= 9
    img = _t(_u8((3, 10, 20)))
    assert T.RandomPerspective(p=0.0)(img) is img
    ember.manual_seed(5)
    a = T.RandomPerspective(p=1.0, fill=3)(img)
    ember.manual_seed(5)
    np.testing.assert_array_equal(a.numpy(), T.RandomPerspective(p=1.0, fill=3)(img).numpy())
    assert T.RandomPerspective(p=1.0)(_pil(_u8((3, 10, 20)))).size == (20, 10)
    assert repr(T.RandomPerspective(p=0.3)) == "RandomPerspective(p=0.3)"


def _grid_sample_oracle(img, shift_x, shift_y, nearest):
    """torch.nn.functional.grid_sample (align_corners=False, zeros) at x + shift_x pixels."""
    c, h, w = img.shape
    out = np.zeros((c, h, w))
    for i in range(h):
        for j in range(w):
            x, y = j + shift_x[i, j], i + shift_y[i, j]
            if nearest:
                pts = [(round(y), round(x), 1.0)]
            else:
                x0, y0 = int(np.floor(x)), int(np.floor(y))
                fx, fy = x - x0, y - y0
                pts = [(y0, x0, (1 - fx) * (1 - fy)), (y0, x0 + 1, fx * (1 - fy)),
                       (y0 + 1, x0, (1 - fx) * fy), (y0 + 1, x0 + 1, fx * fy)]
            for yy, xx, wgt in pts:
                if 0 <= yy < h and 0 <= xx < w:
                    out[:, i, j] += wgt * img[:, yy, xx]
    return out


@pytest.mark.parametrize("nearest", [True, False])
def test_elastic_transform_samples_like_grid_sample(nearest):
    rng = np.random.default_rng(14)
    img = rng.random((2, 6, 7)).astype(np.float32)
    disp = (rng.random((1, 6, 7, 2)).astype(np.float32) - 0.5) * 0.6
    mode = T.InterpolationMode.NEAREST if nearest else T.InterpolationMode.BILINEAR
    got = F.elastic_transform(_t(img), _t(disp), mode).numpy()
    want = _grid_sample_oracle(img, disp[0, :, :, 0] * 7 / 2, disp[0, :, :, 1] * 6 / 2, nearest)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_elastic_transform_shift_fill_and_pil():
    a = _u8((3, 5, 8), seed=15)
    disp = np.zeros((1, 5, 8, 2), np.float32)
    disp[..., 0] = 2 * 2 / 8  # two pixels to the right in the source
    out = F.elastic_transform(_t(a), _t(disp), fill=[1, 2, 3]).numpy()
    np.testing.assert_array_equal(out[:, :, :6], a[:, :, 2:])
    np.testing.assert_array_equal(out[:, :, 6:], np.broadcast_to([[[1]], [[2]], [[3]]],
                                                                 (3, 5, 2)))
    pil = F.elastic_transform(_pil(a), _t(disp))
    assert pil.mode == "RGB"
    np.testing.assert_array_equal(_chw(pil)[:, :, :6], a[:, :, 2:])
    with pytest.raises(ValueError, match="displacement shape"):
        F.elastic_transform(_t(a), _t(disp[:, :4]))
    with pytest.raises(TypeError, match="displacement"):
        F.elastic_transform(_t(a), disp)


def test_elastic_transform_class_is_seeded_and_keeps_shape():
    img = _t(_u8((3, 24, 26), seed=16))
    t = T.ElasticTransform(alpha=20.0, sigma=3.0)
    ember.manual_seed(1)
    a = t(img)
    ember.manual_seed(1)
    b = t(img)
    assert a.shape == img.shape and a.dtype == ember.uint8
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    disp = T.ElasticTransform.get_params([20.0, 20.0], [3.0, 3.0], [24, 26])
    assert disp.shape == (1, 24, 26, 2) and disp.dtype == ember.float32
    assert 0 < np.abs(disp.numpy()).max() < 20.0 / 24
    assert repr(T.ElasticTransform()) == ("ElasticTransform(alpha=[50.0, 50.0], "
                                          "sigma=[5.0, 5.0], interpolation="
                                          "InterpolationMode.BILINEAR, fill=[0.0])")
    with pytest.raises(TypeError, match="fill"):
        T.ElasticTransform(fill="red")


def test_affine_and_rotate_fill_per_channel_on_tensors_and_batches():
    a = _u8((2, 3, 6, 6), seed=17)
    out = F.affine(_t(a), 0, [2, 0], 1.0, 0, fill=[10, 20, 30]).numpy()
    np.testing.assert_array_equal(out[:, :, :, 2:], a[:, :, :, :-2])
    assert (out[:, 0, :, :2] == 10).all() and (out[:, 2, :, :2] == 30).all()
    rot = F.rotate(_t(a), 90).numpy()
    np.testing.assert_array_equal(rot, np.rot90(a, 1, axes=(2, 3)))
    pil = F.affine(_pil(a[0]), 0, [2, 0], 1.0, 0, fill=7)
    assert (_chw(pil)[:, :, :2] == 7).all()


# ------------------------------------------------------------------------- Random* classes

def test_random_photometric_classes_apply_with_probability_p():
    a = _u8((3, 6, 6), seed=18)
    x, img = _t(a), _pil(a)
    cases = [(T.RandomInvert, (), F.invert, "RandomInvert(p={p})"),
             (T.RandomPosterize, (2,), lambda i: F.posterize(i, 2),
              "RandomPosterize(bits=2,p={p})"),
             (T.RandomSolarize, (128,), lambda i: F.solarize(i, 128),
              "RandomSolarize(threshold=128,p={p})"),
             (T.RandomAdjustSharpness, (2.0,), lambda i: F.adjust_sharpness(i, 2.0),
              "RandomAdjustSharpness(sharpness_factor=2.0,p={p})"),
             (T.RandomAutocontrast, (), F.autocontrast, "RandomAutocontrast(p={p})"),
             (T.RandomEqualize, (), F.equalize, "RandomEqualize(p={p})")]
    for cls, args, fn, text in cases:
        np.testing.assert_array_equal(cls(*args, p=1.0)(x).numpy(), fn(x).numpy())
        np.testing.assert_array_equal(_chw(cls(*args, p=1.0)(img)), _chw(fn(img)))
        assert cls(*args, p=0.0)(x) is x
        assert repr(cls(*args, p=0.25)) == text.format(p=0.25)
    ember.manual_seed(3)
    flips = [T.RandomInvert()(x) is x for _ in range(200)]
    assert 60 < sum(flips) < 140


def test_linear_transformation_flattens_centres_and_multiplies():
    rng = np.random.default_rng(19)
    m = rng.random((12, 12)).astype(np.float32)
    mean = rng.random(12).astype(np.float32)
    x = rng.random((2, 3, 2, 2)).astype(np.float32)
    t = T.LinearTransformation(_t(m), _t(mean))
    want = ((x.reshape(2, 12) - mean) @ m).reshape(2, 3, 2, 2)
    np.testing.assert_allclose(t(_t(x)).numpy(), want, rtol=1e-5)
    assert repr(t).startswith("LinearTransformation(transformation_matrix=[[")
    with pytest.raises(ValueError, match="square"):
        T.LinearTransformation(_t(m[:4]), _t(mean))
    with pytest.raises(ValueError, match="same length"):
        T.LinearTransformation(_t(m), _t(mean[:5]))
    with pytest.raises(ValueError, match="dtype"):
        T.LinearTransformation(_t(m), _t(mean.astype(np.float64)))
    with pytest.raises(ValueError, match="incompatible"):
        t(_t(x[:, :2]))
