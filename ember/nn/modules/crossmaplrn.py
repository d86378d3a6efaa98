"""CrossMapLRN2d: Lua Torch's SpatialCrossMapLRN, kept by PyTorch beside LocalResponseNorm."""
from __future__ import annotations

from ember._tensor import Tensor, _make
from ember.nn.modules.module import Module
from ember.ops.elementwise import where

__all__ = ["CrossMapLRN2d"]


def _cross_map_lrn2d(input: Tensor, size: int, alpha: float, beta: float, k: float) -> Tensor:
    """x / (k + alpha / size * s) ** beta, with s the sum of squares over a window of channels.

    The window is the legacy one PyTorch reproduces: channel c sums channels up to
    c + pre - 1 (pre = (size - 1) // 2 + 1) and from c - pre + 1, except that channel 0, once
    in the running sum, never leaves it. Sums come from one cumulative sum over channels.
    """
    if input.ndim != 4:
        raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D instead.")
    xp = input._xp
    channels = input.shape[1]
    pre = int((size - 1) / 2 + 1)
    total = (input * input).cumsum(1)
    c = xp.arange(channels)
    upto = total[:, _make(xp.minimum(c + pre - 1, channels - 1))]
    dropped = total[:, _make(xp.clip(c - pre, 0, None))] - total[:, :1]
    late = _make((c > pre).reshape(1, -1, 1, 1))
    window = upto - where(late, dropped, 0.0)
    return input * (window * (alpha / size) + k) ** -beta


class CrossMapLRN2d(Module):
    """Local response normalisation across channels of (N, C, H, W) input, as Lua Torch's
    SpatialCrossMapLRN computed it (see :func:`_cross_map_lrn2d`; LocalResponseNorm uses a
    centred window and gives different values).

    The gradient is the derivative of this forward; PyTorch's legacy backward is not (it
    fails ``gradcheck``), so gradients may differ from PyTorch's.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        return _cross_map_lrn2d(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
