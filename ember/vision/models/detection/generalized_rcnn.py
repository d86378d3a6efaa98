"""``GeneralizedRCNN`` (torchvision's ``models.detection.generalized_rcnn``): the R-CNN pipeline
transform -> backbone -> region proposal network -> RoI heads -> postprocess."""
from __future__ import annotations

from collections import OrderedDict

from ember import nn
from ember._tensor import Tensor


class GeneralizedRCNN(nn.Module):
    """The two-stage detector's frame, shared by Faster, Mask and Keypoint R-CNN.

    Args:
        backbone: images ``(N, C, H, W)`` -> a feature map or an ordered dict of them.
        rpn: ``(images, features, targets)`` -> ``(proposals, losses)``.
        roi_heads: ``(features, proposals, image_sizes, targets)`` -> ``(detections, losses)``.
        transform: a :class:`GeneralizedRCNNTransform` (normalize, resize, batch; postprocess).

    Calling it with a list of ``(C, H, W)`` images (and, in training, a list of targets with
    ``boxes`` ``(K, 4)`` in ``x1, y1, x2, y2`` and ``labels``) returns, in training, a dict of
    losses, and in evaluation a list of detections (``boxes``, ``labels``, ``scores``, and
    ``masks`` / ``keypoints`` for those models) in the original images' coordinates.
    """

    def __init__(self, backbone: nn.Module, rpn: nn.Module, roi_heads: nn.Module,
                 transform: nn.Module) -> None:
        super().__init__()
        self.transform = transform
        self.backbone = backbone
        self.rpn = rpn
        self.roi_heads = roi_heads

    def eager_outputs(self, losses: dict[str, Tensor], detections: list[dict[str, Tensor]]
                      ) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        """The losses in training, the detections in evaluation."""
        if self.training:
            return losses
        return detections

    def forward(self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None
                ) -> dict[str, Tensor] | list[dict[str, Tensor]]:
        if self.training:
            if targets is None:
                raise AssertionError("targets should not be none when in training mode")
            for target in targets:
                boxes = target["boxes"]
                if not isinstance(boxes, Tensor):
                    raise AssertionError("Expected target boxes to be of type Tensor, got "
                                         f"{type(boxes)}.")
                if boxes.dim() != 2 or boxes.shape[-1] != 4:
                    raise AssertionError("Expected target boxes to be a tensor of shape [N, 4], "
                                         f"got {boxes.shape}.")
        original_image_sizes = []
        for img in images:
            if img.dim() < 2:
                raise AssertionError("expecting the last two dimensions of the Tensor to be H "
                                     f"and W instead got {img.shape[-2:]}")
            original_image_sizes.append((int(img.shape[-2]), int(img.shape[-1])))
        images, targets = self.transform(images, targets)
        if targets is not None:
            _check_no_degenerate_boxes(targets)
        features = self.backbone(images.tensors)
        if isinstance(features, Tensor):
            features = OrderedDict([("0", features)])
        proposals, proposal_losses = self.rpn(images, features, targets)
        detections, detector_losses = self.roi_heads(features, proposals, images.image_sizes,
                                                     targets)
        detections = self.transform.postprocess(detections, images.image_sizes,
                                                original_image_sizes)
        losses = {}
        losses.update(detector_losses)
        losses.update(proposal_losses)
        return self.eager_outputs(losses, detections)


def _check_no_degenerate_boxes(targets: list[dict[str, Tensor]]) -> None:
    for target_idx, target in enumerate(targets):
        boxes = target["boxes"]
        degenerate = (boxes[:, 2:] <= boxes[:, :2]).any(dim=1)
        if degenerate.any():
            first = boxes[degenerate.nonzero()[0, 0]].tolist()
            raise AssertionError("All bounding boxes should have positive height and width. "
                                 f"Found invalid box {first} for target at index {target_idx}.")
