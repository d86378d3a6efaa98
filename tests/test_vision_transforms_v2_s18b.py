"""transforms.v2 additions against NumPy oracles: multi-crop windows, erased regions, perspective
and elastic warps of boxes and points (corners moved by hand), JPEG round trips through PIL,
temporal subsampling indices, key point and box maintenance, the AutoAugment family's
handling of samples, and the per-type kernels."""
import io

import numpy as np
import pytest

import ember
from ember.vision.transforms import v2 as E
from ember.vision.transforms.v2 import functional as F
from ember.vision.tv_tensors import BoundingBoxes, Image, KeyPoints, Mask, Video

_RNG = np.random.default_rng(0)
_UINT8 = _RNG.integers(0, 256, (3, 12, 16), dtype=np.uint8)
_FLOAT = _RNG.random((3, 12, 16), dtype=np.float32)
_BOXES = np.array([[2.0, 3.0, 10.0, 9.0], [0.0, 0.0, 16.0, 12.0], [5.5, 1.5, 7.0, 11.0]])
_POINTS = np.array([[1.0, 2.0], [12.5, 7.25], [15.0, 11.0]])


def _homography(startpoints, endpoints) -> np.ndarray:
    """The 3x3 map taking each start point to its end point (solved directly)."""
    rows, rhs = [], []
    for (xs, ys), (xe, ye) in zip(startpoints, endpoints):
        rows += [[xs, ys, 1, 0, 0, 0, -xe * xs, -xe * ys], [0, 0, 0, xs, ys, 1, -ye * xs, -ye * ys]]
        rhs += [xe, ye]
    return np.append(np.linalg.solve(np.array(rows, float), np.array(rhs, float)), 1).reshape(3, 3)


def _apply_h(h, xy):
    out = np.c_[xy, np.ones(len(xy))] @ h.T
    return out[:, :2] / out[:, 2:]


def _enclosing(corners_moved: np.ndarray, canvas) -> np.ndarray:
    c = corners_moved.reshape(-1, 4, 2)
    out = np.c_[c.min(1), c.max(1)]
    return np.clip(out, 0, [canvas[1], canvas[0], canvas[1], canvas[0]])


def _corners(boxes):
    return boxes[:, [[0, 1], [2, 1], [2, 3], [0, 3]]].reshape(-1, 2)


def test_five_and_ten_crop_windows():
    image = Image(ember.tensor(_UINT8))
    crops = F.five_crop(image, [5, 7])
    windows = [(0, 0), (0, 9), (7, 0), (7, 9), (4, 4)]  # tl, tr, bl, br, centre (rounded)
    for crop, (top, left) in zip(crops, windows):
        assert type(crop) is Image
        np.testing.assert_array_equal(crop.numpy(), _UINT8[:, top:top + 5, left:left + 7])
    ten = E.TenCrop([5, 7], vertical_flip=True)(image)
    assert len(ten) == 10
    for crop, (top, left) in zip(ten[5:], windows):
        np.testing.assert_array_equal(crop.numpy(), _UINT8[:, ::-1][:, top:top + 5, left:left + 7])
    with pytest.raises(TypeError):
        E.FiveCrop(5)(image, Mask(ember.zeros(12, 16)))


def test_erase_region_and_random_erasing():
    value = ember.tensor(_RNG.random((3, 4, 5), dtype=np.float32))
    out = F.erase(Image(ember.tensor(_FLOAT)), 2, 3, 4, 5, value)
    expected = _FLOAT.copy()
    expected[:, 2:6, 3:8] = value.numpy()
    assert type(out) is Image
    np.testing.assert_array_equal(out.numpy(), expected)
    ember.manual_seed(0)
    with pytest.warns(UserWarning, match="passing through"):
        image, boxes = E.RandomErasing(p=1.0, value=(1, 2, 3))(
            Image(ember.tensor(_FLOAT)), BoundingBoxes(_BOXES, format="XYXY",
                                                       canvas_size=(12, 16)))
    changed = np.nonzero((image.numpy() != _FLOAT).any(0))
    assert changed[0].size > 0
    region = image.numpy()[:, changed[0].min():changed[0].max() + 1,
                           changed[1].min():changed[1].max() + 1]
    np.testing.assert_array_equal(region, np.broadcast_to([[[1]], [[2]], [[3]]], region.shape))
    np.testing.assert_array_equal(boxes.numpy(), _BOXES)  # passed through


def test_perspective_of_boxes_and_points_moves_corners():
    start = [[0, 0], [15, 0], [15, 11], [0, 11]]
    end = [[2, 1], [14, 0], [13, 11], [1, 9]]
    h = _homography(start, end)
    boxes = BoundingBoxes(_BOXES, format="XYXY", canvas_size=(12, 16))
    out = F.perspective(boxes, start, end)
    np.testing.assert_allclose(out.numpy(), _enclosing(_apply_h(h, _corners(_BOXES)), (12, 16)),
                               atol=1e-4)
    points = F.perspective(KeyPoints(_POINTS, canvas_size=(12, 16)), start, end)
    np.testing.assert_allclose(points.numpy(), _apply_h(h, _POINTS), atol=1e-4)
    cxcywh = F.convert_bounding_box_format(boxes, new_format="CXCYWH")
    back = F.convert_bounding_box_format(F.perspective(cxcywh, start, end), new_format="XYXY")
    np.testing.assert_allclose(back.numpy(), out.numpy(), atol=1e-9)


def test_random_perspective_moves_image_and_boxes_alike():
    image = np.zeros((1, 12, 16), np.float32)
    image[0, 4, 6] = 1.0
    ember.manual_seed(3)
    out_image, out_points = E.RandomPerspective(0.5, p=1.0, interpolation="nearest")(
        Image(ember.tensor(image)), KeyPoints([[6.0, 4.0]], canvas_size=(12, 16)))
    ys, xs = np.nonzero(out_image.numpy()[0] > 0.5)
    x, y = out_points.numpy()[0]
    assert np.hypot(xs.mean() - x, ys.mean() - y) < 1.5


def test_elastic_of_boxes_and_points_uses_the_field_at_their_pixels():
    disp = _RNG.random((1, 12, 16, 2)) * 0.2 - 0.1
    displacement = ember.tensor(disp.astype(np.float32))
    d = displacement.numpy().astype(np.float64)

    def moved(xy, cut):
        ix = np.clip(cut(xy[:, 0]), 0, 15).astype(int)
        iy = np.clip(cut(xy[:, 1]), 0, 11).astype(int)
        return np.c_[ix - d[0, iy, ix, 0] * 8, iy - d[0, iy, ix, 1] * 6]
    boxes = F.elastic(BoundingBoxes(_BOXES, format="XYXY", canvas_size=(12, 16)), displacement)
    np.testing.assert_allclose(boxes.numpy(), _enclosing(moved(_corners(_BOXES), np.ceil),
                                                         (12, 16)), atol=1e-9)
    points = F.elastic(KeyPoints(_POINTS, canvas_size=(12, 16)), displacement)
    np.testing.assert_allclose(points.numpy(), moved(_POINTS, np.trunc), atol=1e-9)
    mask = F.elastic(Mask(ember.tensor(_UINT8[:1])), displacement)
    assert type(mask) is Mask and set(np.unique(mask.numpy())) <= set(np.unique(_UINT8[:1])) | {0}


def test_elastic_transform_zero_alpha_is_identity():
    ember.manual_seed(0)
    image, boxes = E.ElasticTransform(alpha=0.0, sigma=1.0)(
        Image(ember.tensor(_FLOAT)), BoundingBoxes(_BOXES, format="XYXY", canvas_size=(12, 16)))
    np.testing.assert_allclose(image.numpy(), _FLOAT, atol=1e-6)
    # corners are read at whole pixels (rounded up, kept inside the canvas's pixels)
    np.testing.assert_allclose(boxes.numpy(), np.ceil(_BOXES).clip(0, [15, 11, 15, 11]))


def test_jpeg_round_trip_through_pil():
    from PIL import Image as PILImage
    buffer = io.BytesIO()
    PILImage.fromarray(_UINT8.transpose(1, 2, 0)).save(buffer, format="JPEG", quality=40)
    expected = np.asarray(PILImage.open(buffer)).transpose(2, 0, 1)
    video = Video(ember.tensor(np.stack([_UINT8, _UINT8])))
    out = F.jpeg(video, 40)
    assert type(out) is Video
    np.testing.assert_array_equal(out.numpy()[1], expected)
    ember.manual_seed(0)
    np.testing.assert_array_equal(E.JPEG(40)(ember.tensor(_UINT8)).numpy(), expected)
    with pytest.raises(ValueError):
        E.JPEG((50, 20))


@pytest.mark.parametrize("frames,samples", [(10, 4), (7, 3), (16, 5), (5, 5)])
def test_uniform_temporal_subsample_indices(frames, samples):
    video = Video(ember.arange(frames * 2 * 2 * 2, dtype=ember.float32).reshape(frames, 2, 2, 2))
    out = E.UniformTemporalSubsample(samples)(video)
    indices = np.floor(np.linspace(0, frames - 1, samples) + 1e-6).astype(int)
    assert type(out) is Video
    np.testing.assert_array_equal(out.numpy(), video.numpy()[indices])


def test_gaussian_noise_ranges():
    ember.manual_seed(0)
    out = F.gaussian_noise(ember.tensor(_FLOAT), mean=0.5, sigma=0.5)
    assert out.numpy().min() >= 0 and out.numpy().max() <= 1
    out = F.gaussian_noise(ember.tensor(_UINT8), mean=0.1, sigma=0.0)
    np.testing.assert_array_equal(out.numpy(), np.clip(_UINT8.astype(int) + 25, 0, 255))
    assert out.dtype == ember.uint8
    with pytest.raises(ValueError):
        F.gaussian_noise(ember.tensor(_FLOAT), sigma=-1.0)


def test_keypoint_clamping_and_sanitizing():
    pts = np.array([[-1.0, 3.0], [20.0, 5.0], [4.0, 12.0]])
    out = E.ClampKeyPoints()(KeyPoints(pts, canvas_size=(12, 16)))
    np.testing.assert_array_equal(out.numpy(), [[0, 3], [15, 5], [4, 11]])
    groups = np.array([[[1, 2], [3, 4]], [[-1, 2], [3, 4]], [[15.5, 11.5], [0, 0]]])
    sample = {"points": KeyPoints(groups, canvas_size=(12, 16)), "labels": ember.tensor([7, 8, 9])}
    out = E.SanitizeKeyPoints(labels_getter="default")(sample)
    np.testing.assert_array_equal(out["points"].numpy(), groups[[0, 2]])
    np.testing.assert_array_equal(out["labels"].numpy(), [7, 9])
    kept, valid = F.sanitize_keypoints(ember.tensor(groups), canvas_size=(12, 16))
    np.testing.assert_array_equal(valid.numpy(), [True, False, True])


def test_sanitize_bounding_boxes_functional():
    boxes = np.array([[0, 0, 5, 5], [3, 3, 3.5, 9], [-1, 0, 4, 4], [10, 10, 17, 11]], float)
    kept, valid = F.sanitize_bounding_boxes(ember.tensor(boxes), "XYXY", (12, 16))
    np.testing.assert_array_equal(valid.numpy(), [True, False, False, False])
    kept, valid = F.sanitize_bounding_boxes(BoundingBoxes(boxes, format="XYXY",
                                                          canvas_size=(12, 18)))
    assert type(kept) is BoundingBoxes
    np.testing.assert_array_equal(kept.numpy(), boxes[[0, 3]])


def test_sample_queries():
    flat = [Image(ember.zeros(3, 2, 2)), ember.zeros(2), KeyPoints([[0, 0]], canvas_size=(2, 2))]
    assert E.has_any(flat, Mask, Image) and not E.has_any(flat, Mask, Video)
    assert E.has_all(flat, Image, KeyPoints) and not E.has_all(flat, Image, Mask)
    assert E.check_type(flat[1], (F.is_pure_tensor,)) and not E.check_type(flat[0], (Mask,))
    assert E.get_keypoints(flat) is flat[2]


def test_auto_augment_family_on_samples():
    for t in [E.AutoAugment(), E.RandAugment(), E.TrivialAugmentWide(), E.AugMix()]:
        ember.manual_seed(0)
        image, label = t(Image(ember.tensor(_UINT8)), 3)
        assert type(image) is Image and image.dtype == ember.uint8 and label == 3
        assert tuple(image.shape) == _UINT8.shape
        with pytest.raises(TypeError, match="not supported"):
            t(Image(ember.tensor(_UINT8)), Mask(ember.zeros(12, 16)))
    np.testing.assert_array_equal(E.RandAugment(num_ops=0)(ember.tensor(_UINT8)).numpy(), _UINT8)


def test_augmix_mixes_with_the_original():
    t = E.AugMix(mixture_width=2, chain_depth=1)
    t._sample_dirichlet = lambda params: ember.tensor([[1.0, 0.0]] if params.shape[-1] == 2
                                                      else [[0.5, 0.5]])
    np.testing.assert_allclose(t(ember.tensor(_FLOAT)).numpy(), _FLOAT, atol=1e-6)


def test_color_and_conversion_transforms():
    gray = Image(ember.tensor(_UINT8[:1]))
    rgb = E.RGB()(gray)
    assert type(rgb) is Image
    np.testing.assert_array_equal(rgb.numpy(), np.repeat(_UINT8[:1], 3, 0))
    out = E.ConvertImageDtype(ember.float32)(ember.tensor(_UINT8))
    np.testing.assert_allclose(out.numpy(), _UINT8 / 255.0, rtol=1e-6)
    out = F.posterize(ember.tensor(_FLOAT), 2)
    np.testing.assert_allclose(out.numpy(), np.clip(np.floor(_FLOAT * 4), 0, 3) / 4)
    equalized = F.equalize(ember.tensor(_FLOAT))
    via_uint8 = F.equalize(F.to_dtype(ember.tensor(_FLOAT), ember.uint8, scale=True))
    np.testing.assert_allclose(equalized.numpy(), via_uint8.numpy() / 255.0, rtol=1e-6)
    from PIL import Image as PILImage
    tensor = E.ToTensor()(PILImage.fromarray(_UINT8.transpose(1, 2, 0)))
    np.testing.assert_allclose(tensor.numpy(), _UINT8 / 255.0, rtol=1e-6)


def test_linear_transformation_vs_numpy():
    matrix = _RNG.random((12, 12), dtype=np.float32)
    mean = _RNG.random(12, dtype=np.float32)
    image = _RNG.random((2, 3, 2, 2), dtype=np.float32)
    out = E.LinearTransformation(ember.tensor(matrix), ember.tensor(mean))(Video(image))
    assert type(out) is Video
    np.testing.assert_allclose(out.numpy(), ((image.reshape(2, 12) - mean) @ matrix)
                               .reshape(image.shape), rtol=1e-5)


def test_per_type_kernels_match_the_functionals():
    boxes = BoundingBoxes(_BOXES, format="XYXY", canvas_size=(12, 16))
    plain_boxes, plain_points = ember.tensor(_BOXES), ember.tensor(_POINTS)
    out, size = F.resize_bounding_boxes(plain_boxes, (12, 16), [6, 8], format="XYXY")
    assert size == (6, 8)
    np.testing.assert_allclose(out.numpy(), F.resize(boxes, [6, 8]).numpy())
    out, size = F.crop_keypoints(plain_points, 1, 2, 8, 9)
    np.testing.assert_allclose(out.numpy(), _POINTS - [2, 1])
    np.testing.assert_allclose(F.horizontal_flip_bounding_boxes(plain_boxes, "XYXY",
                                                                (12, 16)).numpy(),
                               np.c_[16 - _BOXES[:, 2], _BOXES[:, 1], 16 - _BOXES[:, 0],
                                     _BOXES[:, 3]])
    out = F.affine_bounding_boxes(plain_boxes, "XYXY", (12, 16), 0.0, [1.0, 2.0], 1.0, [0, 0])
    np.testing.assert_allclose(out.numpy(), np.clip(_BOXES + [1, 2, 1, 2], 0, [16, 12, 16, 12]))
    mask = ember.tensor(_UINT8[:1])
    np.testing.assert_array_equal(F.resize_mask(mask, [6, 8]).numpy(),
                                  F.resize(Mask(mask), [6, 8]).numpy())
    np.testing.assert_array_equal(F.pad_image(ember.tensor(_UINT8), [1]).numpy(),
                                  np.pad(_UINT8, ((0, 0), (1, 1), (1, 1))))
    assert F.get_size_bounding_boxes(boxes) == [12, 16]
    assert F.get_num_channels(ember.tensor(_UINT8)) == 3
    assert F.get_num_frames(Video(ember.zeros(5, 3, 2, 2))) == 5
    assert F.get_image_size(ember.tensor(_UINT8)) == [16, 12]
