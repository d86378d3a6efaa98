"""ember.vision.transforms against NumPy/Pillow computations of the same results."""
import numpy as np
import pytest

import ember
from ember.vision import transforms as T
from ember.vision.transforms import functional as F

PIL = pytest.importorskip("PIL")
from PIL import Image, ImageEnhance  # noqa: E402


def _rgb(h=6, w=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_to_tensor_pil_to_tensor_and_back():
    arr = _rgb()
    img = Image.fromarray(arr)
    x = T.ToTensor()(img)
    assert x.shape == (3, 6, 8) and x.dtype == ember.float32
    np.testing.assert_allclose(x.numpy(), arr.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    p = T.PILToTensor()(img)
    assert p.dtype == ember.uint8
    np.testing.assert_array_equal(p.numpy(), arr.transpose(2, 0, 1))
    back = T.ToPILImage()(x)
    assert back.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(back), arr)
    gray = T.ToPILImage()(ember.tensor([[0.0, 1.0]]).unsqueeze(0))
    assert gray.mode == "L" and np.asarray(gray).tolist() == [[0, 255]]
    np.testing.assert_array_equal(T.ToTensor()(arr).numpy(), x.numpy())


def test_normalize_and_compose():
    x = ember.rand(3, 4, 4)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.3, 0.4)
    out = T.Normalize(mean, std)(x)
    ref = (x.numpy() - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5)
    y = x.clone()
    assert T.Normalize(mean, std, inplace=True)(y) is y
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5)
    with pytest.raises(ValueError, match="std"):
        T.Normalize((0,), (0,))(ember.rand(1, 2, 2))
    with pytest.raises(TypeError, match="float"):
        T.Normalize((0,), (1,))(ember.zeros(1, 2, 2, dtype=ember.uint8))
    pipeline = T.Compose([T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)])
    np.testing.assert_allclose(pipeline(Image.fromarray(_rgb())).numpy(),
                               _rgb().transpose(2, 0, 1) / 127.5 - 1, atol=1e-6)
    assert "Normalize" in repr(pipeline)


def test_resize_center_crop_pad():
    img = Image.fromarray(_rgb(6, 12))
    assert T.Resize(3)(img).size == (6, 3)  # the smaller edge (height 6) becomes 3
    assert T.Resize((4, 5))(img).size == (5, 4)
    np.testing.assert_array_equal(np.asarray(T.Resize((4, 5))(img)),
                                  np.asarray(img.resize((5, 4), Image.BILINEAR)))
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(4)(img)), _rgb(6, 12)[1:5, 4:8])
    big = np.asarray(T.CenterCrop((8, 12))(img))
    assert big.shape == (8, 12, 3) and big[0].sum() == 0 and big[-1].sum() == 0
    padded = np.asarray(T.Pad((1, 2))(img))
    np.testing.assert_array_equal(padded, np.pad(_rgb(6, 12), ((2, 2), (1, 1), (0, 0))))
    refl = np.asarray(T.Pad(2, padding_mode="reflect")(img))
    np.testing.assert_array_equal(refl, np.pad(_rgb(6, 12), ((2, 2), (2, 2), (0, 0)), "reflect"))
    x = ember.from_numpy(_rgb(6, 12).transpose(2, 0, 1).copy())
    np.testing.assert_array_equal(F.center_crop(x, 4).numpy(),
                                  _rgb(6, 12).transpose(2, 0, 1)[:, 1:5, 4:8])
    assert F.pad(x, [1, 2, 3, 4]).shape == (3, 12, 16)


def test_random_crop_padding_and_pad_if_needed():
    arr = _rgb(5, 5)
    img = Image.fromarray(arr)
    ember.manual_seed(0)
    out = np.asarray(T.RandomCrop(5, padding=2)(img))
    padded = np.pad(arr, ((2, 2), (2, 2), (0, 0)))
    windows = [padded[i:i + 5, j:j + 5] for i in range(5) for j in range(5)]
    assert any(np.array_equal(out, w) for w in windows)
    assert T.RandomCrop(8, pad_if_needed=True)(img).size == (8, 8)
    with pytest.raises(ValueError, match="larger than input"):
        T.RandomCrop(8)(img)
    ember.manual_seed(3)
    a = np.asarray(T.RandomCrop(3)(img))
    ember.manual_seed(3)
    assert np.array_equal(a, np.asarray(T.RandomCrop(3)(img)))


def test_flips_pil_and_tensor():
    arr = _rgb()
    img = Image.fromarray(arr)
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(p=1)(img)), arr[:, ::-1])
    np.testing.assert_array_equal(np.asarray(T.RandomVerticalFlip(p=1)(img)), arr[::-1])
    assert T.RandomHorizontalFlip(p=0)(img) is img
    x = ember.arange(6.).reshape(1, 2, 3)
    assert F.hflip(x).tolist() == [[[2, 1, 0], [5, 4, 3]]]
    assert F.vflip(x).tolist() == [[[3, 4, 5], [0, 1, 2]]]


def test_random_resized_crop_and_rotation():
    img = Image.fromarray(_rgb(20, 30))
    out = T.RandomResizedCrop(8, scale=(0.5, 1.0))(img)
    assert out.size == (8, 8)
    i, j, h, w = T.RandomResizedCrop.get_params(img, (0.5, 1.0), (3 / 4, 4 / 3))
    assert 0 <= i <= 20 - h and 0 <= j <= 30 - w and 0.5 * 600 * 0.8 <= h * w <= 600
    square = Image.fromarray(np.tril(np.full((9, 9), 255, np.uint8)))
    rot = np.asarray(T.RandomRotation((90, 90))(square))
    np.testing.assert_array_equal(rot, np.asarray(square.rotate(90)))
    assert T.RandomRotation(30, expand=True)(img).size[0] >= 30


def test_color_jitter_grayscale():
    img = Image.fromarray(_rgb())
    out = T.ColorJitter(brightness=(0.5, 0.5))(img)
    np.testing.assert_array_equal(np.asarray(out),
                                  np.asarray(ImageEnhance.Brightness(img).enhance(0.5)))
    assert T.ColorJitter(0.3, 0.3, 0.3, 0.1)(img).size == img.size
    with pytest.raises(ValueError):
        T.ColorJitter(hue=0.7)
    g = T.Grayscale()(img)
    assert g.mode == "L"
    np.testing.assert_array_equal(np.asarray(g), np.asarray(img.convert("L")))
    assert T.Grayscale(3)(img).mode == "RGB"
    x = ember.from_numpy(_rgb().transpose(2, 0, 1).astype(np.float32) / 255)
    ref = (0.2989 * x.numpy()[0] + 0.587 * x.numpy()[1] + 0.114 * x.numpy()[2])[None]
    np.testing.assert_allclose(F.rgb_to_grayscale(x).numpy(), ref, rtol=1e-5)
    bright = F.adjust_brightness(x, 2.0).numpy()
    np.testing.assert_allclose(bright, np.clip(2 * x.numpy(), 0, 1), rtol=1e-6)


def test_lambda_random_apply_erasing_convert_dtype():
    assert T.Lambda(lambda v: v + 1)(1) == 2
    with pytest.raises(TypeError):
        T.Lambda(5)
    assert T.RandomApply([T.Lambda(lambda v: v * 10)], p=1.0)(2) == 20
    assert T.RandomApply([T.Lambda(lambda v: v * 10)], p=0.0)(2) == 2
    x = ember.ones(3, 10, 10)
    erased = T.RandomErasing(p=1.0, value=0)(x)
    zeros = (erased.numpy() == 0)
    assert zeros.any() and x.numpy().min() == 1  # not in place by default
    rows, cols = np.nonzero(zeros[0])
    assert zeros[0, rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # a rectangle
    assert T.RandomErasing(p=0.0)(x) is x
    u8 = ember.tensor([0, 128, 255], dtype=ember.uint8).reshape(1, 1, 3)
    f = T.ConvertImageDtype(ember.float32)(u8)
    np.testing.assert_allclose(f.numpy().ravel(), [0, 128 / 255, 1], rtol=1e-6)
    assert T.ConvertImageDtype(ember.uint8)(f).tolist() == u8.tolist()


def test_random_transforms_follow_manual_seed():
    img = Image.fromarray(_rgb(16, 16))
    t = T.Compose([T.RandomResizedCrop(8), T.RandomHorizontalFlip(), T.ToTensor()])
    ember.manual_seed(11)
    a = t(img)
    ember.manual_seed(11)
    b = t(img)
    assert np.array_equal(a.numpy(), b.numpy())
