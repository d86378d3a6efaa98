"""Stochastic depth (torchvision's ``ops.stochastic_depth``)."""
from __future__ import annotations

import ember
from ember import nn
from ember._tensor import Tensor


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")


def stochastic_depth(input: Tensor, p: float, mode: str, training: bool = True) -> Tensor:
    """Stochastic depth (Huang et al., 2016): zero the whole input (``mode='batch'``) or each
    sample of the batch (``mode='row'``) with probability ``p``, scaling survivors by
    ``1 / (1 - p)``. Meant for the residual branch of a block."""
    _check_p(p)
    if mode not in ("batch", "row"):
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    survival_rate = 1.0 - p
    size = [input.shape[0]] + [1] * (input.ndim - 1) if mode == "row" else [1] * input.ndim
    noise = ember.empty(size, dtype=input.dtype, device=input.device).bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


class StochasticDepth(nn.Module):
    """Module form of :func:`stochastic_depth` (active in training mode only)."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, input: Tensor) -> Tensor:
        return stochastic_depth(input, self.p, self.mode, self.training)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(p={self.p}, mode={self.mode})"
