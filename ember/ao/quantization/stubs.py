"""``QuantStub`` / ``DeQuantStub`` / ``QuantWrapper``: where a model's quantized region begins
and ends (identity in float; ``convert`` swaps in ``Quantize`` and ``DeQuantize``)."""
from __future__ import annotations

from ember import nn

__all__ = ["QuantStub", "DeQuantStub", "QuantWrapper"]


class _Stub(nn.Module):
    """The identity, holding its own ``qconfig`` when given one."""

    def __init__(self, qconfig=None) -> None:
        super().__init__()
        if qconfig:
            self.qconfig = qconfig

    def forward(self, x):
        return x


class QuantStub(_Stub):
    """The identity before ``convert``; observed by ``prepare`` and then replaced by a
    ``Quantize`` with the observed qparams.

    Args:
        qconfig: the stub's own qconfig (else its parent's).
    """


class DeQuantStub(_Stub):
    """The identity before ``convert``, replaced by ``DeQuantize`` afterwards."""


class QuantWrapper(nn.Module):
    """``module`` between a ``QuantStub`` and a ``DeQuantStub`` (same qconfig)."""

    def __init__(self, module) -> None:
        super().__init__()
        qconfig = getattr(module, "qconfig", None)
        self.add_module("quant", QuantStub(qconfig))
        self.add_module("dequant", DeQuantStub(qconfig))
        self.add_module("module", module)
        self.train(module.training)

    def forward(self, X):
        return self.dequant(self.module(self.quant(X)))
