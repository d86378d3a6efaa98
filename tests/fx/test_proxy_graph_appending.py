"""``Proxy(node)`` without a tracer (PyTorch's GraphAppendingTracer) and Tracer subclasses that
see every node through ``create_proxy``/``create_node``."""
import numpy as np
import pytest

import ember
import ember.fx as fx
import ember.overrides

pytestmark = pytest.mark.usefixtures("plain_dispatch_after")


def test_proxy_of_raw_nodes_builds_a_runnable_graph():
    graph = fx.Graph()
    x, y = fx.Proxy(graph.placeholder("x")), fx.Proxy(graph.placeholder("y"))
    assert isinstance(x.tracer, fx.proxy.GraphAppendingTracer) and x.tracer.graph is graph
    out = ember.nn.functional.relu(ember.cat([x, y]) * 2).sum(0, keepdim=True) - y.exp()
    graph.output(out.node)
    gm = fx.GraphModule(ember.nn.Module(), graph)
    a, b = np.array([-1.0, 0.5]), np.array([3.0, -2.0])
    got = gm(ember.tensor(a), ember.tensor(b)).numpy()
    np.testing.assert_allclose(got, np.maximum(np.concatenate([a, b]) * 2, 0).sum() - np.exp(b),
                               rtol=1e-6)
    ops = [(n.op, getattr(n.target, "__name__", n.target)) for n in graph.nodes]
    assert ("call_function", "cat") in ops and ("call_method", "sum") in ops
    assert ("call_method", "exp") in ops


def test_proxy_of_traced_node_inserts_at_insertion_point():
    gm = fx.symbolic_trace(lambda x: x + 1)
    add = next(n for n in gm.graph.nodes if n.op == "call_function")
    output = next(n for n in gm.graph.nodes if n.op == "output")
    with gm.graph.inserting_after(add):
        # (made before ``ember.tanh`` is looked up: the first tracer-less Proxy installs the
        # dispatch that the looked-up function must be)
        proxy = fx.Proxy(add)
        output.args = (ember.tanh(proxy).node,)
    gm.recompile()
    np.testing.assert_allclose(gm(ember.tensor([0.0, 1.0])).numpy(), np.tanh([1.0, 2.0]),
                               rtol=1e-6)


def test_subclass_create_node_and_create_proxy_see_placeholders():
    seen_nodes, seen_proxies = [], []

    class Recording(fx.Tracer):
        def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
            node = super().create_node(kind, target, args, kwargs, name, type_expr)
            seen_nodes.append(node.op)
            return node

        def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None):
            proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr)
            seen_proxies.append(proxy.node.op)
            return proxy

    class M(ember.nn.Module):
        def forward(self, a, b=2.0):
            return a * b

    graph = Recording().trace(M())
    assert seen_nodes == [n.op for n in graph.nodes]
    assert seen_proxies == ["placeholder", "placeholder", "call_function"]
    b = [n for n in graph.nodes if n.op == "placeholder"][1]
    assert b.args == (2.0,)


def test_tracer_less_proxy_inside_a_trace_inlines_without_touching_namespaces():
    class Inlining(fx.Tracer):
        def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
            if kind == "call_function" and getattr(target, "__name__", "") == "neg":
                return ember.relu(*fx.node.map_arg(args, fx.Proxy)).node
            return super().create_node(kind, target, args, kwargs, name, type_expr)

    class M(ember.nn.Module):
        def forward(self, x):
            return ember.neg(x) * 2

    ember.overrides._uninstall()  # an earlier test in this process may have installed it
    cat, relu = ember.cat, ember.relu
    graph = Inlining().trace(M())
    assert [n.name for n in graph.nodes] == ["x", "relu", "mul", "output"]
    # The stand-ins the trace installed are gone again, and stay gone after an uninstall.
    ember.overrides._uninstall()
    assert ember.cat is cat and ember.relu is relu
    gm = fx.GraphModule(M(), graph)
    np.testing.assert_allclose(gm(ember.tensor([-1.0, 3.0])).numpy(), [0.0, 6.0])


def test_assert_on_a_raw_proxy_is_recorded_and_checked_when_run():
    # torch._assert takes part in __torch_function__, so a graph built from raw Proxies (as
    # libraries generating code with fx do) records it instead of asking for the Proxy's truth
    graph = fx.Graph()
    x = fx.Proxy(graph.placeholder("x"))
    ember._assert(x.shape[-1] == 3, "x must have 3 columns")
    graph.output((x * 2).node)
    gm = fx.GraphModule(ember.nn.Module(), graph)
    assert any(n.op == "call_function" and n.target is ember._assert for n in graph.nodes)
    np.testing.assert_allclose(gm(ember.ones(2, 3)).numpy(), np.full((2, 3), 2.0))
    with pytest.raises(AssertionError, match="x must have 3 columns"):
        gm(ember.ones(2, 4))
