"""``wrap_dataset_for_transforms_v2``: a data set whose samples come out as TVTensors (boxes as
``BoundingBoxes``, masks as ``Mask``), so that ``transforms.v2`` transforms a whole detection or
segmentation sample at once. The data set's own transforms move to the wrapper and run on the
wrapped sample."""
from __future__ import annotations

import collections.abc
import contextlib
from collections import defaultdict
from copy import copy
from typing import Callable

import ember
from ember.vision import datasets, tv_tensors

_FACTORIES: dict = {}  # data set class -> factory(dataset, target_keys) -> wrapper(idx, sample)
# the ones that take target_keys
_TARGET_KEY_DATASETS = ("CocoDetection", "VOCDetection", "Kitti", "WIDERFace")


def wrap_dataset_for_transforms_v2(dataset, target_keys=None):
    """``dataset`` (a torchvision data set) returning TVTensor samples.

    Args:
        dataset: an instance of a supported ``VisionDataset`` subclass.
        target_keys: which target keys to return, for ``CocoDetection`` (default
            ``{"image_id", "boxes", "labels"}``), ``VOCDetection`` and ``Kitti`` (default
            ``{"boxes", "labels"}``) and ``WIDERFace`` (default all); ``"all"`` returns every
            key.
    """
    if not (target_keys is None or target_keys == "all"
            or (isinstance(target_keys, collections.abc.Collection)
                and all(isinstance(key, str) for key in target_keys))):
        raise ValueError("`target_keys` can be None, 'all', or a collection of strings denoting "
                         f"the keys to be returned, but got {target_keys}")
    wrapped_cls = type(f"Wrapped{type(dataset).__name__}",
                       (VisionDatasetTVTensorWrapper, type(dataset)), {})
    return wrapped_cls(dataset, target_keys)


class VisionDatasetTVTensorWrapper:
    """The wrapper's behaviour, mixed into a subclass of the wrapped data set's class (so
    ``isinstance`` still holds); attribute reads fall through to the wrapped data set."""

    def __init__(self, dataset, target_keys) -> None:
        dataset_cls = type(dataset)
        if not isinstance(dataset, datasets.VisionDataset):
            raise TypeError("This wrapper is meant for subclasses of "
                            f"`torchvision.datasets.VisionDataset`, but got a "
                            f"'{dataset_cls.__name__}' instead.")
        factory = None
        for cls in dataset_cls.mro():
            if cls in _FACTORIES:
                factory = _FACTORIES[cls]
                if target_keys is not None and cls.__name__ not in _TARGET_KEY_DATASETS:
                    raise ValueError("`target_keys` is currently only supported for "
                                     "`CocoDetection`, `VOCDetection`, `Kitti`, and "
                                     f"`WIDERFace`, but got {cls.__name__}.")
                break
            if cls is datasets.VisionDataset:
                break
        if factory is None:
            raise TypeError(f"No wrapper exists for dataset class {dataset_cls.__name__}. Please "
                            "wrap the output yourself.")
        self._dataset = dataset
        self._target_keys = target_keys
        self._wrapper = factory(dataset, target_keys)
        # the transforms run on the wrapped sample, so the data set must not run them itself
        self.transform, dataset.transform = dataset.transform, None
        self.target_transform, dataset.target_transform = dataset.target_transform, None
        self.transforms, dataset.transforms = dataset.transforms, None

    def __getattr__(self, item: str):
        with contextlib.suppress(AttributeError):
            return object.__getattribute__(self, item)
        return getattr(self._dataset, item)

    def __getitem__(self, idx: int):
        sample = self._wrapper(idx, self._dataset[idx])
        if self.transforms is not None:
            sample = self.transforms(*sample)
        return sample

    def __len__(self) -> int:
        return len(self._dataset)

    def __reduce__(self):
        dataset = copy(self._dataset)
        dataset.transform, dataset.target_transform = self.transform, self.target_transform
        dataset.transforms = self.transforms
        return wrap_dataset_for_transforms_v2, (dataset, self._target_keys)


def _register(*dataset_classes: type) -> Callable:
    def decorate(factory: Callable) -> Callable:
        for cls in dataset_classes:
            _FACTORIES[cls] = factory
        return factory
    return decorate


def _parse_target_keys(target_keys, *, available: set, default: set) -> set:
    if target_keys is None:
        target_keys = default
    if target_keys == "all":
        return set(available)
    target_keys = set(target_keys)
    extra = target_keys - available
    if extra:
        raise ValueError(f"Target keys {sorted(extra)} are not available")
    return target_keys


def _dict_of_lists(list_of_dicts: list) -> dict:
    out: dict = defaultdict(list)
    for dct in list_of_dicts:
        for key, value in dct.items():
            out[key].append(value)
    return dict(out)


@_register(datasets.CIFAR10, datasets.CIFAR100, datasets.ImageNet, datasets.MNIST,
           datasets.FashionMNIST, datasets.DatasetFolder, datasets.ImageFolder,
           datasets.CocoCaptions, datasets.Caltech256, datasets.GTSRB, datasets.Imagenette)
def _identity_factory(dataset, target_keys) -> Callable:
    return lambda idx, sample: sample


@_register(datasets.VOCSegmentation)
def _segmentation_factory(dataset, target_keys) -> Callable:
    def wrapper(idx, sample):
        image, mask = sample
        return image, tv_tensors.Mask(mask)
    return wrapper


def _raise_not_supported(description: str) -> None:
    raise RuntimeError(f"{description} is currently not supported by this wrapper. If this "
                       "would be helpful for you, please open an issue at "
                       "https://github.com/pytorch/vision/issues.")


def _wrap_target_by_type(target, target_types: list, type_wrappers: dict):
    """Each part of a (tuple) target passed through the wrapper of its target type."""
    if not isinstance(target, (tuple, list)):
        target = [target]
    wrapped = tuple(type_wrappers.get(target_type, lambda item: item)(item)
                    for target_type, item in zip(target_types, target))
    return wrapped[0] if len(wrapped) == 1 else wrapped


def _xywh_boxes_as_xyxy(boxes, image):
    from ember.vision.transforms.v2.functional import convert_bounding_box_format
    return convert_bounding_box_format(
        tv_tensors.BoundingBoxes(boxes, format="XYWH", canvas_size=(image.height, image.width)),
        new_format="XYXY")


@_register(datasets.Caltech101)
def _caltech101_factory(dataset, target_keys) -> Callable:
    if "annotation" in dataset.target_type:
        _raise_not_supported("Caltech101 dataset with `target_type=['annotation', ...]`")
    return _identity_factory(dataset, target_keys)


@_register(datasets.SBDataset)
def _sbd_factory(dataset, target_keys) -> Callable:
    if dataset.mode == "boundaries":
        _raise_not_supported("SBDataset with mode='boundaries'")
    return _segmentation_factory(dataset, target_keys)


@_register(datasets.OxfordIIITPet)
def _oxford_iiit_pet_factory(dataset, target_keys) -> Callable:
    def wrapper(idx, sample):
        image, target = sample
        if target is not None:
            target = _wrap_target_by_type(target, dataset._target_types,
                                          {"segmentation": tv_tensors.Mask})
        return image, target
    return wrapper


@_register(datasets.CelebA)
def _celeba_factory(dataset, target_keys) -> Callable:
    if any(target_type in dataset.target_type for target_type in ["attr", "landmarks"]):
        _raise_not_supported("`CelebA` dataset with `target_type=['attr', 'landmarks', ...]`")

    def wrapper(idx, sample):
        image, target = sample
        return image, _wrap_target_by_type(
            target, dataset.target_type, {"bbox": lambda boxes: _xywh_boxes_as_xyxy(boxes, image)})
    return wrapper


KITTI_CATEGORIES = ["Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram",
                    "Misc", "DontCare"]
KITTI_CATEGORY_TO_IDX = {name: i for i, name in enumerate(KITTI_CATEGORIES)}


@_register(datasets.Kitti)
def _kitti_factory(dataset, target_keys) -> Callable:
    target_keys = _parse_target_keys(
        target_keys, default={"boxes", "labels"},
        available={"type", "truncated", "occluded", "alpha", "bbox", "dimensions", "location",
                   "rotation_y", "boxes", "labels"})

    def wrapper(idx, sample):
        image, target = sample
        if target is None:  # the test split
            return image, target
        objects = _dict_of_lists(target)
        target = {}
        if "boxes" in target_keys:
            target["boxes"] = tv_tensors.BoundingBoxes(
                objects["bbox"], format="XYXY", canvas_size=(image.height, image.width))
        if "labels" in target_keys:
            target["labels"] = ember.tensor([KITTI_CATEGORY_TO_IDX[name]
                                             for name in objects["type"]])
        for key in target_keys - {"boxes", "labels"}:
            target[key] = objects[key]
        return image, target
    return wrapper


def _cityscapes_instances(mask) -> dict:
    """An instance-id PNG as one boolean mask per id and its class (ids of instances are
    ``class * 1000 + n``; smaller ids are classes without instances)."""
    data = tv_tensors.Mask(mask)
    ids = data.unique()
    labels = [instance_id // 1000 if instance_id >= 1000 else instance_id for instance_id in ids]
    return {"masks": tv_tensors.Mask(ember.stack([data == instance_id for instance_id in ids])),
            "labels": ember.stack(labels)}


@_register(datasets.Cityscapes)
def _cityscapes_factory(dataset, target_keys) -> Callable:
    if any(target_type in dataset.target_type for target_type in ["polygon", "color"]):
        _raise_not_supported("`Cityscapes` dataset with `target_type=['polygon', 'color', ...]`")

    def wrapper(idx, sample):
        image, target = sample
        return image, _wrap_target_by_type(
            target, dataset.target_type,
            {"instance": _cityscapes_instances, "semantic": tv_tensors.Mask})
    return wrapper


@_register(datasets.WIDERFace)
def _widerface_factory(dataset, target_keys) -> Callable:
    target_keys = _parse_target_keys(
        target_keys, default="all",
        available={"bbox", "blur", "expression", "illumination", "occlusion", "pose", "invalid"})

    def wrapper(idx, sample):
        image, target = sample
        if target is None:  # the test split
            return image, target
        target = {key: target[key] for key in target_keys}
        if "bbox" in target_keys:
            target["bbox"] = _xywh_boxes_as_xyxy(target["bbox"], image)
        return image, target
    return wrapper


def _coco_segmentation_to_mask(segmentation, canvas_size: tuple):
    """A COCO polygon list or RLE dict as an ``(H, W)`` uint8 mask."""
    from pycocotools import mask as coco_mask
    if isinstance(segmentation, dict):
        if not isinstance(segmentation["counts"], str):  # uncompressed RLE
            segmentation = coco_mask.frPyObjects(segmentation, *canvas_size)
    elif isinstance(segmentation, list):
        segmentation = coco_mask.merge(coco_mask.frPyObjects(segmentation, *canvas_size))
    else:
        raise ValueError(f"COCO segmentation expected to be a dict or a list, got "
                         f"{type(segmentation)}")
    return ember.from_numpy(coco_mask.decode(segmentation))


@_register(datasets.CocoDetection)
def _coco_detection_factory(dataset, target_keys) -> Callable:
    target_keys = _parse_target_keys(
        target_keys, default={"image_id", "boxes", "labels"},
        available={"segmentation", "area", "iscrowd", "image_id", "bbox", "category_id",
                   "boxes", "masks", "labels"})

    def wrapper(idx, sample):
        from ember.vision.transforms.v2.functional import convert_bounding_box_format, get_size
        image_id = dataset.ids[idx]
        image, annotations = sample
        if not annotations:
            return image, {"image_id": image_id}
        canvas_size = tuple(get_size(image))
        batched = _dict_of_lists(annotations)
        target = {}
        if "image_id" in target_keys:
            target["image_id"] = image_id
        if "boxes" in target_keys:
            target["boxes"] = convert_bounding_box_format(
                tv_tensors.BoundingBoxes(batched["bbox"], format="XYWH", canvas_size=canvas_size),
                new_format="XYXY")
        if "masks" in target_keys:
            target["masks"] = tv_tensors.Mask(ember.stack(
                [_coco_segmentation_to_mask(s, canvas_size) for s in batched["segmentation"]]))
        if "labels" in target_keys:
            target["labels"] = ember.tensor(batched["category_id"])
        for key in target_keys - {"image_id", "boxes", "masks", "labels"}:
            target[key] = batched[key]
        return image, target
    return wrapper


VOC_DETECTION_CATEGORIES = [
    "__background__", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep",
    "sofa", "train", "tvmonitor",
]
VOC_DETECTION_CATEGORY_TO_IDX = {name: i for i, name in enumerate(VOC_DETECTION_CATEGORIES)}


@_register(datasets.VOCDetection)
def _voc_detection_factory(dataset, target_keys) -> Callable:
    target_keys = _parse_target_keys(target_keys, available={"annotation", "boxes", "labels"},
                                     default={"boxes", "labels"})

    def wrapper(idx, sample):
        image, target = sample
        objects = _dict_of_lists(target["annotation"]["object"])
        if "annotation" not in target_keys:
            target = {}
        if "boxes" in target_keys:
            target["boxes"] = tv_tensors.BoundingBoxes(
                [[int(box[part]) for part in ("xmin", "ymin", "xmax", "ymax")]
                 for box in objects["bndbox"]],
                format="XYXY", canvas_size=(image.height, image.width))
        if "labels" in target_keys:
            target["labels"] = ember.tensor([VOC_DETECTION_CATEGORY_TO_IDX[name]
                                             for name in objects["name"]])
        return image, target
    return wrapper


__all__ = ["wrap_dataset_for_transforms_v2"]
