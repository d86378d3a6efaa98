"""The second stage of the R-CNN detectors (torchvision's ``models.detection.roi_heads``): box
classification and regression on pooled proposals, and the optional mask and keypoint branches,
with their losses and post-processing."""
from __future__ import annotations

import ember
from ember import nn
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.models.detection import _utils as det_utils
from ember.vision.ops import boxes as box_ops
from ember.vision.ops import roi_align


def fastrcnn_loss(class_logits: Tensor, box_regression: Tensor, labels: list[Tensor],
                  regression_targets: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Faster R-CNN's losses: cross-entropy of the class logits, and smooth L1 (beta 1/9) of the
    positives' deltas for their own class, summed and divided by the number of samples.

    Args:
        class_logits: ``(N, num_classes)``.
        box_regression: ``(N, num_classes * 4)``.
        labels: per image, the class of each sampled proposal (0 background).
        regression_targets: per image, ``(N_i, 4)`` encoded targets.
    """
    labels = ember.cat(labels, dim=0)
    regression_targets = ember.cat(regression_targets, dim=0)
    classification_loss = F.cross_entropy(class_logits, labels)
    positives = ember.where(labels > 0)[0]
    N = class_logits.shape[0]
    box_regression = box_regression.reshape(N, box_regression.size(-1) // 4, 4)
    box_loss = F.smooth_l1_loss(box_regression[positives, labels[positives]],
                                regression_targets[positives], beta=1 / 9, reduction="sum")
    return classification_loss, box_loss / labels.numel()


def maskrcnn_inference(x: Tensor, labels: list[Tensor]) -> tuple[Tensor, ...]:
    """The mask probabilities of each detection's predicted class: per image ``(D_i, 1, M, M)``.

    Args:
        x: mask logits ``(sum D_i, num_classes, M, M)``.
        labels: per image, the label of each detection.
    """
    boxes_per_image = [label.shape[0] for label in labels]
    labels = ember.cat(labels)
    index = ember.arange(x.shape[0], device=labels.device)
    mask_prob = x.sigmoid()[index, labels][:, None]
    return mask_prob.split(boxes_per_image, dim=0)


def project_masks_on_boxes(gt_masks: Tensor, boxes: Tensor, matched_idxs: Tensor,
                           M: int) -> Tensor:
    """Crops each box's matched ground-truth mask and resamples it to ``M x M`` (RoIAlign):
    the mask targets, ``(num_boxes, M, M)``."""
    rois = ember.cat([matched_idxs.to(boxes)[:, None], boxes], dim=1)
    return roi_align(gt_masks[:, None].to(rois), rois, (M, M), 1.0)[:, 0]


def maskrcnn_loss(mask_logits: Tensor, proposals: list[Tensor], gt_masks: list[Tensor],
                  gt_labels: list[Tensor], mask_matched_idxs: list[Tensor]) -> Tensor:
    """Mean binary cross-entropy of the positive proposals' masks for their ground-truth class
    against the ground-truth masks projected on the proposals (0 without positives)."""
    size = mask_logits.shape[-1]
    labels = ember.cat([gt_label[idxs] for gt_label, idxs in zip(gt_labels, mask_matched_idxs)],
                       dim=0)
    mask_targets = ember.cat([project_masks_on_boxes(m, p, i, size)
                              for m, p, i in zip(gt_masks, proposals, mask_matched_idxs)], dim=0)
    if mask_targets.numel() == 0:
        # a zero that stays connected to the graph
        return mask_logits.sum() * 0
    index = ember.arange(labels.shape[0], device=labels.device)
    return F.binary_cross_entropy_with_logits(mask_logits[index, labels], mask_targets)


def keypoints_to_heatmap(keypoints: Tensor, rois: Tensor, heatmap_size: int
                         ) -> tuple[Tensor, Tensor]:
    """The heatmap cell (flat index ``y * size + x``) of each keypoint inside its RoI, and
    whether it is valid (visible and inside); invalid keypoints get index 0.

    Args:
        keypoints: ``(R, K, 3)`` rows ``(x, y, visibility)``.
        rois: ``(R, 4)`` xyxy.
        heatmap_size: side of the square heatmap.
    """
    offset_x = rois[:, 0][:, None]
    offset_y = rois[:, 1][:, None]
    scale_x = (heatmap_size / (rois[:, 2] - rois[:, 0]))[:, None]
    scale_y = (heatmap_size / (rois[:, 3] - rois[:, 1]))[:, None]
    x = keypoints[..., 0]
    y = keypoints[..., 1]
    # a keypoint on the right or bottom edge belongs to the last cell, not one past it
    on_right_edge = x == rois[:, 2][:, None]
    on_bottom_edge = y == rois[:, 3][:, None]
    x = ((x - offset_x) * scale_x).floor().long()
    y = ((y - offset_y) * scale_y).floor().long()
    x[on_right_edge] = heatmap_size - 1
    y[on_bottom_edge] = heatmap_size - 1
    inside = (x >= 0) & (y >= 0) & (x < heatmap_size) & (y < heatmap_size)
    valid = (inside & (keypoints[..., 2] > 0)).long()
    return (y * heatmap_size + x) * valid, valid


def heatmaps_to_keypoints(maps: Tensor, rois: Tensor) -> tuple[Tensor, Tensor]:
    """Keypoint locations from heatmaps: each map is resized (bicubic) to its RoI's size in
    pixels and its argmax cell ``d`` taken to the continuous coordinate ``d + 0.5``.

    Args:
        maps: ``(R, K, H, W)`` heatmap logits.
        rois: ``(R, 4)`` xyxy.

    Returns:
        float32 ``(R, K, 3)`` rows ``(x, y, 1)`` and the ``(R, K)`` logits at those cells.
    """
    offset_x = rois[:, 0]
    offset_y = rois[:, 1]
    widths = (rois[:, 2] - rois[:, 0]).clamp(min=1)
    heights = (rois[:, 3] - rois[:, 1]).clamp(min=1)
    widths_ceil = widths.ceil()
    heights_ceil = heights.ceil()
    num_keypoints = maps.shape[1]
    xy_preds = ember.zeros((len(rois), 3, num_keypoints), dtype=ember.float32, device=maps.device)
    end_scores = ember.zeros((len(rois), num_keypoints), dtype=ember.float32, device=maps.device)
    for i in range(len(rois)):
        roi_map_width = int(widths_ceil[i].item())
        roi_map_height = int(heights_ceil[i].item())
        roi_map = F.interpolate(maps[i][:, None], size=(roi_map_height, roi_map_width),
                                mode="bicubic", align_corners=False)[:, 0]
        w = roi_map.shape[2]
        pos = roi_map.reshape(num_keypoints, -1).argmax(dim=1)
        x_int = pos % w
        y_int = ember.div(pos - x_int, w, rounding_mode="floor")
        xy_preds[i, 0, :] = (x_int.float() + 0.5) * (widths[i] / roi_map_width) + offset_x[i]
        xy_preds[i, 1, :] = (y_int.float() + 0.5) * (heights[i] / roi_map_height) + offset_y[i]
        xy_preds[i, 2, :] = 1
        end_scores[i, :] = roi_map[ember.arange(num_keypoints, device=roi_map.device), y_int, x_int]
    return xy_preds.permute(0, 2, 1), end_scores


def keypointrcnn_loss(keypoint_logits: Tensor, proposals: list[Tensor],
                      gt_keypoints: list[Tensor], keypoint_matched_idxs: list[Tensor]) -> Tensor:
    """Cross-entropy over the ``H * W`` heatmap cells of each valid keypoint of the positive
    proposals (0 when none is valid)."""
    N, K, H, W = keypoint_logits.shape
    if H != W:
        raise ValueError("keypoint_logits height and width (last two elements of shape) should be "
                         f"equal. Instead got H = {H} and W = {W}")
    heatmaps = []
    valid = []
    for rois, gt_kp, midx in zip(proposals, gt_keypoints, keypoint_matched_idxs):
        heatmaps_per_image, valid_per_image = keypoints_to_heatmap(gt_kp[midx], rois, H)
        heatmaps.append(heatmaps_per_image.view(-1))
        valid.append(valid_per_image.view(-1))
    keypoint_targets = ember.cat(heatmaps, dim=0)
    valid = ember.where(ember.cat(valid, dim=0).to(dtype=ember.uint8))[0]
    if keypoint_targets.numel() == 0 or len(valid) == 0:
        return keypoint_logits.sum() * 0
    keypoint_logits = keypoint_logits.view(N * K, H * W)
    return F.cross_entropy(keypoint_logits[valid], keypoint_targets[valid])


def keypointrcnn_inference(x: Tensor, boxes: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    """:func:`heatmaps_to_keypoints` per image: keypoints ``(D_i, K, 3)`` and scores."""
    kp_probs = []
    kp_scores = []
    for maps, rois in zip(x.split([b.size(0) for b in boxes], dim=0), boxes):
        kp_prob, scores = heatmaps_to_keypoints(maps, rois)
        kp_probs.append(kp_prob)
        kp_scores.append(scores)
    return kp_probs, kp_scores


def expand_boxes(boxes: Tensor, scale: float) -> Tensor:
    """``boxes`` (xyxy) scaled by ``scale`` about their centres."""
    w_half = (boxes[:, 2] - boxes[:, 0]) * 0.5 * scale
    h_half = (boxes[:, 3] - boxes[:, 1]) * 0.5 * scale
    x_c = (boxes[:, 2] + boxes[:, 0]) * 0.5
    y_c = (boxes[:, 3] + boxes[:, 1]) * 0.5
    return ember.stack((x_c - w_half, y_c - h_half, x_c + w_half, y_c + h_half), dim=1)


def expand_masks(mask: Tensor, padding: int) -> tuple[Tensor, float]:
    """Zero-pads the ``M x M`` masks by ``padding`` on every side; also returns the scale
    ``(M + 2 * padding) / M`` by which their boxes grow."""
    M = mask.shape[-1]
    return F.pad(mask, (padding,) * 4), float(M + 2 * padding) / M


def paste_mask_in_image(mask: Tensor, box: Tensor, im_h: int, im_w: int) -> Tensor:
    """Resizes ``mask`` (bilinear) to the integer ``box`` (corners inclusive) and writes it into
    an ``im_h x im_w`` canvas of zeros, cropping what falls outside."""
    x0, y0, x1, y1 = box.tolist()
    w = max(x1 - x0 + 1, 1)
    h = max(y1 - y0 + 1, 1)
    mask = F.interpolate(mask.expand((1, 1, -1, -1)), size=(h, w), mode="bilinear",
                         align_corners=False)[0][0]
    im_mask = ember.zeros((im_h, im_w), dtype=mask.dtype, device=mask.device)
    left, right = max(x0, 0), min(x1 + 1, im_w)
    top, bottom = max(y0, 0), min(y1 + 1, im_h)
    im_mask[top:bottom, left:right] = mask[(top - y0):(bottom - y0), (left - x0):(right - x0)]
    return im_mask


def paste_masks_in_image(masks: Tensor, boxes: Tensor, img_shape: tuple[int, int],
                         padding: int = 1) -> Tensor:
    """Each ``(1, M, M)`` mask of ``masks`` pasted at its box in an image of ``img_shape``:
    ``(N, 1, H, W)``. A border of zeros (``padding``) lets the resized mask fade at its edges."""
    masks, scale = expand_masks(masks, padding=padding)
    boxes = expand_boxes(boxes, scale).to(dtype=ember.int64)
    im_h, im_w = img_shape
    pasted = [paste_mask_in_image(m[0], b, im_h, im_w) for m, b in zip(masks, boxes)]
    if not pasted:
        return masks.new_empty((0, 1, im_h, im_w))
    return ember.stack(pasted, dim=0)[:, None]


class RoIHeads(nn.Module):
    """The R-CNN box head and its optional mask and keypoint heads.

    Args:
        box_roi_pool, box_head, box_predictor: pool the proposals' features (e.g.
            MultiScaleRoIAlign), embed them, and predict ``(class_logits, box_regression)``.
        fg_iou_thresh, bg_iou_thresh: IoU with a ground truth making a proposal a positive /
            a negative in training (in between: ignored).
        batch_size_per_image, positive_fraction: proposals sampled per image for the losses.
        bbox_reg_weights: the box coder's weights (default ``(10, 10, 5, 5)``).
        score_thresh: detections need a class probability above this.
        nms_thresh: IoU threshold of the per-class NMS.
        detections_per_img: detections kept per image.
        mask_roi_pool, mask_head, mask_predictor: the mask branch (Mask R-CNN).
        keypoint_roi_pool, keypoint_head, keypoint_predictor: the keypoint branch.

    Returns (forward): in eval, one dict per image with ``boxes``, ``labels``, ``scores`` (and
    ``masks``, or ``keypoints`` and ``keypoints_scores``); in training, the losses
    ``loss_classifier``, ``loss_box_reg`` (and ``loss_mask``, ``loss_keypoint``).
    """

    def __init__(self, box_roi_pool, box_head, box_predictor, fg_iou_thresh, bg_iou_thresh,
                 batch_size_per_image, positive_fraction, bbox_reg_weights, score_thresh,
                 nms_thresh, detections_per_img, mask_roi_pool=None, mask_head=None,
                 mask_predictor=None, keypoint_roi_pool=None, keypoint_head=None,
                 keypoint_predictor=None) -> None:
        super().__init__()
        self.box_similarity = box_ops.box_iou
        self.proposal_matcher = det_utils.Matcher(fg_iou_thresh, bg_iou_thresh,
                                                  allow_low_quality_matches=False)
        self.fg_bg_sampler = det_utils.BalancedPositiveNegativeSampler(batch_size_per_image,
                                                                       positive_fraction)
        if bbox_reg_weights is None:
            bbox_reg_weights = (10.0, 10.0, 5.0, 5.0)
        self.box_coder = det_utils.BoxCoder(bbox_reg_weights)
        self.box_roi_pool = box_roi_pool
        self.box_head = box_head
        self.box_predictor = box_predictor
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img
        self.mask_roi_pool = mask_roi_pool
        self.mask_head = mask_head
        self.mask_predictor = mask_predictor
        self.keypoint_roi_pool = keypoint_roi_pool
        self.keypoint_head = keypoint_head
        self.keypoint_predictor = keypoint_predictor

    def has_mask(self) -> bool:
        return (self.mask_roi_pool is not None and self.mask_head is not None
                and self.mask_predictor is not None)

    def has_keypoint(self) -> bool:
        return (self.keypoint_roi_pool is not None and self.keypoint_head is not None
                and self.keypoint_predictor is not None)

    def assign_targets_to_proposals(self, proposals: list[Tensor], gt_boxes: list[Tensor],
                                    gt_labels: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Per image, the matched ground truth of each proposal (clamped to >= 0) and its int64
        label: the class, 0 for background, -1 for ignored."""
        matched_idxs = []
        labels = []
        for proposals_in_image, gt_boxes_in_image, gt_labels_in_image in zip(proposals, gt_boxes,
                                                                             gt_labels):
            num_proposals = proposals_in_image.shape[0]
            device = proposals_in_image.device
            if gt_boxes_in_image.numel() == 0:
                clamped = ember.zeros((num_proposals,), dtype=ember.int64, device=device)
                image_labels = ember.zeros((num_proposals,), dtype=ember.int64, device=device)
            else:
                matched = self.proposal_matcher(box_ops.box_iou(gt_boxes_in_image,
                                                                proposals_in_image))
                clamped = matched.clamp(min=0)
                image_labels = gt_labels_in_image[clamped].to(dtype=ember.int64)
                image_labels[matched == self.proposal_matcher.BELOW_LOW_THRESHOLD] = 0
                image_labels[matched == self.proposal_matcher.BETWEEN_THRESHOLDS] = -1
            matched_idxs.append(clamped)
            labels.append(image_labels)
        return matched_idxs, labels

    def subsample(self, labels: list[Tensor]) -> list[Tensor]:
        """Per image, the indices of the proposals the sampler keeps (ascending)."""
        sampled_pos, sampled_neg = self.fg_bg_sampler(labels)
        return [ember.where(pos | neg)[0] for pos, neg in zip(sampled_pos, sampled_neg)]

    def add_gt_proposals(self, proposals: list[Tensor], gt_boxes: list[Tensor]) -> list[Tensor]:
        return [ember.cat((proposal, gt_box)) for proposal, gt_box in zip(proposals, gt_boxes)]

    def check_targets(self, targets: list[dict[str, Tensor]] | None) -> None:
        if targets is None:
            raise ValueError("targets should not be None")
        for key in ("boxes", "labels") + (("masks",) if self.has_mask() else ()):
            if not all(key in t for t in targets):
                raise ValueError(f"Every element of targets should have a {key} key")

    def select_training_samples(self, proposals: list[Tensor],
                                targets: list[dict[str, Tensor]] | None
                                ) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
        """Adds the ground truths to the proposals, matches and samples them: per image the
        sampled proposals, their matched indices, labels and regression targets."""
        self.check_targets(targets)
        dtype = proposals[0].dtype
        device = proposals[0].device
        gt_boxes = [t["boxes"].to(dtype) for t in targets]
        gt_labels = [t["labels"] for t in targets]
        proposals = self.add_gt_proposals(proposals, gt_boxes)
        matched_idxs, labels = self.assign_targets_to_proposals(proposals, gt_boxes, gt_labels)
        sampled_inds = self.subsample(labels)
        matched_gt_boxes = []
        for img_id, keep in enumerate(sampled_inds):
            proposals[img_id] = proposals[img_id][keep]
            labels[img_id] = labels[img_id][keep]
            matched_idxs[img_id] = matched_idxs[img_id][keep]
            gt_boxes_in_image = gt_boxes[img_id]
            if gt_boxes_in_image.numel() == 0:
                # background-only image: regress towards a dummy box, the labels mask it out
                gt_boxes_in_image = ember.zeros((1, 4), dtype=dtype, device=device)
            matched_gt_boxes.append(gt_boxes_in_image[matched_idxs[img_id]])
        regression_targets = self.box_coder.encode(matched_gt_boxes, proposals)
        return proposals, matched_idxs, labels, regression_targets

    def postprocess_detections(self, class_logits: Tensor, box_regression: Tensor,
                               proposals: list[Tensor], image_shapes: list[tuple[int, int]]
                               ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Every (proposal, foreground class) pair becomes a candidate; candidates above
        ``score_thresh``, not empty, surviving per-class NMS, best ``detections_per_img`` kept."""
        device = class_logits.device
        num_classes = class_logits.shape[-1]
        boxes_per_image = [p.shape[0] for p in proposals]
        pred_boxes = self.box_coder.decode(box_regression, proposals).split(boxes_per_image, 0)
        pred_scores = F.softmax(class_logits, -1).split(boxes_per_image, 0)
        all_boxes = []
        all_scores = []
        all_labels = []
        for boxes, scores, image_shape in zip(pred_boxes, pred_scores, image_shapes):
            boxes = box_ops.clip_boxes_to_image(boxes, image_shape)
            labels = ember.arange(num_classes, device=device).view(1, -1).expand_as(scores)
            # drop the background column, then one candidate per (proposal, class)
            boxes = boxes[:, 1:].reshape(-1, 4)
            scores = scores[:, 1:].reshape(-1)
            labels = labels[:, 1:].reshape(-1)
            inds = ember.where(scores > self.score_thresh)[0]
            boxes, scores, labels = boxes[inds], scores[inds], labels[inds]
            keep = box_ops.remove_small_boxes(boxes, min_size=1e-2)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
            keep = box_ops.batched_nms(boxes, scores, labels, self.nms_thresh)
            keep = keep[:self.detections_per_img]
            all_boxes.append(boxes[keep])
            all_scores.append(scores[keep])
            all_labels.append(labels[keep])
        return all_boxes, all_scores, all_labels

    def _check_target_types(self, targets: list[dict[str, Tensor]]) -> None:
        for t in targets:
            if t["boxes"].dtype not in (ember.float32, ember.float64, ember.float16):
                raise TypeError(f"target boxes must of float type, instead got {t['boxes'].dtype}")
            if t["labels"].dtype != ember.int64:
                raise TypeError(
                    f"target labels must of int64 type, instead got {t['labels'].dtype}")
            if self.has_keypoint() and t["keypoints"].dtype != ember.float32:
                raise TypeError(
                    f"target keypoints must of float type, instead got {t['keypoints'].dtype}")

    @staticmethod
    def _positives(proposals: list[Tensor], labels: list[Tensor], matched_idxs: list[Tensor]
                   ) -> tuple[list[Tensor], list[Tensor]]:
        """The positive proposals of each image and their matched ground truths."""
        positive_proposals = []
        positive_matched_idxs = []
        for boxes, image_labels, matched in zip(proposals, labels, matched_idxs):
            pos = ember.where(image_labels > 0)[0]
            positive_proposals.append(boxes[pos])
            positive_matched_idxs.append(matched[pos])
        return positive_proposals, positive_matched_idxs

    def forward(self, features: dict[str, Tensor], proposals: list[Tensor],
                image_shapes: list[tuple[int, int]],
                targets: list[dict[str, Tensor]] | None = None
                ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        if targets is not None:
            self._check_target_types(targets)
        labels = regression_targets = matched_idxs = None
        if self.training:
            proposals, matched_idxs, labels, regression_targets = self.select_training_samples(
                proposals, targets)

        box_features = self.box_head(self.box_roi_pool(features, proposals, image_shapes))
        class_logits, box_regression = self.box_predictor(box_features)

        result: list[dict[str, Tensor]] = []
        losses = {}
        if self.training:
            loss_classifier, loss_box_reg = fastrcnn_loss(class_logits, box_regression, labels,
                                                          regression_targets)
            losses = {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}
        else:
            boxes, scores, labels = self.postprocess_detections(class_logits, box_regression,
                                                                proposals, image_shapes)
            result = [{"boxes": b, "labels": lab, "scores": s}
                      for b, s, lab in zip(boxes, scores, labels)]

        if self.has_mask():
            if self.training:
                # masks are learnt on the positive proposals only
                mask_proposals, pos_matched_idxs = self._positives(proposals, labels, matched_idxs)
            else:
                mask_proposals = [r["boxes"] for r in result]
            mask_features = self.mask_head(self.mask_roi_pool(features, mask_proposals,
                                                              image_shapes))
            mask_logits = self.mask_predictor(mask_features)
            if self.training:
                losses["loss_mask"] = maskrcnn_loss(
                    mask_logits, mask_proposals, [t["masks"] for t in targets],
                    [t["labels"] for t in targets], pos_matched_idxs)
            else:
                masks_probs = maskrcnn_inference(mask_logits, [r["labels"] for r in result])
                for mask_prob, r in zip(masks_probs, result):
                    r["masks"] = mask_prob

        if self.has_keypoint():
            if self.training:
                keypoint_proposals, pos_matched_idxs = self._positives(proposals, labels,
                                                                       matched_idxs)
            else:
                keypoint_proposals = [r["boxes"] for r in result]
            keypoint_features = self.keypoint_head(
                self.keypoint_roi_pool(features, keypoint_proposals, image_shapes))
            keypoint_logits = self.keypoint_predictor(keypoint_features)
            if self.training:
                losses["loss_keypoint"] = keypointrcnn_loss(
                    keypoint_logits, keypoint_proposals, [t["keypoints"] for t in targets],
                    pos_matched_idxs)
            else:
                keypoints_probs, kp_scores = keypointrcnn_inference(keypoint_logits,
                                                                    keypoint_proposals)
                for keypoint_prob, kps, r in zip(keypoints_probs, kp_scores, result):
                    r["keypoints"] = keypoint_prob
                    r["keypoints_scores"] = kps
        return result, losses
