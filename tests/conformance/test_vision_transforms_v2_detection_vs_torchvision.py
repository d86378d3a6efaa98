"""ember's transforms.v2 against real torchvision's on the same seeded detection samples
(image, {boxes, masks, labels}): every random transform draws its parameters from the global
generator as torchvision does, so one seed gives the same crops, flips, sizes and factors, and
the outputs (types, dtypes, canvas sizes, values) agree. Also wrap_dataset_for_transforms_v2 on
the COCO and VOC fixtures of tests/test_vision_datasets_s18.py."""
import numpy as np
import pytest

import ember
from ember.utils._pytree import tree_flatten
from ember.vision import datasets as ember_datasets
from ember.vision import tv_tensors as ember_tv_tensors
from ember.vision.transforms import v2 as ember_v2

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tv():
    from tests.conformance.real_torchvision import real_torchvision
    return real_torchvision()


def _sample(lib, tv_tensors, seed, image_dtype):
    rng = np.random.default_rng(seed)
    image = rng.random((3, 20, 30), dtype=np.float32)
    if image_dtype == "uint8":
        image = (image * 255).astype(np.uint8)
    boxes = np.array([[2, 3, 12, 15], [10, 1, 28, 9], [0, 0, 30, 20], [25, 15, 29, 19],
                      [14, 12, 15, 13]], np.float32)
    masks = (rng.random((5, 20, 30)) > 0.5).astype(np.uint8)
    return (tv_tensors.Image(lib.tensor(image)),
            {"boxes": tv_tensors.BoundingBoxes(lib.tensor(boxes), format="XYXY",
                                               canvas_size=(20, 30)),
             "masks": tv_tensors.Mask(lib.tensor(masks)), "labels": lib.tensor([1, 2, 3, 4, 5]),
             "image_id": 3})


# (name, builder given the v2 module and the tv_tensors module, image dtype); uint8 images
# only where no resampling happens (torch's uint8 antialiased resize rounds its own way)
CASES = [
    ("hflip", lambda T, tvt: T.RandomHorizontalFlip(), "uint8"),
    ("vflip", lambda T, tvt: T.RandomVerticalFlip(), "uint8"),
    ("resize", lambda T, tvt: T.Resize((10, 17)), "float32"),
    ("resize_short_side", lambda T, tvt: T.Resize(12, max_size=16), "float32"),
    ("random_resized_crop", lambda T, tvt: T.RandomResizedCrop(12, scale=(0.2, 1.0)),
     "float32"),
    ("zoom_out", lambda T, tvt: T.RandomZoomOut(fill={tvt.Image: 127, "others": 0}, p=0.7),
     "uint8"),
    ("zoom_out_channel_fill", lambda T, tvt: T.RandomZoomOut(
        fill={tvt.Image: (123, 117, 104), "others": 0}), "uint8"),
    ("iou_crop", lambda T, tvt: T.RandomIoUCrop(), "uint8"),
    ("iou_crop_options", lambda T, tvt: T.RandomIoUCrop(min_scale=0.5, sampler_options=[0.3, 0.7],
                                                        trials=5), "uint8"),
    ("photometric_distort", lambda T, tvt: T.RandomPhotometricDistort(p=0.7), "float32"),
    ("channel_permutation", lambda T, tvt: T.RandomChannelPermutation(), "uint8"),
    ("shortest_size", lambda T, tvt: T.RandomShortestSize([8, 10, 12], max_size=25),
     "float32"),
    ("scale_jitter", lambda T, tvt: T.ScaleJitter((16, 24)), "float32"),
    ("random_resize", lambda T, tvt: T.RandomResize(8, 14), "float32"),
    ("clamp", lambda T, tvt: T.Compose([T.Pad(3), T.RandomCrop((18, 25)),
                                        T.ClampBoundingBoxes()]), "uint8"),
    ("convert_format", lambda T, tvt: T.ConvertBoundingBoxFormat("CXCYWH"), "uint8"),
    ("to_dtype_dict", lambda T, tvt: T.ToDtype({tvt.Image: _dtypes(T).float32,
                                                tvt.Mask: _dtypes(T).int64, "others": None},
                                               scale=True), "uint8"),
    ("ssd_pipeline", lambda T, tvt: T.Compose([
        T.RandomPhotometricDistort(p=1), T.RandomZoomOut(fill={tvt.Image: 0.5}),
        T.RandomIoUCrop(), T.RandomHorizontalFlip(p=0.5), T.Resize((16, 16)),
        T.SanitizeBoundingBoxes(), T.ToDtype(_dtypes(T).float32, scale=True),
        T.ToPureTensor()]), "float32"),
    ("detection_reference_pipeline", lambda T, tvt: T.Compose([
        T.RandomShortestSize([10, 12], max_size=30), T.RandomHorizontalFlip(),
        T.ConvertBoundingBoxFormat("XYWH"), T.SanitizeBoundingBoxes(min_size=2),
        T.ToDtype(_dtypes(T).float32, scale=True)]), "uint8"),
]


def _dtypes(v2_module):
    return ember if v2_module is ember_v2 else torch


def _assert_same(theirs, ours, where):
    flat_theirs, _ = torch.utils._pytree.tree_flatten(theirs)
    flat_ours, _ = tree_flatten(ours)
    assert len(flat_theirs) == len(flat_ours), where
    for t, e in zip(flat_theirs, flat_ours):
        assert type(t).__name__ == type(e).__name__, (where, type(t), type(e))
        if not isinstance(t, torch.Tensor):
            assert t == e, where
            continue
        t_np, e_np = t.numpy(), np.asarray(e.numpy())
        assert t_np.shape == e_np.shape and t_np.dtype == e_np.dtype, (where, t_np.shape,
                                                                        e_np.shape)
        np.testing.assert_allclose(e_np, t_np, rtol=1e-5, atol=1e-5, err_msg=str(where))
        if hasattr(t, "canvas_size"):
            assert tuple(e.canvas_size) == tuple(t.canvas_size), where
            assert e.format.value == t.format.value, where


@pytest.mark.parametrize("name,build,image_dtype", CASES, ids=[c[0] for c in CASES])
def test_detection_transform_matches_torchvision(tv, name, build, image_dtype):
    from torchvision import tv_tensors as torch_tv_tensors
    from torchvision.transforms import v2 as torch_v2
    for seed in range(6):
        torch.manual_seed(seed)
        theirs = build(torch_v2, torch_tv_tensors)(
            _sample(torch, torch_tv_tensors, seed, image_dtype))
        ember.manual_seed(seed)
        ours = build(ember_v2, ember_tv_tensors)(
            _sample(ember, ember_tv_tensors, seed, image_dtype))
        _assert_same(theirs, ours, (name, seed))


@pytest.mark.parametrize("name", ["MixUp", "CutMix"])
def test_mixup_cutmix_match_torchvision(tv, name):
    from torchvision.transforms import v2 as torch_v2
    for seed in range(4):
        rng = np.random.default_rng(seed)
        images, labels = rng.random((4, 3, 8, 10), dtype=np.float32), np.array([0, 2, 1, 2])
        torch.manual_seed(seed)
        theirs = getattr(torch_v2, name)(num_classes=3, alpha=0.7)(torch.tensor(images),
                                                                     torch.tensor(labels))
        ember.manual_seed(seed)
        ours = getattr(ember_v2, name)(num_classes=3, alpha=0.7)(ember.tensor(images),
                                                                  ember.tensor(labels))
        _assert_same(theirs, ours, (name, seed))


def test_functionals_match_torchvision(tv):
    from torchvision import tv_tensors as torch_tv_tensors
    from torchvision.transforms.v2 import functional as TF

    from ember.vision.transforms.v2 import functional as EF
    image_t, target_t = _sample(torch, torch_tv_tensors, 0, "uint8")
    image_e, target_e = _sample(ember, ember_tv_tensors, 0, "uint8")
    for fmt in ["XYWH", "CXCYWH"]:
        _assert_same(TF.convert_bounding_box_format(target_t["boxes"], new_format=fmt),
                     EF.convert_bounding_box_format(target_e["boxes"], new_format=fmt), fmt)
    for fn in ["horizontal_flip", "vertical_flip"]:
        for key in ["boxes", "masks"]:
            _assert_same(getattr(TF, fn)(target_t[key]), getattr(EF, fn)(target_e[key]),
                         (fn, key))
    _assert_same(TF.to_dtype(image_t, torch.float32, scale=True),
                 EF.to_dtype(image_e, ember.float32, scale=True), "to_dtype")
    _assert_same(TF.permute_channels(image_t, [2, 0, 1]),
                 EF.permute_channels(image_e, [2, 0, 1]), "permute_channels")
    _assert_same(TF.resize(target_t["masks"], [7, 41]), EF.resize(target_e["masks"], [7, 41]),
                 "resize masks nearest")
    raw = [[-3.0, 2, 40, 30]]
    for mode in ["soft", "hard", None]:
        _assert_same(TF.clamp_bounding_boxes(torch.tensor(raw), format="XYXY",
                                             canvas_size=(20, 30), clamping_mode=mode),
                     EF.clamp_bounding_boxes(ember.tensor(raw), format="XYXY",
                                             canvas_size=(20, 30), clamping_mode=mode), mode)
        boxes_t = torch_tv_tensors.BoundingBoxes(raw, format="XYXY", canvas_size=(20, 30),
                                                 clamping_mode=mode)
        boxes_e = ember_tv_tensors.BoundingBoxes(raw, format="XYXY", canvas_size=(20, 30),
                                                 clamping_mode=mode)
        _assert_same(TF.crop(boxes_t, 1, 2, 10, 10), EF.crop(boxes_e, 1, 2, 10, 10), mode)
        assert EF.crop(boxes_e, 1, 2, 10, 10).clamping_mode == mode


def _wrapped_pair(tv, cls, root, *args, **kwargs):
    return (tv.datasets.wrap_dataset_for_transforms_v2(getattr(tv.datasets, cls)(root, *args),
                                                       **kwargs),
            ember_datasets.wrap_dataset_for_transforms_v2(
                getattr(ember_datasets, cls)(root, *args), **kwargs))


def _assert_same_samples(theirs, ours):
    assert len(theirs) == len(ours)
    for i in range(len(theirs)):
        (image_t, target_t), (image_e, target_e) = theirs[i], ours[i]
        np.testing.assert_array_equal(np.asarray(image_e), np.asarray(image_t))
        if isinstance(target_t, dict):
            assert target_t.keys() == target_e.keys()
            target_t, target_e = [target_t[k] for k in sorted(target_t)], [
                target_e[k] for k in sorted(target_e)]
        _assert_same(target_t, target_e, i)


@pytest.mark.parametrize("target_keys", [None, "all"])
def test_wrapped_coco_matches_torchvision(tv, tmp_path, target_keys):
    pytest.importorskip("pycocotools")
    from tests.test_vision_datasets_s18 import _coco
    images, ann_file, _, _ = _coco(str(tmp_path))
    _assert_same_samples(*_wrapped_pair(tv, "CocoDetection", images, ann_file,
                                        target_keys=target_keys))


@pytest.mark.parametrize("cls,target_keys", [("VOCDetection", None), ("VOCDetection", "all"),
                                             ("VOCSegmentation", None)])
def test_wrapped_voc_matches_torchvision(tv, tmp_path, cls, target_keys):
    from tests.test_vision_datasets_s18 import _voc
    _voc(str(tmp_path))
    kwargs = {} if target_keys is None else {"target_keys": target_keys}
    _assert_same_samples(*_wrapped_pair(tv, cls, str(tmp_path), **kwargs))


@pytest.mark.parametrize("image_dtype", ["uint8", "float32"])
def test_drawing_utils_match_torchvision(tv, image_dtype):
    import torchvision.utils as torch_utils

    from ember.vision import utils as ember_utils
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 20, 30), dtype=np.uint8)
    if image_dtype == "float32":
        pixels = (pixels / 255.0).astype(np.float32)
    boxes = np.array([[2, 3, 12, 15.7], [10, 1, 28, 9]], np.float32)
    masks = rng.random((3, 20, 30)) > 0.6
    points = np.array([[[3, 4], [10, 12.5], [20, 5]]], np.float32)
    visible = np.array([[True, True, False]])
    calls = [
        ("draw_bounding_boxes", boxes, {}),
        ("draw_bounding_boxes", boxes, {"fill": True, "width": 2, "colors": "yellow"}),
        ("draw_bounding_boxes", boxes, {"labels": ["a", "bc"], "colors": ["red", (0, 255, 0)]}),
        ("draw_bounding_boxes", boxes, {"labels": ["a", "b"], "fill_labels": True}),
        ("draw_segmentation_masks", masks, {}),
        ("draw_segmentation_masks", masks, {"alpha": 0.3, "colors": "blue"}),
        ("draw_keypoints", points, {"connectivity": [(0, 1), (1, 2)], "colors": "red",
                                    "radius": 3}),
        ("draw_keypoints", points, {"visibility": visible, "connectivity": [(0, 1), (1, 2)]}),
    ]
    def as_tensors(lib, kwargs):
        return {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    for name, annotation, kwargs in calls:
        theirs = getattr(torch_utils, name)(torch.tensor(pixels), torch.tensor(annotation),
                                            **as_tensors(torch, kwargs))
        ours = getattr(ember_utils, name)(ember.tensor(pixels), ember.tensor(annotation),
                                          **as_tensors(ember, kwargs))
        _assert_same(theirs, ours, (name, kwargs))
    grey_t = torch_utils.draw_bounding_boxes(torch.tensor(pixels[:1]), torch.tensor(boxes))
    grey_e = ember_utils.draw_bounding_boxes(ember.tensor(pixels[:1]), ember.tensor(boxes))
    _assert_same(grey_t, grey_e, "grey")
