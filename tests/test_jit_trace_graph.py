"""``torch.jit._get_trace_graph`` (ember/jit/_trace.py): one node per ember call, named as
PyTorch's tracer names the aten operator, with shapes, constants, lists and module scopes, and
``torch._C._get_tracing_state`` / ``torch.jit.is_tracing`` while it records."""
import numpy as np

import ember
from ember import nn


def _ops(graph) -> list:
    """The non-``prim`` nodes: (kind, scope, output sizes)."""
    return [(n.kind(), n.scopeName(), [o.type().sizes() for o in n.outputs()])
            for n in graph.nodes() if not n.kind().startswith("prim::")]


def test_a_linear_layer_is_one_aten_linear_node_on_its_inputs_and_parameters():
    layer = nn.Linear(3, 2)
    x = ember.randn(4, 3)
    graph, out = ember.jit._get_trace_graph(layer, x)
    np.testing.assert_allclose(out.detach().numpy(), x.numpy() @ layer.weight.detach().numpy().T
                               + layer.bias.detach().numpy(), rtol=1e-6)
    inputs = graph.inputs()
    assert [v.type().sizes() for v in inputs] == [[4, 3], [2, 3], [2]]
    (node,) = graph.nodes()
    assert node.kind() == "aten::linear" and node.inputs() == inputs
    assert node.output().type().sizes() == [4, 2] and node.output().isCompleteTensor()
    assert node.output().type().scalarType() == "Float"
    assert graph.outputs() == [node.output()]


def test_convolutions_and_norms_take_atens_arguments():
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3).eval(),
                        nn.ConvTranspose1d(3, 2, 2, stride=2), nn.GroupNorm(1, 2))
    graph, _ = ember.jit._get_trace_graph(net[:2], ember.randn(1, 2, 4, 4))
    conv, norm = [n for n in graph.nodes() if n.kind().startswith("aten::")]
    assert conv.kind() == "aten::_convolution" and conv.inputsSize() == 13
    inputs = conv.inputs()
    assert inputs[2].type().kind() == "NoneType" and not inputs[2].isCompleteTensor()
    assert [v.toIValue() for v in inputs[6:9:2]] == [False, 1]
    assert inputs[3].node().kind() == "prim::ListConstruct" and inputs[3].toIValue() is None
    assert [[v.toIValue() for v in value.node().inputs()] for value in inputs[3:6]] == [
        [1, 1]] * 3
    assert norm.kind() == "aten::batch_norm" and norm.inputs()[5].toIValue() is False
    assert norm.inputs()[1].type().sizes() == [3]  # weight, then bias, mean, var (aten order)
    graph, _ = ember.jit._get_trace_graph(net[2:], ember.randn(1, 3, 5))
    tconv, gnorm = [n for n in graph.nodes() if n.kind().startswith("aten::")]
    assert tconv.inputs()[6].toIValue() is True
    assert [v.toIValue() for v in tconv.inputs()[7].node().inputs()] == [0]
    assert gnorm.kind() == "aten::group_norm" and gnorm.inputs()[1].toIValue() == 1


def test_functions_methods_and_operators_are_recorded_in_order():
    def f(a, b):
        c = ember.einsum("ij,jk->ik", a, b)
        d = nn.functional.interpolate(c[None, None], scale_factor=2, mode="bilinear")
        return (a @ b).relu() + d.sum() * 2, d.shape

    a, b = ember.randn(2, 3), ember.randn(3, 4)
    graph, (out, shape) = ember.jit._get_trace_graph(f, (a, b))
    assert shape == (1, 1, 4, 8)
    assert [k for k, _, _ in _ops(graph)] == [
        "aten::einsum", "aten::unsqueeze", "aten::upsample_bilinear2d", "aten::matmul",
        "aten::relu", "aten::sum", "aten::mul", "aten::add"]
    einsum = graph.nodes()[[n.kind() for n in graph.nodes()].index("aten::einsum")]
    assert einsum.inputs()[0].toIValue() == "ij,jk->ik"
    assert einsum.inputs()[1].node().inputs() == graph.inputs()  # the operands' list
    assert [k for k, _, sizes in _ops(graph) if sizes == [[1, 1, 4, 8]]] == [
        "aten::upsample_bilinear2d"]


def test_in_place_calls_and_indexing_get_atens_names():
    rows = ember.tensor([0])

    def f(x):
        y = x.clone()
        y += 1
        nn.functional.relu(y, inplace=True)
        y[0] = 0.0
        return y[:, 1], y[1], y[rows]

    graph, _ = ember.jit._get_trace_graph(f, ember.randn(2, 3))
    assert [k for k, _, _ in _ops(graph)] == ["aten::clone", "aten::add_", "aten::relu_",
                                              "aten::copy_", "aten::slice", "aten::select",
                                              "aten::index"]


def test_scopes_follow_pushes_and_tracing_is_visible_only_while_recording():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            state = ember._C._get_tracing_state()
            seen.append((state is not None, ember.jit.is_tracing()))
            state.push_scope("inner")
            y = x * 2
            state.pop_scope()
            return y.exp()

    net = nn.Sequential(nn.Identity(), Probe())
    hooks = [m.register_forward_pre_hook(
        lambda m, args, name=name: ember._C._get_tracing_state().push_scope(name))
        for name, m in net.named_modules()]
    hooks += [m.register_forward_hook(lambda m, args, out: ember._C._get_tracing_state()
                                      .pop_scope()) for m in net.modules()]
    graph, _ = ember.jit._get_trace_graph(net, ember.ones(2))
    assert [(k, s) for k, s, _ in _ops(graph)] == [("aten::mul", "/1/inner"),
                                                  ("aten::exp", "/1")]
    assert seen == [(True, True)]
    assert ember._C._get_tracing_state() is None and not ember.jit.is_tracing()
    for hook in hooks:
        hook.remove()


def test_untraced_tensors_become_constants_and_the_graph_prints():
    table = ember.arange(3.0)
    graph, _ = ember.jit._get_trace_graph(lambda x: x + table, ember.zeros(3))
    add = [n for n in graph.nodes() if n.kind() == "aten::add"][0]
    constant = add.inputs()[1]
    assert constant.node().kind() == "prim::Constant" and constant.type().sizes() == [3]
    text = str(graph)
    assert text.startswith("graph(%1 : Float(3)):") and "aten::add(%1, %2)" in text
    assert text.rstrip().endswith(f"return (%{add.output().debugName()})")
