"""Transforms: invertible (or at least differentiable) maps with their log-det-Jacobians.

A ``Transform`` maps ``domain`` onto ``codomain``; ``t.inv`` is its inverse, ``t(x)`` applies
it, ``t.log_abs_det_jacobian(x, y)`` gives ``log |dy/dx|`` summed over ``event_dim``.
With ``cache_size=1`` the last ``(x, y)`` pair is remembered, so ``t.inv(t(x))`` returns ``x``
itself (exact, and cheaper for transforms whose inverse is costly or unstable).
"""
from __future__ import annotations

from ember.distributions._transforms_constrained import (
    CorrCholeskyTransform,
    LowerCholeskyTransform,
    PositiveDefiniteTransform,
    SoftmaxTransform,
    StickBreakingTransform,
)
from ember.distributions._transforms_core import (
    CatTransform,
    ComposeTransform,
    IndependentTransform,
    ReshapeTransform,
    StackTransform,
    Transform,
    _InverseTransform,  # noqa: F401  (torch's module has it too; code tests isinstance on it)
    identity_transform,
)
from ember.distributions._transforms_elementwise import (
    AbsTransform,
    AffineTransform,
    CumulativeDistributionTransform,
    ExpTransform,
    PowerTransform,
    SigmoidTransform,
    SoftplusTransform,
    TanhTransform,
)

__all__ = [
    "AbsTransform", "AffineTransform", "CatTransform", "ComposeTransform",
    "CorrCholeskyTransform", "CumulativeDistributionTransform", "ExpTransform",
    "IndependentTransform", "LowerCholeskyTransform", "PositiveDefiniteTransform",
    "PowerTransform", "ReshapeTransform", "SigmoidTransform", "SoftplusTransform",
    "TanhTransform", "SoftmaxTransform", "StackTransform", "StickBreakingTransform", "Transform",
    "identity_transform",
]
