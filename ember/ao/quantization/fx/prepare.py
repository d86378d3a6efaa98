"""``prepare``: trace, fuse, swap in QAT modules, and insert observers
(``activation_post_process_N`` submodules) where the quantized model will need qparams.

NOTE [ FX quantization state ]
``prepare`` records on the observed GraphModule's ``meta[OBSERVED_ATTRS]`` what ``convert``
needs and cannot recover from the graph: each quantized node's kind (by node name: "module",
"binary", "binary_relu", "fused_relu", "shared", "cat", "dynamic", "weight_only") and the
attributes to carry over (a GraphModule copy keeps only what its graph uses).
Node names survive ``copy.deepcopy``, so the record does too.
"""
from __future__ import annotations

import copy
import warnings
from typing import Any

import ember
from ember.ao.nn.intrinsic import _FusedModule
from ember.ao.quantization.fake_quantize import FakeQuantizeBase
from ember.ao.quantization.fx._patterns import (
    BINARY_OPS,
    BINARY_RELU_OPS,
    DYNAMIC_MODULES,
    OWN_QPARAMS_MODULES,
    QPARAMS_FREE_USES,
    SHARED_QPARAMS_FUNCTIONS,
    SHARED_QPARAMS_METHODS,
    SHARED_QPARAMS_MODULES,
    WEIGHT_ONLY_MODULES,
    function_of,
    is_relu,
)
from ember.ao.quantization.fx.custom_config import PrepareCustomConfig
from ember.ao.quantization.fx.fuse import fuse_graph_module
from ember.ao.quantization.fx.tracer import QuantizationTracer
from ember.ao.quantization.observer import ObserverBase
from ember.ao.quantization.qconfig_mapping import QConfigMapping
from ember.ao.quantization.quantization_mappings import get_default_qat_module_mappings
from ember.fx import GraphModule, Node

__all__ = ["prepare", "OBSERVED_ATTRS", "is_observer", "is_dynamic", "is_weight_only"]

OBSERVED_ATTRS = "_observed_graph_module_attrs"


def is_observer(module) -> bool:
    return isinstance(module, (ObserverBase, FakeQuantizeBase))


def is_dynamic(qconfig) -> bool:
    """Whether ``qconfig`` quantizes activations on the fly (a dynamic qconfig)."""
    return qconfig is not None and bool(getattr(qconfig.activation(), "is_dynamic", False))


def is_weight_only(qconfig) -> bool:
    """Whether ``qconfig`` quantizes weights only (float activations, quint8 weights: an
    embedding's ``float_qparams_weight_only_qconfig``)."""
    if qconfig is None or is_dynamic(qconfig) or qconfig.weight is None:
        return False
    return (qconfig.activation().dtype not in (ember.quint8, ember.qint8, ember.qint32)
            and qconfig.weight().dtype in (ember.quint8, ember.quint4x2))


def _enclosing_module(node: Node) -> str:
    stack = node.meta.get("nn_module_stack")
    return next(reversed(stack)) if stack else ""


def _qconfig_of(node: Node, modules: dict, mapping: QConfigMapping):
    if node.op == "call_module":
        module = modules[node.target]
        object_type = type(module)
        # a fused module is configured as its first op (conv, linear) unless named itself
        if isinstance(module, _FusedModule) and object_type not in mapping.object_type_qconfigs:
            object_type = type(module[0])
        return mapping.qconfig_for(node.target, object_type)
    if node.op in ("call_function", "call_method"):
        return mapping.qconfig_for(_enclosing_module(node), node.target)
    return None


def _is_tensor_binary(node: Node) -> bool:
    return len(node.args) == 2 and all(isinstance(a, Node) for a in node.args)


def _is_add_relu(node: Node, modules: dict) -> bool:
    """Whether ``node`` is a tensor + tensor whose only use is a ReLU (fused as add_relu)."""
    if node.op != "call_function" or function_of(node.target) not in BINARY_RELU_OPS:
        return False
    return (_is_tensor_binary(node) and len(node.users) == 1
            and is_relu(next(iter(node.users)), modules))


def _kind(node: Node, modules: dict, qconfig) -> str | None:
    """How ``node`` is quantized (see NOTE [ FX quantization state ]), None if it is not."""
    if qconfig is None:
        return None
    if node.op == "call_module":
        module_type = type(modules[node.target])
        if module_type in WEIGHT_ONLY_MODULES:  # float in and out: no observers
            return "weight_only" if is_weight_only(qconfig) else None
        if is_dynamic(qconfig):
            return "dynamic" if module_type in DYNAMIC_MODULES else None
        if module_type in OWN_QPARAMS_MODULES:
            return "module"
        return "shared" if issubclass(module_type, SHARED_QPARAMS_MODULES) else None
    if is_dynamic(qconfig):
        return None
    if node.op == "call_function":
        target = function_of(node.target)
        if target in BINARY_OPS and _is_tensor_binary(node):
            return "binary_relu" if _is_add_relu(node, modules) else "binary"
        if target is function_of(ember.cat):
            return "cat"
        return "shared" if target in SHARED_QPARAMS_FUNCTIONS else None
    if node.op == "call_method" and node.target in SHARED_QPARAMS_METHODS:
        return "shared"
    return None


def _holds_tensor(node: Node) -> bool:
    return (node.op, node.target) not in QPARAMS_FREE_USES


class _ObserverInserter:
    """Inserts ``activation_post_process_N`` call_module nodes, numbered in graph order."""

    def __init__(self, gm: GraphModule) -> None:
        self.gm = gm
        self.count = 0
        self.observed: dict[Node, Node] = {}  # value -> the observer node holding it

    def is_observer_node(self, node: Node) -> bool:
        return node.op == "call_module" and is_observer(self.gm.get_submodule(node.target))

    def insert(self, value: Node, observer) -> Node:
        name = f"activation_post_process_{self.count}"
        self.count += 1
        setattr(self.gm, name, observer)
        with self.gm.graph.inserting_after(value):
            return self.gm.graph.call_module(name, (value,))

    def observed_input(self, node: Node, value: Node, qconfig) -> Node:
        """``value`` as ``node`` reads it: through its observer (inserted if new)."""
        if self.is_observer_node(value):
            return value
        if value not in self.observed:
            self.observed[value] = self.insert(value, qconfig.activation())
        node.replace_input_with(value, self.observed[value])
        return self.observed[value]

    def observe_output(self, node: Node, observer) -> None:
        """Route every use of ``node`` through a new observer node."""
        users = list(node.users)
        obs_node = self.insert(node, observer)
        for user in users:
            user.replace_input_with(node, obs_node)
        self.observed[node] = obs_node


def _insert_observers(gm: GraphModule, kinds: dict, qconfigs: dict) -> None:
    inserter = _ObserverInserter(gm)
    for node in list(gm.graph.nodes):
        kind = kinds.get(node.name)
        if kind in (None, "fused_relu", "weight_only"):
            continue
        qconfig = qconfigs[node.name]
        tensor_inputs = [a for a in node.args if isinstance(a, Node) and _holds_tensor(a)]
        if kind in ("module", "binary", "binary_relu"):
            for value in tensor_inputs:
                inserter.observed_input(node, value, qconfig)
            out = next(iter(node.users)) if kind == "binary_relu" else node
            if kind == "binary_relu":
                kinds[out.name] = "fused_relu"
            inserter.observe_output(out, qconfig.activation())
        elif kind == "dynamic":
            inserter.observed_input(node, node.args[0], qconfig)
        elif kind == "shared":
            source = inserter.observed_input(node, node.args[0], qconfig)
            inserter.observe_output(node, gm.get_submodule(source.target))
        elif kind == "cat":
            inputs = [inserter.observed_input(node, v, qconfig) for v in node.args[0]]
            shared = gm.get_submodule(inputs[0].target)
            for obs_node in inputs[1:]:  # one scale and zero point for all of them
                setattr(gm, obs_node.target, shared)
            inserter.observe_output(node, shared)


def _swap_qat_modules(gm: GraphModule, modules: dict, qconfigs: dict) -> None:
    mapping = get_default_qat_module_mappings()
    for node in gm.graph.nodes:
        if node.op != "call_module" or qconfigs.get(node.name) is None:
            continue
        module = modules[node.target]
        if type(module) in mapping:
            module.qconfig = qconfigs[node.name]
            parent_name, _, name = node.target.rpartition(".")
            parent = gm.get_submodule(parent_name) if parent_name else gm
            setattr(parent, name, mapping[type(module)].from_float(module))


def prepare(model, qconfig_mapping: QConfigMapping | dict[str, Any], is_qat: bool,
            example_inputs: tuple, prepare_custom_config=None, backend_config=None
            ) -> GraphModule:
    """The observed GraphModule of ``model`` (see ``prepare_fx``)."""
    if isinstance(qconfig_mapping, dict):
        warnings.warn("Passing a QConfig dictionary to prepare is deprecated and will not be "
                      "supported in a future version. Please pass in a QConfigMapping "
                      "instead.", FutureWarning, stacklevel=3)
        qconfig_mapping = QConfigMapping.from_dict(qconfig_mapping)
    if isinstance(prepare_custom_config, dict):
        prepare_custom_config = PrepareCustomConfig.from_dict(prepare_custom_config)
    config = prepare_custom_config or PrepareCustomConfig()
    model = copy.deepcopy(model)  # the float model stays as it was
    tracer = QuantizationTracer(config.non_traceable_module_names,
                                config.non_traceable_module_classes)
    gm = GraphModule(model, tracer.trace(model))
    fuse_graph_module(gm, is_qat)
    modules = dict(gm.named_modules(remove_duplicate=False))
    qconfigs = {node.name: _qconfig_of(node, modules, qconfig_mapping)
                for node in gm.graph.nodes}
    if is_qat:
        _swap_qat_modules(gm, modules, qconfigs)
        modules = dict(gm.named_modules(remove_duplicate=False))
    kinds = {}
    fused_relus = set()  # a ReLU fused with the + before it is quantized (or not) with it
    for node in gm.graph.nodes:
        if node in fused_relus:
            continue
        if _is_add_relu(node, modules):
            fused_relus.add(next(iter(node.users)))
        kind = _kind(node, modules, qconfigs[node.name])
        if kind is not None:
            kinds[node.name] = kind
            if node.op == "call_module":  # convert quantizes the weights with it
                for module in modules[node.target].modules():
                    module.qconfig = qconfigs[node.name]
    _insert_observers(gm, kinds, qconfigs)
    gm.graph.lint()
    observed = GraphModule(gm, gm.graph)  # submodules in graph order, as PyTorch lists them
    for attr in config.preserved_attributes:
        setattr(observed, attr, getattr(model, attr))
    observed.meta[OBSERVED_ATTRS] = {"kinds": kinds,
                                     "preserved_attributes": config.preserved_attributes}
    return observed
