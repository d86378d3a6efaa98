"""``ExportedProgram.module()`` (the lifted state put back as attributes, the inputs checked
and restructured) and ``run_decompositions()`` (mutations made outputs)."""
from __future__ import annotations

import operator
from typing import Any

from ember.export import _tree
from ember.export._ops import OpOverload, op_for
from ember.export.exported_program import ExportedProgram, InputGuards, build_signature
from ember.export.graph_signature import InputKind, OutputKind
from ember.fx.graph import Graph
from ember.fx.graph_module import GraphModule
from ember.fx.node import Node, map_arg
from ember.nn import Module, Parameter

__all__ = ["unlift", "functionalize"]


def _owner(root: Module, fqn: str, create: bool = False) -> tuple[Module, str]:
    *prefix, field = fqn.split(".")
    mod = root
    for atom in prefix:
        sub = getattr(mod, atom, None)
        if sub is None and create:
            sub = Module()
            setattr(mod, atom, sub)
        mod = sub
    return mod, field


def unlift(ep: ExportedProgram) -> GraphModule:
    """See ``ExportedProgram.module``."""
    sig, info = ep.graph_signature, ep._call_info
    graph = Graph()
    arg_nodes = [graph.placeholder(name) for name in info["arg_names"]]
    leaves = []
    for path in info["in_paths"]:
        node = arg_nodes[path[0]]
        for key in path[1:]:
            node = graph.call_function(operator.getitem, (node, key))
        leaves.append(node)
    graph.call_module("_guards_fn", tuple(leaves))
    root = Module()
    env: dict[Node, Any] = {}
    by_target: dict[str, Node] = {}
    user_leaves = iter(leaves)
    specs = {s.arg.name: s for s in sig.input_specs}
    for node in ep.graph.nodes:
        if node.op == "placeholder":
            spec = specs[node.name]
            if spec.kind is InputKind.USER_INPUT:
                env[node] = next(user_leaves)
                by_target[node.name] = env[node]
                continue
            _install(root, spec, ep)
            env[node] = by_target[spec.target] = graph.get_attr(spec.target)
            env[node].meta = dict(node.meta)
        elif node.op == "output":
            outputs = map_arg(node.args[0], lambda n: env[n])
        else:
            if node.op == "get_attr":
                setattr(root, node.target, getattr(ep.graph_module, node.target))
            env[node] = graph.node_copy(node, lambda n: env[n])
    user = []
    copy = op_for("torch.Tensor.copy_", "copy_", "default")
    for spec, value in zip(sig.output_specs, outputs):
        if spec.kind in (OutputKind.BUFFER_MUTATION, OutputKind.USER_INPUT_MUTATION):
            graph.call_function(copy, (by_target[spec.target], value))
        elif spec.kind is OutputKind.USER_OUTPUT:
            user.append(value)
    graph.output(_tree.unflatten(user, info["out_spec"]))
    root._guards_fn = InputGuards(info["guards"])
    gm = GraphModule(root, graph, "GraphModule")
    for spec in sig.input_specs:  # GraphModule copies every tensor as a persistent buffer
        if spec.kind is InputKind.CONSTANT_TENSOR or spec.persistent is False:
            owner, field = _owner(gm, spec.target)
            tensor = owner._buffers.pop(field)
            if spec.kind is InputKind.BUFFER:
                owner.register_buffer(field, tensor, persistent=False)
            else:
                object.__setattr__(owner, field, tensor)
    return gm


def _install(root: Module, spec, ep: ExportedProgram) -> None:
    owner, field = _owner(root, spec.target, create=True)
    if spec.kind is InputKind.PARAMETER:
        value = ep.state_dict[spec.target]
        if not isinstance(value, Parameter):
            value = Parameter(value)
        owner.register_parameter(field, value)
    elif spec.kind is InputKind.BUFFER:
        store = ep.state_dict if spec.persistent else ep.constants
        owner.register_buffer(field, store[spec.target], persistent=bool(spec.persistent))
    else:
        object.__setattr__(owner, field, ep.constants[spec.target])


# ------------------------------------------------------------------------------------------------
# Functionalization


def _functional_twin(node: Node) -> tuple[OpOverload, dict] | None:
    """The out-of-place op of an in-place node (``add_`` -> ``add``, ``relu(inplace=True)``
    -> ``relu``) and its kwargs, or None."""
    target = node.target
    if not isinstance(target, OpOverload) or target.source is None:
        return None
    name = target.__name__
    if node.kwargs.get("inplace"):
        kwargs = {**node.kwargs, "inplace": False}
        return op_for(target.source, name.rstrip("_"), target._overloadname), kwargs
    head, _, attr = target.source.rpartition(".")
    if head == "torch.Tensor" and attr.endswith("_") and not attr.startswith("_"):
        from ember._tensor import Tensor
        if callable(getattr(Tensor, attr[:-1], None)):
            return op_for(f"{head}.{attr[:-1]}", name[:-1], target._overloadname), node.kwargs
    return None


def functionalize(ep: ExportedProgram) -> ExportedProgram:
    """See ``ExportedProgram.run_decompositions``: each in-place node becomes its functional
    twin, or mutates a clone of its input; later uses read the new value."""
    graph = Graph()
    env: dict[Node, Node] = {}
    latest: dict[Node, Node] = {}  # a mutated value (by its first node) -> its newest node
    base: dict[Node, Node] = {}  # an in-place node -> the value it mutated

    def current(n: Node) -> Node:
        return latest.get(base.get(n, n), env[n])
    clone = op_for("torch.Tensor.clone", "clone", "default")
    for node in ep.graph.nodes:
        if node.op == "placeholder":
            env[node] = graph.placeholder(node.name)
            env[node].meta = dict(node.meta)
            continue
        if node.op == "output":
            outputs = map_arg(node.args[0], current)
            continue
        mutated = node.meta.get("mutated", [])
        twin = _functional_twin(node) if node.meta.get("inplace") else None
        if twin is not None and list(mutated) == [node.args[0]]:
            target, kwargs = twin
            new = graph.create_node("call_function", target, map_arg(node.args, current),
                                    map_arg(kwargs, current), name=target.__name__)
            new.meta = {k: v for k, v in node.meta.items() if k not in ("mutated", "inplace")}
            root = base.get(node.args[0], node.args[0])
            latest[root] = new
        elif mutated:
            copies = {}
            for m in mutated:
                copies[m] = graph.call_function(clone, (current(m),))
                copies[m].meta = dict(m.meta)
            def value(n: Node, copies=copies) -> Node:
                return copies.get(n) or current(n)
            new = graph.create_node(node.op, node.target, map_arg(node.args, value),
                                    map_arg(node.kwargs, value), name=node.name)
            new.meta = {k: v for k, v in node.meta.items() if k not in ("mutated", "inplace")}
            new.meta["impure"] = True  # it mutates the clones
            for m, c in copies.items():
                latest[base.get(m, m)] = c
        else:
            new = graph.node_copy(node, current)
        if node.meta.get("inplace"):
            base[node] = base.get(node.args[0], node.args[0])
        env[node] = new
    sig = ep.graph_signature
    kinds, outs = {}, []
    olds = [n for n in ep.graph.nodes if n.op == "placeholder"]
    for spec, old in zip(sig.input_specs, olds):
        kinds[env[old]] = (spec.kind, spec.target, spec.persistent)
        if old in latest:
            if spec.kind is InputKind.BUFFER:
                outs.append((OutputKind.BUFFER_MUTATION, latest[old], spec.target))
            elif spec.kind is InputKind.USER_INPUT:
                outs.append((OutputKind.USER_INPUT_MUTATION, latest[old], spec.arg.name))
    user = [v for spec, v in zip(sig.output_specs, outputs)
            if spec.kind is OutputKind.USER_OUTPUT]
    outs += [(OutputKind.USER_OUTPUT, v, None) for v in user]
    graph.output(tuple(v for _, v, _ in outs))
    graph.eliminate_dead_code(lambda n: n.op in ("placeholder", "output")
                              or n.meta.get("impure", False))
    submodules = {n.target: getattr(ep.graph_module, n.target) for n in graph.nodes
                  if n.op == "get_attr"}
    root = GraphModule(submodules, graph, "GraphModule")
    return ExportedProgram(root, build_signature(graph, kinds, outs), ep.state_dict,
                           ep.range_constraints, ep.constants, ep.example_inputs,
                           ep._call_info)
