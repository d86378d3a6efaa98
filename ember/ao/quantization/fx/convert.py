"""``convert``: the quantized GraphModule of an observed (and calibrated) one. Observers
become ``quantize_per_tensor`` where a float value enters the quantized region and vanish
where the value is already quantized; quantizable modules are swapped for their quantized
counterparts (the dynamic and weight-only ones, float in and out, too), ``+``/``*`` (and ``+``
then ReLU) for the quantized functions; a ``dequantize`` goes before every float op and the
output that reads a quantized value."""
from __future__ import annotations

import copy

import ember
from ember.ao.nn import intrinsic as nni
from ember.ao.nn.intrinsic.quantized import dynamic as nniqd
from ember.ao.quantization.fx._patterns import (
    BINARY_OPS,
    BINARY_RELU_OPS,
    QPARAMS_FREE_USES,
    function_of,
)
from ember.ao.quantization.fx.prepare import OBSERVED_ATTRS, is_observer
from ember.ao.quantization.quantization_mappings import (
    get_default_dynamic_quant_module_mappings,
    get_default_static_quant_module_mappings,
)
from ember.fx import GraphModule, Node
from ember.fx.node import map_arg

__all__ = ["convert"]

_QUANTIZED_DTYPES = (ember.quint8, ember.qint8, ember.qint32)


def _qparams(observer) -> tuple[float, int]:
    scale, zero_point = observer.calculate_qparams()
    return float(scale), int(zero_point)


def _set_module(gm: GraphModule, qualified_name: str, module) -> None:
    parent_name, _, name = qualified_name.rpartition(".")
    setattr(gm.get_submodule(parent_name) if parent_name else gm, name, module)


class _Converter:
    def __init__(self, gm: GraphModule, kinds: dict) -> None:
        self.gm = gm
        self.graph = gm.graph
        self.kinds = kinds
        self.modules = dict(gm.named_modules(remove_duplicate=False))
        self.quantized: set[Node] = set()  # nodes whose value is a quantized tensor
        self.dequantized: dict[Node, Node] = {}
        self.observer_names: set[str] = set()
        self.static_mapping = get_default_static_quant_module_mappings()
        self.dynamic_mapping = {**get_default_dynamic_quant_module_mappings(),
                                nni.LinearReLU: nniqd.LinearReLU}

    def observer_of(self, node: Node):
        """The output observer ``prepare`` put after ``node`` (its only user)."""
        return self.modules[next(iter(node.users)).target]

    def convert_observer(self, node: Node) -> None:
        source = node.args[0]
        observer = self.modules[node.target]
        self.observer_names.add(node.target)
        if source in self.quantized or observer.dtype not in _QUANTIZED_DTYPES or getattr(
                observer, "is_dynamic", False):
            node.replace_all_uses_with(source)
        else:
            scale, zero_point = _qparams(observer)
            with self.graph.inserting_before(node):
                quantize = self.graph.call_function(
                    ember.quantize_per_tensor, (source, scale, zero_point, observer.dtype))
            node.replace_all_uses_with(quantize)
            self.quantized.add(quantize)
        self.graph.erase_node(node)

    def swap_module(self, node: Node, mapping: dict) -> None:
        module = self.modules[node.target]
        _set_module(self.gm, node.target, mapping[type(module)].from_float(module))

    def convert_binary(self, node: Node, fused_relu: bool) -> None:
        out = next(iter(node.users)) if fused_relu else node
        scale, zero_point = _qparams(self.observer_of(out))
        ops = BINARY_RELU_OPS if fused_relu else BINARY_OPS
        node.target = ops[function_of(node.target)]
        node.args = (*node.args, scale, zero_point)
        if fused_relu:
            out.replace_all_uses_with(node)
            self.graph.erase_node(out)

    def dequantize_inputs(self, node: Node) -> None:
        """Read quantized inputs through a ``dequantize`` (one per value, right after it)."""
        if (node.op, node.target) in QPARAMS_FREE_USES:
            return

        def float_value(value: Node) -> Node:
            if value not in self.quantized:
                return value
            if value not in self.dequantized:
                with self.graph.inserting_after(value):
                    self.dequantized[value] = self.graph.call_method("dequantize", (value,))
            return self.dequantized[value]

        node.args = map_arg(node.args, float_value)
        node.kwargs = map_arg(node.kwargs, float_value)

    def run(self) -> None:
        for node in list(self.graph.nodes):
            if node.op == "call_module" and is_observer(self.modules[node.target]):
                self.convert_observer(node)
                continue
            kind = self.kinds.get(node.name)
            if kind == "module":
                self.modules[node.target].activation_post_process = self.observer_of(node)
                self.swap_module(node, self.static_mapping)
                self.quantized.add(node)
            elif kind in ("binary", "binary_relu"):
                self.convert_binary(node, kind == "binary_relu")
                self.quantized.add(node)
            elif kind == "dynamic":
                self.swap_module(node, self.dynamic_mapping)
            elif kind == "weight_only":  # quint8 weights, float output (nnq.Embedding)
                self.swap_module(node, self.static_mapping)
            elif kind == "shared" and node.args[0] in self.quantized:
                self.quantized.add(node)
            elif kind == "cat" and all(v in self.quantized for v in node.args[0]):
                self.quantized.add(node)
            elif node.op != "placeholder":
                self.dequantize_inputs(node)


def convert(observed: GraphModule) -> GraphModule:
    """The quantized model of ``observed`` (see ``convert_fx``); ``observed`` is unchanged."""
    if OBSERVED_ATTRS not in getattr(observed, "meta", {}):
        raise ValueError("convert_fx expects a model returned by prepare_fx or prepare_qat_fx")
    gm = copy.deepcopy(observed)
    attrs = gm.meta.pop(OBSERVED_ATTRS)
    for attr in attrs["preserved_attributes"]:
        setattr(gm, attr, getattr(observed, attr))
    converter = _Converter(gm, attrs["kinds"])
    converter.run()
    gm.graph.eliminate_dead_code()
    gm.graph.lint()
    for name in converter.observer_names:  # shared observers have several names
        gm.delete_submodule(name)
    gm.delete_all_unused_submodules()
    for module in gm.modules():  # the float modules left (ReLU, pooling) need it no more
        module.__dict__.pop("qconfig", None)
    gm.recompile()
    return gm
