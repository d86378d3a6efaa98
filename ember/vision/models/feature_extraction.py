"""``torchvision.models.feature_extraction``: a model's intermediate activations by name.

:func:`create_feature_extractor` traces the model with ``ember.fx`` (once in train mode, once
in eval mode, since the two graphs may differ), names every node by its path in the module
hierarchy ("layer1.0.conv1", "layer1.0.add", "layer1.0.relu_1"), makes the requested nodes the
graph's outputs (a dict) and removes what they do not need. :func:`get_graph_node_names` lists
the names to choose from. As in torchvision, the layers of ``ember.vision.ops`` stay whole
(leaf modules) and its functions are recorded as single calls.
"""
from __future__ import annotations

import math
import re
import warnings
from collections import OrderedDict
from itertools import chain
from typing import Callable

import ember.vision.ops as vision_ops
from ember import fx, nn
from ember.fx.graph_module import _copy_attr

__all__ = ["create_feature_extractor", "get_graph_node_names"]


class LeafModuleAwareTracer(fx.Tracer):
    """An ``fx.Tracer`` that also keeps instances of ``leaf_modules`` (classes) whole."""

    def __init__(self, *args, leaf_modules: list | tuple = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.leaf_modules = tuple(leaf_modules)

    def is_leaf_module(self, m: nn.Module, module_qualname: str) -> bool:
        return isinstance(m, self.leaf_modules) or super().is_leaf_module(m, module_qualname)


class NodePathTracer(LeafModuleAwareTracer):
    """Records, in ``node_to_qualname`` (in execution order), each node's name: the path of
    module names from the root down to the leaf module, or to the operation for anything but a
    leaf-module call; a name seen before in the same module gets a ``_1``, ``_2``... suffix."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current_module_qualname = ""
        self.node_to_qualname: OrderedDict[fx.Node, str] = OrderedDict()

    def call_module(self, m: nn.Module, forward: Callable, args: tuple, kwargs: dict):
        outer = self.current_module_qualname
        self.current_module_qualname = self.path_of_module(m)
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.current_module_qualname = outer

    def create_proxy(self, kind: str, target, args: tuple, kwargs: dict, name: str | None = None,
                     type_expr=None, proxy_factory_fn=None) -> fx.Proxy:
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr,
                                     proxy_factory_fn)
        self.node_to_qualname[proxy.node] = self._qualname(proxy.node)
        return proxy

    def _qualname(self, node: fx.Node) -> str:
        qualname = self.current_module_qualname
        if node.op != "call_module":  # the module's path stops short of the operation
            qualname = f"{qualname}.{node.name}" if qualname else node.name
        # fx numbers repeated names across the whole graph; number them within their module
        if re.match(r".+_[0-9]+$", qualname):
            qualname = qualname.rsplit("_", 1)[0]
        for seen in reversed(self.node_to_qualname.values()):
            repeat = re.fullmatch(rf"{re.escape(qualname)}(_[0-9]+)?", seen)
            if repeat:
                return f"{qualname}_{int(repeat.group(1)[1:]) + 1 if repeat.group(1) else 1}"
        return qualname


def _tracer_kwargs(given: dict | None) -> dict:
    """``given`` plus torchvision's defaults: ``math`` and the ops' functions recorded as calls,
    the ops' layers as leaf modules."""
    kwargs = dict(given or {})
    ops_layers = [v for v in vars(vision_ops).values()
                  if isinstance(v, type) and issubclass(v, nn.Module)]
    autowrap = (math, vision_ops)
    kwargs["autowrap_modules"] = tuple(dict.fromkeys((*kwargs.get("autowrap_modules", ()),
                                                      *autowrap)))
    kwargs["leaf_modules"] = list(dict.fromkeys(list(kwargs.get("leaf_modules", []))
                                                + ops_layers))
    return kwargs


def _is_subsequence(longer: list, shorter: list) -> bool:
    remaining = iter(longer)
    return all(any(item == other for other in remaining) for item in shorter)


def _warn_if_modes_differ(train_tracer: NodePathTracer, eval_tracer: NodePathTracer) -> None:
    train_nodes = list(train_tracer.node_to_qualname.values())
    eval_nodes = list(eval_tracer.node_to_qualname.values())
    if train_nodes == eval_nodes:
        return
    if _is_subsequence(train_nodes, eval_nodes):
        how = ("NOTE: The nodes obtained by tracing the model in eval mode are a subsequence of "
               "those obtained in train mode. ")
    elif _is_subsequence(eval_nodes, train_nodes):
        how = ("NOTE: The nodes obtained by tracing the model in train mode are a subsequence "
               "of those obtained in eval mode. ")
    else:
        how = ("The nodes obtained by tracing the model in train mode are different to those "
               "obtained in eval mode. ")
    warnings.warn(how + "When choosing nodes for feature extraction, you may need to specify "
                  "output nodes for train and eval mode separately.", stacklevel=3)


def _trace(model: nn.Module, training: bool, tracer_kwargs: dict | None,
           concrete_args: dict | None) -> tuple[NodePathTracer, fx.Graph]:
    model.train(training)
    tracer = NodePathTracer(**_tracer_kwargs(tracer_kwargs))
    return tracer, tracer.trace(model, concrete_args=concrete_args)


def get_graph_node_names(model: nn.Module, tracer_kwargs: dict | None = None,
                         suppress_diff_warning: bool = False,
                         concrete_args: dict | None = None) -> tuple[list[str], list[str]]:
    """The node names of ``model`` in execution order, traced in train mode and in eval mode
    (warning when the two differ, unless ``suppress_diff_warning``).

    Example::

        >>> train_nodes, eval_nodes = get_graph_node_names(resnet18())
        >>> train_nodes[:6]
        ['x', 'conv1', 'bn1', 'relu', 'maxpool', 'layer1.0.conv1']
    """
    was_training = model.training
    train_tracer, _ = _trace(model, True, tracer_kwargs, concrete_args)
    eval_tracer, _ = _trace(model, False, tracer_kwargs, concrete_args)
    model.train(was_training)
    if not suppress_diff_warning:
        _warn_if_modes_differ(train_tracer, eval_tracer)
    return list(train_tracer.node_to_qualname.values()), list(eval_tracer.node_to_qualname.values())


class DualGraphModule(fx.GraphModule):
    """A GraphModule that runs ``train_graph`` in train mode and ``eval_graph`` in eval mode,
    holding the submodules and attributes either graph uses."""

    def __init__(self, root: nn.Module, train_graph: fx.Graph, eval_graph: fx.Graph,
                 class_name: str = "GraphModule") -> None:
        nn.Module.__init__(self)
        self.__class__.__name__ = class_name
        self.__class__.__qualname__ = class_name
        self.train_graph = train_graph
        self.eval_graph = eval_graph
        for node in chain(train_graph.nodes, eval_graph.nodes):
            if node.op in ("get_attr", "call_module"):
                _copy_attr(root, self, node.target)
        self.meta: dict = {}
        self.training = True
        self.graph = train_graph

    def train(self, mode: bool = True) -> DualGraphModule:
        """Switch to ``mode`` and to its graph."""
        if mode != self.training:
            self.graph = self.train_graph if mode else self.eval_graph
        return super().train(mode)


def _as_name_map(nodes: list | dict) -> dict[str, str]:
    if isinstance(nodes, list):
        return {str(n): str(n) for n in nodes}
    return {str(k): str(v) for k, v in nodes.items()}


def _with_outputs(tracer: NodePathTracer, graph: fx.Graph, return_nodes: dict[str, str]) -> None:
    """Make ``graph`` return ``{output name: node}`` for ``return_nodes`` (a query names the
    last node whose name is the query or starts with it and a dot) and drop unused nodes."""
    available = list(tracer.node_to_qualname.values())
    for query in return_nodes:
        if not any(re.match(rf"{re.escape(query)}(\.|$)", n) for n in available):
            raise ValueError(f"node: '{query}' is not present in model. Hint: use "
                             "`get_graph_node_names` to make sure the `return_nodes` you "
                             "specified are present. It may even be that you need to specify "
                             "`train_return_nodes` and `eval_return_nodes` separately.")
    for node in [n for n in graph.nodes if n.op == "output"]:
        graph.erase_node(node)
    nodes = list(graph.nodes)
    pending = dict(return_nodes)
    outputs = []
    for node in reversed(nodes):
        qualname = tracer.node_to_qualname.get(node)
        if qualname is None:  # e.g. tensor constants: not features
            continue
        for query, output_name in pending.items():
            if ".".join(qualname.split(".")[:query.count(".") + 1]) == query:
                outputs.append((output_name, node))
                del pending[query]
                break
    with graph.inserting_after(nodes[-1]):
        graph.output(OrderedDict(reversed(outputs)))
    graph.eliminate_dead_code()


def create_feature_extractor(model: nn.Module, return_nodes: list | dict | None = None,
                             train_return_nodes: list | dict | None = None,
                             eval_return_nodes: list | dict | None = None,
                             tracer_kwargs: dict | None = None,
                             suppress_diff_warning: bool = False,
                             concrete_args: dict | None = None) -> fx.GraphModule:
    """A GraphModule that runs ``model`` and returns the activations of the chosen nodes as a
    dict: ``return_nodes`` maps node names (as :func:`get_graph_node_names` lists them, or a
    prefix ending at a dot: "layer1" is the last node inside ``layer1``) to output names (a
    list keeps the node names); ``train_return_nodes`` and ``eval_return_nodes`` choose
    differently per mode. ``tracer_kwargs`` reach the tracer (``leaf_modules``,
    ``autowrap_functions``, ...), ``concrete_args`` the trace.

    Example::

        >>> extractor = create_feature_extractor(resnet18(), {"layer1": "feat1",
        ...                                                   "layer3": "feat2"})
        >>> {k: v.shape for k, v in extractor(ember.rand(1, 3, 224, 224)).items()}
        {'feat1': ember.Size([1, 64, 56, 56]), 'feat2': ember.Size([1, 256, 14, 14])}
    """
    assert any(arg is not None for arg in (return_nodes, train_return_nodes,
                                           eval_return_nodes)), (
        "Either `return_nodes` or `train_return_nodes` and `eval_return_nodes` together, "
        "should be specified")
    assert (train_return_nodes is None) == (eval_return_nodes is None), (
        "If any of `train_return_nodes` and `eval_return_nodes` are specified, then both "
        "should be specified")
    assert (return_nodes is None) != (train_return_nodes is None), (
        "If `train_return_nodes` and `eval_return_nodes` are specified, then both should be "
        "specified")
    if return_nodes is not None:
        train_return_nodes = eval_return_nodes = return_nodes
    was_training = model.training
    name = type(model).__name__
    tracers, graphs = {}, {}
    for mode, chosen in (("train", train_return_nodes), ("eval", eval_return_nodes)):
        tracer, graph = _trace(model, mode == "train", tracer_kwargs, concrete_args)
        _with_outputs(tracer, graph, _as_name_map(chosen))
        tracers[mode], graphs[mode] = tracer, graph
    if not suppress_diff_warning:
        _warn_if_modes_differ(tracers["train"], tracers["eval"])
    extractor = DualGraphModule(model, graphs["train"], graphs["eval"], class_name=name)
    model.train(was_training)
    extractor.train(was_training)
    return extractor
