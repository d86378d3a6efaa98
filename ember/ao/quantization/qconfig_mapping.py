"""``QConfigMapping``: which qconfig each part of a model gets in FX graph mode quantization
(globally, per module or function type, per module name or name pattern), as
``torch.ao.quantization.qconfig_mapping``."""
from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any, Callable

import ember
from ember import nn
from ember.ao.quantization.fake_quantize import (
    FixedQParamsFakeQuantize,
    default_weight_fake_quant,
)
from ember.ao.quantization.observer import (
    default_fixed_qparams_range_0to1_observer,
    default_fixed_qparams_range_neg1to1_observer,
    default_placeholder_observer,
    default_weight_observer,
)
from ember.ao.quantization.qconfig import QConfig, get_default_qat_qconfig, get_default_qconfig

__all__ = ["QConfigMapping", "get_default_qconfig_mapping", "get_default_qat_qconfig_mapping"]

_GLOBAL_DICT_KEY = ""
_OBJECT_TYPE_DICT_KEY = "object_type"
_MODULE_NAME_REGEX_DICT_KEY = "module_name_regex"
_MODULE_NAME_DICT_KEY = "module_name"
_MODULE_NAME_OBJECT_TYPE_ORDER_DICT_KEY = "module_name_object_type_order"


class QConfigMapping:
    """A qconfig per scope; a later, more specific setting wins. In increasing priority:
    global, object type (module class, function or method name), module name regex (first
    match), module name (the name or its nearest named parent), module name + object type +
    call index. A ``None`` qconfig leaves that part in float.

    Example::

        >>> from ember.ao.quantization import default_qconfig
        >>> qm = (QConfigMapping().set_global(default_qconfig)
        ...       .set_object_type(ember.nn.Linear, None).set_module_name("head", None))
    """

    def __init__(self) -> None:
        self.global_qconfig = None
        self.object_type_qconfigs: OrderedDict = OrderedDict()
        self.module_name_regex_qconfigs: OrderedDict = OrderedDict()
        self.module_name_qconfigs: OrderedDict = OrderedDict()
        self.module_name_object_type_order_qconfigs: OrderedDict = OrderedDict()

    def set_global(self, global_qconfig) -> "QConfigMapping":
        """The qconfig of everything no other setting names."""
        self.global_qconfig = global_qconfig
        return self

    def set_object_type(self, object_type: type | Callable | str, qconfig) -> "QConfigMapping":
        """The qconfig of a module class, a function (``F.relu``, ``operator.add``) or a
        method name (``"reshape"``)."""
        self.object_type_qconfigs[object_type] = qconfig
        return self

    def set_module_name_regex(self, module_name_regex: str, qconfig) -> "QConfigMapping":
        """The qconfig of the modules whose qualified names match (``re.match``); patterns
        are tried in the order they were set."""
        self.module_name_regex_qconfigs[module_name_regex] = qconfig
        return self

    def set_module_name(self, module_name: str, qconfig) -> "QConfigMapping":
        """The qconfig of the module ``module_name`` and everything inside it."""
        self.module_name_qconfigs[module_name] = qconfig
        return self

    def set_module_name_object_type_order(self, module_name: str, object_type, index: int,
                                          qconfig) -> "QConfigMapping":
        """The qconfig of the ``index``-th call of ``object_type`` in ``module_name``."""
        self.module_name_object_type_order_qconfigs[(module_name, object_type, index)] = qconfig
        return self

    def __repr__(self) -> str:
        parts = [f"\n {name}\n  {value}" for name, value in self.to_dict().items()]
        return f"{type(self).__name__} ({''.join(parts)}\n)"

    def to_dict(self) -> dict[str, Any]:
        """The old ``qconfig_dict`` form of this mapping."""
        return {
            _GLOBAL_DICT_KEY: self.global_qconfig,
            _OBJECT_TYPE_DICT_KEY: list(self.object_type_qconfigs.items()),
            _MODULE_NAME_REGEX_DICT_KEY: list(self.module_name_regex_qconfigs.items()),
            _MODULE_NAME_DICT_KEY: list(self.module_name_qconfigs.items()),
            _MODULE_NAME_OBJECT_TYPE_ORDER_DICT_KEY: [
                (*key, qconfig)
                for key, qconfig in self.module_name_object_type_order_qconfigs.items()],
        }

    @classmethod
    def from_dict(cls, qconfig_dict: dict[str, Any]) -> "QConfigMapping":
        """A mapping from the old ``qconfig_dict`` (keys ``""``, ``"object_type"``,
        ``"module_name_regex"``, ``"module_name"``, ``"module_name_object_type_order"``)."""
        mapping = cls()
        if _GLOBAL_DICT_KEY in qconfig_dict:
            mapping.set_global(qconfig_dict[_GLOBAL_DICT_KEY])
        for object_type, qconfig in qconfig_dict.get(_OBJECT_TYPE_DICT_KEY, []):
            mapping.set_object_type(object_type, qconfig)
        for regex, qconfig in qconfig_dict.get(_MODULE_NAME_REGEX_DICT_KEY, []):
            mapping.set_module_name_regex(regex, qconfig)
        for name, qconfig in qconfig_dict.get(_MODULE_NAME_DICT_KEY, []):
            mapping.set_module_name(name, qconfig)
        for name, object_type, index, qconfig in qconfig_dict.get(
                _MODULE_NAME_OBJECT_TYPE_ORDER_DICT_KEY, []):
            mapping.set_module_name_object_type_order(name, object_type, index, qconfig)
        return mapping

    def qconfig_for(self, module_name: str, object_type) -> Any:
        """The qconfig of an ``object_type`` called in (or being) the module ``module_name``:
        the module-name setting of it or its nearest parent, else the first matching regex,
        else its object type's, else the global one."""
        qconfig = self.object_type_qconfigs.get(object_type, self.global_qconfig)
        for regex, regex_qconfig in self.module_name_regex_qconfigs.items():
            if re.match(regex, module_name):
                qconfig = regex_qconfig
                break
        name = module_name
        while name:
            if name in self.module_name_qconfigs:
                return self.module_name_qconfigs[name]
            name = name.rpartition(".")[0]
        return self.module_name_qconfigs.get("", qconfig)


# Ops whose output range is known: quantized with fixed qparams, whatever the data.
_FIXED_QPARAMS_OP_TO_OBSERVER = {
    nn.Hardsigmoid: default_fixed_qparams_range_0to1_observer,
    nn.functional.hardsigmoid: default_fixed_qparams_range_0to1_observer,
    "hardsigmoid": default_fixed_qparams_range_0to1_observer,
    "hardsigmoid_": default_fixed_qparams_range_0to1_observer,
    nn.Sigmoid: default_fixed_qparams_range_0to1_observer,
    ember.sigmoid: default_fixed_qparams_range_0to1_observer,
    "sigmoid": default_fixed_qparams_range_0to1_observer,
    "sigmoid_": default_fixed_qparams_range_0to1_observer,
    nn.Softmax: default_fixed_qparams_range_0to1_observer,
    nn.Tanh: default_fixed_qparams_range_neg1to1_observer,
    ember.tanh: default_fixed_qparams_range_neg1to1_observer,
    "tanh": default_fixed_qparams_range_neg1to1_observer,
    "tanh_": default_fixed_qparams_range_neg1to1_observer,
}


def _default_qconfig_mapping(is_qat: bool, backend: str, version: int) -> QConfigMapping:
    qconfig = (get_default_qat_qconfig(backend, version) if is_qat
               else get_default_qconfig(backend, version))
    default_weight = default_weight_fake_quant if is_qat else default_weight_observer
    # fbgemm's transposed convolutions take per-tensor weights only
    qconfig_transpose = (QConfig(activation=qconfig.activation, weight=default_weight)
                         if backend in ("fbgemm", "x86") else qconfig)
    # layer norm keeps float weights
    qconfig_layernorm = QConfig(activation=qconfig.activation,
                                weight=default_placeholder_observer)
    mapping = QConfigMapping().set_global(qconfig)
    for transpose in (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
                      nn.functional.conv_transpose1d, nn.functional.conv_transpose2d,
                      nn.functional.conv_transpose3d):
        mapping.set_object_type(transpose, qconfig_transpose)
    mapping.set_object_type(nn.functional.layer_norm, qconfig_layernorm)
    mapping.set_object_type(nn.LayerNorm, qconfig_layernorm)
    fixed_qconfigs: dict = {}
    for op, observer in _FIXED_QPARAMS_OP_TO_OBSERVER.items():
        if observer not in fixed_qconfigs:
            activation = (FixedQParamsFakeQuantize.with_args(observer=observer) if is_qat
                          else observer)
            fixed_qconfigs[observer] = QConfig(activation=activation, weight=default_weight)
        mapping.set_object_type(op, fixed_qconfigs[observer])
    return mapping


def get_default_qconfig_mapping(backend: str = "x86", version: int = 0) -> QConfigMapping:
    """The post-training ``QConfigMapping`` PyTorch recommends for ``backend``: the backend's
    default qconfig globally, per-tensor weights for transposed convolutions on fbgemm/x86,
    float weights for layer norm, fixed qparams for sigmoid, hardsigmoid, softmax and tanh."""
    return _default_qconfig_mapping(False, backend, version)


def get_default_qat_qconfig_mapping(backend: str = "x86", version: int = 1) -> QConfigMapping:
    """``get_default_qconfig_mapping`` for quantization-aware training (fake quantizes)."""
    return _default_qconfig_mapping(True, backend, version)
