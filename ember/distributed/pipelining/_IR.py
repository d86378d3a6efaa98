"""Splitting a model into pipeline stages by tracing (``torch.distributed.pipelining._IR``).

PyTorch captures the model with ``torch.export``; ember traces it with ``ember.fx``
(symbolic tracing, so ``mb_args`` only documents the microbatch). The boundaries are
``pipe_split()`` calls in ``forward`` and the ``split_spec`` entries, which put one before
(``SplitPoint.BEGINNING``) or after (``SplitPoint.END``) the call of a named submodule.

NOTE [ Stage interfaces ]
Stage ``k`` of the split takes, in graph order, every value computed before boundary ``k``
(the model's inputs included) that stage ``k`` or a later stage uses, and returns the same
set for boundary ``k + 1`` (a single value bare, several as a tuple); the last stage returns
the model's output. So a value needed two stages later passes through the stage between, and
each stage only talks to its neighbours, as ``PipelineStage`` expects.
"""
from __future__ import annotations

import operator
from enum import Enum
from typing import Any

import ember.distributed as dist
from ember.distributed.pipelining.stage import PipelineStage
from ember.fx import Graph, GraphModule, Node, Tracer, map_arg
from ember.nn.modules.module import Module

__all__ = ["Pipe", "SplitPoint", "pipe_split", "pipeline"]


class SplitPoint(Enum):
    """Where ``split_spec`` puts a stage boundary around a submodule's call."""

    BEGINNING = 1
    END = 2


_active_tracers: list["_PipeTracer"] = []


def pipe_split() -> None:
    """Mark a stage boundary in a model's ``forward``: the code after it runs in the next
    stage once ``pipeline`` splits the model; a no-op when the model runs normally.

    Example::

        >>> def forward(self, x):
        ...     x = self.block1(x)
        ...     pipe_split()
        ...     return self.block2(x)
    """
    if _active_tracers:
        _active_tracers[-1].mark_split()


class _PipeTracer(Tracer):
    """A tracer that records boundaries as ``pipe_split`` call_function nodes."""

    def __init__(self, split_spec: dict | None) -> None:
        super().__init__()
        self.split_spec = split_spec or {}

    def mark_split(self) -> None:
        self.create_node("call_function", pipe_split, (), {})

    def call_module(self, m, forward, args: tuple, kwargs: dict) -> Any:
        point = self.split_spec.get(self.path_of_module(m))
        if point == SplitPoint.BEGINNING:
            self.mark_split()
        result = super().call_module(m, forward, args, kwargs)
        if point == SplitPoint.END:
            self.mark_split()
        return result


def _is_split(node: Node) -> bool:
    return node.op == "call_function" and node.target is pipe_split


def _stage_graphs(graph: Graph) -> tuple[list[Graph], list[list[Node]]]:
    """The graph of each stage and the original nodes each stage takes as inputs."""
    stage_of: dict[Node, int] = {}
    stage = 0
    for node in graph.nodes:
        if _is_split(node):
            stage += 1
        elif node.op == "output":
            output = node
        elif node.op != "get_attr":  # get_attr nodes are copied into each stage that uses one
            stage_of[node] = stage
    num_stages = stage + 1

    def last_use(node: Node) -> int:
        return max((num_stages - 1 if user.op == "output" else stage_of.get(user, -1)
                    for user in node.users), default=-1)

    values = [n for n in graph.nodes if n in stage_of]
    placeholders = [n for n in values if n.op == "placeholder"]
    # Boundary k carries what was computed before it and is used at or after it.
    boundaries = [placeholders] + [[n for n in values if stage_of[n] < k <= last_use(n)]
                                   for k in range(1, num_stages)]
    graphs = []
    for k in range(num_stages):
        g = Graph()
        env: dict[Node, Node] = {}
        for n in boundaries[k]:
            env[n] = g.node_copy(n) if n.op == "placeholder" else g.placeholder(n.name)

        def lookup(n: Node, g: Graph = g, env: dict = env) -> Node:
            if n not in env:  # only get_attr nodes are not yet there
                env[n] = g.node_copy(n)
            return env[n]

        for n in values:
            if stage_of[n] == k and n.op != "placeholder":
                env[n] = g.node_copy(n, lookup)
        if k == num_stages - 1:
            g.output(map_arg(output.args[0], lookup))
        else:
            outs = [lookup(n) for n in boundaries[k + 1]]
            g.output(outs[0] if len(outs) == 1 else tuple(outs))
        graphs.append(g)
    return graphs, boundaries


class Pipe(Module):
    """A model split into stages: ``split_gm`` runs the stages ``submod_pp_0``,
    ``submod_pp_1``, ... in turn (so ``Pipe(x)`` equals the model's output), ``num_stages`` counts
    them and ``build_stage`` wraps one in a ``PipelineStage``."""

    def __init__(self, split_gm: GraphModule, num_stages: int) -> None:
        super().__init__()
        self.split_gm = split_gm
        self.num_stages = num_stages

    def forward(self, *args, **kwargs) -> Any:
        return self.split_gm(*args, **kwargs)

    def get_stage_module(self, stage_idx: int) -> Module:
        """The module of stage ``stage_idx``."""
        if not 0 <= stage_idx < self.num_stages:
            raise ValueError(f"Invalid stage index {stage_idx}!")
        return getattr(self.split_gm, f"submod_pp_{stage_idx}")

    def build_stage(self, stage_index: int, device: Any,
                    group: dist.ProcessGroup | None = None) -> PipelineStage:
        """The ``PipelineStage`` of stage ``stage_index``, for the rank that runs it."""
        return PipelineStage(self.get_stage_module(stage_index), stage_index, self.num_stages,
                             device, group=group)


def _split_module(root: Module, graph: Graph) -> tuple[GraphModule, int]:
    graphs, boundaries = _stage_graphs(graph)
    top = Graph()
    env: dict[Node, Node] = {}
    children = Module()
    for k, g in enumerate(graphs):
        name = f"submod_pp_{k}"
        children.add_module(name, GraphModule(root, g))
        if k == 0:
            args = tuple(env.setdefault(n, top.node_copy(n)) for n in boundaries[0])
        else:
            args = tuple(env[n] for n in boundaries[k])
        result = top.call_module(name, args)
        if k == len(graphs) - 1:
            top.output(result)
        elif len(boundaries[k + 1]) == 1:
            env[boundaries[k + 1][0]] = result
        else:
            for i, n in enumerate(boundaries[k + 1]):
                env[n] = top.call_function(operator.getitem, (result, i))
    return GraphModule(children, top), len(graphs)


def pipeline(module: Module, mb_args: tuple, mb_kwargs: dict | None = None,
             split_spec: dict | None = None, split_policy: Any = None) -> Pipe:
    """Split ``module`` into pipeline stages at its ``pipe_split()`` calls and the
    ``split_spec`` points.

    Args:
        module: the model.
        mb_args: example positional inputs of one microbatch.
        mb_kwargs: example keyword inputs of one microbatch.
        split_spec: ``{"submodule.name": SplitPoint.BEGINNING or SplitPoint.END}``.
        split_policy: not supported (PyTorch's automatic splitting policies).

    Returns:
        A ``Pipe``; each rank then calls ``pipe.build_stage(rank, device)``.

    Example::

        >>> pipe = pipeline(model, (x_mb,), split_spec={"layers.4": SplitPoint.BEGINNING})
        >>> stage = pipe.build_stage(rank, torch.device("cpu"))
    """
    if split_policy is not None:
        raise NotImplementedError("pipeline: split_policy is not supported by ember; mark the "
                                  "boundaries with split_spec or pipe_split()")
    tracer = _PipeTracer(split_spec)
    _active_tracers.append(tracer)
    try:
        graph = tracer.trace(module)
    finally:
        _active_tracers.pop()
    split_gm, num_stages = _split_module(module, graph)
    return Pipe(split_gm, num_stages)
