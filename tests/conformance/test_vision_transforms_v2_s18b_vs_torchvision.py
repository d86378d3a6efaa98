"""ember's transforms.v2 additions (AutoAugment family, perspective and elastic warps, erasing,
multi-crops, noise, temporal subsampling, key point maintenance, the per-type kernels) against
real torchvision on the same seeded inputs: images (uint8 and float), boxes, masks, points."""
import numpy as np
import pytest

import ember
from ember.vision import tv_tensors as etv
from ember.vision.transforms import v2 as E
from ember.vision.transforms.v2 import functional as EF

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tv():
    import importlib

    from tests.conformance.real_torchvision import real_torchvision
    module = real_torchvision()
    importlib.import_module("torchvision.transforms.v2")  # not imported by the package
    return module


_RNG = np.random.default_rng(0)
_UINT8 = _RNG.integers(0, 256, (3, 16, 20), dtype=np.uint8)
_FLOAT = _RNG.random((3, 16, 20), dtype=np.float32)
_BOXES = np.array([[2, 3, 12, 15], [10, 1, 18, 9], [0, 0, 20, 16], [14, 12, 15, 13]],
                  np.float32)
_POINTS = np.array([[1.0, 2.0], [12.5, 7.25], [19.0, 15.0], [5.0, 11.0]], np.float32)
_MASK = (_RNG.random((16, 20)) > 0.5).astype(np.uint8)


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _sample(lib, tvt, image):
    return (tvt.Image(lib.tensor(image)),
            tvt.BoundingBoxes(lib.tensor(_BOXES), format="XYXY", canvas_size=(16, 20)),
            tvt.KeyPoints(lib.tensor(_POINTS), canvas_size=(16, 20)),
            tvt.Mask(lib.tensor(_MASK)))


def _run(theirs, ours, tv, image, seed):
    torch.manual_seed(seed)
    expected = theirs(*_sample(torch, tv.tv_tensors, image))
    ember.manual_seed(seed)
    got = ours(*_sample(ember, etv, image))
    return expected, got


def _assert_same(expected, got, atol=1e-5):
    for e, g in zip(expected, got):
        assert type(g).__name__ == type(e).__name__
        assert tuple(g.shape) == tuple(e.shape)
        np.testing.assert_allclose(_np(g).astype(np.float64), _np(e).astype(np.float64),
                                   atol=atol, rtol=0)
        if hasattr(e, "canvas_size"):
            assert tuple(g.canvas_size) == tuple(e.canvas_size)


@pytest.mark.parametrize("name", ["AutoAugment", "RandAugment", "TrivialAugmentWide"])
def test_auto_augment_float_images_draw_as_torchvision(tv, name):
    for seed in range(12):
        torch.manual_seed(seed)
        expected = getattr(tv.transforms.v2, name)()(torch.tensor(_FLOAT))
        ember.manual_seed(seed)
        got = getattr(E, name)()(ember.tensor(_FLOAT))
        np.testing.assert_allclose(_np(got), _np(expected), atol=1e-5, err_msg=str(seed))


@pytest.mark.parametrize("name", ["AutoAugment", "RandAugment", "TrivialAugmentWide"])
def test_auto_augment_uint8_images(tv, name):
    # the same ops are drawn, and v2's uint8 colour and warp kernels round alike
    for seed in range(8):
        torch.manual_seed(seed)
        expected = getattr(tv.transforms.v2, name)()(tv.tv_tensors.Image(torch.tensor(_UINT8)))
        ember.manual_seed(seed)
        got = getattr(E, name)()(etv.Image(ember.tensor(_UINT8)))
        assert type(got) is etv.Image
        np.testing.assert_array_equal(_np(got), _np(expected), err_msg=str(seed))


def test_auto_augment_refuses_boxes(tv):
    with pytest.raises(TypeError, match="not supported"):
        E.RandAugment()(*_sample(ember, etv, _UINT8)[:2])


def test_augmix_draws_and_mixing(tv):
    # the Dirichlet weights are torch's draws (ember._sample_dirichlet); a stand-in op
    # records what was drawn, so the chains, magnitudes and mixing are compared exactly
    theirs, ours = tv.transforms.v2.AugMix(severity=5), E.AugMix(severity=5)
    drawn_t, drawn_e = [], []

    def stand_in(drawn):
        def apply(image, name, magnitude, *args, **kwargs):
            drawn.append((name, round(magnitude, 4)))
            return image * 0.9 + 0.01 * len(name)
        return apply
    theirs._apply_image_or_video_transform = stand_in(drawn_t)
    ours._apply = stand_in(drawn_e)
    for seed in range(6):
        torch.manual_seed(seed)
        expected = theirs(torch.tensor(_FLOAT))
        ember.manual_seed(seed)
        got = ours(ember.tensor(_FLOAT))
        assert drawn_e == drawn_t
        np.testing.assert_allclose(_np(got), _np(expected), atol=1e-6, err_msg=str(seed))


def test_random_perspective(tv):
    for seed in range(4):
        expected, got = _run(tv.transforms.v2.RandomPerspective(0.6, p=1.0),
                             E.RandomPerspective(0.6, p=1.0), tv, _FLOAT, seed)
        _assert_same(expected, got)  # grid_sample's float32 to an ulp or two


def test_elastic_transform(tv):
    for seed in range(3):
        expected, got = _run(tv.transforms.v2.ElasticTransform(alpha=(30.0, 20.0), sigma=3.0),
                             E.ElasticTransform(alpha=(30.0, 20.0), sigma=3.0), tv, _FLOAT, seed)
        _assert_same(expected, got)


@pytest.mark.parametrize("image,value", [(_UINT8, 0), (_UINT8, (1, 2, 3)), (_FLOAT, 0),
                                         (_FLOAT, (1, 2, 3)), (_FLOAT, "random")],
                         ids=["uint8-0", "uint8-rgb", "float-0", "float-rgb", "float-random"])
def test_random_erasing(tv, image, value):
    for seed in range(5):
        expected, got = _run(tv.transforms.v2.RandomErasing(p=0.7, value=value),
                             E.RandomErasing(p=0.7, value=value), tv, image, seed)
        _assert_same(expected, got)


@pytest.mark.parametrize("image", [_UINT8, _FLOAT], ids=["uint8", "float"])
def test_gaussian_noise(tv, image):
    for clip in (True, False):
        torch.manual_seed(1)
        expected = tv.transforms.v2.GaussianNoise(0.1, 0.2, clip)(torch.tensor(image))
        ember.manual_seed(1)
        got = E.GaussianNoise(0.1, 0.2, clip)(ember.tensor(image))
        assert got.dtype == ember.uint8 if image.dtype == np.uint8 else ember.float32
        np.testing.assert_allclose(_np(got), _np(expected), atol=1e-6)


def test_five_and_ten_crop(tv):
    T = tv.transforms.v2
    for theirs, ours in [(T.FiveCrop(7), E.FiveCrop(7)), (T.TenCrop((5, 9), True),
                                                            E.TenCrop((5, 9), True))]:
        expected = theirs(tv.tv_tensors.Image(torch.tensor(_UINT8)))
        got = ours(etv.Image(ember.tensor(_UINT8)))
        _assert_same(expected, got, atol=0)
        with pytest.raises(TypeError):
            ours(*_sample(ember, etv, _UINT8))


def test_simple_transforms(tv):
    T = tv.transforms.v2
    video = _RNG.random((7, 3, 4, 5), dtype=np.float32)
    gray = _UINT8[:1]
    matrix = _RNG.random((60, 60), dtype=np.float32)
    mean = _RNG.random(60, dtype=np.float32)
    small = _FLOAT[:, :4, :5]
    cases = [
        (T.UniformTemporalSubsample(4), E.UniformTemporalSubsample(4),
         lambda lib, tvt: tvt.Video(lib.tensor(video))),
        (T.RGB(), E.RGB(), lambda lib, tvt: tvt.Image(lib.tensor(gray))),
        (T.ConvertImageDtype(), E.ConvertImageDtype(), lambda lib, tvt: lib.tensor(_UINT8)),
        (T.LinearTransformation(torch.tensor(matrix), torch.tensor(mean)),
         E.LinearTransformation(ember.tensor(matrix), ember.tensor(mean)),
         lambda lib, tvt: tvt.Image(lib.tensor(small))),
        (T.ClampKeyPoints(), E.ClampKeyPoints(),
         lambda lib, tvt: tvt.KeyPoints(lib.tensor(_POINTS * 1.3 - 3), canvas_size=(16, 20))),
    ]
    for theirs, ours, make in cases:
        expected, got = theirs(make(torch, tv.tv_tensors)), ours(make(ember, etv))
        _assert_same([expected], [got])


def test_to_tensor_and_jpeg_parameters(tv):
    from PIL import Image
    pil = Image.fromarray(_UINT8.transpose(1, 2, 0))
    _assert_same([tv.transforms.v2.ToTensor()(pil)], [E.ToTensor()(pil)])
    torch.manual_seed(3)
    expected = tv.transforms.v2.JPEG((5, 95)).make_params([])
    ember.manual_seed(3)
    assert E.JPEG((5, 95)).make_params([]) == expected


def test_sanitize_keypoints(tv):
    groups = np.array([[[1, 2], [3, 4]], [[-1, 2], [3, 4]], [[19, 15], [20, 3]],
                       [[0, 0], [19.5, 15.5]]], np.float32)

    def sample(lib, tvt):
        return {"points": tvt.KeyPoints(lib.tensor(groups), canvas_size=(16, 20)),
                "labels": lib.tensor([1, 2, 3, 4])}
    expected = tv.transforms.v2.SanitizeKeyPoints(labels_getter="default")(
        sample(torch, tv.tv_tensors))
    got = E.SanitizeKeyPoints(labels_getter="default")(sample(ember, etv))
    _assert_same([expected["points"], expected["labels"]], [got["points"], got["labels"]])


def test_functional_box_and_point_kernels(tv):
    TF = tv.transforms.v2.functional
    fmt_t, fmt_e = tv.tv_tensors.BoundingBoxFormat.XYXY, etv.BoundingBoxFormat.XYXY
    boxes_t, boxes_e = torch.tensor(_BOXES), ember.tensor(_BOXES)
    cs = (16, 20)
    coefficients = [1.1, 0.1, -2.0, 0.05, 0.9, 1.0, 0.002, -0.001]
    disp = (_RNG.random((1, 16, 20, 2), dtype=np.float32) - 0.5) * 0.3
    cases = [
        ("horizontal_flip_bounding_boxes", (cs,), {}),
        ("vertical_flip_bounding_boxes", (cs,), {}),
        ("crop_bounding_boxes", (2, 3, 10, 12), {}),
        ("center_crop_bounding_boxes", (cs, [10, 12]), {}),
        ("resized_crop_bounding_boxes", (2, 3, 10, 12, [20, 24]), {}),
        ("pad_bounding_boxes", (cs, [1, 2, 3, 4]), {}),
        ("rotate_bounding_boxes", (cs, 30.0), {}),
        ("affine_bounding_boxes", (cs, 15.0, [1.0, -2.0], 0.9, [5.0, 3.0]), {}),
        ("perspective_bounding_boxes", (cs, None, None), {"coefficients": coefficients}),
    ]
    for name, args, kwargs in cases:
        expected = getattr(TF, name)(boxes_t, fmt_t, *args, **kwargs)
        got = getattr(EF, name)(boxes_e, fmt_e, *args, **kwargs)
        if isinstance(expected, tuple):
            assert tuple(got[1]) == tuple(expected[1]), name
            expected, got = expected[0], got[0]
        np.testing.assert_allclose(_np(got), _np(expected), atol=1e-5, err_msg=name)
    expected, size = TF.resize_bounding_boxes(boxes_t, cs, [8, 10])
    got, got_size = EF.resize_bounding_boxes(boxes_e, cs, [8, 10])
    np.testing.assert_allclose(_np(got), _np(expected), atol=1e-5)
    assert tuple(got_size) == tuple(size)
    expected = TF.elastic_bounding_boxes(boxes_t, fmt_t, cs, torch.tensor(disp))
    got = EF.elastic_bounding_boxes(boxes_e, fmt_e, cs, ember.tensor(disp))
    np.testing.assert_allclose(_np(got), _np(expected), atol=1e-5)

    points_t, points_e = torch.tensor(_POINTS), ember.tensor(_POINTS)
    point_cases = [
        ("crop_keypoints", (2, 3, 10, 12)),
        ("center_crop_keypoints", (cs, [10, 12])),
        ("resized_crop_keypoints", (2, 3, 10, 12, [20, 24])),
        ("pad_keypoints", (cs, [1, 2, 3, 4])),
        ("resize_keypoints", ([8, 10], cs)),
        ("perspective_keypoints", (cs, None, None, coefficients)),
        ("elastic_keypoints", (cs, "disp")),
        ("clamp_keypoints", (cs,)),
    ]
    for name, args in point_cases:
        expected = getattr(TF, name)(points_t, *[torch.tensor(disp) if a == "disp" else a
                                                 for a in args])
        got = getattr(EF, name)(points_e, *[ember.tensor(disp) if a == "disp" else a
                                            for a in args])
        if isinstance(expected, tuple):
            assert tuple(got[1]) == tuple(expected[1]), name
            expected, got = expected[0], got[0]
        np.testing.assert_allclose(_np(got), _np(expected), atol=1e-5, err_msg=name)

    kept_t, valid_t = TF.sanitize_bounding_boxes(boxes_t * 1.5 - 4, fmt_t, cs)
    kept_e, valid_e = EF.sanitize_bounding_boxes(boxes_e * 1.5 - 4, fmt_e, cs)
    np.testing.assert_array_equal(_np(valid_e), _np(valid_t))
    np.testing.assert_allclose(_np(kept_e), _np(kept_t))


def test_functional_image_kernels(tv):
    TF = tv.transforms.v2.functional
    image_t, image_e = torch.tensor(_FLOAT), ember.tensor(_FLOAT)
    video = _RNG.random((9, 3, 4, 5), dtype=np.float32)
    cases = [
        ("erase_image", (2, 3, 4, 5, "v")),
        ("five_crop_image", ([5, 6],)),
        ("ten_crop_video", ([5, 6], True)),
        ("posterize_image", (3,)),
        ("equalize_image", ()),
        ("adjust_gamma_image", (0.7, 1.1)),
        ("grayscale_to_rgb_image", ()),
        ("permute_channels_image", ([2, 0, 1],)),
        ("crop_mask", (2, 3, 4, 5)),
        ("horizontal_flip_video", ()),
    ]
    value = _RNG.random((3, 4, 5), dtype=np.float32)
    for name, args in cases:
        lib_args_t = [torch.tensor(value) if a == "v" else a for a in args]
        lib_args_e = [ember.tensor(value) if a == "v" else a for a in args]
        inp_t, inp_e = (image_t[:1], image_e[:1]) if "grayscale" in name else (image_t, image_e)
        expected = getattr(TF, name)(inp_t, *lib_args_t)
        got = getattr(EF, name)(inp_e, *lib_args_e)
        for e, g in zip(expected if isinstance(expected, tuple) else [expected],
                        got if isinstance(got, tuple) else [got]):
            np.testing.assert_allclose(_np(g), _np(e), atol=1e-5, err_msg=name)
    expected = TF.uniform_temporal_subsample_video(torch.tensor(video), 4)
    got = EF.uniform_temporal_subsample_video(ember.tensor(video), 4)
    np.testing.assert_array_equal(_np(got), _np(expected))
    assert EF.get_num_frames(ember.tensor(video)) == TF.get_num_frames(torch.tensor(video))
    assert EF.get_num_channels(image_e) == TF.get_num_channels(image_t)
    assert EF.get_size_image(image_e) == TF.get_size_image(image_t)
    assert EF.get_image_size(image_e) == TF.get_image_size(image_t)
    assert EF.is_pure_tensor(image_e) and not EF.is_pure_tensor(etv.Image(image_e))


def test_sample_queries(tv):
    T = tv.transforms.v2
    flat_t = list(_sample(torch, tv.tv_tensors, _UINT8))
    flat_e = list(_sample(ember, etv, _UINT8))
    for types_t, types_e in [((tv.tv_tensors.Mask,), (etv.Mask,)),
                             ((tv.tv_tensors.Video,), (etv.Video,)),
                             ((tv.tv_tensors.Image, tv.tv_tensors.KeyPoints),
                              (etv.Image, etv.KeyPoints))]:
        assert E.has_any(flat_e, *types_e) == T.has_any(flat_t, *types_t)
        assert E.has_all(flat_e, *types_e) == T.has_all(flat_t, *types_t)
    np.testing.assert_array_equal(_np(E.get_keypoints(flat_e)), _np(T.get_keypoints(flat_t)))
    assert E.check_type(flat_e[0], (EF.is_pure_tensor,)) == T.check_type(
        flat_t[0], (T.functional.is_pure_tensor,))
