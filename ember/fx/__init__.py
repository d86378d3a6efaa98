"""``torch.fx``: capture a Module's forward as a Graph, transform it, and run it again.

``symbolic_trace`` records a :class:`Graph` of :class:`Node` s by running ``forward`` on
:class:`Proxy` values; a :class:`GraphModule` turns a graph back into Python (``.code``);
:class:`Interpreter` and :class:`Transformer` walk a graph node by node. See NOTE [ Interception
while tracing ] (``_symbolic_trace.py``) for how ember's plain-function ops are recorded and NOTE
[ Generated code globals ] (``_names.py``) for how generated code names them.
"""
from ember.fx import passes  # noqa: F401
from ember.fx._symbolic_trace import PH, ProxyableClassMeta, Tracer, symbolic_trace, wrap
from ember.fx.graph import Graph
from ember.fx.graph_module import GraphModule
from ember.fx.interpreter import Interpreter, Transformer
from ember.fx.node import Node, has_side_effect, map_arg
from ember.fx.proxy import Proxy
from ember.fx.subgraph_rewriter import replace_pattern

__all__ = ["symbolic_trace", "Tracer", "wrap", "Graph", "GraphModule", "Node", "Proxy",
           "Interpreter", "Transformer", "replace_pattern", "map_arg", "has_side_effect", "PH",
           "ProxyableClassMeta"]
