"""``torch.fx.subgraph_rewriter.replace_pattern``: find every occurrence of a pattern graph in
a GraphModule and swap in a replacement graph."""
from __future__ import annotations

from typing import Callable, NamedTuple

from ember.fx.graph import Graph
from ember.fx.graph_module import GraphModule
from ember.fx.node import Node, map_arg

__all__ = ["Match", "replace_pattern"]


class Match(NamedTuple):
    """One occurrence: the pattern's anchor (output) node and the map from pattern nodes to
    the graph nodes they matched."""
    anchor: Node
    nodes_map: dict


def _graph_of(fn) -> Graph:
    if isinstance(fn, GraphModule):
        return fn.graph
    from ember.fx._symbolic_trace import symbolic_trace
    return symbolic_trace(fn).graph


class _Matcher:
    """Matches pattern nodes against graph nodes backwards from the anchor. Placeholders
    match any node (the same node each time); other nodes need the same op and target and
    matching arguments; matched inner nodes must have no users outside the match."""

    def __init__(self, pattern: Graph) -> None:
        self.pattern = pattern
        self.output = pattern.output_node()
        self.anchor = self.output.args[0]
        if not isinstance(self.anchor, Node):
            raise ValueError("replace_pattern needs a pattern returning one value")

    def match(self, gn: Node) -> dict | None:
        nodes_map: dict = {}
        if not self._match_node(self.anchor, gn, nodes_map):
            return None
        matched = {g for p, g in nodes_map.items() if p.op != "placeholder"}
        for pn, g in nodes_map.items():
            if pn.op == "placeholder" or pn is self.anchor:
                continue
            if any(u not in matched for u in g.users):
                return None
        return nodes_map

    def _match_node(self, pn: Node, gn: Node, nodes_map: dict) -> bool:
        if pn in nodes_map:
            return nodes_map[pn] is gn
        if pn.op == "placeholder":
            return self._bind(pn, gn, nodes_map)
        if pn.op != gn.op or pn.target != gn.target:
            return False
        if len(pn.args) != len(gn.args) or set(pn.kwargs) != set(gn.kwargs):
            return False
        nodes_map[pn] = gn
        pairs = list(zip(pn.args, gn.args)) + [(pn.kwargs[k], gn.kwargs[k]) for k in pn.kwargs]
        if all(self._match_arg(a, b, nodes_map) for a, b in pairs):
            return True
        del nodes_map[pn]
        return False

    @staticmethod
    def _bind(pn: Node, value, nodes_map: dict) -> bool:
        """A pattern input takes any value (a node or a constant), one per input."""
        if isinstance(value, Node) and any(v is value for v in nodes_map.values()):
            return False
        nodes_map[pn] = value
        return True

    def _match_arg(self, pa, ga, nodes_map: dict) -> bool:
        if isinstance(pa, Node):
            if pa.op == "placeholder" and not isinstance(ga, Node):
                if pa in nodes_map:
                    return nodes_map[pa] == ga
                return self._bind(pa, ga, nodes_map)
            return isinstance(ga, Node) and self._match_node(pa, ga, nodes_map)
        if isinstance(pa, (list, tuple)):
            return (type(pa) is type(ga) and len(pa) == len(ga)
                    and all(self._match_arg(a, b, nodes_map) for a, b in zip(pa, ga)))
        return not isinstance(ga, Node) and pa == ga


def replace_pattern(gm: GraphModule, pattern: Callable | GraphModule,
                    replacement: Callable | GraphModule) -> list[Match]:
    """Replace each non-overlapping occurrence of ``pattern`` in ``gm`` by ``replacement``
    (both traced with ``symbolic_trace`` unless already GraphModules; their inputs correspond
    in order) and recompile ``gm``. Returns the matches.

    Example::

        >>> def pattern(x): return ember.relu(x)
        >>> def replacement(x): return ember.sigmoid(x)
        >>> matches = ember.fx.replace_pattern(gm, pattern, replacement)
    """
    matcher = _Matcher(_graph_of(pattern))
    repl_graph = _graph_of(replacement)
    graph = gm.graph
    pattern_inputs = matcher.pattern.find_nodes(op="placeholder")
    repl_inputs = repl_graph.find_nodes(op="placeholder")
    if len(pattern_inputs) != len(repl_inputs):
        raise ValueError("the pattern and the replacement must take the same inputs")
    matches: list[Match] = []
    taken: set[Node] = set()
    for gn in list(graph.nodes):
        nodes_map = matcher.match(gn)
        if nodes_map is None:
            continue
        inner = [g for p, g in nodes_map.items() if p.op != "placeholder"]
        if taken.intersection(inner):
            continue
        taken.update(inner)
        matches.append(Match(anchor=matcher.anchor, nodes_map=nodes_map))
    replaced: dict[Node, Node] = {}  # an earlier match's anchor -> the node standing for it
    for m in matches:
        for p, g in m.nodes_map.items():
            if isinstance(g, Node) and g in replaced:
                m.nodes_map[p] = replaced[g]
        anchor = m.nodes_map[m.anchor]
        val_map = {r: m.nodes_map[p] for p, r in zip(pattern_inputs, repl_inputs)}
        with graph.inserting_before(anchor):
            new_out = _copy_replacement(graph, repl_graph, val_map)
        anchor.replace_all_uses_with(new_out)
        replaced[anchor] = new_out
        inner = {g for p, g in m.nodes_map.items() if p.op != "placeholder"}
        for node in reversed(graph.nodes):  # users before their inputs
            if node in inner and not node.users:
                graph.erase_node(node)
    _copy_replacement_attrs(gm, replacement, repl_graph)
    gm.recompile()
    return matches


def _copy_replacement(graph: Graph, repl_graph: Graph, val_map: dict):
    """Copy the replacement's nodes at the insert point; returns its output value."""
    for rn in repl_graph.nodes:
        if rn.op == "output":
            return map_arg(rn.args[0], lambda n: val_map[n])
        if rn.op != "placeholder":
            val_map[rn] = graph.node_copy(rn, lambda n: val_map[n])
    return None


def _copy_replacement_attrs(gm: GraphModule, replacement, repl_graph: Graph) -> None:
    """Give ``gm`` the submodules/attributes the replacement's nodes refer to."""
    from ember.fx.graph_module import _copy_attr
    if not isinstance(replacement, GraphModule):
        return
    for node in repl_graph.nodes:
        if node.op in ("get_attr", "call_module"):
            try:
                gm.get_submodule(node.target) if node.op == "call_module" else None
            except AttributeError:
                _copy_attr(replacement, gm, node.target)
