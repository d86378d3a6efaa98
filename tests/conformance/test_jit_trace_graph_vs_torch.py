"""``jit._get_trace_graph`` against PyTorch's: the same modules traced with the same scope hooks
(as fvcore registers them) give the same aten nodes in the same order, with the same scopes,
output sizes and constant arguments, and the same graph inputs."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402


def _build(lib):
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(4)
            self.gn = nn.GroupNorm(2, 4)
            self.tconv = nn.ConvTranspose2d(4, 2, 2, stride=2)
            self.ln = nn.LayerNorm(6)
            self.fc = nn.Linear(6, 5)

        def forward(self, x):
            h = self.gn(F.relu(self.bn(self.conv(x))))
            h = F.interpolate(h, scale_factor=2, mode="bilinear")
            t = self.tconv(h).flatten(2).transpose(1, 2)
            t = self.fc(self.ln(lib.cat([t, t, t], -1)))
            a = lib.bmm(t, t.transpose(1, 2))
            return lib.einsum("nij,njk->nik", a, t).matmul(lib.ones(5, 2)).sum()

    return nn.Sequential(Block(), nn.Identity()).eval()


def _trace(lib, model, x):
    hooks = []
    for name, module in model.named_modules():
        def push(m, args, name=name):
            lib._C._get_tracing_state().push_scope(name)

        def pop(m, args, out):
            lib._C._get_tracing_state().pop_scope()
        hooks += [module.register_forward_pre_hook(push), module.register_forward_hook(pop)]
    graph, _ = lib.jit._get_trace_graph(model, (x,))
    for hook in hooks:
        hook.remove()
    return graph


def _summary(graph) -> dict:
    def constant(v):
        if v.node().kind() == "prim::ListConstruct":
            return [constant(item) for item in v.node().inputs()]
        return v.toIValue() if v.node().kind() == "prim::Constant" else "value"

    nodes = []
    for node in graph.nodes():
        if node.kind().startswith("prim::"):
            continue
        shapes = [o.type().sizes() for o in node.outputs() if o.isCompleteTensor()]
        args = [constant(v) if not v.isCompleteTensor() else v.type().sizes()
                for v in node.inputs()]
        nodes.append((node.kind(), node.scopeName(), shapes, args))
    return {"inputs": [v.type().sizes() for v in graph.inputs()], "nodes": nodes}


def test_trace_graph_nodes_match_torch():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    expected = _summary(_trace(torch, _build(torch), x))
    got = _summary(_trace(ember, _build(ember), ember.tensor(x.numpy())))
    assert got["inputs"] == expected["inputs"]
    kinds = [n[0] for n in expected["nodes"]]
    assert [n[0] for n in got["nodes"]] == kinds
    for g, e in zip(got["nodes"], expected["nodes"]):
        assert g[1:3] == e[1:3], e[0]
    # the arguments of the operators FLOP counters read, in aten's order
    for kind in ("aten::_convolution", "aten::batch_norm", "aten::group_norm",
                 "aten::layer_norm", "aten::linear", "aten::bmm", "aten::matmul"):
        for g, e in zip(got["nodes"], expected["nodes"]):
            if e[0] == kind:
                assert g[3] == e[3], kind
