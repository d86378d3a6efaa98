"""Machinery shared by torchvision's detectors (``models.detection._utils``): box coders, the
IoU matchers, the balanced sampler of training examples and small helpers."""
from __future__ import annotations

import math
from collections import OrderedDict

import ember
from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.ops import (
    FrozenBatchNorm2d,
    complete_box_iou_loss,
    distance_box_iou_loss,
    generalized_box_iou_loss,
)


class BalancedPositiveNegativeSampler:
    """Draws, per image, at most ``batch_size_per_image`` examples of which at most
    ``positive_fraction`` are positives (negatives fill the rest when there are enough).

    Args:
        batch_size_per_image: examples kept per image.
        positive_fraction: the largest share of positives among them.
    """

    def __init__(self, batch_size_per_image: int, positive_fraction: float) -> None:
        self.batch_size_per_image = batch_size_per_image
        self.positive_fraction = positive_fraction

    def __call__(self, matched_idxs: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """For each image's labels (``-1`` ignored, ``0`` negative, ``>= 1`` positive) return two
        uint8 masks of its shape: the positives kept and the negatives kept."""
        pos_masks = []
        neg_masks = []
        for labels in matched_idxs:
            positive = ember.where(labels >= 1)[0]
            negative = ember.where(labels == 0)[0]
            num_pos = min(positive.numel(), int(self.batch_size_per_image * self.positive_fraction))
            num_neg = min(negative.numel(), self.batch_size_per_image - num_pos)
            # two permutations drawn in this order, as torchvision does, so seeds agree
            perm_pos = ember.randperm(positive.numel(), device=positive.device)[:num_pos]
            perm_neg = ember.randperm(negative.numel(), device=negative.device)[:num_neg]
            chosen_pos = positive[perm_pos]
            chosen_neg = negative[perm_neg]
            pos_mask = ember.zeros_like(labels, dtype=ember.uint8)
            neg_mask = ember.zeros_like(labels, dtype=ember.uint8)
            pos_mask[chosen_pos] = 1
            neg_mask[chosen_neg] = 1
            pos_masks.append(pos_mask)
            neg_masks.append(neg_mask)
        return pos_masks, neg_masks


def _centers_and_sizes(boxes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Centre x, centre y, width and height of xyxy boxes (each ``(N,)``)."""
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * widths, boxes[:, 1] + 0.5 * heights, widths, heights


def encode_boxes(reference_boxes: Tensor, proposals: Tensor, weights: Tensor) -> Tensor:
    """Regression targets that move each proposal onto its reference box: ``(N, 4)`` rows
    ``(wx * dx / w, wy * dy / h, ww * log(w' / w), wh * log(h' / h))``, where ``dx, dy`` is the
    shift of the centre and ``w, h`` the proposal's size, ``w', h'`` the reference's.

    Args:
        reference_boxes: the ground-truth boxes, ``(N, 4)`` xyxy.
        proposals: the boxes to encode, ``(N, 4)`` xyxy.
        weights: ``(wx, wy, ww, wh)``, a tensor of 4.
    """
    ex_x, ex_y, ex_w, ex_h = _centers_and_sizes(proposals)
    gt_x, gt_y, gt_w, gt_h = _centers_and_sizes(reference_boxes)
    targets = (
        weights[0] * (gt_x - ex_x) / ex_w,
        weights[1] * (gt_y - ex_y) / ex_h,
        weights[2] * ember.log(gt_w / ex_w),
        weights[3] * ember.log(gt_h / ex_h),
    )
    return ember.stack(targets, dim=1)


class BoxCoder:
    """Encodes boxes as offsets from reference boxes (the R-CNN parameterisation) and decodes
    them back.

    Args:
        weights: ``(wx, wy, ww, wh)`` scaling the centre offsets and log sizes.
        bbox_xform_clip: upper bound of the decoded log sizes, so ``exp`` cannot overflow.

    Example::

        >>> coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
        >>> anchors = ember.tensor([[0., 0., 10., 10.]])
        >>> coder.decode_single(coder.encode_single(anchors + 1, anchors), anchors)
        tensor([[ 1.,  1., 11., 11.]])
    """

    def __init__(self, weights: tuple[float, float, float, float],
                 bbox_xform_clip: float = math.log(1000.0 / 16)) -> None:
        self.weights = weights
        self.bbox_xform_clip = bbox_xform_clip

    def encode(self, reference_boxes: list[Tensor], proposals: list[Tensor]) -> tuple[Tensor, ...]:
        """:meth:`encode_single` on every image at once; one ``(N_i, 4)`` result per image."""
        boxes_per_image = [len(b) for b in reference_boxes]
        targets = self.encode_single(ember.cat(reference_boxes, dim=0), ember.cat(proposals, dim=0))
        return targets.split(boxes_per_image, 0)

    def encode_single(self, reference_boxes: Tensor, proposals: Tensor) -> Tensor:
        """The targets of ``proposals`` (``(N, 4)``) towards ``reference_boxes``: ``(N, 4)``."""
        weights = ember.as_tensor(self.weights, dtype=reference_boxes.dtype,
                                  device=reference_boxes.device)
        return encode_boxes(reference_boxes, proposals, weights)

    def decode(self, rel_codes: Tensor, boxes: list[Tensor]) -> Tensor:
        """Decodes ``rel_codes`` against the boxes of all images (concatenated in order):
        ``(sum N_i, K, 4)`` for ``K`` codes per box."""
        if not isinstance(boxes, (list, tuple)):
            raise TypeError("This function expects boxes of type list or tuple.")
        if not isinstance(rel_codes, Tensor):
            raise TypeError("This function expects rel_codes of type torch.Tensor.")
        box_sum = sum(b.size(0) for b in boxes)
        if box_sum > 0:
            rel_codes = rel_codes.reshape(box_sum, -1)
        pred_boxes = self.decode_single(rel_codes, ember.cat(boxes, dim=0))
        if box_sum > 0:
            pred_boxes = pred_boxes.reshape(box_sum, -1, 4)
        return pred_boxes

    def decode_single(self, rel_codes: Tensor, boxes: Tensor) -> Tensor:
        """Applies ``rel_codes`` (``(N, 4 * K)``) to ``boxes`` (``(N, 4)``): ``(N, 4 * K)`` xyxy."""
        boxes = boxes.to(rel_codes.dtype)
        ctr_x, ctr_y, widths, heights = _centers_and_sizes(boxes)
        wx, wy, ww, wh = self.weights
        dx = rel_codes[:, 0::4] / wx
        dy = rel_codes[:, 1::4] / wy
        dw = ember.clamp(rel_codes[:, 2::4] / ww, max=self.bbox_xform_clip)
        dh = ember.clamp(rel_codes[:, 3::4] / wh, max=self.bbox_xform_clip)
        pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]
        pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
        half_w = 0.5 * (ember.exp(dw) * widths[:, None])
        half_h = 0.5 * (ember.exp(dh) * heights[:, None])
        corners = (pred_ctr_x - half_w, pred_ctr_y - half_h,
                   pred_ctr_x + half_w, pred_ctr_y + half_h)
        return ember.stack(corners, dim=2).flatten(1)


class BoxLinearCoder:
    """FCOS's coder: a box as the distances from the reference box's centre to its four edges,
    optionally divided by the reference's width and height.

    Args:
        normalize_by_size: divide the distances by the reference box's size.
    """

    def __init__(self, normalize_by_size: bool = True) -> None:
        self.normalize_by_size = normalize_by_size

    def _sizes(self, boxes: Tensor) -> Tensor:
        widths = boxes[..., 2] - boxes[..., 0]
        heights = boxes[..., 3] - boxes[..., 1]
        return ember.stack((widths, heights, widths, heights), dim=-1)

    def encode(self, reference_boxes: Tensor, proposals: Tensor) -> Tensor:
        """Distances ``(left, top, right, bottom)`` from the centre of each reference box
        (``(..., 4)``) to the edges of ``proposals`` (``(..., 4)``)."""
        ctr_x = 0.5 * (reference_boxes[..., 0] + reference_boxes[..., 2])
        ctr_y = 0.5 * (reference_boxes[..., 1] + reference_boxes[..., 3])
        targets = ember.stack((ctr_x - proposals[..., 0], ctr_y - proposals[..., 1],
                               proposals[..., 2] - ctr_x, proposals[..., 3] - ctr_y), dim=-1)
        if self.normalize_by_size:
            targets = targets / self._sizes(reference_boxes)
        return targets

    def decode(self, rel_codes: Tensor, boxes: Tensor) -> Tensor:
        """The boxes whose edges lie ``rel_codes`` away from the centres of ``boxes`` (same
        leading shape)."""
        boxes = boxes.to(dtype=rel_codes.dtype)
        ctr_x = 0.5 * (boxes[..., 0] + boxes[..., 2])
        ctr_y = 0.5 * (boxes[..., 1] + boxes[..., 3])
        if self.normalize_by_size:
            rel_codes = rel_codes * self._sizes(boxes)
        return ember.stack((ctr_x - rel_codes[..., 0], ctr_y - rel_codes[..., 1],
                            ctr_x + rel_codes[..., 2], ctr_y + rel_codes[..., 3]), dim=-1)


class Matcher:
    """Assigns each prediction the ground truth it overlaps most, or a negative code.

    For a ``(M ground truths, N predictions)`` quality matrix it returns ``(N,)`` int64: the
    matched index when the best quality is ``>= high_threshold``, ``BETWEEN_THRESHOLDS`` (-2)
    when it lies in ``[low_threshold, high_threshold)``, ``BELOW_LOW_THRESHOLD`` (-1) below.

    Args:
        high_threshold: quality at or above which a match counts.
        low_threshold: quality below which a prediction is a negative.
        allow_low_quality_matches: also match, for each ground truth, the predictions that
            overlap it most (ties included), whatever their quality.
    """

    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2

    def __init__(self, high_threshold: float, low_threshold: float,
                 allow_low_quality_matches: bool = False) -> None:
        if low_threshold > high_threshold:
            raise ValueError("low_threshold should be <= high_threshold")
        self.high_threshold = high_threshold
        self.low_threshold = low_threshold
        self.allow_low_quality_matches = allow_low_quality_matches

    def __call__(self, match_quality_matrix: Tensor) -> Tensor:
        if match_quality_matrix.numel() == 0:
            if match_quality_matrix.shape[0] == 0:
                raise ValueError(
                    "No ground-truth boxes available for one of the images during training")
            raise ValueError("No proposal boxes available for one of the images during training")
        matched_vals, matches = match_quality_matrix.max(dim=0)
        best_matches = matches.clone() if self.allow_low_quality_matches else None
        below_low = matched_vals < self.low_threshold
        between = (matched_vals >= self.low_threshold) & (matched_vals < self.high_threshold)
        matches[below_low] = self.BELOW_LOW_THRESHOLD
        matches[between] = self.BETWEEN_THRESHOLDS
        if best_matches is not None:
            self.set_low_quality_matches_(matches, best_matches, match_quality_matrix)
        return matches

    def set_low_quality_matches_(self, matches: Tensor, all_matches: Tensor,
                                 match_quality_matrix: Tensor) -> None:
        """Restores, in place, the best match of every prediction that is some ground truth's
        highest-quality prediction (ties included)."""
        highest_quality_foreach_gt = match_quality_matrix.max(dim=1)[0]
        preds_to_update = ember.where(
            match_quality_matrix == highest_quality_foreach_gt[:, None])[1]
        matches[preds_to_update] = all_matches[preds_to_update]


class SSDMatcher(Matcher):
    """SSD's matcher: a single IoU ``threshold``, and every ground truth also claims the
    prediction that overlaps it most (later ground truths win a shared prediction)."""

    def __init__(self, threshold: float) -> None:
        super().__init__(threshold, threshold, allow_low_quality_matches=False)

    def __call__(self, match_quality_matrix: Tensor) -> Tensor:
        matches = super().__call__(match_quality_matrix)
        best_pred_foreach_gt = match_quality_matrix.max(dim=1)[1]
        matches[best_pred_foreach_gt] = ember.arange(
            best_pred_foreach_gt.size(0), dtype=ember.int64, device=best_pred_foreach_gt.device)
        return matches


def overwrite_eps(model: nn.Module, eps: float) -> None:
    """Sets ``eps`` of every FrozenBatchNorm2d in ``model`` (old checkpoints were trained with
    ``eps = 0``)."""
    for module in model.modules():
        if isinstance(module, FrozenBatchNorm2d):
            module.eps = eps


def retrieve_out_channels(model: nn.Module, size: tuple[int, int]) -> list[int]:
    """The channels of each feature map ``model`` returns for a ``size = (width, height)`` image
    (a tensor or an ordered dict of them), found by running it once in eval mode."""
    was_training = model.training
    model.eval()
    with ember.no_grad():
        device = next(model.parameters()).device
        features = model(ember.zeros((1, 3, size[1], size[0]), device=device))
        if isinstance(features, Tensor):
            features = OrderedDict([("0", features)])
        out_channels = [x.size(1) for x in features.values()]
    if was_training:
        model.train()
    return out_channels


def _topk_min(input: Tensor, orig_kval: int, axis: int) -> int:
    """``k`` capped at the length of ``input`` along ``axis``."""
    return min(orig_kval, input.size(axis))


def _box_loss(type: str, box_coder: BoxCoder, anchors_per_image: Tensor,
              matched_gt_boxes_per_image: Tensor, bbox_regression_per_image: Tensor,
              cnf: dict[str, float] | None = None) -> Tensor:
    """Summed box-regression loss of one image: ``l1`` or ``smooth_l1`` on encoded targets, or
    ``ciou`` / ``diou`` / ``giou`` on decoded boxes; ``cnf`` may give ``beta`` or ``eps``."""
    if type not in ("l1", "smooth_l1", "ciou", "diou", "giou"):
        raise ValueError(f"Unsupported loss: {type}")
    cnf = cnf or {}
    if type in ("l1", "smooth_l1"):
        target = box_coder.encode_single(matched_gt_boxes_per_image, anchors_per_image)
        if type == "l1":
            return F.l1_loss(bbox_regression_per_image, target, reduction="sum")
        return F.smooth_l1_loss(bbox_regression_per_image, target, reduction="sum",
                                beta=cnf.get("beta", 1.0))
    boxes = box_coder.decode_single(bbox_regression_per_image, anchors_per_image)
    iou_loss = {"ciou": complete_box_iou_loss, "diou": distance_box_iou_loss,
                "giou": generalized_box_iou_loss}[type]
    return iou_loss(boxes, matched_gt_boxes_per_image, reduction="sum", eps=cnf.get("eps", 1e-7))
