"""``QConfig``: which observer (or fake-quant) to attach to a layer's activations and weights,
and the defaults PyTorch names for its backends."""
from __future__ import annotations

from collections import namedtuple

import ember
from ember.ao.quantization.fake_quantize import (
    FakeQuantize,
    FusedMovingAvgObsFakeQuantize,
    default_fake_quant,
    default_fused_act_fake_quant,
    default_fused_per_channel_wt_fake_quant,
    default_fused_wt_fake_quant,
    default_per_channel_weight_fake_quant,
    default_weight_fake_quant,
)
from ember.ao.quantization.observer import (
    HistogramObserver,
    MovingAverageMinMaxObserver,
    PlaceholderObserver,
    default_dynamic_quant_observer,
    default_float_qparams_observer,
    default_observer,
    default_per_channel_weight_observer,
    default_placeholder_observer,
    default_weight_observer,
)

__all__ = ["QConfig", "QConfigDynamic", "default_qconfig", "default_qat_qconfig",
           "default_dynamic_qconfig", "float16_dynamic_qconfig", "per_channel_dynamic_qconfig",
           "default_per_channel_qconfig", "float_qparams_weight_only_qconfig",
           "get_default_qconfig", "get_default_qat_qconfig", "qconfig_equals"]


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """How to observe a layer: ``activation`` and ``weight`` are observer classes or
    ``with_args`` factories (not instances: each layer builds its own).

    Example::

        >>> from ember.ao.quantization import MinMaxObserver
        >>> qc = QConfig(activation=MinMaxObserver.with_args(dtype=ember.qint8),
        ...              weight=MinMaxObserver.with_args(dtype=ember.qint8))
    """

    __slots__ = ()

    def __new__(cls, activation, weight):
        if isinstance(activation, ember.nn.Module) or isinstance(weight, ember.nn.Module):
            raise ValueError("QConfig received observer instance, please pass observer class "
                             "instead. Use MyObserver.with_args(x=1) to override arguments to "
                             "constructor if needed")
        return super().__new__(cls, activation, weight)


QConfigDynamic = QConfig

default_qconfig = QConfig(activation=default_observer, weight=default_weight_observer)
default_per_channel_qconfig = QConfig(activation=default_observer,
                                      weight=default_per_channel_weight_observer)
default_qat_qconfig = QConfig(activation=default_fake_quant, weight=default_weight_fake_quant)
default_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer,
                                  weight=default_weight_observer)
float16_dynamic_qconfig = QConfig(
    activation=PlaceholderObserver.with_args(dtype=ember.float16, is_dynamic=True),
    weight=PlaceholderObserver.with_args(dtype=ember.float16))
per_channel_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer,
                                      weight=default_per_channel_weight_observer)
float_qparams_weight_only_qconfig = QConfig(activation=default_placeholder_observer,
                                            weight=default_float_qparams_observer)


def get_default_qconfig(backend: str = "x86", version: int = 0) -> QConfig:
    """The post-training qconfig PyTorch recommends for ``backend`` ("x86", "fbgemm": histogram
    activations with reduced range, per-channel weights; "qnnpack"; "onednn")."""
    if backend in ("fbgemm", "x86"):
        return QConfig(activation=HistogramObserver.with_args(reduce_range=True),
                       weight=default_per_channel_weight_observer)
    if backend == "qnnpack":
        return QConfig(activation=HistogramObserver.with_args(reduce_range=False),
                       weight=default_weight_observer)
    if backend == "onednn":
        return QConfig(activation=HistogramObserver.with_args(reduce_range=False),
                       weight=default_per_channel_weight_observer)
    return default_qconfig


def get_default_qat_qconfig(backend: str = "x86", version: int = 1) -> QConfig:
    """The quantization-aware-training qconfig PyTorch recommends for ``backend`` (version 0
    with ``FakeQuantize``, later versions with the fused observer + fake-quant module)."""
    if version == 0:
        fake_quant, default_act = FakeQuantize, default_fake_quant
        per_channel_wt, per_tensor_wt = (default_per_channel_weight_fake_quant,
                                         default_weight_fake_quant)
    else:
        fake_quant, default_act = FusedMovingAvgObsFakeQuantize, default_fused_act_fake_quant
        per_channel_wt, per_tensor_wt = (default_fused_per_channel_wt_fake_quant,
                                         default_fused_wt_fake_quant)

    def uint8_activation(**kwargs):
        return fake_quant.with_args(observer=MovingAverageMinMaxObserver, quant_min=0,
                                    quant_max=255, **kwargs)

    if backend in ("fbgemm", "x86"):
        return QConfig(activation=uint8_activation(reduce_range=True), weight=per_channel_wt)
    if backend == "qnnpack":
        return QConfig(activation=uint8_activation(reduce_range=False), weight=per_tensor_wt)
    if backend == "onednn" and version != 0:
        return QConfig(activation=uint8_activation(), weight=per_channel_wt)
    return QConfig(activation=default_act, weight=per_tensor_wt)


def qconfig_equals(q1, q2) -> bool:
    """Whether two qconfigs build the same observers (bound arguments compared)."""
    if q1 is None or q2 is None:
        return q1 == q2

    def same(a, b):
        pa, pb = getattr(a, "p", a), getattr(b, "p", b)
        if hasattr(pa, "func") and hasattr(pb, "func"):
            return pa.func == pb.func and pa.keywords == pb.keywords and pa.args == pb.args
        return pa == pb

    return same(q1.activation, q2.activation) and same(q1.weight, q2.weight)
