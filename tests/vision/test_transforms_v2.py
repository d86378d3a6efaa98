"""ember.vision.transforms.v2: on plain tensors and PIL images, v2 gives v1's results for the
same parameters (and, seeded alike, draws v1's parameters); boxes and masks move with the image
(NumPy geometry as the oracle); samples may be any pytree."""
import math

import numpy as np
import pytest

import ember
from ember.vision import tv_tensors
from ember.vision.transforms import functional as F1
from ember.vision.transforms import transforms as T1
from ember.vision.transforms import v2
from ember.vision.transforms.v2 import functional as F2
from ember.vision.tv_tensors import BoundingBoxes, BoundingBoxFormat, Image, KeyPoints, Mask

PIL = pytest.importorskip("PIL.Image")


@pytest.fixture(autouse=True)
def dispatch_installed():
    """TVTensors need ``__torch_function__`` dispatch, which other tests undo
    (ember.overrides._uninstall); it is undone again afterwards, so that the rest of the run
    sees the plain functions."""
    ember.overrides._install()
    yield
    ember.overrides._uninstall()


def _rgb(h=12, w=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _same(a, b, atol=0):
    if isinstance(a, ember.Tensor):
        assert type(a) is type(b) and a.dtype == b.dtype
        np.testing.assert_allclose(a.numpy().astype(np.int64), b.numpy().astype(np.int64),
                                   atol=atol, rtol=0)
    else:
        assert a.mode == b.mode and a.size == b.size
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


FIXED = [
    ("hflip", F2.horizontal_flip, F1.hflip, ()),
    ("vflip", F2.vertical_flip, F1.vflip, ()),
    ("resize", F2.resize, F1.resize, ([7, 9],)),
    ("resize_short", F2.resize, F1.resize, (8,)),
    ("crop", F2.crop, F1.crop, (2, 3, 6, 7)),
    ("center_crop", F2.center_crop, F1.center_crop, ([5, 20],)),
    ("resized_crop", F2.resized_crop, F1.resized_crop, (1, 2, 8, 9, [5, 6])),
    ("pad", F2.pad, F1.pad, ([1, 2, 3, 4], 7)),
    ("pad_reflect", F2.pad, F1.pad, ([2, 1], 0, "reflect")),
    ("rotate", F2.rotate, F1.rotate, (30.0,)),
    ("rotate_expand", F2.rotate, F1.rotate, (30.0, F1.InterpolationMode.BILINEAR, True)),
    ("affine", F2.affine, F1.affine, (15.0, [2, -1], 1.1, [5.0, 3.0])),
    ("brightness", F2.adjust_brightness, F1.adjust_brightness, (1.3,)),
    ("contrast", F2.adjust_contrast, F1.adjust_contrast, (0.6,)),
    ("saturation", F2.adjust_saturation, F1.adjust_saturation, (1.5,)),
    ("hue", F2.adjust_hue, F1.adjust_hue, (0.2,)),
    ("grayscale", F2.rgb_to_grayscale, F1.rgb_to_grayscale, (3,)),
]


# torchvision's v2 colour kernels round differently from v1's on tensors (one level at most
# for uint8; tests/conformance compares each with torchvision's own)
_V2_ARITHMETIC = {"contrast", "saturation", "grayscale"}


@pytest.mark.parametrize("name,v2_fn,v1_fn,args", FIXED, ids=[c[0] for c in FIXED])
def test_functional_matches_v1_on_pil_tensor_and_image(name, v2_fn, v1_fn, args):
    arr = _rgb()
    pil = PIL.fromarray(arr)
    tensor = F1.pil_to_tensor(pil)
    _same(v2_fn(pil, *args), v1_fn(pil, *args))
    atol = 1 if name in _V2_ARITHMETIC else 0
    _same(v2_fn(tensor, *args), v1_fn(tensor, *args), atol)
    out = v2_fn(Image(tensor), *args)
    assert type(out) is Image
    _same(out.as_subclass(ember.Tensor), v1_fn(tensor, *args), atol)


def test_normalize_and_to_dtype_match_v1():
    x = F1.pil_to_tensor(PIL.fromarray(_rgb()))
    scaled = F2.to_dtype(x, ember.float32, scale=True)
    # v2 multiplies by 1/255 (v1 divides by 255): the same to the last bit or one below it
    _same(scaled, x.float() * (1.0 / 255))
    np.testing.assert_allclose(scaled.numpy(), F1.convert_image_dtype(x, ember.float32).numpy(),
                               rtol=1e-7)
    _same(F2.to_dtype(x, ember.float32), x.float())
    _same(F2.normalize(scaled, [0.4, 0.5, 0.6], [0.2, 0.3, 0.4]),
          F1.normalize(scaled, [0.4, 0.5, 0.6], [0.2, 0.3, 0.4]))
    with pytest.raises(TypeError):
        F2.normalize(PIL.fromarray(_rgb()), [0.5], [0.5])
    with pytest.raises(TypeError):
        F2.adjust_brightness(Mask(ember.zeros(3, 3)), 1.2)


RANDOM = [
    (lambda: v2.RandomResizedCrop(8), lambda: T1.RandomResizedCrop(8)),
    (lambda: v2.RandomCrop(10, padding=2), lambda: T1.RandomCrop(10, padding=2)),
    (lambda: v2.RandomCrop(14, pad_if_needed=True), lambda: T1.RandomCrop(14, pad_if_needed=True)),
    (lambda: v2.RandomHorizontalFlip(), lambda: T1.RandomHorizontalFlip()),
    (lambda: v2.RandomVerticalFlip(), lambda: T1.RandomVerticalFlip()),
    (lambda: v2.ColorJitter(0.4, 0.4, 0.4, 0.1), lambda: T1.ColorJitter(0.4, 0.4, 0.4, 0.1)),
    (lambda: v2.RandomRotation(40), lambda: T1.RandomRotation(40)),
    (lambda: v2.RandomAffine(20, (0.2, 0.1), (0.8, 1.2), 10),
     lambda: T1.RandomAffine(20, (0.2, 0.1), (0.8, 1.2), 10)),
    (lambda: v2.RandomGrayscale(0.5), lambda: T1.RandomGrayscale(0.5)),
    (lambda: v2.GaussianBlur(3, (0.5, 1.5)), lambda: T1.GaussianBlur(3, (0.5, 1.5))),
    (lambda: v2.RandomInvert(), lambda: T1.RandomInvert()),
    (lambda: v2.RandomAutocontrast(), lambda: T1.RandomAutocontrast()),
    (lambda: v2.RandomEqualize(), lambda: T1.RandomEqualize()),
    (lambda: v2.RandomPosterize(3), lambda: T1.RandomPosterize(3)),
    (lambda: v2.RandomSolarize(100), lambda: T1.RandomSolarize(100)),
    (lambda: v2.RandomAdjustSharpness(2.0), lambda: T1.RandomAdjustSharpness(2.0)),
]


@pytest.mark.parametrize("make_v2,make_v1", RANDOM)
def test_random_transforms_draw_as_v1(make_v2, make_v1):
    pil = PIL.fromarray(_rgb())
    for seed in range(3):
        for img in (pil, F1.pil_to_tensor(pil)):
            ember.manual_seed(seed)
            want = make_v1()(img)
            ember.manual_seed(seed)
            # v2's own colour arithmetic on tensors (see _V2_ARITHMETIC)
            _same(make_v2()(img), want, atol=0 if img is pil else 1)


def test_resize_center_crop_pad_classes_match_v1():
    pil = PIL.fromarray(_rgb())
    for t2, t1 in [(v2.Resize(7), T1.Resize(7)), (v2.CenterCrop(6), T1.CenterCrop(6)),
                   (v2.Pad(2, fill=3), T1.Pad(2, fill=3)), (v2.Grayscale(), T1.Grayscale())]:
        _same(t2(pil), t1(pil))
        _same(t2(F1.pil_to_tensor(pil)), t1(F1.pil_to_tensor(pil)))


# ---------------------------------------------------------------------------------------------
# Boxes and masks

def _xyxy(boxes):
    return F2.convert_bounding_box_format(boxes, new_format="XYXY").numpy()


def _sample_boxes(dtype=ember.float32):
    return BoundingBoxes([[1.0, 2.0, 9.0, 7.0], [4.0, 0.0, 15.0, 11.0]], format="XYXY",
                         canvas_size=(12, 16), dtype=dtype)


def test_format_conversion_vs_numpy():
    b = _sample_boxes()
    xyxy = b.numpy().astype(np.float64)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], 1)
    cxcywh = np.concatenate([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], 1)
    for fmt, want in [("XYWH", xywh), (BoundingBoxFormat.CXCYWH, cxcywh)]:
        got = v2.ConvertBoundingBoxFormat(fmt)(b)
        assert type(got) is BoundingBoxes and got.format is BoundingBoxFormat[str(fmt).split(
            ".")[-1]]
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
        np.testing.assert_allclose(_xyxy(got), xyxy, rtol=1e-6)
    plain = F2.convert_bounding_box_format(ember.tensor(xywh), "XYWH", "CXCYWH")
    np.testing.assert_allclose(plain.numpy(), cxcywh)


def test_box_geometry_vs_numpy():
    b = _sample_boxes()
    a = b.numpy().astype(np.float64)
    h, w = b.canvas_size
    cases = {
        "hflip": (F2.horizontal_flip(b), np.stack([w - a[:, 2], a[:, 1], w - a[:, 0], a[:, 3]], 1),
                  (h, w)),
        "vflip": (F2.vertical_flip(b), np.stack([a[:, 0], h - a[:, 3], a[:, 2], h - a[:, 1]], 1),
                  (h, w)),
        "crop": (F2.crop(b, 3, 2, 6, 10), np.clip(a - [2, 3, 2, 3], 0, [10, 6, 10, 6]), (6, 10)),
        "pad": (F2.pad(b, [1, 2, 3, 4]), a + [1, 2, 1, 2], (h + 6, w + 4)),
        "resize": (F2.resize(b, [6, 32]), a * [2, 0.5, 2, 0.5], (6, 32)),
        "center_crop": (F2.center_crop(b, [8, 8]), np.clip(a - [4, 2, 4, 2], 0, 8), (8, 8)),
    }
    for name, (got, want, canvas) in cases.items():
        assert type(got) is BoundingBoxes and got.canvas_size == canvas, name
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, err_msg=name)
    # other formats take the same geometric path
    flipped = F2.horizontal_flip(F2.convert_bounding_box_format(b, new_format="CXCYWH"))
    np.testing.assert_allclose(_xyxy(flipped), cases["hflip"][1], rtol=1e-6)


def _affine_forward(angle, translate, scale, shear, center):
    """The forward map, built from torchvision's documented definition: rotate clockwise by
    ``angle`` and shear about ``center``, scale, then translate."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    r = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
    shear_y = np.array([[1.0, 0.0], [-math.tan(sy), 1.0]])
    shear_x = np.array([[1.0, -math.tan(sx)], [0.0, 1.0]])
    m = r @ shear_y @ shear_x * scale
    c = np.asarray(center, np.float64)
    return lambda p: (p - c) @ m.T + c + np.asarray(translate, np.float64)


def test_affine_boxes_enclose_the_mapped_corners():
    b = _sample_boxes(ember.float64)
    a = b.numpy()
    h, w = b.canvas_size
    fwd = _affine_forward(25.0, [1.5, -2.0], 0.9, [8.0, -4.0], [w / 2, h / 2])
    corners = np.stack([a[:, [0, 1]], a[:, [2, 1]], a[:, [2, 3]], a[:, [0, 3]]], 1)
    moved = fwd(corners)
    want = np.concatenate([moved.min(1), moved.max(1)], 1)
    want = np.clip(want, 0, [w, h, w, h])
    got = F2.affine(b, 25.0, [1.5, -2.0], 0.9, [8.0, -4.0])
    np.testing.assert_allclose(got.numpy(), want, atol=1e-9)


def _rect_mask(h, w, box):
    m = np.zeros((h, w), np.uint8)
    m[box[1]:box[3], box[0]:box[2]] = 1
    return m


def _extent(mask):
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_boxes_follow_the_pixels():
    """A filled rectangle's pixels and its box, transformed in one sample, still agree."""
    h, w = 12, 16
    box = [3, 2, 9, 7]
    sample = {"mask": Mask(_rect_mask(h, w, box)),
              "boxes": BoundingBoxes([box], format="XYXY", canvas_size=(h, w))}
    for t in [v2.RandomHorizontalFlip(1.0), v2.RandomVerticalFlip(1.0), v2.Pad([2, 1, 0, 3]),
              v2.CenterCrop(10), v2.Resize([24, 32]), v2.RandomRotation([90, 90], expand=True),
              v2.RandomRotation([-90, -90]), v2.RandomCrop(8)]:
        ember.manual_seed(0)
        out = t(sample)
        assert type(out["mask"]) is Mask and type(out["boxes"]) is BoundingBoxes
        assert tuple(out["mask"].shape) == out["boxes"].canvas_size, t
        np.testing.assert_array_equal(out["boxes"].numpy()[0], _extent(out["mask"].numpy()),
                                      err_msg=repr(t))


def test_masks_are_resized_with_nearest():
    mask = Mask(ember.tensor([[0, 1], [2, 3]], dtype=ember.int64))
    out = F2.resize(mask, [4, 4], interpolation=F1.InterpolationMode.BILINEAR)
    assert type(out) is Mask and out.dtype == ember.int64
    np.testing.assert_array_equal(out.numpy(), np.repeat(np.repeat([[0, 1], [2, 3]], 2, 0), 2, 1))


def test_sanitize_and_clamp():
    boxes = BoundingBoxes([[0, 0, 5, 5], [2, 2, 2.5, 8], [-1, 1, 4, 4], [3, 3, 9, 9],
                           [1, 1, 20, 4]], format="XYXY", canvas_size=(10, 10))
    labels = ember.tensor([1, 2, 3, 4, 5])
    masks = Mask(ember.zeros(5, 10, 10))
    out = v2.SanitizeBoundingBoxes()({"boxes": boxes, "labels": labels, "masks": masks,
                                      "id": 7})
    np.testing.assert_array_equal(out["labels"].numpy(), [1, 4])
    np.testing.assert_array_equal(out["boxes"].numpy(), [[0, 0, 5, 5], [3, 3, 9, 9]])
    assert type(out["boxes"]) is BoundingBoxes and out["masks"].shape == (2, 10, 10)
    assert out["id"] == 7
    img = Image(ember.zeros(3, 10, 10))
    _, target = v2.SanitizeBoundingBoxes()(img, {"boxes": boxes, "labels": labels})
    np.testing.assert_array_equal(target["labels"].numpy(), [1, 4])
    clamped = v2.ClampBoundingBoxes()(boxes)
    np.testing.assert_array_equal(clamped.numpy(), np.clip(boxes.numpy(), 0, 10))
    with pytest.raises(ValueError):
        v2.SanitizeBoundingBoxes()(boxes)  # no labels to find


# ---------------------------------------------------------------------------------------------
# Samples as pytrees

def test_dict_sample_with_image_boxes_labels():
    img = Image(ember.tensor(_rgb().transpose(2, 0, 1)))
    boxes = _sample_boxes()
    labels = ember.tensor([3, 4])
    t = v2.Compose([v2.RandomHorizontalFlip(1.0), v2.Resize([6, 8])])
    out = t({"image": img, "target": {"boxes": boxes, "labels": labels}, "path": "a.png"})
    want = F1.resize(F1.hflip(img.as_subclass(ember.Tensor)), [6, 8])
    assert type(out["image"]) is Image
    np.testing.assert_array_equal(out["image"].numpy(), want.numpy())
    assert out["target"]["labels"] is labels and out["path"] == "a.png"
    a = boxes.numpy()
    want_boxes = np.stack([16 - a[:, 2], a[:, 1], 16 - a[:, 0], a[:, 3]], 1) * [0.5, 0.5, 0.5,
                                                                                    0.5]
    np.testing.assert_allclose(out["target"]["boxes"].numpy(), want_boxes, rtol=1e-6)
    assert out["target"]["boxes"].canvas_size == (6, 8)


def test_plain_tensor_heuristic():
    x = ember.arange(12.0).reshape(1, 3, 4)
    other = ember.arange(12.0).reshape(1, 3, 4)
    flip = v2.RandomHorizontalFlip(1.0)
    a, b = flip(x, other)  # only the first plain tensor is the image
    np.testing.assert_array_equal(a.numpy(), x.numpy()[..., ::-1])
    assert b is other
    img = Image(x)
    out_img, out_plain = flip(img, other)  # an explicit image: plain tensors pass through
    assert type(out_img) is Image and out_plain is other
    pil = PIL.fromarray(_rgb())
    out_pil, out_plain = flip(pil, other)
    assert out_plain is other and np.asarray(out_pil).tolist() == np.asarray(pil)[:, ::-1].tolist()


def test_sizes_must_agree():
    with pytest.raises(ValueError, match="multiple HxW"):
        v2.RandomCrop(2)(Image(ember.zeros(3, 4, 4)), Mask(ember.zeros(5, 5)))
    with pytest.raises(TypeError, match="No image"):
        v2.RandomCrop(2)({"label": 3})


def test_conversions():
    arr = _rgb()
    pil = PIL.fromarray(arr)
    img = v2.ToImage()(pil)
    assert type(img) is Image and img.dtype == ember.uint8
    np.testing.assert_array_equal(img.numpy(), arr.transpose(2, 0, 1))
    np.testing.assert_array_equal(v2.ToImage()(arr).numpy(), arr.transpose(2, 0, 1))
    plain = v2.ToPureTensor()({"image": img, "boxes": _sample_boxes()})
    assert type(plain["image"]) is ember.Tensor and type(plain["boxes"]) is ember.Tensor
    scaled = v2.ToDtype(ember.float32, scale=True)(img)
    assert type(scaled) is Image
    np.testing.assert_array_equal(scaled.numpy(), arr.transpose(2, 0, 1).astype(np.float32)
                                  * np.float32(1.0 / 255))
    mixed = v2.ToDtype({Image: ember.float64, "others": None})(img, _sample_boxes())
    assert mixed[0].dtype == ember.float64 and mixed[1].dtype == ember.float32
    as_boxes = v2.ToDtype(ember.float64)(_sample_boxes())
    assert as_boxes.dtype == ember.float32  # one dtype converts images only
    _same(v2.PILToTensor()(pil), F1.pil_to_tensor(pil))
    _same(v2.ToPILImage()(img), pil)
    _same(v2.Compose([v2.ToImage(), v2.ToPILImage()])(pil), pil)


def test_containers_lambda_identity():
    x = ember.arange(6.0).reshape(1, 2, 3)
    assert v2.Identity()(x) is x
    doubled = v2.Lambda(lambda t: t * 2, ember.Tensor)({"x": x, "n": 3})
    np.testing.assert_array_equal(doubled["x"].numpy(), x.numpy() * 2)
    assert doubled["n"] == 3
    flip = v2.RandomHorizontalFlip(1.0)
    assert v2.RandomApply([flip], p=0.0)(x) is x
    np.testing.assert_array_equal(v2.RandomApply([flip], p=1.0)(x).numpy(), x.numpy()[..., ::-1])
    np.testing.assert_array_equal(v2.RandomChoice([flip, flip])(x).numpy(), x.numpy()[..., ::-1])
    both = v2.RandomOrder([flip, v2.RandomVerticalFlip(1.0)])(x)
    np.testing.assert_array_equal(both.numpy(), x.numpy()[..., ::-1, ::-1])
    img, target = v2.Compose([flip])(Image(x), {"labels": 1})
    assert type(img) is Image and target == {"labels": 1}
    with pytest.raises(ValueError):
        v2.RandomChoice([flip], p=[0.5, 0.5])


def test_custom_transform_make_params_and_transform():
    class AddOffset(v2.Transform):
        def make_params(self, flat_inputs):
            return {"offset": len(flat_inputs)}

        def transform(self, inpt, params):
            return inpt + params["offset"] if isinstance(inpt, Image) else inpt

    img = Image(ember.zeros(1, 2, 2))
    out, mask = AddOffset()(img, Mask(ember.zeros(2, 2)))
    np.testing.assert_array_equal(out.numpy(), np.full((1, 2, 2), 2.0))
    assert type(mask) is Mask


def test_keypoints_follow_the_pixels():
    """torchvision's convention, which is not one convention: flips map key points as pixel
    indices (x -> W - 1 - x), rotations and affine maps as continuous coordinates (a pixel's
    centre is x + 0.5); shifts (pad, crops) agree with both. A point on a pixel, in the
    convention of the transform, stays on that pixel wherever it goes."""
    h, w = 12, 16
    x, y = 5, 3
    mask = np.zeros((h, w), np.uint8)
    mask[y, x] = 1
    for offset, transforms in [
            (0.0, [v2.RandomHorizontalFlip(1.0), v2.RandomVerticalFlip(1.0),
                   v2.Pad([2, 1, 0, 3]), v2.CenterCrop(10), v2.RandomCrop(11)]),
            (0.5, [v2.Pad([2, 1, 0, 3]), v2.CenterCrop(10),
                   v2.RandomRotation([90, 90], expand=True), v2.RandomRotation([180, 180]),
                   v2.RandomCrop(11)])]:
        sample = {"mask": Mask(mask),
                  "points": KeyPoints([[x + offset, y + offset]], canvas_size=(h, w))}
        for t in transforms:
            ember.manual_seed(0)
            out = t(sample)
            assert type(out["points"]) is KeyPoints
            assert tuple(out["mask"].shape) == out["points"].canvas_size, t
            ys, xs = np.nonzero(out["mask"].numpy())
            np.testing.assert_allclose(out["points"].numpy()[0],
                                       [xs[0] + offset, ys[0] + offset], atol=1e-5,
                                       err_msg=repr(t))


def test_keypoints_affine_vs_numpy_and_unclamped():
    pts = np.array([[[1.0, 2.0], [15.0, 11.0]], [[-3.0, 4.0], [8.0, 20.0]]])
    points = KeyPoints(pts, canvas_size=(12, 16))
    fwd = _affine_forward(25.0, [1.5, -2.0], 0.9, [8.0, -4.0], [8.0, 6.0])
    got = F2.affine(points, 25.0, [1.5, -2.0], 0.9, [8.0, -4.0])
    assert type(got) is KeyPoints and got.shape == (2, 2, 2) and got.canvas_size == (12, 16)
    np.testing.assert_allclose(got.numpy(), fwd(pts), atol=1e-9)
    cropped = F2.crop(points, 3, 2, 6, 10)
    np.testing.assert_allclose(cropped.numpy(), pts - [2, 3])  # outside points are kept
    assert cropped.canvas_size == (6, 10)
    resized = F2.resize(points, [24, 8])
    np.testing.assert_allclose(resized.numpy(), pts * [0.5, 2.0])
    with pytest.raises(ValueError):
        KeyPoints(ember.zeros(3, 3), canvas_size=(2, 2))
    assert type(points.clone()) is KeyPoints and points.clone().canvas_size == (12, 16)
    assert type(points + 1) is ember.Tensor


def test_video_frames_transform_like_images():
    frames = np.random.default_rng(1).integers(0, 256, (2, 3, 8, 10), dtype=np.uint8)
    video = tv_tensors.Video(ember.tensor(frames))
    for t in [v2.RandomHorizontalFlip(1.0), v2.Resize([5, 6]), v2.CenterCrop(4),
              v2.ColorJitter(brightness=(1.5, 1.5))]:
        out = t(video)
        assert type(out) is tv_tensors.Video
        for k in range(2):
            np.testing.assert_array_equal(out.numpy()[k], t(ember.tensor(frames[k])).numpy())


def test_fill_per_type_and_mask_passthrough():
    img = Image(ember.zeros(3, 4, 4, dtype=ember.uint8))
    mask = Mask(ember.zeros(4, 4, dtype=ember.uint8))
    out_img, out_mask = v2.Pad(1, fill={Image: 9, Mask: 255})(img, mask)
    assert out_img.numpy()[:, 0, 0].tolist() == [9, 9, 9] and out_mask.numpy()[0, 0] == 255
    assert out_img.numpy()[:, 1, 1].tolist() == [0, 0, 0]
    jittered_img, same_mask = v2.ColorJitter(brightness=(2.0, 2.0))(img + 1, mask)
    assert same_mask is mask
    cast_img, cast_mask = v2.ToDtype({Image: ember.float32, Mask: ember.int64})(img, mask)
    assert cast_img.dtype == ember.float32 and cast_mask.dtype == ember.int64
    assert type(cast_mask) is Mask


def test_register_kernel_for_a_new_tv_tensor():
    class Heatmap(tv_tensors.TVTensor):
        pass

    @F2.register_kernel(F2.horizontal_flip, Heatmap)
    def flip_heatmap(heatmap):
        return ember.flip(heatmap, [-1]) * 10

    heat = ember.arange(4.0).reshape(1, 2, 2).as_subclass(Heatmap)
    out = v2.RandomHorizontalFlip(1.0)(heat)
    assert type(out) is Heatmap
    np.testing.assert_array_equal(out.numpy(), np.arange(4.0).reshape(1, 2, 2)[..., ::-1] * 10)
    assert v2.Resize(4)(heat) is heat  # no kernel: passed through by transforms
    with pytest.raises(TypeError):
        F2.resize(heat, 4)  # ... but the functional refuses


def test_pickled_tv_tensors_keep_type_and_metadata():
    import pickle
    boxes = pickle.loads(pickle.dumps(_sample_boxes()))
    assert type(boxes) is BoundingBoxes and boxes.canvas_size == (12, 16)
    assert boxes.format is BoundingBoxFormat.XYXY
    points = pickle.loads(pickle.dumps(KeyPoints([[1, 2]], canvas_size=(3, 4))))
    assert type(points) is KeyPoints and points.canvas_size == (3, 4)
