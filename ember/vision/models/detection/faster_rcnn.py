"""Faster R-CNN (Ren et al., 2015; torchvision's ``models.detection.faster_rcnn``): a backbone
with an FPN, a region proposal network, and RoI heads that classify and refine each proposal."""
from __future__ import annotations

from typing import Any, Callable

from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models._api import Weights, WeightsEnum, register_model
from ember.vision.models._meta import _COCO_CATEGORIES
from ember.vision.models._presets import ObjectDetection
from ember.vision.models._utils import handle_legacy_interface
from ember.vision.models.detection._utils import overwrite_eps
from ember.vision.models.detection.anchor_utils import AnchorGenerator
from ember.vision.models.detection.backbone_utils import (
    _detection_resnet50_fpn,
    _mobilenet_extractor,
    _num_classes_for,
    _validate_trainable_layers,
)
from ember.vision.models.detection.generalized_rcnn import GeneralizedRCNN
from ember.vision.models.detection.roi_heads import RoIHeads
from ember.vision.models.detection.rpn import RegionProposalNetwork, RPNHead
from ember.vision.models.detection.transform import GeneralizedRCNNTransform
from ember.vision.models.mobilenetv3 import MobileNet_V3_Large_Weights, mobilenet_v3_large
from ember.vision.models.resnet import ResNet50_Weights
from ember.vision.ops.misc import Conv2dNormActivation, FrozenBatchNorm2d
from ember.vision.ops.poolers import MultiScaleRoIAlign

__all__ = [
    "FasterRCNN", "FasterRCNN_ResNet50_FPN_Weights", "FasterRCNN_ResNet50_FPN_V2_Weights",
    "FasterRCNN_MobileNet_V3_Large_FPN_Weights", "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights",
    "fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
]


def _default_anchorgen() -> AnchorGenerator:
    anchor_sizes = ((32,), (64,), (128,), (256,), (512,))
    aspect_ratios = ((0.5, 1.0, 2.0),) * len(anchor_sizes)
    return AnchorGenerator(anchor_sizes, aspect_ratios)


class FasterRCNN(GeneralizedRCNN):
    """Faster R-CNN over any ``backbone`` that has an ``out_channels`` attribute (the same for
    every feature map it returns).

    In training, ``model(images, targets)`` returns the losses ``loss_classifier``,
    ``loss_box_reg``, ``loss_objectness`` and ``loss_rpn_box_reg``; in evaluation
    ``model(images)`` returns per image ``boxes`` ``(K, 4)`` (x1, y1, x2, y2 in the input's
    pixels), ``labels`` ``(K,)`` and ``scores`` ``(K,)``. Images are float ``(C, H, W)`` in
    [0, 1], of any sizes.

    Args:
        backbone: the feature extractor.
        num_classes: classes including the background (None only with a ``box_predictor``).
        min_size, max_size, image_mean, image_std: the :class:`GeneralizedRCNNTransform`'s.
        rpn_*: the region proposal network's anchor generator, head, numbers of proposals
            kept before and after NMS (train / test), NMS IoU, matching IoUs, sampling and the
            score threshold.
        box_*: the RoI heads' pooler, head, predictor, score threshold, NMS IoU, detections per
            image, matching IoUs and sampling; ``bbox_reg_weights`` their box coder's weights.
        kwargs: more arguments of the transform (``size_divisible``, ``fixed_size``).

    Example::

        >>> model = fasterrcnn_mobilenet_v3_large_fpn(weights_backbone=None, num_classes=3,
        ...                                           min_size=64, max_size=64).eval()
        >>> sorted(model([ember.rand(3, 48, 64)])[0])
        ['boxes', 'labels', 'scores']
    """

    def __init__(self, backbone: nn.Module, num_classes: int | None = None,
                 # transform parameters
                 min_size: int = 800, max_size: int = 1333,
                 image_mean: list[float] | None = None, image_std: list[float] | None = None,
                 # RPN parameters
                 rpn_anchor_generator: AnchorGenerator | None = None,
                 rpn_head: nn.Module | None = None,
                 rpn_pre_nms_top_n_train: int = 2000, rpn_pre_nms_top_n_test: int = 1000,
                 rpn_post_nms_top_n_train: int = 2000, rpn_post_nms_top_n_test: int = 1000,
                 rpn_nms_thresh: float = 0.7, rpn_fg_iou_thresh: float = 0.7,
                 rpn_bg_iou_thresh: float = 0.3, rpn_batch_size_per_image: int = 256,
                 rpn_positive_fraction: float = 0.5, rpn_score_thresh: float = 0.0,
                 # Box parameters
                 box_roi_pool: MultiScaleRoIAlign | None = None,
                 box_head: nn.Module | None = None, box_predictor: nn.Module | None = None,
                 box_score_thresh: float = 0.05, box_nms_thresh: float = 0.5,
                 box_detections_per_img: int = 100, box_fg_iou_thresh: float = 0.5,
                 box_bg_iou_thresh: float = 0.5, box_batch_size_per_image: int = 512,
                 box_positive_fraction: float = 0.25,
                 bbox_reg_weights: tuple[float, float, float, float] | None = None,
                 **kwargs: Any) -> None:
        if not hasattr(backbone, "out_channels"):
            raise ValueError("backbone should contain an attribute out_channels specifying the "
                             "number of output channels (assumed to be the same for all the "
                             "levels)")
        if not isinstance(rpn_anchor_generator, (AnchorGenerator, type(None))):
            raise TypeError("rpn_anchor_generator should be of type AnchorGenerator or None "
                            f"instead of {type(rpn_anchor_generator)}")
        if not isinstance(box_roi_pool, (MultiScaleRoIAlign, type(None))):
            raise TypeError("box_roi_pool should be of type MultiScaleRoIAlign or None instead "
                            f"of {type(box_roi_pool)}")
        if num_classes is not None and box_predictor is not None:
            raise ValueError("num_classes should be None when box_predictor is specified")
        if num_classes is None and box_predictor is None:
            raise ValueError("num_classes should not be None when box_predictor is not "
                             "specified")
        out_channels = backbone.out_channels
        if rpn_anchor_generator is None:
            rpn_anchor_generator = _default_anchorgen()
        if rpn_head is None:
            rpn_head = RPNHead(out_channels, rpn_anchor_generator.num_anchors_per_location()[0])
        rpn = RegionProposalNetwork(
            rpn_anchor_generator, rpn_head, rpn_fg_iou_thresh, rpn_bg_iou_thresh,
            rpn_batch_size_per_image, rpn_positive_fraction,
            dict(training=rpn_pre_nms_top_n_train, testing=rpn_pre_nms_top_n_test),
            dict(training=rpn_post_nms_top_n_train, testing=rpn_post_nms_top_n_test),
            rpn_nms_thresh, score_thresh=rpn_score_thresh)
        if box_roi_pool is None:
            box_roi_pool = MultiScaleRoIAlign(featmap_names=["0", "1", "2", "3"], output_size=7,
                                              sampling_ratio=2)
        representation_size = 1024
        if box_head is None:
            resolution = box_roi_pool.output_size[0]
            box_head = TwoMLPHead(out_channels * resolution**2, representation_size)
        if box_predictor is None:
            box_predictor = FastRCNNPredictor(representation_size, num_classes)
        roi_heads = RoIHeads(box_roi_pool, box_head, box_predictor, box_fg_iou_thresh,
                             box_bg_iou_thresh, box_batch_size_per_image, box_positive_fraction,
                             bbox_reg_weights, box_score_thresh, box_nms_thresh,
                             box_detections_per_img)
        if image_mean is None:
            image_mean = [0.485, 0.456, 0.406]
        if image_std is None:
            image_std = [0.229, 0.224, 0.225]
        transform = GeneralizedRCNNTransform(min_size, max_size, image_mean, image_std, **kwargs)
        super().__init__(backbone, rpn, roi_heads, transform)


class TwoMLPHead(nn.Module):
    """The box head of FPN-based models: flatten, then two fully connected layers with ReLU.

    Args:
        in_channels: the flattened size of a pooled RoI.
        representation_size: the width of both layers.
    """

    def __init__(self, in_channels: int, representation_size: int) -> None:
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(start_dim=1)
        return F.relu(self.fc7(F.relu(self.fc6(x))))


class FastRCNNConvFCHead(nn.Sequential):
    """The v2 box head: 3x3 conv-norm-ReLU blocks of ``conv_layers`` channels, flatten, then
    linear-ReLU layers of ``fc_layers`` widths.

    Args:
        input_size: ``(channels, height, width)`` of a pooled RoI.
        conv_layers: output channels of each convolution block.
        fc_layers: width of each fully connected layer.
        norm_layer: normalization in the convolution blocks (default none).
    """

    def __init__(self, input_size: tuple[int, int, int], conv_layers: list[int],
                 fc_layers: list[int], norm_layer: Callable[..., nn.Module] | None = None
                 ) -> None:
        in_channels, in_height, in_width = input_size
        blocks = []
        previous_channels = in_channels
        for current_channels in conv_layers:
            blocks.append(Conv2dNormActivation(previous_channels, current_channels,
                                               norm_layer=norm_layer))
            previous_channels = current_channels
        blocks.append(nn.Flatten())
        previous_channels = previous_channels * in_height * in_width
        for current_channels in fc_layers:
            blocks.append(nn.Linear(previous_channels, current_channels))
            blocks.append(nn.ReLU(inplace=True))
            previous_channels = current_channels
        super().__init__(*blocks)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)


class FastRCNNPredictor(nn.Module):
    """Class logits (``cls_score``) and per-class box deltas (``bbox_pred``) of each RoI.

    Args:
        in_channels: the box head's output width.
        num_classes: classes including the background.

    Shape:
        - Input: ``(R, in_channels)`` or ``(R, in_channels, 1, 1)``.
        - Output: ``(R, num_classes)`` and ``(R, num_classes * 4)``.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)
        self.bbox_pred = nn.Linear(in_channels, num_classes * 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() == 4 and list(x.shape[2:]) != [1, 1]:
            raise AssertionError("x has the wrong shape, expecting the last two dimensions to "
                                 f"be [1,1] instead of {list(x.shape[2:])}")
        x = x.flatten(start_dim=1)
        return self.cls_score(x), self.bbox_pred(x)


_COMMON_META = {"categories": _COCO_CATEGORIES, "min_size": (1, 1)}
_REFERENCES = "https://github.com/pytorch/vision/tree/main/references/detection#"
_PAPER_RECIPE = ("These weights were produced by following a similar training recipe as on the "
                 "paper.")
_ENHANCED_RECIPE = ("These weights were produced using an enhanced training recipe to boost the "
                    "model accuracy.")


def _coco_weights(url: str, num_params: int, recipe: str, metrics: dict[str, float],
                  ops: float, file_size: float, docs: str,
                  common_meta: dict[str, Any] = _COMMON_META) -> Weights:
    """The record of a COCO detector's weights (shared by the R-CNN builders)."""
    return Weights(url=url, transforms=ObjectDetection,
                   meta={**common_meta, "num_params": num_params, "recipe": recipe,
                         "_metrics": {"COCO-val2017": metrics}, "_ops": ops,
                         "_file_size": file_size, "_docs": docs})


_URL = "https://download.pytorch.org/models/"


class FasterRCNN_ResNet50_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(_URL + "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth", 41755286,
                            _REFERENCES + "faster-r-cnn-resnet-50-fpn", {"box_map": 37.0},
                            134.38, 159.743, _PAPER_RECIPE)
    DEFAULT = COCO_V1


class FasterRCNN_ResNet50_FPN_V2_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(_URL + "fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth", 43712278,
                            "https://github.com/pytorch/vision/pull/5763", {"box_map": 46.7},
                            280.371, 167.104, _ENHANCED_RECIPE)
    DEFAULT = COCO_V1


class FasterRCNN_MobileNet_V3_Large_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(_URL + "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth", 19386354,
                            _REFERENCES + "faster-r-cnn-mobilenetv3-large-fpn", {"box_map": 32.8},
                            4.494, 74.239, _PAPER_RECIPE)
    DEFAULT = COCO_V1


class FasterRCNN_MobileNet_V3_Large_320_FPN_Weights(WeightsEnum):
    COCO_V1 = _coco_weights(_URL + "fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth",
                            19386354, _REFERENCES + "faster-r-cnn-mobilenetv3-large-320-fpn",
                            {"box_map": 22.8}, 0.719, 74.239, _PAPER_RECIPE)
    DEFAULT = COCO_V1


def _v2_rpn_and_box_heads(out_channels: int) -> dict[str, nn.Module]:
    """The v2 models' anchors, two-conv RPN head and batch-normalized conv box head."""
    rpn_anchor_generator = _default_anchorgen()
    rpn_head = RPNHead(out_channels, rpn_anchor_generator.num_anchors_per_location()[0],
                       conv_depth=2)
    box_head = FastRCNNConvFCHead((out_channels, 7, 7), [256, 256, 256, 256], [1024],
                                  norm_layer=nn.BatchNorm2d)
    return {"rpn_anchor_generator": rpn_anchor_generator, "rpn_head": rpn_head,
            "box_head": box_head}


@register_model()
@handle_legacy_interface(FasterRCNN_ResNet50_FPN_Weights.COCO_V1, ResNet50_Weights.IMAGENET1K_V1)
def fasterrcnn_resnet50_fpn(*, weights: FasterRCNN_ResNet50_FPN_Weights | None = None,
                            progress: bool = True, num_classes: int | None = None,
                            weights_backbone: ResNet50_Weights | None =
                            ResNet50_Weights.IMAGENET1K_V1,
                            trainable_backbone_layers: int | None = None,
                            **kwargs: Any) -> FasterRCNN:
    """Faster R-CNN with a ResNet-50-FPN backbone (`Faster R-CNN: Towards Real-Time Object
    Detection with Region Proposal Networks <https://arxiv.org/abs/1506.01497>`_).

    Args:
        weights: a ``FasterRCNN_ResNet50_FPN_Weights`` member, its name, or None.
        progress: show a download progress bar.
        num_classes: classes including the background (default 91, or the weights').
        weights_backbone: ImageNet weights of the ResNet-50 (ignored with ``weights``).
        trainable_backbone_layers: backbone stages left trainable, 0-5 (default 3 when
            something is pretrained, else 5).
        kwargs: passed to :class:`FasterRCNN`.
    """
    weights, num_classes, backbone = _detection_resnet50_fpn(
        FasterRCNN_ResNet50_FPN_Weights, weights, weights_backbone, progress, num_classes,
        trainable_backbone_layers)
    model = FasterRCNN(backbone, num_classes=num_classes, **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
        if weights == FasterRCNN_ResNet50_FPN_Weights.COCO_V1:
            overwrite_eps(model, 0.0)  # that checkpoint was trained with eps = 0
    return model


@register_model()
@handle_legacy_interface(FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1,
                         ResNet50_Weights.IMAGENET1K_V1)
def fasterrcnn_resnet50_fpn_v2(*, weights: FasterRCNN_ResNet50_FPN_V2_Weights | None = None,
                               progress: bool = True, num_classes: int | None = None,
                               weights_backbone: ResNet50_Weights | None = None,
                               trainable_backbone_layers: int | None = None,
                               **kwargs: Any) -> FasterRCNN:
    """Faster R-CNN v2 (`Benchmarking Detection Transfer Learning with Vision Transformers
    <https://arxiv.org/abs/2111.11429>`_): batch-normalized FPN and conv box head, two-conv RPN
    head. Arguments as :func:`fasterrcnn_resnet50_fpn`."""
    weights, num_classes, backbone = _detection_resnet50_fpn(
        FasterRCNN_ResNet50_FPN_V2_Weights, weights, weights_backbone, progress, num_classes,
        trainable_backbone_layers, frozen_bn=False, fpn_norm_layer=nn.BatchNorm2d)
    model = FasterRCNN(backbone, num_classes=num_classes,
                       **_v2_rpn_and_box_heads(backbone.out_channels), **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


def _fasterrcnn_mobilenet_v3_large_fpn(*, weights: WeightsEnum | None, progress: bool,
                                       num_classes: int | None,
                                       weights_backbone: MobileNet_V3_Large_Weights | None,
                                       trainable_backbone_layers: int | None,
                                       **kwargs: Any) -> FasterRCNN:
    if weights is not None:
        weights_backbone = None
    num_classes = _num_classes_for(weights, num_classes)
    is_trained = weights is not None or weights_backbone is not None
    trainable_backbone_layers = _validate_trainable_layers(is_trained, trainable_backbone_layers,
                                                           6, 3)
    norm_layer = FrozenBatchNorm2d if is_trained else nn.BatchNorm2d
    backbone = mobilenet_v3_large(weights=weights_backbone, progress=progress,
                                  norm_layer=norm_layer)
    backbone = _mobilenet_extractor(backbone, True, trainable_backbone_layers)
    # the two FPN levels and the pool level each get all five anchor sizes
    anchor_sizes = ((32, 64, 128, 256, 512),) * 3
    aspect_ratios = ((0.5, 1.0, 2.0),) * len(anchor_sizes)
    model = FasterRCNN(backbone, num_classes,
                       rpn_anchor_generator=AnchorGenerator(anchor_sizes, aspect_ratios),
                       **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


@register_model()
@handle_legacy_interface(FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1,
                         MobileNet_V3_Large_Weights.IMAGENET1K_V1)
def fasterrcnn_mobilenet_v3_large_320_fpn(
        *, weights: FasterRCNN_MobileNet_V3_Large_320_FPN_Weights | None = None,
        progress: bool = True, num_classes: int | None = None,
        weights_backbone: MobileNet_V3_Large_Weights | None =
        MobileNet_V3_Large_Weights.IMAGENET1K_V1,
        trainable_backbone_layers: int | None = None, **kwargs: Any) -> FasterRCNN:
    """Low-resolution Faster R-CNN with a MobileNetV3-Large FPN backbone, tuned for mobile use
    (images resized to 320 pixels, fewer proposals). Arguments as
    :func:`fasterrcnn_mobilenet_v3_large_fpn`."""
    weights = FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.verify(weights)
    weights_backbone = MobileNet_V3_Large_Weights.verify(weights_backbone)
    defaults = {"min_size": 320, "max_size": 640, "rpn_pre_nms_top_n_test": 150,
                "rpn_post_nms_top_n_test": 150, "rpn_score_thresh": 0.05}
    return _fasterrcnn_mobilenet_v3_large_fpn(
        weights=weights, progress=progress, num_classes=num_classes,
        weights_backbone=weights_backbone, trainable_backbone_layers=trainable_backbone_layers,
        **{**defaults, **kwargs})


@register_model()
@handle_legacy_interface(FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1,
                         MobileNet_V3_Large_Weights.IMAGENET1K_V1)
def fasterrcnn_mobilenet_v3_large_fpn(
        *, weights: FasterRCNN_MobileNet_V3_Large_FPN_Weights | None = None,
        progress: bool = True, num_classes: int | None = None,
        weights_backbone: MobileNet_V3_Large_Weights | None =
        MobileNet_V3_Large_Weights.IMAGENET1K_V1,
        trainable_backbone_layers: int | None = None, **kwargs: Any) -> FasterRCNN:
    """Faster R-CNN with a MobileNetV3-Large FPN backbone.

    Args:
        weights: a ``FasterRCNN_MobileNet_V3_Large_FPN_Weights`` member, its name, or None.
        progress: show a download progress bar.
        num_classes: classes including the background (default 91, or the weights').
        weights_backbone: ImageNet weights of the MobileNetV3 (ignored with ``weights``).
        trainable_backbone_layers: backbone stages left trainable, 0-6 (default 3 when
            something is pretrained, else 6).
        kwargs: passed to :class:`FasterRCNN`.
    """
    weights = FasterRCNN_MobileNet_V3_Large_FPN_Weights.verify(weights)
    weights_backbone = MobileNet_V3_Large_Weights.verify(weights_backbone)
    return _fasterrcnn_mobilenet_v3_large_fpn(
        weights=weights, progress=progress, num_classes=num_classes,
        weights_backbone=weights_backbone, trainable_backbone_layers=trainable_backbone_layers,
        **{"rpn_score_thresh": 0.05, **kwargs})
