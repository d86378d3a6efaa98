"""``torch.fx.experimental.optimization``: inference-time graph optimizations."""
from __future__ import annotations

import copy
from typing import Any

from ember.fx._symbolic_trace import symbolic_trace
from ember.fx.graph_module import GraphModule
from ember.fx.node import Node

__all__ = ["fuse", "matches_module_pattern", "replace_node_module"]


def _parent_name(target: str) -> tuple[str, str]:
    *parent, name = target.rsplit(".", 1)
    return (parent[0] if parent else ""), name


def matches_module_pattern(pattern: tuple, node: Node, modules: dict[str, Any]) -> bool:
    """Whether ``node`` calls a module of type ``pattern[1]`` on the result of a call of a
    module of type ``pattern[0]``."""
    if len(node.args) == 0:
        return False
    nodes = (node.args[0], node)
    for expected_type, current_node in zip(pattern, nodes):
        if not isinstance(current_node, Node) or current_node.op != "call_module":
            return False
        if not isinstance(current_node.target, str) or current_node.target not in modules:
            return False
        if type(modules[current_node.target]) is not expected_type:
            return False
    return True


def replace_node_module(node: Node, modules: dict[str, Any], new_module) -> None:
    """Install ``new_module`` where ``node``'s call_module target points."""
    parent_name, name = _parent_name(node.target)
    modules[node.target] = new_module
    setattr(modules[parent_name], name, new_module)


def fuse(model, inplace: bool = False, no_trace: bool = False) -> GraphModule:
    """Fold each eval-mode BatchNorm that follows a Conv1d/2d/3d (or a Linear, for
    BatchNorm1d) into that layer's weights, when the layer's output feeds only the norm.

    Args:
        model: the module to optimize (traced unless ``no_trace`` and already a GraphModule).
        inplace: modify ``model``'s layers instead of a deep copy of it.
        no_trace: take ``model`` as an already traced GraphModule.

    Returns:
        A GraphModule computing the same function in eval mode, without those norms.
    """
    from ember import nn
    from ember.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval
    patterns = [(nn.Conv1d, nn.BatchNorm1d), (nn.Conv2d, nn.BatchNorm2d),
                (nn.Conv3d, nn.BatchNorm3d), (nn.Linear, nn.BatchNorm1d)]
    if not inplace:
        model = copy.deepcopy(model)
    if not no_trace or not isinstance(model, GraphModule):
        fx_model = symbolic_trace(model)
    else:
        fx_model = model
    modules = dict(fx_model.named_modules())
    new_graph = copy.deepcopy(fx_model.graph)
    for pattern in patterns:
        for node in new_graph.nodes:
            if not matches_module_pattern(pattern, node, modules):
                continue
            if len(node.args[0].users) > 1:
                continue
            first_layer = modules[node.args[0].target]
            bn = modules[node.target]
            if not bn.track_running_stats:
                continue
            if pattern[0] is nn.Linear:
                fused = fuse_linear_bn_eval(first_layer, bn)
            else:
                fused = fuse_conv_bn_eval(first_layer, bn)
            replace_node_module(node.args[0], modules, fused)
            node.replace_all_uses_with(node.args[0])
            new_graph.erase_node(node)
    return GraphModule(fx_model, new_graph)
