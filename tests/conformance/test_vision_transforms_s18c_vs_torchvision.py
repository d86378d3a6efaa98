"""ember's image transforms against real torchvision 0.28 where they used to deviate: the
uint8/float colour kernels of v1 and v2 (each with its own arithmetic), tensor warps through
``grid_sample`` (affine, rotate, perspective; fill by the extra mask channel), AugMix's
Dirichlet draws and chains, key point kernels (flips as pixel indices), rotated boxes with
``expand``, and integer boxes and points (truncated)."""
import math

import numpy as np
import pytest

import ember
from ember.vision import tv_tensors as etv
from ember.vision.transforms import autoaugment as EA
from ember.vision.transforms import functional as E1
from ember.vision.transforms import v2 as E
from ember.vision.transforms.v2 import functional as E2

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tv():
    import importlib

    from tests.conformance.real_torchvision import real_torchvision
    module = real_torchvision()
    importlib.import_module("torchvision.transforms.v2")
    return module


_RNG = np.random.default_rng(7)
_UINT8 = _RNG.integers(0, 256, (3, 17, 23), dtype=np.uint8)
_FLOAT = _RNG.random((3, 17, 23), dtype=np.float32)
_H, _W = _UINT8.shape[-2:]
_DISP = (_RNG.random((1, _H, _W, 2), dtype=np.float32) - 0.5) * 0.3


def _np(x):
    return np.asarray(x.numpy())


def _assert_matches(got, expected, name):
    got, expected = _np(got), _np(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype, name
    if got.dtype == np.uint8:
        np.testing.assert_array_equal(got, expected, err_msg=name)
    else:  # float32 sums in another order: an ulp or two
        np.testing.assert_allclose(got, expected, atol=2e-6, rtol=0, err_msg=name)


_COLOUR = [("adjust_brightness", (1.37,)), ("adjust_brightness", (0.61,)),
           ("adjust_contrast", (1.8000000119,)), ("adjust_contrast", (0.35,)),
           ("adjust_saturation", (1.4000000059,)), ("adjust_saturation", (0.2,)),
           ("adjust_sharpness", (1.9,)), ("adjust_sharpness", (0.3,)),
           ("adjust_hue", (0.23,)), ("adjust_hue", (-0.41,)), ("adjust_gamma", (0.7, 1.1)),
           ("autocontrast", ()), ("rgb_to_grayscale", ()), ("invert", ()),
           ("posterize", (3,)), ("solarize", (None,)), ("equalize", ())]


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("image", [_UINT8, _FLOAT], ids=["uint8", "float"])
def test_colour_kernels_on_tensors(tv, version, image):
    theirs = tv.transforms.functional if version == "v1" else tv.transforms.v2.functional
    ours = E1 if version == "v1" else E2
    for name, args in _COLOUR:
        if image.dtype != np.uint8 and name in ("posterize", "equalize") and version == "v1":
            continue
        if name == "solarize":
            args = (100,) if image.dtype == np.uint8 else (0.4,)
        expected = getattr(theirs, name)(torch.tensor(image), *args)
        got = getattr(ours, name)(ember.tensor(image), *args)
        _assert_matches(got, expected, f"{version} {name}{args}")


def test_colour_kernels_on_pil_keep_pil(tv):
    from PIL import Image
    pil = Image.fromarray(_UINT8.transpose(1, 2, 0))
    for name, args in _COLOUR[:10]:
        expected = getattr(tv.transforms.v2.functional, name)(pil, *args)
        got = getattr(E2, name)(pil, *args)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected), err_msg=name)


_WARPS = [
    ("affine", (17.0, [2, -3], 1.15, [12.0, -5.0]), {}),
    ("affine", (0.0, [0, 0], 1.0, [math.degrees(math.atan(0.27)), 0.0]), {"center": [0, 0]}),
    ("rotate", (33.0,), {}),
    ("rotate", (-71.0,), {"expand": True}),
    ("rotate", (90.0,), {"expand": True}),
    ("rotate", (25.0,), {"center": [3, 14]}),
    ("perspective", ([[0, 0], [22, 0], [22, 16], [0, 16]], [[2, 1], [20, 3], [21, 15], [1, 13]]),
     {}),
]


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("fill", [None, 0, [10.0, 200.0, 30.0]], ids=["none", "0", "rgb"])
def test_tensor_warps_sample_as_grid_sample(tv, version, interpolation, fill):
    theirs = tv.transforms.functional if version == "v1" else tv.transforms.v2.functional
    ours = E1 if version == "v1" else E2
    mode_t = tv.transforms.InterpolationMode(interpolation)
    mode_e = E1.InterpolationMode(interpolation)
    for image in (_UINT8, _FLOAT):
        for name, args, kwargs in _WARPS:
            f = fill if image.dtype == np.uint8 or fill is None else (
                0.5 if fill == 0 else [0.1, 0.9, 0.3])
            expected = getattr(theirs, name)(torch.tensor(image), *args,
                                             interpolation=mode_t, fill=f, **kwargs)
            got = getattr(ours, name)(ember.tensor(image), *args, interpolation=mode_e, fill=f,
                                      **kwargs)
            _assert_matches(got, expected, f"{version} {name}{args} {kwargs} {image.dtype}")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_elastic_on_tensors(tv, version):
    theirs = tv.transforms.functional if version == "v1" else tv.transforms.v2.functional
    ours = E1 if version == "v1" else E2
    name = "elastic_transform" if version == "v1" else "elastic"
    for image in (_UINT8, _FLOAT):
        for interpolation in ("nearest", "bilinear"):
            for fill in (None, [10.0, 200.0, 30.0]):
                expected = getattr(theirs, name)(
                    torch.tensor(image), torch.tensor(_DISP),
                    tv.transforms.InterpolationMode(interpolation), fill)
                got = getattr(ours, name)(ember.tensor(image), ember.tensor(_DISP),
                                          E1.InterpolationMode(interpolation), fill)
                _assert_matches(got, expected, f"{version} {interpolation} {fill} "
                                               f"{image.dtype}")


def test_masks_and_pil_warps(tv):
    from PIL import Image
    mask = (_UINT8[0] > 128).astype(np.uint8)
    pil = Image.fromarray(_UINT8.transpose(1, 2, 0))
    for name, args, kwargs in _WARPS:
        expected = getattr(tv.transforms.v2.functional, name)(
            tv.tv_tensors.Mask(torch.tensor(mask)), *args, **kwargs)
        got = getattr(E2, name)(etv.Mask(ember.tensor(mask)), *args, **kwargs)
        assert type(got) is etv.Mask
        _assert_matches(got, expected, name)
        expected = getattr(tv.transforms.v2.functional, name)(pil, *args, **kwargs)
        got = getattr(E2, name)(pil, *args, **kwargs)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected), err_msg=name)


@pytest.mark.parametrize("version,image", [("v1", _UINT8), ("v2", _UINT8), ("v2", _FLOAT)],
                         ids=["v1-uint8", "v2-uint8", "v2-float"])  # v1 posterizes uint8 only
def test_augmix_matches_torchvision(tv, version, image):
    theirs = (tv.transforms if version == "v1" else tv.transforms.v2).AugMix
    ours = EA.AugMix if version == "v1" else E.AugMix
    for seed in range(6):
        torch.manual_seed(seed)
        expected = theirs(severity=4)(torch.tensor(image))
        ember.manual_seed(seed)
        got = ours(severity=4)(ember.tensor(image))
        _assert_matches(got, expected, f"{version} seed {seed}")


def test_sample_dirichlet_is_torchs_draw():
    for seed in range(3):
        torch.manual_seed(seed)
        ember.manual_seed(seed)
        expected = torch._sample_dirichlet(torch.tensor([[1.0, 1.0, 1.0]]).expand(2, -1))
        got = ember._sample_dirichlet(ember.tensor([[1.0, 1.0, 1.0]]).expand(2, -1))
        np.testing.assert_array_equal(_np(got), _np(expected))


@pytest.mark.parametrize("name", ["AutoAugment", "RandAugment", "TrivialAugmentWide"])
def test_v1_auto_augment_on_uint8_tensors(tv, name):
    for seed in range(8):
        torch.manual_seed(seed)
        expected = getattr(tv.transforms, name)()(torch.tensor(_UINT8))
        ember.manual_seed(seed)
        got = getattr(EA, name)()(ember.tensor(_UINT8))
        _assert_matches(got, expected, f"{name} seed {seed}")


_POINTS = np.array([[1.0, 2.0], [12.5, 7.25], [22.0, 16.0], [5.0, 11.0], [0.0, 0.0],
                    [-3.0, 20.0]], np.float32)
_BOXES = np.array([[2, 3, 12, 15], [10, 1, 22, 9], [0, 0, 23, 17], [14, 12, 15, 13]],
                  np.float32)
_GEOMETRY = [
    ("horizontal_flip", (), {}), ("vertical_flip", (), {}), ("pad", ([1, 2, 3, 4],), {}),
    ("crop", (2, 3, 10, 12), {}), ("resize", ([9, 31],), {}), ("center_crop", ([10, 11],), {}),
    ("center_crop", ([20, 26],), {}), ("resized_crop", (2, 3, 10, 12, [7, 9]), {}),
    ("rotate", (30.0,), {}), ("rotate", (30.0,), {"expand": True}),
    ("rotate", (-77.0,), {"expand": True}), ("rotate", (30.0,), {"center": [3, 4]}),
    ("affine", (20.0, [2, -3], 1.2, [10.0, 5.0]), {}),
    ("perspective", ([[0, 0], [22, 0], [22, 16], [0, 16]],
                     [[2, 1], [20, 3], [21, 15], [1, 13]]), {}),
    ("elastic", ("disp",), {}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.int64], ids=["float", "int"])
@pytest.mark.parametrize("kind", ["points", "boxes"])
def test_box_and_point_kernels(tv, dtype, kind):
    T = tv.tv_tensors
    for name, args, kwargs in _GEOMETRY:
        outs = []
        for lib, tvt, F in ((torch, T, tv.transforms.v2.functional), (ember, etv, E2)):
            call_args = [lib.tensor(_DISP) if a == "disp" else a for a in args]
            if kind == "points":
                inp = tvt.KeyPoints(lib.tensor(_POINTS.astype(dtype)), canvas_size=(_H, _W))
            else:
                inp = tvt.BoundingBoxes(lib.tensor(_BOXES.astype(dtype)), format="XYXY",
                                        canvas_size=(_H, _W))
            outs.append(getattr(F, name)(inp, *call_args, **kwargs))
        expected, got = outs
        assert tuple(got.canvas_size) == tuple(expected.canvas_size), name
        if dtype == np.int64:  # truncated as torchvision casts: exact
            np.testing.assert_array_equal(_np(got), _np(expected), err_msg=name)
        else:
            np.testing.assert_allclose(_np(got), _np(expected), atol=2e-6, rtol=0,
                                       err_msg=name)


def test_rotate_bounding_boxes_with_expand(tv):
    TF = tv.transforms.v2.functional
    fmt_t, fmt_e = tv.tv_tensors.BoundingBoxFormat.XYXY, etv.BoundingBoxFormat.XYXY
    for angle in (30.0, -77.0, 90.0, 181.0):
        for center in (None, [4.0, 5.0]):
            expected, size = TF.rotate_bounding_boxes(torch.tensor(_BOXES), fmt_t, (_H, _W),
                                                      angle, expand=True, center=center)
            got, got_size = E2.rotate_bounding_boxes(ember.tensor(_BOXES), fmt_e, (_H, _W),
                                                     angle, expand=True, center=center)
            assert tuple(got_size) == tuple(size), angle
            np.testing.assert_allclose(_np(got), _np(expected), atol=2e-6, rtol=0)
