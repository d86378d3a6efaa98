"""Eager-mode quantization: ``propagate_qconfig_``, ``prepare`` (insert observers),
``convert`` (swap in quantized modules), ``prepare_qat``, ``quantize``, ``quantize_qat`` and
``quantize_dynamic``, as ``torch.ao.quantization.quantize``."""
from __future__ import annotations

import copy

import ember
from ember import nn
from ember.ao.nn import intrinsic as nni
from ember.ao.nn import quantized as nnq
from ember.ao.nn.intrinsic import qat as nniqat
from ember.ao.quantization.fake_quantize import FakeQuantizeBase
from ember.ao.quantization.observer import ObserverBase
from ember.ao.quantization.qconfig import (
    default_dynamic_qconfig,
    float16_dynamic_qconfig,
    float_qparams_weight_only_qconfig,
)
from ember.ao.quantization.quantization_mappings import (
    _get_special_act_post_process,
    get_default_dynamic_quant_module_mappings,
    get_default_qat_module_mappings,
    get_default_qconfig_propagation_list,
    get_default_static_quant_module_mappings,
)
from ember.ao.quantization.stubs import DeQuantStub

__all__ = ["propagate_qconfig_", "prepare", "prepare_qat", "convert", "quantize",
           "quantize_qat", "quantize_dynamic", "swap_module", "add_quant_dequant"]


def _is_activation_post_process(module) -> bool:
    return isinstance(module, (ObserverBase, FakeQuantizeBase))


def _propagate(module, qconfig_dict: dict, parent_qconfig, prefix: str) -> None:
    qconfig = qconfig_dict.get(type(module), parent_qconfig)
    qconfig = qconfig_dict.get(prefix, qconfig)
    qconfig = getattr(module, "qconfig", qconfig)
    module.qconfig = qconfig
    for name, child in module.named_children():
        _propagate(child, qconfig_dict, qconfig, f"{prefix}.{name}" if prefix else name)


def propagate_qconfig_(module, qconfig_dict=None) -> None:
    """Give every submodule a ``qconfig``: its own, else the one ``qconfig_dict`` names for its
    type or dotted name, else its parent's."""
    _propagate(module, qconfig_dict or {}, None, "")


def _observer_forward_hook(self, input, output):
    """Runs the module's output through its observer (a fake quant may change it)."""
    return self.activation_post_process(output)


def _needs_observation(module) -> bool:
    return getattr(module, "qconfig", None) is not None


def _insert_activation_post_process(module, special_act_post_process=None) -> None:
    if _needs_observation(module) and not isinstance(module, DeQuantStub):
        make = special_act_post_process or module.qconfig.activation
        module.add_module("activation_post_process", make())
        module.register_forward_hook(_observer_forward_hook, prepend=True)


def _add_observer_(module, propagation_list, non_leaf_module_list) -> None:
    for child in module.children():
        if type(child) is nn.Dropout:  # PyTorch observes no dropout: it keeps the qparams
            continue
        if type(child) is nnq.FloatFunctional:
            if _needs_observation(child):
                child.activation_post_process = child.qconfig.activation()
        elif isinstance(child, nni._FusedModule) or (
                non_leaf_module_list and type(child) in non_leaf_module_list):
            _insert_activation_post_process(child)
        elif _get_special_act_post_process(child) is not None:
            _insert_activation_post_process(child, _get_special_act_post_process(child))
        else:
            _add_observer_(child, propagation_list, non_leaf_module_list)
    # A leaf observes its own output; a QuantStub's observer sees the model's input.
    if (not any(True for _ in module.children()) and not isinstance(module, nn.Sequential)
            and type(module) in propagation_list):
        _insert_activation_post_process(module)


def prepare(model, inplace: bool = False, allow_list=None, observer_non_leaf_module_list=None,
            prepare_custom_config_dict=None):
    """Insert observers (from each module's ``qconfig``) after the quantizable leaves and the
    fused modules, to be calibrated by running data through the model before ``convert``.

    Example::

        >>> m = nn.Sequential(QuantStub(), nn.Linear(4, 2), DeQuantStub()).eval()
        >>> m.qconfig = default_qconfig
        >>> m = prepare(m)
        >>> _ = m(ember.randn(8, 4))
        >>> type(convert(m)[1]).__name__
        'Linear'
    """
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model)
    propagation_list = allow_list or get_default_qconfig_propagation_list()
    if not any(_needs_observation(m) for m in model.modules()):
        import warnings
        warnings.warn("None of the submodule got qconfig applied. Make sure you passed correct "
                      "configuration through `qconfig_dict` or by assigning the `.qconfig` "
                      "attribute directly on submodules", stacklevel=2)
    _add_observer_(model, propagation_list, observer_non_leaf_module_list)
    return model


def prepare_qat(model, mapping=None, inplace: bool = False):
    """Swap in the QAT modules (fake-quantized weights) and insert fake-quant observers on the
    activations; the model then trains as usual before ``convert``."""
    if not model.training:
        raise AssertionError("prepare_qat only works on models in training mode")
    mapping = get_default_qat_module_mappings() if mapping is None else mapping
    if not inplace:
        model = copy.deepcopy(model)
    propagate_qconfig_(model)
    convert(model, mapping=mapping, inplace=True, remove_qconfig=False)
    prepare(model, observer_non_leaf_module_list=set(mapping.values()), inplace=True)
    return model


def swap_module(mod, mapping: dict, custom_module_class_mapping=None):
    """``mapping[type(mod)].from_float(mod)`` for a module with a qconfig (keeping its other
    hooks), else ``mod``."""
    if not _needs_observation(mod) or type(mod) not in mapping:
        return mod
    new_mod = mapping[type(mod)].from_float(mod)
    for hook in mod._forward_pre_hooks.values():
        new_mod.register_forward_pre_hook(hook)
    for hook in mod._forward_hooks.values():
        if hook is not _observer_forward_hook:
            new_mod.register_forward_hook(hook)
    return new_mod


def _convert(module, mapping: dict) -> None:
    for name, child in list(module.named_children()):
        # a fused module (a QAT conv-bn too: its bn is part of it) is swapped whole
        if not isinstance(child, (nni._FusedModule, nniqat._ConvBnNd)):
            _convert(child, mapping)
        module._modules[name] = swap_module(child, mapping)


def _remove_qconfig(module) -> None:
    for child in module.children():
        _remove_qconfig(child)
    module.__dict__.pop("qconfig", None)
    app = module._modules.get("activation_post_process")
    if app is not None and _is_activation_post_process(app):
        del module._modules["activation_post_process"]
        for key, hook in list(module._forward_hooks.items()):
            if hook is _observer_forward_hook:
                del module._forward_hooks[key]


def convert(module, mapping=None, inplace: bool = False, remove_qconfig: bool = True,
            is_reference: bool = False, convert_custom_config_dict=None,
            use_precomputed_fake_quant: bool = False):
    """Swap every module with a qconfig for its quantized counterpart (``mapping``: the
    default static one unless given), which takes its qparams from the observers."""
    mapping = get_default_static_quant_module_mappings() if mapping is None else mapping
    if not inplace:
        module = copy.deepcopy(module)
    _convert(module, mapping)
    if remove_qconfig:
        _remove_qconfig(module)
    return module


def quantize(model, run_fn, run_args, mapping=None, inplace: bool = False):
    """Post-training static quantization: prepare, calibrate with ``run_fn(model, *run_args)``,
    convert."""
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    prepare(model, inplace=True)
    run_fn(model, *run_args)
    convert(model, mapping, inplace=True)
    return model


def quantize_qat(model, run_fn, run_args, inplace: bool = False):
    """Quantization-aware training: prepare_qat, train with ``run_fn(model, *run_args)``,
    convert."""
    if not inplace:
        model = copy.deepcopy(model)
    model.train()
    prepare_qat(model, inplace=True)
    run_fn(model, *run_args)
    convert(model, inplace=True)
    return model


def quantize_dynamic(model, qconfig_spec=None, dtype=ember.qint8, mapping=None,
                     inplace: bool = False):
    """Dynamic quantization: the layers named by ``qconfig_spec`` (a set of types, or a dict of
    types or dotted names to qconfigs; Linear and the RNNs by default) get int8 (or float16)
    weights; activations are quantized on the fly at run time.

    Example::

        >>> m = nn.Sequential(nn.Linear(4, 4))
        >>> type(quantize_dynamic(m, {nn.Linear}, dtype=ember.qint8)[0]).__name__
        'Linear'
    """
    defaults = {ember.qint8: default_dynamic_qconfig, ember.float16: float16_dynamic_qconfig,
                ember.quint8: float_qparams_weight_only_qconfig}
    if qconfig_spec is None:
        qconfig_spec = dict.fromkeys((nn.Linear, nn.LSTM, nn.GRU, nn.LSTMCell, nn.GRUCell,
                                      nn.RNNCell), defaults[dtype])
    elif isinstance(qconfig_spec, set):
        if dtype not in defaults:
            raise ValueError(f"Don't know how to quantize with default settings for {dtype}. "
                             "Provide full qconfig please")
        qconfig_spec = dict.fromkeys(qconfig_spec, defaults[dtype])
    mapping = get_default_dynamic_quant_module_mappings() if mapping is None else mapping
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    propagate_qconfig_(model, qconfig_spec)
    convert(model, mapping, inplace=True)
    return model


def add_quant_dequant(module):
    """Wrap every leaf with a qconfig in ``QuantWrapper`` (its own quant and dequant stubs)."""
    from ember.ao.quantization.stubs import QuantWrapper
    if not any(True for _ in module.children()) and _needs_observation(module):
        return QuantWrapper(module)
    for name, child in list(module.named_children()):
        module._modules[name] = add_quant_dequant(child)
    return module
