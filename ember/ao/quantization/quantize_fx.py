"""FX graph mode quantization (``torch.ao.quantization.quantize_fx``): the model is traced
with ``ember.fx``, so fusion, observer placement, quantize/dequantize boundaries and the
quantized ops (``+``, ``*``, ``cat``, ``relu``, pooling, ...) are found automatically; no
``QuantStub`` or ``FloatFunctional`` is needed.

Example::

    >>> import ember.nn as nn
    >>> from ember.ao.quantization import get_default_qconfig_mapping
    >>> m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    >>> x = ember.randn(2, 3, 8, 8)
    >>> prepared = prepare_fx(m, get_default_qconfig_mapping("x86"), (x,))
    >>> _ = prepared(x)  # calibrate
    >>> type(convert_fx(prepared).get_submodule("0")).__name__
    'ConvReLU2d'
"""
from __future__ import annotations

from typing import Any

from ember.ao.quantization.fx.convert import convert
from ember.ao.quantization.fx.custom_config import FuseCustomConfig
from ember.ao.quantization.fx.fuse import fuse_graph_module
from ember.ao.quantization.fx.prepare import prepare
from ember.ao.quantization.fx.tracer import QuantizationTracer
from ember.ao.quantization.qconfig_mapping import QConfigMapping
from ember.fx import GraphModule

__all__ = ["fuse_fx", "prepare_fx", "prepare_qat_fx", "convert_fx"]


def fuse_fx(model, fuse_custom_config: FuseCustomConfig | dict | None = None,
            backend_config=None) -> GraphModule:
    """``model`` traced, with its conv-bn(-relu), conv-relu, linear-relu, ... chains fused
    (batch norms folded: the model must be in eval mode).

    Example::

        >>> m = ember.nn.Sequential(ember.nn.Conv2d(1, 2, 3), ember.nn.BatchNorm2d(2)).eval()
        >>> type(fuse_fx(m).get_submodule("0")).__name__
        'Conv2d'
    """
    if isinstance(fuse_custom_config, dict):
        fuse_custom_config = FuseCustomConfig.from_dict(fuse_custom_config)
    config = fuse_custom_config or FuseCustomConfig()
    gm = GraphModule(model, QuantizationTracer([], []).trace(model))
    for attr in config.preserved_attributes:
        setattr(gm, attr, getattr(model, attr))
    return fuse_graph_module(gm, is_qat=False)


def prepare_fx(model, qconfig_mapping: QConfigMapping | dict[str, Any], example_inputs: tuple,
               prepare_custom_config=None, _equalization_config=None, backend_config=None
               ) -> GraphModule:
    """Prepare an eval-mode ``model`` for post-training static (or dynamic) quantization:
    trace it, fuse, and insert observers where ``qconfig_mapping`` asks for quantization.
    Run calibration data through the result, then ``convert_fx`` it.

    Args:
        model: the float model (in eval mode; it is not modified).
        qconfig_mapping: a ``QConfigMapping`` (or the deprecated ``qconfig_dict``).
        example_inputs: a tuple of inputs the model accepts.
        prepare_custom_config: a ``PrepareCustomConfig`` (or its dict form).
        backend_config: accepted for compatibility (ember has one backend).

    Returns:
        A GraphModule with ``activation_post_process_N`` observers.
    """
    return prepare(model, qconfig_mapping, False, example_inputs, prepare_custom_config,
                   backend_config)


def prepare_qat_fx(model, qconfig_mapping: QConfigMapping | dict[str, Any],
                   example_inputs: tuple, prepare_custom_config=None, backend_config=None
                   ) -> GraphModule:
    """``prepare_fx`` for quantization-aware training: ``model`` in train mode, conv-bn kept
    as trainable QAT modules, fake quantizes instead of observers."""
    return prepare(model, qconfig_mapping, True, example_inputs, prepare_custom_config,
                   backend_config)


def convert_fx(graph_module: GraphModule, convert_custom_config=None,
               _remove_qconfig: bool = True, qconfig_mapping=None, backend_config=None
               ) -> GraphModule:
    """The quantized model of a prepared (and calibrated or trained) ``graph_module``: int8
    modules and ops, ``quantize_per_tensor`` at the inputs, ``dequantize`` at the outputs.
    The other arguments are accepted for compatibility (attributes ``prepare_fx`` preserved
    are kept anyway).

    Returns:
        A new GraphModule (``graph_module`` is left as it was).
    """
    return convert(graph_module)
