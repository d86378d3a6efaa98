"""Which graph nodes FX graph mode quantization quantizes, and how (PyTorch's native backend
patterns, the subset ember runs on quantized tensors).

- *own-qparams* ops (conv, linear, batch norm, tensor + tensor, tensor * tensor, ...) get an
  observer on each tensor input and one of their own on the output; ``convert_fx`` swaps in a
  quantized module or quantized function requantizing with the output observer's qparams.
- *shared-qparams* ops (relu, pooling, flatten, reshapes, dropout, ...) keep their input's
  scale and zero point: their output "observer" is the input's observer itself, and after
  ``convert_fx`` they run on the quantized tensor unchanged.
- ``cat``'s inputs and output all share one observer, so one set of qparams covers them.
"""
from __future__ import annotations

import operator

import ember
from ember import nn
from ember.ao.nn import intrinsic as nni
from ember.ao.nn import quantized as nnq
from ember.ao.nn.quantized import functional as qF
from ember.ao.quantization.quantization_mappings import (
    DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS,
    DEFAULT_STATIC_QUANT_MODULE_MAPPINGS,
)
from ember.ao.quantization.stubs import DeQuantStub, QuantStub
from ember.nn import functional as F

__all__ = ["RELU_TARGETS", "function_of", "is_relu", "BINARY_OPS", "BINARY_RELU_OPS",
           "SHARED_QPARAMS_FUNCTIONS", "SHARED_QPARAMS_METHODS", "SHARED_QPARAMS_MODULES",
           "QPARAMS_FREE_USES", "OWN_QPARAMS_MODULES", "DYNAMIC_MODULES", "WEIGHT_ONLY_MODULES"]



def function_of(target):
    """``target`` as the plain function: once ``__torch_function__`` dispatch is installed,
    ember's public functions are wrappers (``ember.overrides``), and a graph traced then names
    the wrapper where these tables, built earlier, name the function (or the other way)."""
    from ember import overrides
    return overrides._wrapped.get(target, target)


RELU_TARGETS = (function_of(F.relu), function_of(ember.relu))


def is_relu(node, modules: dict) -> bool:
    """Whether ``node`` computes a ReLU (module, function or method)."""
    if node.op == "call_module":
        return type(modules[node.target]) is nn.ReLU
    if node.op == "call_function":
        return function_of(node.target) in RELU_TARGETS
    return node.op == "call_method" and node.target in ("relu", "relu_")


# tensor (+|*) tensor -> the quantized function; followed by a ReLU -> the fused one
BINARY_OPS = {operator.add: qF.add, function_of(ember.add): qF.add, operator.mul: qF.mul,
              function_of(ember.mul): qF.mul}
BINARY_RELU_OPS = {operator.add: qF.add_relu, function_of(ember.add): qF.add_relu}

SHARED_QPARAMS_FUNCTIONS = {function_of(f) for f in (
    F.relu, ember.relu, F.relu6, F.hardtanh, ember.clamp, F.dropout,
    F.max_pool1d, F.max_pool2d, F.max_pool3d, F.avg_pool1d, F.avg_pool2d, F.avg_pool3d,
    F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d,
    ember.flatten, ember.reshape, ember.transpose, ember.squeeze, ember.unsqueeze, ember.mean,
)}
SHARED_QPARAMS_METHODS = {
    "relu", "relu_", "clamp", "flatten", "reshape", "view", "permute", "transpose", "squeeze",
    "unsqueeze", "contiguous", "mean", "detach",
}
SHARED_QPARAMS_MODULES = (
    nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Dropout, nn.Identity, nn.Flatten,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
)

# Uses that read a quantized tensor's metadata, not its values: no dequantize before them.
QPARAMS_FREE_USES = {("call_function", getattr), ("call_method", "size"),
                     ("call_method", "dim")}

# Quantized as modules with their own output qparams: the static mapping's layers (fused and
# QAT ones included) but the stubs, the FloatFunctional and the shared-qparams ones.
OWN_QPARAMS_MODULES = frozenset(DEFAULT_STATIC_QUANT_MODULE_MAPPINGS) - {
    QuantStub, DeQuantStub, nn.Dropout, nn.ReLU6, nnq.FloatFunctional, nn.Embedding}

# The layers a weight-only qconfig (float activations, float-qparams quint8 weights, such as
# ``float_qparams_weight_only_qconfig``) quantizes; any other qconfig leaves them float.
WEIGHT_ONLY_MODULES = frozenset({nn.Embedding})

# The layers a dynamic qconfig quantizes (int8 weights, activations quantized on the fly).
DYNAMIC_MODULES = (frozenset(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS) | {nni.LinearReLU}
                   ) - WEIGHT_ONLY_MODULES
