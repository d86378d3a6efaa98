"""``ember.vision.ops``: torchvision's ``ops`` (box utilities, detection losses, RoI pooling and
the layers its models share), written on ember so that everything is differentiable."""
from ember.vision.ops.boxes import (
    batched_nms,
    box_area,
    box_convert,
    box_iou,
    clip_boxes_to_image,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
    masks_to_boxes,
    nms,
    remove_small_boxes,
)
from ember.vision.ops.ciou_loss import complete_box_iou_loss
from ember.vision.ops.deform_conv import DeformConv2d, deform_conv2d
from ember.vision.ops.diou_loss import distance_box_iou_loss
from ember.vision.ops.drop_block import DropBlock2d, DropBlock3d, drop_block2d, drop_block3d
from ember.vision.ops.feature_pyramid_network import FeaturePyramidNetwork
from ember.vision.ops.focal_loss import sigmoid_focal_loss
from ember.vision.ops.giou_loss import generalized_box_iou_loss
from ember.vision.ops.misc import (
    MLP,
    Conv2dNormActivation,
    Conv3dNormActivation,
    FrozenBatchNorm2d,
    Permute,
    SqueezeExcitation,
)
from ember.vision.ops.poolers import MultiScaleRoIAlign
from ember.vision.ops.ps_roi_align import PSRoIAlign, ps_roi_align
from ember.vision.ops.ps_roi_pool import PSRoIPool, ps_roi_pool
from ember.vision.ops.roi_align import RoIAlign, roi_align
from ember.vision.ops.roi_pool import RoIPool, roi_pool
from ember.vision.ops.stochastic_depth import StochasticDepth, stochastic_depth

__all__ = [
    "masks_to_boxes", "nms", "batched_nms", "remove_small_boxes", "clip_boxes_to_image",
    "box_convert", "box_area", "box_iou", "generalized_box_iou", "distance_box_iou",
    "complete_box_iou", "roi_align", "RoIAlign", "roi_pool", "RoIPool", "ps_roi_align",
    "PSRoIAlign", "ps_roi_pool", "PSRoIPool", "MultiScaleRoIAlign", "FeaturePyramidNetwork",
    "sigmoid_focal_loss",
    "stochastic_depth", "StochasticDepth", "FrozenBatchNorm2d", "Conv2dNormActivation",
    "Conv3dNormActivation", "SqueezeExcitation", "MLP", "Permute", "generalized_box_iou_loss",
    "distance_box_iou_loss", "complete_box_iou_loss", "drop_block2d", "DropBlock2d",
    "drop_block3d", "DropBlock3d", "deform_conv2d", "DeformConv2d",
]
