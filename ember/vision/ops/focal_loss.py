"""Focal loss (torchvision's ``ops.focal_loss``)."""
from __future__ import annotations

import ember
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.vision.ops._utils import _reduce


def sigmoid_focal_loss(inputs: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2,
                       reduction: str = "none") -> Tensor:
    """Focal loss (Lin et al., 2017): binary cross-entropy on logits ``inputs`` scaled by
    ``(1 - p_t) ** gamma`` to down-weight easy examples, and by ``alpha_t`` (skipped when
    ``alpha < 0``) to balance positives (``targets == 1``) against negatives.

    Example::

        >>> sigmoid_focal_loss(ember.tensor([2.0]), ember.tensor([1.0]))
        tensor([0.0005])
    """
    p = ember.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction)
