"""Region Proposal Network (torchvision's ``models.detection.rpn``): a small conv head scores and
regresses every anchor; the best boxes per level survive NMS as the proposals of the second
stage."""
from __future__ import annotations

import ember
from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models.detection import _utils as det_utils
from ember.vision.models.detection.anchor_utils import AnchorGenerator
from ember.vision.models.detection.image_list import ImageList
from ember.vision.ops import Conv2dNormActivation
from ember.vision.ops import boxes as box_ops

__all__ = ["AnchorGenerator", "RPNHead", "RegionProposalNetwork", "concat_box_prediction_layers",
           "permute_and_flatten"]


class RPNHead(nn.Module):
    """``conv_depth`` 3x3 conv + ReLU layers shared by all levels, then 1x1 convs giving one
    objectness logit and four box deltas per anchor.

    Args:
        in_channels: channels of every feature map.
        num_anchors: anchors per location.
        conv_depth: number of shared 3x3 convolutions.

    Shape: a list of ``(N, in_channels, H_l, W_l)`` -> two lists, ``(N, A, H_l, W_l)`` and
    ``(N, 4 * A, H_l, W_l)``.
    """

    # version 2 nests the shared conv in a Sequential: ``conv.0.0.weight``
    _version = 2

    def __init__(self, in_channels: int, num_anchors: int, conv_depth: int = 1) -> None:
        super().__init__()
        self.conv = nn.Sequential(*[
            Conv2dNormActivation(in_channels, in_channels, kernel_size=3, norm_layer=None)
            for _ in range(conv_depth)])
        self.cls_logits = nn.Conv2d(in_channels, num_anchors, kernel_size=1, stride=1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=1, stride=1)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, std=0.01)
                if layer.bias is not None:
                    nn.init.constant_(layer.bias, 0)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        version = local_metadata.get("version", None)
        if version is None or version < 2:
            for name in ("weight", "bias"):
                old_key = f"{prefix}conv.{name}"
                if old_key in state_dict:
                    state_dict[f"{prefix}conv.0.0.{name}"] = state_dict.pop(old_key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def forward(self, x: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        logits = []
        bbox_reg = []
        for feature in x:
            t = self.conv(feature)
            logits.append(self.cls_logits(t))
            bbox_reg.append(self.bbox_pred(t))
        return logits, bbox_reg


def permute_and_flatten(layer: Tensor, N: int, A: int, C: int, H: int, W: int) -> Tensor:
    """``(N, A * C, H, W)`` -> ``(N, H * W * A, C)``: the anchor order of the generator."""
    return layer.view(N, -1, C, H, W).permute(0, 3, 4, 1, 2).reshape(N, -1, C)


def concat_box_prediction_layers(box_cls: list[Tensor],
                                 box_regression: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Flattens every level's class and box outputs into one row per anchor, images first,
    levels concatenated as the anchors are: ``(N * sum_l H_l W_l A, C)`` and ``(..., 4)``."""
    cls_flat = []
    reg_flat = []
    for cls_level, reg_level in zip(box_cls, box_regression):
        N, AxC, H, W = cls_level.shape
        A = reg_level.shape[1] // 4
        C = AxC // A
        cls_flat.append(permute_and_flatten(cls_level, N, A, C, H, W))
        reg_flat.append(permute_and_flatten(reg_level, N, A, 4, H, W))
    return ember.cat(cls_flat, dim=1).flatten(0, -2), ember.cat(reg_flat, dim=1).reshape(-1, 4)


class RegionProposalNetwork(nn.Module):
    """Region Proposal Network (Ren et al., 2015).

    Args:
        anchor_generator: makes the anchors of every feature map.
        head: maps the feature maps to objectness logits and box deltas (e.g. :class:`RPNHead`).
        fg_iou_thresh: IoU with a ground truth at which an anchor is a positive in training.
        bg_iou_thresh: IoU below which an anchor is a negative in training.
        batch_size_per_image: anchors sampled per image for the loss.
        positive_fraction: largest share of positives among them.
        pre_nms_top_n: ``{"training": k, "testing": k}``: best anchors kept per level before NMS.
        post_nms_top_n: ``{"training": k, "testing": k}``: proposals kept per image after NMS.
        nms_thresh: IoU threshold of the per-level NMS.
        score_thresh: proposals need an objectness probability of at least this.

    Returns (forward): one ``(P_i, 4)`` tensor of proposals per image, and in training the
    losses ``{"loss_objectness", "loss_rpn_box_reg"}`` (else an empty dict).
    """

    def __init__(self, anchor_generator: AnchorGenerator, head: nn.Module, fg_iou_thresh: float,
                 bg_iou_thresh: float, batch_size_per_image: int, positive_fraction: float,
                 pre_nms_top_n: dict[str, int], post_nms_top_n: dict[str, int],
                 nms_thresh: float, score_thresh: float = 0.0) -> None:
        super().__init__()
        self.anchor_generator = anchor_generator
        self.head = head
        self.box_coder = det_utils.BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self.box_similarity = box_ops.box_iou
        self.proposal_matcher = det_utils.Matcher(fg_iou_thresh, bg_iou_thresh,
                                                  allow_low_quality_matches=True)
        self.fg_bg_sampler = det_utils.BalancedPositiveNegativeSampler(batch_size_per_image,
                                                                       positive_fraction)
        self._pre_nms_top_n = pre_nms_top_n
        self._post_nms_top_n = post_nms_top_n
        self.nms_thresh = nms_thresh
        self.score_thresh = score_thresh
        self.min_size = 1e-3

    def pre_nms_top_n(self) -> int:
        return self._pre_nms_top_n["training" if self.training else "testing"]

    def post_nms_top_n(self) -> int:
        return self._post_nms_top_n["training" if self.training else "testing"]

    def assign_targets_to_anchors(self, anchors: list[Tensor], targets: list[dict[str, Tensor]]
                                  ) -> tuple[list[Tensor], list[Tensor]]:
        """Per image, float labels of the anchors (1 positive, 0 negative, -1 ignored) and the
        ground-truth box each anchor regresses to."""
        labels = []
        matched_gt_boxes = []
        for anchors_per_image, targets_per_image in zip(anchors, targets):
            gt_boxes = targets_per_image["boxes"]
            device = anchors_per_image.device
            if gt_boxes.numel() == 0:
                # an image without objects: every anchor is background
                matched = ember.zeros(anchors_per_image.shape, dtype=ember.float32, device=device)
                image_labels = ember.zeros((anchors_per_image.shape[0],), dtype=ember.float32,
                                           device=device)
            else:
                quality = self.box_similarity(gt_boxes, anchors_per_image)
                matched_idxs = self.proposal_matcher(quality)
                # negative codes index ground truth 0; their labels below make that harmless
                matched = gt_boxes[matched_idxs.clamp(min=0)]
                image_labels = (matched_idxs >= 0).to(dtype=ember.float32)
                image_labels[matched_idxs == self.proposal_matcher.BELOW_LOW_THRESHOLD] = 0.0
                image_labels[matched_idxs == self.proposal_matcher.BETWEEN_THRESHOLDS] = -1.0
            labels.append(image_labels)
            matched_gt_boxes.append(matched)
        return labels, matched_gt_boxes

    def _get_top_n_idx(self, objectness: Tensor, num_anchors_per_level: list[int]) -> Tensor:
        """Indices (into all levels) of the ``pre_nms_top_n`` best anchors of each level."""
        top_idx = []
        offset = 0
        for level in objectness.split(num_anchors_per_level, 1):
            k = det_utils._topk_min(level, self.pre_nms_top_n(), 1)
            top_idx.append(level.topk(k, dim=1)[1] + offset)
            offset += level.shape[1]
        return ember.cat(top_idx, dim=1)

    def filter_proposals(self, proposals: Tensor, objectness: Tensor,
                         image_shapes: list[tuple[int, int]], num_anchors_per_level: list[int]
                         ) -> tuple[list[Tensor], list[Tensor]]:
        """Keeps, per image, the best anchors of each level, clipped, without tiny or
        low-scoring boxes, after per-level NMS: boxes and objectness probabilities."""
        num_images = proposals.shape[0]
        device = proposals.device
        # proposals are constants for the second stage: no gradient through the scores
        objectness = objectness.detach().reshape(num_images, -1)
        levels = ember.cat([ember.full((n,), idx, dtype=ember.int64, device=device)
                            for idx, n in enumerate(num_anchors_per_level)], 0)
        levels = levels.reshape(1, -1).expand_as(objectness)
        top_n_idx = self._get_top_n_idx(objectness, num_anchors_per_level)
        batch_idx = ember.arange(num_images, device=device)[:, None]
        objectness = objectness[batch_idx, top_n_idx]
        levels = levels[batch_idx, top_n_idx]
        proposals = proposals[batch_idx, top_n_idx]
        objectness_prob = ember.sigmoid(objectness)

        final_boxes = []
        final_scores = []
        for boxes, scores, lvl, img_shape in zip(proposals, objectness_prob, levels, image_shapes):
            boxes = box_ops.clip_boxes_to_image(boxes, img_shape)
            keep = box_ops.remove_small_boxes(boxes, self.min_size)
            boxes, scores, lvl = boxes[keep], scores[keep], lvl[keep]
            keep = ember.where(scores >= self.score_thresh)[0]
            boxes, scores, lvl = boxes[keep], scores[keep], lvl[keep]
            keep = box_ops.batched_nms(boxes, scores, lvl, self.nms_thresh)[:self.post_nms_top_n()]
            final_boxes.append(boxes[keep])
            final_scores.append(scores[keep])
        return final_boxes, final_scores

    def compute_loss(self, objectness: Tensor, pred_bbox_deltas: Tensor, labels: list[Tensor],
                     regression_targets: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Binary cross-entropy of the sampled anchors' objectness, and smooth L1 (beta 1/9) of
        the sampled positives' deltas summed and divided by the number sampled."""
        sampled_pos, sampled_neg = self.fg_bg_sampler(labels)
        sampled_pos = ember.where(ember.cat(sampled_pos, dim=0))[0]
        sampled_neg = ember.where(ember.cat(sampled_neg, dim=0))[0]
        sampled = ember.cat([sampled_pos, sampled_neg], dim=0)
        labels = ember.cat(labels, dim=0)
        regression_targets = ember.cat(regression_targets, dim=0)
        box_loss = F.smooth_l1_loss(pred_bbox_deltas[sampled_pos], regression_targets[sampled_pos],
                                    beta=1 / 9, reduction="sum") / sampled.numel()
        objectness_loss = F.binary_cross_entropy_with_logits(objectness.flatten()[sampled],
                                                             labels[sampled])
        return objectness_loss, box_loss

    def forward(self, images: ImageList, features: dict[str, Tensor],
                targets: list[dict[str, Tensor]] | None = None
                ) -> tuple[list[Tensor], dict[str, Tensor]]:
        features = list(features.values())
        objectness, pred_bbox_deltas = self.head(features)
        anchors = self.anchor_generator(images, features)
        num_images = len(anchors)
        num_anchors_per_level = [o.shape[1] * o.shape[2] * o.shape[3] for o in objectness]
        objectness, pred_bbox_deltas = concat_box_prediction_layers(objectness, pred_bbox_deltas)
        # Faster R-CNN does not backpropagate through the proposals
        proposals = self.box_coder.decode(pred_bbox_deltas.detach(), anchors)
        proposals = proposals.view(num_images, -1, 4)
        boxes, _scores = self.filter_proposals(proposals, objectness, images.image_sizes,
                                               num_anchors_per_level)
        losses = {}
        if self.training:
            if targets is None:
                raise ValueError("targets should not be None")
            labels, matched_gt_boxes = self.assign_targets_to_anchors(anchors, targets)
            regression_targets = self.box_coder.encode(matched_gt_boxes, anchors)
            loss_objectness, loss_rpn_box_reg = self.compute_loss(
                objectness, pred_bbox_deltas, labels, regression_targets)
            losses = {"loss_objectness": loss_objectness, "loss_rpn_box_reg": loss_rpn_box_reg}
        return boxes, losses
