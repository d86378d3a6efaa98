"""AutoAugment, RandAugment, TrivialAugmentWide and AugMix: the op table's documented effects,
the published policies, torchvision's magnitude bins and draw order, reproducibility under
ember.manual_seed, shape/dtype preservation and the reprs."""
import math

import numpy as np
import pytest

import ember
from ember.vision import transforms as T
from ember.vision.transforms import autoaugment as AA
from ember.vision.transforms import functional as F
from ember.vision.transforms.transforms import _randint

Image = pytest.importorskip("PIL.Image")
from PIL import ImageEnhance, ImageOps  # noqa: E402

NEAREST = T.InterpolationMode.NEAREST


def _u8(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _t(a):
    return ember.from_numpy(np.ascontiguousarray(a))


def _chw(img):
    a = np.asarray(img)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


# --------------------------------------------------------------------------------- the op table

def test_color_ops_have_their_pil_effect():
    a = _u8((3, 10, 12))
    img = Image.fromarray(a.transpose(1, 2, 0))
    cases = {"Brightness": ImageEnhance.Brightness(img).enhance(1.3),
             "Color": ImageEnhance.Color(img).enhance(1.3),
             "Contrast": ImageEnhance.Contrast(img).enhance(1.3),
             "Sharpness": ImageEnhance.Sharpness(img).enhance(1.3),
             "AutoContrast": ImageOps.autocontrast(img), "Equalize": ImageOps.equalize(img),
             "Invert": ImageOps.invert(img), "Identity": img}
    for name, want in cases.items():
        got = AA._apply_op(img, name, 0.3, NEAREST, None)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=name)
    np.testing.assert_array_equal(np.asarray(AA._apply_op(img, "Posterize", 3.0, NEAREST, None)),
                                  np.asarray(ImageOps.posterize(img, 3)))
    np.testing.assert_array_equal(np.asarray(AA._apply_op(img, "Solarize", 99.5, NEAREST, None)),
                                  np.asarray(ImageOps.solarize(img, 99.5)))
    with pytest.raises(ValueError, match="not recognized"):
        AA._apply_op(img, "Blur", 1.0, NEAREST, None)


def test_color_ops_on_uint8_tensors():
    a = _u8((3, 8, 9), seed=1)
    x = _t(a)
    exact = {"Posterize": (4.0, a & 0xF0), "Solarize": (128.0, np.where(a >= 128, 255 - a, a)),
             "Invert": (0.0, 255 - a), "Identity": (0.0, a),
             "Brightness": (-0.5, (a.astype(np.float32) * 0.5).astype(np.uint8))}
    for name, (magnitude, want) in exact.items():
        got = AA._apply_op(x, name, magnitude, NEAREST, None)
        assert got.dtype == ember.uint8 and got.shape == x.shape
        np.testing.assert_array_equal(got.numpy(), want, err_msg=name)


def test_geometric_ops_move_pixels_as_documented():
    a = _u8((3, 8, 10), seed=2)
    x = _t(a)
    right = AA._apply_op(x, "TranslateX", 3.7, NEAREST, [0.0] * 3).numpy()  # int(3.7) pixels
    np.testing.assert_array_equal(right[:, :, 3:], a[:, :, :-3])
    assert (right[:, :, :3] == 0).all()
    up = AA._apply_op(x, "TranslateY", -2.2, NEAREST, [7.0, 8.0, 9.0]).numpy()
    np.testing.assert_array_equal(up[:, :-2], a[:, 2:])
    assert (up[:, -2:] == np.array([7, 8, 9])[:, None, None]).all()
    square = _t(_u8((1, 9, 9), seed=3))
    turned = AA._apply_op(square, "Rotate", 90.0, NEAREST, None).numpy()
    np.testing.assert_array_equal(turned, np.rot90(square.numpy(), 1, axes=(1, 2)))
    for name, shear in (("ShearX", [math.degrees(math.atan(0.3)), 0.0]),
                        ("ShearY", [0.0, math.degrees(math.atan(0.3))])):
        want = F.affine(x, 0.0, [0, 0], 1.0, shear, NEAREST, None, center=[0, 0])
        np.testing.assert_array_equal(AA._apply_op(x, name, 0.3, NEAREST, None).numpy(),
                                      want.numpy())
    # ShearX about the top-left corner keeps row 0 and moves lower rows sideways
    sheared = AA._apply_op(_t(a), "ShearX", 0.3, NEAREST, None).numpy()
    np.testing.assert_array_equal(sheared[:, 0, :], a[:, 0, :])
    assert not np.array_equal(sheared[:, -1, :], a[:, -1, :])


def test_magnitude_bins_match_torchvision():
    table = T.AutoAugment()._augmentation_space(10, (32, 64))
    assert list(table) == ["ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate",
                           "Brightness", "Color", "Contrast", "Sharpness", "Posterize",
                           "Solarize", "AutoContrast", "Equalize", "Invert"]
    np.testing.assert_allclose(table["ShearX"][0], np.linspace(0, 0.3, 10), rtol=1e-6)
    np.testing.assert_allclose(table["TranslateX"][0][-1], 150 / 331 * 64, rtol=1e-6)
    np.testing.assert_allclose(table["TranslateY"][0][-1], 150 / 331 * 32, rtol=1e-6)
    assert table["Posterize"][0].tolist() == [8, 8, 7, 7, 6, 6, 5, 5, 4, 4]
    assert table["Solarize"][0][[0, -1]].tolist() == [255.0, 0.0]
    assert [table[k][1] for k in ("Rotate", "Posterize", "Solarize", "Equalize")] == \
        [True, False, False, False]
    rand = T.RandAugment()._augmentation_space(31, (32, 32))
    assert list(rand)[0] == "Identity" and len(rand) == 14 and "Invert" not in rand
    assert rand["Posterize"][0][[0, 15, 30]].tolist() == [8, 6, 4]
    wide = T.TrivialAugmentWide()._augmentation_space(31)
    assert len(wide) == 14 and wide["Rotate"][0][-1] == 135.0
    assert wide["Posterize"][0][[0, -1]].tolist() == [8, 2]
    np.testing.assert_allclose(wide["ShearX"][0][-1], 0.99, rtol=1e-6)
    mix = T.AugMix()._augmentation_space(10, (30, 60))
    assert len(mix) == 13 and mix["Posterize"][0].tolist() == [4, 4, 3, 3, 2, 2, 1, 1, 0, 0]
    np.testing.assert_allclose(mix["TranslateX"][0][-1], 20.0, rtol=1e-6)
    assert len(T.AugMix(all_ops=False)._augmentation_space(10, (8, 8))) == 9


def test_published_policies():
    first = {T.AutoAugmentPolicy.IMAGENET: (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
             T.AutoAugmentPolicy.CIFAR10: (("Invert", 0.1, None), ("Contrast", 0.2, 6)),
             T.AutoAugmentPolicy.SVHN: (("ShearX", 0.9, 4), ("Invert", 0.2, None))}
    for policy, head in first.items():
        t = T.AutoAugment(policy)
        table = t._augmentation_space(10, (8, 8))
        assert len(t.policies) == 25 and t.policies[0] == head
        for sub in t.policies:
            assert len(sub) == 2
            for name, p, bin_index in sub:
                assert name in table and 0.0 <= p <= 1.0
                assert (bin_index is None) == (table[name][0] is None)
                assert bin_index is None or 0 <= bin_index <= 9
    assert T.AutoAugmentPolicy("cifar10") is T.AutoAugmentPolicy.CIFAR10
    with pytest.raises(ValueError):
        T.AutoAugment("imagenet")


# ------------------------------------------------------------------------------- the policies

def test_auto_augment_applies_the_drawn_sub_policy(monkeypatch):
    a = _u8((3, 12, 14), seed=4)
    x = _t(a)
    t = T.AutoAugment(T.AutoAugmentPolicy.CIFAR10)
    # sub-policy 1: Rotate (bin 2), TranslateX (bin 9); sign draw 0 means negative
    params = (1, ember.tensor([0.0, 0.0]), ember.tensor([0, 1]))
    monkeypatch.setattr(T.AutoAugment, "get_params", staticmethod(lambda n: params))
    rotate = -float(np.float32(np.linspace(0, 30, 10)[2]))
    shift = int(np.float32(150 / 331 * 14))
    want = F.affine(F.rotate(x, rotate, NEAREST), 0.0, [shift, 0], 1.0, [0.0, 0.0], NEAREST)
    np.testing.assert_array_equal(t(x).numpy(), want.numpy())
    skip = (1, ember.tensor([0.9, 0.9]), ember.tensor([0, 1]))  # above both probabilities
    monkeypatch.setattr(T.AutoAugment, "get_params", staticmethod(lambda n: skip))
    assert t(x) is x


@pytest.mark.parametrize("policy", list(T.AutoAugmentPolicy))
def test_auto_augment_keeps_shape_and_dtype_and_follows_the_seed(policy):
    x = _t(_u8((3, 16, 16), seed=5))
    img = Image.fromarray(_u8((16, 16, 3), seed=6))
    t = T.AutoAugment(policy, fill=0)
    outs = []
    for _ in range(2):
        ember.manual_seed(7)
        outs.append([t(x).numpy() for _ in range(8)] + [np.asarray(t(img)) for _ in range(8)])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    assert all(o.shape == (3, 16, 16) and o.dtype == np.uint8 for o in outs[0][:8])
    assert all(o.shape == (16, 16, 3) for o in outs[0][8:])
    assert any(not np.array_equal(o, x.numpy()) for o in outs[0][:8])


def test_rand_augment_draws_ops_and_signs_in_torchvision_order():
    x = _t(_u8((3, 12, 12), seed=8))
    t = T.RandAugment(num_ops=3, magnitude=5, num_magnitude_bins=11)
    table = t._augmentation_space(11, (12, 12))
    ember.manual_seed(9)
    got = t(x)
    ember.manual_seed(9)
    want = x
    for _ in range(3):
        name = list(table)[_randint(0, len(table))]
        magnitudes, signed = table[name]
        magnitude = 0.0 if magnitudes is None else float(magnitudes[5])
        if signed and _randint(0, 2):
            magnitude = -magnitude
        want = AA._apply_op(want, name, magnitude, NEAREST, None)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert T.RandAugment(num_ops=0)(x) is x
    img = Image.fromarray(_u8((12, 12, 3)))
    assert T.RandAugment()(img).size == (12, 12)


def test_trivial_augment_wide_draws_one_op_and_a_bin():
    x = _t(_u8((3, 12, 12), seed=10))
    t = T.TrivialAugmentWide(num_magnitude_bins=5)
    table = t._augmentation_space(5)
    for seed in range(6):
        ember.manual_seed(seed)
        got = t(x)
        ember.manual_seed(seed)
        name = list(table)[_randint(0, len(table))]
        magnitudes, signed = table[name]
        magnitude = 0.0 if magnitudes is None else float(magnitudes[_randint(0, 5)])
        if signed and _randint(0, 2):
            magnitude = -magnitude
        want = AA._apply_op(x, name, magnitude, NEAREST, None)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert got.dtype == ember.uint8


def test_aug_mix_mixes_chains_with_dirichlet_weights(monkeypatch):
    a = _u8((3, 10, 10), seed=11)
    x = _t(a)
    ember.manual_seed(12)
    out = T.AugMix()(x)
    assert out.shape == x.shape and out.dtype == ember.uint8
    ember.manual_seed(12)
    np.testing.assert_array_equal(T.AugMix()(x).numpy(), out.numpy())
    batch = T.AugMix(severity=5, chain_depth=2)(_t(np.stack([a, a])))
    assert batch.shape == (2, 3, 10, 10)
    img = T.AugMix()(Image.fromarray(a.transpose(1, 2, 0)))
    assert img.size == (10, 10) and img.mode == "RGB"
    # all weight on the original image gives it back exactly
    keep = T.AugMix(mixture_width=2)
    monkeypatch.setattr(keep, "_sample_dirichlet",  # torchvision's hook: (rows, k) -> weights
                        lambda params: ember.zeros(params.shape).index_fill(-1, ember.tensor([0]),
                                                                            1.0))
    np.testing.assert_array_equal(keep(x).numpy(), a)
    with pytest.raises(ValueError, match="severity"):
        T.AugMix(severity=11)


def test_fill_reaches_uncovered_pixels_for_pil_and_tensors():
    a = _u8((3, 8, 8), seed=13)
    img = Image.fromarray(a.transpose(1, 2, 0))
    t = T.AutoAugment(T.AutoAugmentPolicy.SVHN, fill=128)
    fill_t = t._fill(_t(a))
    assert fill_t == [128.0] * 3 and t._fill(img) == 128
    shifted = AA._apply_op(img, "TranslateX", 3.0, NEAREST, 128)
    assert (np.asarray(shifted)[:, :3] == 128).all()
    shifted = AA._apply_op(_t(a), "TranslateX", 3.0, NEAREST, fill_t)
    assert (shifted.numpy()[:, :, :3] == 128).all()


def test_reprs_match_torchvision():
    assert repr(T.AutoAugment()) == "AutoAugment(policy=AutoAugmentPolicy.IMAGENET, fill=None)"
    assert repr(T.RandAugment()) == ("RandAugment(num_ops=2, magnitude=9, "
                                     "num_magnitude_bins=31, "
                                     "interpolation=InterpolationMode.NEAREST, fill=None)")
    assert repr(T.TrivialAugmentWide(fill=[1, 2, 3])) == (
        "TrivialAugmentWide(num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST, "
        "fill=[1, 2, 3])")
    assert repr(T.AugMix()) == ("AugMix(severity=3, mixture_width=3, chain_depth=-1, "
                                "alpha=1.0, all_ops=True, "
                                "interpolation=InterpolationMode.BILINEAR, fill=None)")
    pipeline = T.Compose([T.RandAugment(), T.ToTensor()])
    assert "RandAugment(num_ops=2" in repr(pipeline)
