"""The model graph ``SummaryWriter.add_graph`` writes: one forward pass's autograd graph as a
TensorBoard ``GraphDef``, each op named inside the scope of the module that ran it.

PyTorch traces the model with TorchScript; ember has no tracer, so it reads the graph autograd
records anyway. What it shows is the differentiable computation: the inputs (made to require
grad for the pass), the parameters, each op that produced a tensor requiring grad, and the
outputs. Scopes follow PyTorch's names (``Net/Conv2d[conv1]``): an op belongs to the innermost
module whose forward was running when the op's node was created (nodes are numbered in
creation order, so a module's ops are the numbers between its pre-hook and its hook).
"""
from __future__ import annotations

import re

from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.versions_pb2 import VersionDef

_BACKWARD_SUFFIX = re.compile(r"Backward\d*$")


def _scopes(model) -> dict:
    """``{module: "Net/Sequential[features]/Conv2d[0]"}`` for every submodule."""
    names = {"": type(model).__name__}
    scopes = {}
    for name, module in model.named_modules():
        if name:
            parent, _, last = name.rpartition(".")
            names[name] = f"{names[parent]}/{type(module).__name__}[{last}]"
        scopes.setdefault(module, names[name])
    return scopes


def _run_recording_spans(model, args) -> tuple:
    """Run ``model(*args)`` in eval mode, as PyTorch traces it (the training flags are put back);
    return its output and the ``(first, last, scope)`` node numbers of each module call,
    innermost calls first (a call ends before its caller does)."""
    from ember.autograd import function
    from ember.autograd.grad_mode import enable_grad
    scopes = _scopes(model)
    starts: list = []
    spans: list = []
    handles = []
    for module, scope in scopes.items():
        handles.append(module.register_forward_pre_hook(
            lambda mod, inp: starts.append(function._next_seq())))
        handles.append(module.register_forward_hook(
            lambda mod, inp, out, scope=scope: spans.append(
                (starts.pop(), function._next_seq(), scope))))
    modes = {module: module.training for module in scopes}
    model.eval()
    try:
        with enable_grad():
            out = model(*args)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    return out, spans


def _flat_tensors(value) -> list:
    from ember._tensor import Tensor
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat_tensors(v)]
    return []


def model_graph(model, input_to_model) -> GraphDef:
    """The autograd graph of ``model(*input_to_model)`` (a tensor is one input) as a GraphDef."""
    from ember._tensor import Tensor
    from ember.autograd.function import AccumulateGrad
    inputs = input_to_model if isinstance(input_to_model, (tuple, list)) else (input_to_model,)
    args = [x.detach().requires_grad_() if isinstance(x, Tensor) and x.is_floating_point()
            else x for x in inputs]
    out, spans = _run_recording_spans(model, args)
    leaf_names = {id(x): f"input/input.{i}" for i, x in enumerate(args)}
    for module, scope in _scopes(model).items():
        for name, p in module.named_parameters(recurse=False):
            leaf_names.setdefault(id(p), f"{scope}/{name}")
    taken: set = set()

    def node_def(fn) -> NodeDef:
        if isinstance(fn, AccumulateGrad):
            name = leaf_names.get(id(fn.variable), "constant")
            op = "IO Node" if name.startswith("input/") else "prim::GetAttr"
        else:
            op = _BACKWARD_SUFFIX.sub("", fn.name())
            scope = next((s for first, last, s in spans if first < fn._seq < last), None)
            name = f"{scope}/{op}" if scope else op
        unique, i = name, 0
        while unique in taken:
            i += 1
            unique = f"{name}.{i}"
        taken.add(unique)
        return NodeDef(name=unique, op=op)

    nodes: dict = {}  # autograd node -> NodeDef
    outputs = []
    for i, t in enumerate(_flat_tensors(out)):
        output = NodeDef(name=f"output/output.{i}", op="IO Node")
        taken.add(output.name)
        outputs.append(output)
        if t.grad_fn is None:
            continue
        if t.grad_fn not in nodes:
            nodes[t.grad_fn] = node_def(t.grad_fn)
            stack = [t.grad_fn]
            while stack:  # iterative: a long RNN graph would overflow recursion
                for fn, _ in stack.pop().next_functions:
                    if fn is not None and fn not in nodes:
                        nodes[fn] = node_def(fn)
                        stack.append(fn)
        output.input.append(nodes[t.grad_fn].name)
    for fn, nd in nodes.items():
        nd.input.extend(nodes[n].name for n, _ in fn.next_functions if n is not None)
    return GraphDef(node=[*nodes.values(), *outputs], versions=VersionDef(producer=22))
