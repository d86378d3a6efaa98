"""transforms.v2 on detection/segmentation samples (image, {boxes, masks, labels}): box
coordinates after flips, resizes, crops and zoom-outs worked out by hand in NumPy, masks moved
alike, labels and plain tensors passed through, and SanitizeBoundingBoxes' rules; the random
transforms are checked against their own drawn parameters (re-drawn under the same seed)."""
import numpy as np
import pytest

import ember
from ember.vision import tv_tensors
from ember.vision.transforms import v2
from ember.vision.transforms.v2 import functional as F

H, W = 20, 30
BOXES = np.array([[2, 3, 12, 15], [10, 1, 28, 9], [0, 0, 30, 20], [25, 15, 29, 19]], np.float32)


def _sample(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    image = rng.random((3, H, W), dtype=np.float32)
    if dtype == np.uint8:
        image = (image * 255).astype(np.uint8)
    masks = (rng.random((4, H, W)) > 0.5).astype(np.uint8)
    return (tv_tensors.Image(ember.tensor(image)),
            {"boxes": tv_tensors.BoundingBoxes(ember.tensor(BOXES), format="XYXY",
                                               canvas_size=(H, W)),
             "masks": tv_tensors.Mask(ember.tensor(masks)),
             "labels": ember.tensor([1, 2, 3, 4]), "image_id": 9})


def _params(transform, sample, seed, apply_draw=False):
    """The parameters ``transform`` draws for ``sample`` under ``seed`` (after the coin toss of
    a random-apply transform)."""
    ember.manual_seed(seed)
    if apply_draw:
        ember.rand(1)
    image, target = sample
    return transform.make_params([image, target["boxes"], target["masks"]])


def _run(transform, seed, sample=None):
    ember.manual_seed(seed)
    return transform(sample or _sample())


def _xywh(b):
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], 1)


def _cxcywh(b):
    return np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], 1)


@pytest.mark.parametrize("fmt,conv", [("XYXY", lambda b: b), ("XYWH", _xywh),
                                      ("CXCYWH", _cxcywh)])
def test_flips_move_boxes_in_every_format(fmt, conv):
    boxes = tv_tensors.BoundingBoxes(ember.tensor(conv(BOXES)), format=fmt, canvas_size=(H, W))
    flipped = np.stack([W - BOXES[:, 2], BOXES[:, 1], W - BOXES[:, 0], BOXES[:, 3]], 1)
    out = F.horizontal_flip(boxes)
    assert isinstance(out, tv_tensors.BoundingBoxes) and out.format.value == fmt
    np.testing.assert_allclose(out.numpy(), conv(flipped), atol=1e-6)
    vflipped = np.stack([BOXES[:, 0], H - BOXES[:, 3], BOXES[:, 2], H - BOXES[:, 1]], 1)
    np.testing.assert_allclose(F.vertical_flip(boxes).numpy(), conv(vflipped), atol=1e-6)


def test_random_flips_move_image_boxes_masks_together_and_pass_the_rest():
    image, target = _sample()
    out_image, out = v2.RandomHorizontalFlip(p=1.0)(_sample())
    np.testing.assert_array_equal(out_image.numpy(), image.numpy()[..., ::-1])
    np.testing.assert_array_equal(out["masks"].numpy(), target["masks"].numpy()[..., ::-1])
    np.testing.assert_array_equal(out["boxes"].numpy(), np.stack(
        [W - BOXES[:, 2], BOXES[:, 1], W - BOXES[:, 0], BOXES[:, 3]], 1))
    assert out["labels"].tolist() == [1, 2, 3, 4] and out["image_id"] == 9
    assert isinstance(out_image, tv_tensors.Image) and isinstance(out["masks"], tv_tensors.Mask)
    out_image, out = v2.RandomVerticalFlip(p=1.0)(_sample())
    np.testing.assert_array_equal(out["masks"].numpy(), target["masks"].numpy()[:, ::-1])
    # a plain tensor is the image only when no Image is in the sample
    plain = ember.arange(6.0).reshape(1, 2, 3)
    img2, untouched = v2.RandomHorizontalFlip(p=1.0)(image, plain)
    assert untouched is plain


def test_resize_scales_boxes_and_resizes_masks_nearest():
    image, out = v2.Resize((10, 12))(_sample())
    np.testing.assert_allclose(out["boxes"].numpy(), BOXES * [12 / W, 10 / H, 12 / W, 10 / H],
                               rtol=1e-6)
    assert out["boxes"].canvas_size == (10, 12) and tuple(image.shape) == (3, 10, 12)
    masks = _sample()[1]["masks"].numpy()
    rows, cols = (np.arange(10) * H) // 10, (np.arange(12) * W) // 12  # nearest: floor(i*scale)
    np.testing.assert_array_equal(out["masks"].numpy(), masks[:, rows][:, :, cols])
    _, out = v2.Resize(10)(_sample())  # the short side to 10: 20x30 -> 10x15
    assert out["boxes"].canvas_size == (10, 15)


@pytest.mark.parametrize("seed", range(4))
def test_random_resized_crop_boxes(seed):
    t = v2.RandomResizedCrop((8, 10), scale=(0.3, 1.0))
    p = _params(t, _sample(), seed)
    image, out = _run(t, seed)
    top, left, h, w = p["top"], p["left"], p["height"], p["width"]
    want = (BOXES - [left, top, left, top]) * [10 / w, 8 / h, 10 / w, 8 / h]
    want = np.clip(want, 0, [10, 8, 10, 8])
    np.testing.assert_allclose(out["boxes"].numpy(), want, rtol=1e-5, atol=1e-5)
    assert out["boxes"].canvas_size == (8, 10) and tuple(out["masks"].shape) == (4, 8, 10)


@pytest.mark.parametrize("seed", range(6))
def test_random_iou_crop(seed):
    t = v2.RandomIoUCrop()
    p = _params(t, _sample(), seed)
    image, out = _run(t, seed)
    if not p:  # the "keep the sample" option
        np.testing.assert_array_equal(out["boxes"].numpy(), BOXES)
        return
    top, left, h, w = p["top"], p["left"], p["height"], p["width"]
    assert 0.5 <= w / h <= 2.0 and 0.3 * W <= w + 1 and w <= W and 0.3 * H <= h + 1 and h <= H
    centres = (BOXES[:, :2] + BOXES[:, 2:]) / 2
    inside = ((left < centres[:, 0]) & (centres[:, 0] < left + w) & (top < centres[:, 1])
              & (centres[:, 1] < top + h))
    np.testing.assert_array_equal(p["is_within_crop_area"].numpy(), inside)
    want = np.clip(BOXES - [left, top, left, top], 0, [w, h, w, h])
    want[~inside] = 0
    np.testing.assert_allclose(out["boxes"].numpy(), want)
    assert out["boxes"].canvas_size == (h, w)
    np.testing.assert_array_equal(image.numpy(),
                                  _sample()[0].numpy()[:, top:top + h, left:left + w])
    np.testing.assert_array_equal(out["masks"].numpy(),
                                  _sample()[1]["masks"].numpy()[:, top:top + h, left:left + w])


def test_random_iou_crop_needs_boxes_and_image():
    with pytest.raises(TypeError, match="bounding boxes"):
        v2.RandomIoUCrop()(_sample()[0])


@pytest.mark.parametrize("seed", range(3))
def test_random_zoom_out(seed):
    t = v2.RandomZoomOut(fill={tv_tensors.Image: 0.5, "others": 0}, side_range=(1.0, 2.0), p=1.0)
    left, top, right, bottom = _params(t, _sample(), seed, apply_draw=True)["padding"]
    image, out = _run(t, seed)
    want = np.full((3, H + top + bottom, W + left + right), 0.5, np.float32)
    want[:, top:top + H, left:left + W] = _sample()[0].numpy()
    np.testing.assert_array_equal(image.numpy(), want)
    np.testing.assert_array_equal(out["boxes"].numpy(), BOXES + [left, top, left, top])
    assert out["boxes"].canvas_size == want.shape[1:]
    assert out["masks"].numpy()[:, :top].sum() == 0  # masks are filled with "others"


def test_pad_with_a_fill_per_channel():
    image = tv_tensors.Image(ember.ones(3, 2, 2, dtype=ember.uint8))
    out = F.pad(image, [1, 0, 0, 1], fill=[7, 8, 9]).numpy()
    assert out.shape == (3, 3, 3) and (out[:, :2, 1:] == 1).all()
    for c, value in enumerate([7, 8, 9]):
        assert (out[c, :, 0] == value).all() and (out[c, 2] == value).all()
    with pytest.raises(ValueError, match="fill"):
        F.pad(image, 1, fill=[1, 2])


def test_scale_jitter_and_shortest_size_sizes():
    for seed in range(3):
        t = v2.ScaleJitter((16, 24), scale_range=(0.5, 1.5))
        ember.manual_seed(seed)
        scale = np.float32(0.5) + ember.rand(1).numpy()[0] * np.float32(1.0)
        r = np.float32(min(24 / H, 16 / W)) * scale
        size = (int(np.float32(H) * r), int(np.float32(W) * r))
        image, out = _run(t, seed)
        assert tuple(image.shape[-2:]) == size and out["boxes"].canvas_size == size
        np.testing.assert_allclose(out["boxes"].numpy(), BOXES * ([size[1] / W, size[0] / H] * 2),
                                   rtol=1e-6)
    t = v2.RandomShortestSize([8, 10, 12], max_size=16)
    for seed in range(3):
        ember.manual_seed(seed)
        short = [8, 10, 12][int(ember.randint(0, 3, (1,)))]
        r = min(short / H, 16 / W)
        image, out = _run(t, seed)
        assert tuple(image.shape[-2:]) == (int(H * r), int(W * r))
    ember.manual_seed(0)
    size = int(ember.randint(8, 14, (1,)))
    assert tuple(_run(v2.RandomResize(8, 14), 0)[0].shape[-2:]) == (size, int(W * size / H))


def test_sanitize_rules():
    boxes = np.array([[0, 0, 5, 5],      # fine
                      [3, 3, 3.5, 8],    # narrower than min_size
                      [0, 0, 2, 2],      # area 4 < min_area 5 (sides >= 2)
                      [-1, 0, 4, 4],     # starts outside
                      [25, 15, 31, 19],  # ends outside the width
                      [1, 1, 9, 9]], np.float32)
    sample = {"image": tv_tensors.Image(ember.zeros(3, H, W)),
              "boxes": tv_tensors.BoundingBoxes(ember.tensor(boxes), format="XYXY",
                                                canvas_size=(H, W)),
              "masks": tv_tensors.Mask(ember.arange(6).reshape(6, 1, 1).expand(6, H, W)),
              "semantic": tv_tensors.Mask(ember.zeros(H, W)),
              "my_Label_ids": ember.arange(6), "other": ember.arange(6)}
    out = v2.SanitizeBoundingBoxes(min_size=2, min_area=5)(sample)
    keep = [0, 5]
    np.testing.assert_array_equal(out["boxes"].numpy(), boxes[keep])
    assert out["my_Label_ids"].tolist() == keep and out["masks"][:, 0, 0].tolist() == keep
    assert out["other"] is sample["other"] and out["semantic"] is sample["semantic"]
    assert isinstance(out["boxes"], tv_tensors.BoundingBoxes)
    # labels named "labels" win; an (image, target) pair; a callable getting several tensors
    image, target = v2.SanitizeBoundingBoxes()(_sample()[0], {
        "boxes": sample["boxes"], "labels": ember.arange(6), "label_x": ember.arange(6)})
    assert target["labels"].tolist() == [0, 2, 5] and target["label_x"].tolist() == list(range(6))
    out = v2.SanitizeBoundingBoxes(labels_getter=lambda s: (s["a"], s["b"]))(
        {"boxes": sample["boxes"], "a": ember.arange(6), "b": ember.arange(6) * 2})
    assert out["a"].tolist() == [0, 2, 5] and out["b"].tolist() == [0, 4, 10]
    assert v2.SanitizeBoundingBoxes(labels_getter=None)(
        {"boxes": sample["boxes"], "labels": ember.arange(6)})["labels"].tolist() == list(range(6))
    with pytest.raises(ValueError, match="must match the number of labels"):
        v2.SanitizeBoundingBoxes()({"boxes": sample["boxes"], "labels": ember.arange(5)})
    with pytest.raises(ValueError, match="labels"):
        v2.SanitizeBoundingBoxes()({"boxes": sample["boxes"]})
    with pytest.raises(ValueError, match="min_size"):
        v2.SanitizeBoundingBoxes(min_size=0.5)


def test_clamp_convert_and_dtype_conversions():
    boxes = tv_tensors.BoundingBoxes([[-2, 3, 40, 25]], format="XYXY", canvas_size=(H, W))
    out = v2.ClampBoundingBoxes()({"boxes": boxes})["boxes"]
    np.testing.assert_array_equal(out.numpy(), [[0, 3, 30, 20]])
    np.testing.assert_array_equal(F.clamp_bounding_boxes(
        ember.tensor([[-2.0, 3, 40, 25]]), format="XYXY", canvas_size=(H, W),
        clamping_mode="soft").numpy(), [[0, 3, 30, 20]])
    with pytest.raises(ValueError, match="clamping_mode"):
        F.clamp_bounding_boxes(ember.tensor([[-2.0, 3, 40, 25]]), format="XYXY",
                               canvas_size=(H, W))
    # clamping_mode None: neither ClampBoundingBoxes nor a crop clips the boxes
    unclamped = v2.SetClampingMode(None)({"boxes": boxes})["boxes"]
    assert unclamped.clamping_mode is None and boxes.clamping_mode == "soft"
    np.testing.assert_array_equal(v2.ClampBoundingBoxes()(unclamped).numpy(), [[-2, 3, 40, 25]])
    np.testing.assert_array_equal(F.crop(unclamped, 1, 2, 10, 10).numpy(), [[-4, 2, 38, 24]])
    np.testing.assert_array_equal(F.crop(boxes, 1, 2, 10, 10).numpy(), [[0, 2, 10, 10]])
    assert F.crop(unclamped, 1, 2, 10, 10).clamping_mode is None
    out = v2.ConvertBoundingBoxFormat("CXCYWH")(_sample())[1]["boxes"]
    assert out.format is tv_tensors.BoundingBoxFormat.CXCYWH
    np.testing.assert_array_equal(out.numpy(), _cxcywh(BOXES))
    np.testing.assert_array_equal(F.convert_bounding_box_format(
        ember.tensor(_xywh(BOXES)), old_format="XYWH", new_format="XYXY").numpy(), BOXES)
    image, target = v2.ToDtype({tv_tensors.Image: ember.float32, tv_tensors.Mask: ember.int64,
                                "others": None}, scale=True)(_sample(dtype=np.uint8))
    np.testing.assert_allclose(image.numpy(), _sample(dtype=np.uint8)[0].numpy() / 255.0,
                               rtol=1e-6)
    assert target["masks"].dtype == ember.int64 and target["masks"].numpy().max() == 1
    assert target["boxes"].dtype == ember.float32 and target["labels"].dtype == ember.int64
    image, target = v2.ToPureTensor()(_sample())
    assert type(image) is ember.Tensor and type(target["boxes"]) is ember.Tensor
    assert isinstance(v2.ToImage()(np.zeros((4, 5, 3), np.uint8)), tv_tensors.Image)


def test_photometric_distort_touches_images_only():
    t = v2.RandomPhotometricDistort(p=1.0)
    for seed in range(3):
        p = _params(t, _sample(), seed)
        image, out = _run(t, seed)
        want = F.adjust_brightness(_sample()[0], p["brightness_factor"])
        if p["contrast_before"]:
            want = F.adjust_contrast(want, p["contrast_factor"])
        want = F.adjust_hue(F.adjust_saturation(want, p["saturation_factor"]), p["hue_factor"])
        if not p["contrast_before"]:
            want = F.adjust_contrast(want, p["contrast_factor"])
        want = want.numpy()[p["channel_permutation"]]
        np.testing.assert_allclose(image.numpy(), want, atol=1e-6)
        np.testing.assert_array_equal(out["masks"].numpy(), _sample()[1]["masks"].numpy())
        np.testing.assert_array_equal(out["boxes"].numpy(), BOXES)
    none = v2.RandomPhotometricDistort(p=0.0)
    np.testing.assert_array_equal(none(_sample())[0].numpy(), _sample()[0].numpy())


def test_permute_channels():
    image = ember.arange(12.0).reshape(3, 2, 2)
    np.testing.assert_array_equal(F.permute_channels(image, [2, 0, 1]).numpy(),
                                  image.numpy()[[2, 0, 1]])
    with pytest.raises(ValueError, match="number of channels"):
        F.permute_channels(image, [0, 1])


@pytest.mark.parametrize("cls", ["MixUp", "CutMix"])
def test_mixup_cutmix(cls):
    rng = np.random.default_rng(1)
    images = rng.random((4, 3, 8, 10), dtype=np.float32)
    labels = np.array([0, 2, 1, 2])
    t = getattr(v2, cls)(num_classes=3, alpha=0.7)
    ember.manual_seed(5)
    p = t.make_params([ember.tensor(images)])
    ember.manual_seed(5)
    out_images, out_labels = t(ember.tensor(images), ember.tensor(labels))
    one_hot = np.eye(3, dtype=np.float32)[labels]
    rolled = np.roll(images, 1, 0)
    if cls == "MixUp":
        lam = p["lam"]
        want = rolled * (1 - lam) + images * lam
    else:
        x1, y1, x2, y2 = p["box"]
        want = images.copy()
        want[..., y1:y2, x1:x2] = rolled[..., y1:y2, x1:x2]
        lam = p["lam_adjusted"]
        assert lam == pytest.approx(1 - (x2 - x1) * (y2 - y1) / 80)
    np.testing.assert_allclose(out_images.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(out_labels.numpy(), np.roll(one_hot, 1, 0) * (1 - lam)
                               + one_hot * lam, rtol=1e-6)
    with pytest.raises(ValueError, match="num_classes"):
        getattr(v2, cls)()(ember.tensor(images), ember.tensor(labels))
    with pytest.raises(ValueError, match="bounding boxes"):
        t(_sample()[0], {"boxes": _sample()[1]["boxes"], "labels": ember.tensor(labels)})


def test_ssd_style_pipeline():
    pipeline = v2.Compose([
        v2.RandomPhotometricDistort(p=1), v2.RandomZoomOut(fill={tv_tensors.Image: 0.5}),
        v2.RandomIoUCrop(), v2.RandomHorizontalFlip(p=1), v2.Resize((12, 12)),
        v2.SanitizeBoundingBoxes(), v2.ToDtype(ember.float32, scale=True), v2.ToPureTensor()])
    for seed in range(3):
        image, target = _run(pipeline, seed)
        assert tuple(image.shape) == (3, 12, 12) and type(target["boxes"]) is ember.Tensor
        n = target["boxes"].shape[0]
        assert target["labels"].shape[0] == n and target["masks"].shape[0] == n
        b = target["boxes"].numpy()
        assert (b[:, 2:] - b[:, :2] >= 1).all() and (b >= 0).all() and (b <= 12).all()


def test_draw_bounding_boxes_outlines_whole_pixels():
    from ember.vision.utils import draw_bounding_boxes
    image = ember.zeros(3, 10, 12, dtype=ember.uint8)
    out = draw_bounding_boxes(image, ember.tensor([[2.0, 3.0, 7.9, 8.0]]), colors="red").numpy()
    want = np.zeros((10, 12), bool)
    want[3:9, 2:8] = True  # the outline of x 2..7, y 3..8 (truncated), corners included
    want[4:8, 3:7] = False
    np.testing.assert_array_equal(out[0] == 255, want)
    assert (out[1:] == 0).all() and out.dtype == np.uint8
    grey = draw_bounding_boxes(ember.zeros(1, 10, 12), ember.tensor([[0.0, 0, 3, 3]]),
                               colors=(0, 255, 0))
    assert tuple(grey.shape) == (3, 10, 12) and grey.dtype == ember.float32
    assert float(grey[1, 0, 0]) == 1.0 and float(grey[0].max()) == 0.0
    with pytest.raises(ValueError, match="xmin, ymin, xmax, ymax"):
        draw_bounding_boxes(image, ember.tensor([[5.0, 0, 1, 3]]))


def test_draw_segmentation_masks_blends():
    from ember.vision.utils import draw_segmentation_masks
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 4, 5), dtype=np.uint8)
    masks = np.zeros((2, 4, 5), bool)
    masks[0, :2] = True
    masks[1, 1:3] = True  # row 1 under both masks: painted black
    out = draw_segmentation_masks(ember.tensor(pixels), ember.tensor(masks), alpha=0.25,
                                  colors=[(255, 0, 0), (0, 0, 255)]).numpy()
    painted = pixels.astype(np.float32).copy()
    painted[:, 0] = np.array([255, 0, 0])[:, None]
    painted[:, 2] = np.array([0, 0, 255])[:, None]
    painted[:, 1] = 0
    want = (pixels * np.float32(0.75) + painted * np.float32(0.25)).astype(np.uint8)
    np.testing.assert_array_equal(out, want)
    with pytest.raises(ValueError, match="bool"):
        draw_segmentation_masks(ember.tensor(pixels), ember.tensor(masks.astype(np.uint8)))
