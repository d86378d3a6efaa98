"""Fused float modules (``torch.ao.nn.intrinsic``): sequences that ``fuse_modules`` makes so
quantization treats them as one layer (conv + relu, linear + relu, conv + bn, ...)."""
from __future__ import annotations

from ember import nn

__all__ = ["_FusedModule", "ConvReLU1d", "ConvReLU2d", "ConvReLU3d", "LinearReLU", "ConvBn1d",
           "ConvBn2d", "ConvBn3d", "ConvBnReLU1d", "ConvBnReLU2d", "ConvBnReLU3d", "BNReLU2d",
           "BNReLU3d", "LinearBn1d"]


class _FusedModule(nn.Sequential):
    """A fused sequence: runs its modules in order, quantized as one."""


def _fused(name: str, doc: str, *kinds):
    def __init__(self, *mods):
        if len(mods) != len(kinds) or not all(isinstance(m, k) for m, k in zip(mods, kinds)):
            raise AssertionError(f"Incorrect types for input modules{tuple(map(type, mods))}")
        _FusedModule.__init__(self, *mods)

    return type(name, (_FusedModule,), {"__init__": __init__, "__doc__": doc,
                                         "__module__": __name__})


ConvReLU1d = _fused("ConvReLU1d", "Conv1d followed by ReLU.", nn.Conv1d, nn.ReLU)
ConvReLU2d = _fused("ConvReLU2d", "Conv2d followed by ReLU.", nn.Conv2d, nn.ReLU)
ConvReLU3d = _fused("ConvReLU3d", "Conv3d followed by ReLU.", nn.Conv3d, nn.ReLU)
LinearReLU = _fused("LinearReLU", "Linear followed by ReLU.", nn.Linear, nn.ReLU)
ConvBn1d = _fused("ConvBn1d", "Conv1d followed by BatchNorm1d.", nn.Conv1d, nn.BatchNorm1d)
ConvBn2d = _fused("ConvBn2d", "Conv2d followed by BatchNorm2d.", nn.Conv2d, nn.BatchNorm2d)
ConvBn3d = _fused("ConvBn3d", "Conv3d followed by BatchNorm3d.", nn.Conv3d, nn.BatchNorm3d)
ConvBnReLU1d = _fused("ConvBnReLU1d", "Conv1d, BatchNorm1d and ReLU.", nn.Conv1d,
                      nn.BatchNorm1d, nn.ReLU)
ConvBnReLU2d = _fused("ConvBnReLU2d", "Conv2d, BatchNorm2d and ReLU.", nn.Conv2d,
                      nn.BatchNorm2d, nn.ReLU)
ConvBnReLU3d = _fused("ConvBnReLU3d", "Conv3d, BatchNorm3d and ReLU.", nn.Conv3d,
                      nn.BatchNorm3d, nn.ReLU)
BNReLU2d = _fused("BNReLU2d", "BatchNorm2d followed by ReLU.", nn.BatchNorm2d, nn.ReLU)
BNReLU3d = _fused("BNReLU3d", "BatchNorm3d followed by ReLU.", nn.BatchNorm3d, nn.ReLU)
LinearBn1d = _fused("LinearBn1d", "Linear followed by BatchNorm1d.", nn.Linear, nn.BatchNorm1d)

from ember.ao.nn.intrinsic import qat, quantized  # noqa: E402,F401
