"""Dynamically quantized fused modules (``torch.ao.nn.intrinsic.quantized.dynamic``)."""
from __future__ import annotations

from ember.ao.nn.quantized import dynamic as nnqd
from ember.nn import functional as F

__all__ = ["LinearReLU"]


class LinearReLU(nnqd.Linear):
    """A dynamically quantized Linear followed by ReLU (what a fused ``LinearReLU`` with a
    dynamic qconfig becomes): float in, float out.

    Example::

        >>> m = LinearReLU(4, 2)
        >>> bool((m(ember.randn(3, 4)) >= 0).all())
        True
    """

    def forward(self, x):
        return F.relu(super().forward(x))

    def _get_name(self) -> str:
        return "DynamicQuantizedLinearReLU"
