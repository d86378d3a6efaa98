"""ember.fx against real torch.fx on the same module definitions: node lists, generated code,
Graph printing, outputs, Interpreter/Transformer/ShapeProp, replace_pattern, TraceErrors."""
import math
import operator

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.fx.passes.shape_prop import ShapeProp as TorchShapeProp  # noqa: E402

import ember  # noqa: E402
import ember.fx  # noqa: E402
from ember.fx.passes.shape_prop import ShapeProp as EmberShapeProp  # noqa: E402

# Each source defines ``M`` (a Module) or ``f`` (a function) and ``inputs()``; it is run once
# with ``torch`` = real PyTorch and once with ``torch`` = ember. Calls of PyTorch's Python-level
# functionals are written with all the keywords PyTorch records (``F.relu(x, inplace=False)``):
# PyTorch's ``__torch_function__`` path passes each function's defaults on, ember records the
# call as written.
CASES = {
    "mlp": '''
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 5)
        self.seq = nn.Sequential(nn.ReLU(), nn.Linear(5, 3))
    def forward(self, x):
        x = F.dropout(F.relu(self.lin(x), inplace=False), p=0.1, training=False, inplace=False)
        return self.seq(x).softmax(dim=-1)
def inputs():
    return (torch.randn(2, 4),)
''',
    "params_buffers_constants": '''
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.ones(4) * 0.5)
        self.register_buffer("b", torch.arange(4.0))
        self.c = torch.full((4,), 2.0)
    def forward(self, x: torch.Tensor, y=3) -> torch.Tensor:
        a = F.relu(x + self.p, inplace=False)
        a = torch.relu(a) * self.b + self.c
        s = a.shape[0]
        a = a.view(s, -1)[:, 1:3]
        a = torch.cat([a, a], 1) - 1 + math.sqrt(y)
        return (-a / 2 ** a).sum(dim=-1, keepdim=True)
def inputs():
    return (torch.randn(3, 4),)
''',
    "conv_bn": '''
class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.mod = nn.BatchNorm2d(2)
    def forward(self, x):
        return self.mod(x)
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(2)
        self.layers = nn.Sequential(nn.Conv2d(2, 2, 1), Inner())
        self.pool = nn.AdaptiveAvgPool2d(1)
    def forward(self, x):
        x = self.bn1(self.conv1(x))
        x = F.max_pool2d(x, 2) if False else x
        x = self.layers(x) + x
        return torch.flatten(self.pool(x), 1)
def inputs():
    return (torch.randn(2, 1, 6, 6),)
''',
    "methods_unpack_getattr": '''
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(3, 3)
    def forward(self, x, z=None):
        a, b = x.chunk(2)
        w = self.l.weight
        m = b.max(dim=0).values
        return self.l(a) + m + w.sum(), x.T, {"n": abs(x) >= 0.5}
def inputs():
    return (torch.randn(4, 3),)
''',
    "attention_rnn": '''
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.norm = nn.LayerNorm(8)
        self.qkv = nn.Linear(8, 24)
        self.rnn = nn.GRU(8, 8, batch_first=True)
    def forward(self, idx, mask):
        x = self.norm(self.emb(idx))
        B, T, C = x.size()
        q, k, v = self.qkv(x).split(8, dim=2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(mask[:, :T, :T] == 0, float("-inf"))
        y = att.softmax(dim=-1) @ v
        out, h = self.rnn(y)
        return out.contiguous().view(B, T * C), h.permute(1, 0, 2)
def inputs():
    return (torch.randint(0, 10, (2, 5)), torch.tril(torch.ones(1, 5, 5)))
''',
    "varargs": '''
def f(x, *args):
    return x + args[0] * args[1]
def inputs():
    return (torch.randn(3), torch.randn(3), torch.randn(3))
''',
    "function": '''
def f(x, y):
    z = torch.sigmoid(x) @ y.transpose(0, 1)
    z = torch.where(z > 0.5, z, torch.zeros_like(z))
    return torch.stack([z, z * 2], dim=0).mean(0), z.size(1), x[..., None, 0]
def inputs():
    return (torch.randn(3, 4), torch.randn(5, 4))
''',
}


def _build(source: str, lib) -> dict:
    ns = {"torch": lib, "nn": lib.nn, "F": lib.nn.functional, "math": math}
    exec(compile(source, "<case>", "exec"), ns)
    return ns


def _pair(name: str):
    """(torch root, ember root, torch inputs, ember inputs) with equal weights and inputs."""
    t_ns, e_ns = _build(CASES[name], torch), _build(CASES[name], ember)
    torch.manual_seed(0)
    t_inputs = t_ns["inputs"]()
    e_inputs = tuple(ember.tensor(t.numpy()) for t in t_inputs)
    if "M" in t_ns:
        t_root, e_root = t_ns["M"]().eval(), e_ns["M"]().eval()
        state = {k: ember.tensor(v.detach().numpy()) for k, v in t_root.state_dict().items()}
        e_root.load_state_dict(state)
    else:
        t_root, e_root = t_ns["f"], e_ns["f"]
    return t_root, e_root, t_inputs, e_inputs


def _node_rows(graph) -> list:
    def arg(a):
        if isinstance(a, (torch.fx.Node, ember.fx.Node)):
            return ("node", a.name)
        if isinstance(a, (tuple, list)):
            return ("list" if isinstance(a, list) else "tuple", tuple(arg(x) for x in a))
        if isinstance(a, dict):
            return ("dict", tuple((k, arg(v)) for k, v in a.items()))
        return repr(a)
    return [(n.op, n.name, n.target if isinstance(n.target, str) else
             n._pretty_print_target(n.target), arg(n.args), arg(n.kwargs)) for n in graph.nodes]


def _np(x):
    if isinstance(x, (tuple, list)):
        return [_np(v) for v in x]
    if isinstance(x, dict):
        return {k: _np(v) for k, v in x.items()}
    if isinstance(x, (torch.Tensor, ember.Tensor)):
        return x.detach().numpy()
    return x


def _assert_same(a, b) -> None:
    a, b = _np(a), _np(b)
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    else:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_trace_matches_torch(name):
    t_root, e_root, t_in, e_in = _pair(name)
    t_gm, e_gm = torch.fx.symbolic_trace(t_root), ember.fx.symbolic_trace(e_root)
    assert _node_rows(e_gm.graph) == _node_rows(t_gm.graph)
    assert e_gm.code == t_gm.code
    assert str(e_gm.graph) == str(t_gm.graph)
    assert type(e_gm).__name__ == type(t_gm).__name__
    assert e_gm.print_readable(print_output=False) == t_gm.print_readable(print_output=False)
    with torch.no_grad(), ember.no_grad():
        _assert_same(e_gm(*e_in), t_gm(*t_in))
        _assert_same(e_gm(*e_in), e_root(*e_in))


@pytest.mark.parametrize("name", sorted(CASES))
def test_interpreter_and_shape_prop_match_torch(name):
    t_root, e_root, t_in, e_in = _pair(name)
    t_gm, e_gm = torch.fx.symbolic_trace(t_root), ember.fx.symbolic_trace(e_root)
    with torch.no_grad(), ember.no_grad():
        _assert_same(ember.fx.Interpreter(e_gm).run(*e_in), torch.fx.Interpreter(t_gm).run(*t_in))
        TorchShapeProp(t_gm).propagate(*t_in)
        EmberShapeProp(e_gm).propagate(*e_in)
    for tn, en in zip(t_gm.graph.nodes, e_gm.graph.nodes):
        assert ("tensor_meta" in tn.meta) == ("tensor_meta" in en.meta), tn.name
        if "tensor_meta" in tn.meta and hasattr(tn.meta["tensor_meta"], "shape"):
            tm, em = tn.meta["tensor_meta"], en.meta["tensor_meta"]
            assert tuple(em.shape) == tuple(tm.shape)
            assert str(em.dtype) == str(tm.dtype)
            # The stride of a size-1 dimension is arbitrary (NumPy gives a new axis 0).
            assert [st for st, n in zip(em.stride, em.shape) if n > 1] == \
                [st for st, n in zip(tm.stride, tm.shape) if n > 1]
            assert em.requires_grad == tm.requires_grad
            assert str(em.memory_format) == str(tm.memory_format)


def test_transformer_matches_torch():
    t_root, e_root, t_in, e_in = _pair("mlp")

    def make(lib, base):
        class Swap(base):
            def call_method(self, target, args, kwargs):
                if target == "softmax":
                    return super().call_function(lib.sigmoid, args[:1], {})
                return super().call_method(target, args, kwargs)
        return Swap
    t_new = make(torch, torch.fx.Transformer)(torch.fx.symbolic_trace(t_root)).transform()
    e_new = make(ember, ember.fx.Transformer)(ember.fx.symbolic_trace(e_root)).transform()
    assert e_new.code == t_new.code
    assert type(e_new).__name__ == type(t_new).__name__
    with torch.no_grad(), ember.no_grad():
        _assert_same(e_new(*e_in), t_new(*t_in))


def test_replace_pattern_matches_torch():
    src = '''
def f(x, y):
    a = torch.relu(x) + y
    b = torch.relu(a) + 1.0
    return torch.relu(b * 2)
def pattern(x, y):
    return torch.relu(x) + y
def replacement(x, y):
    return torch.sigmoid(x) - y
'''
    t_ns, e_ns = _build(src, torch), _build(src, ember)
    t_gm, e_gm = torch.fx.symbolic_trace(t_ns["f"]), ember.fx.symbolic_trace(e_ns["f"])
    t_matches = torch.fx.replace_pattern(t_gm, t_ns["pattern"], t_ns["replacement"])
    e_matches = ember.fx.replace_pattern(e_gm, e_ns["pattern"], e_ns["replacement"])
    assert repr(e_matches) == repr(t_matches)
    assert e_gm.code == t_gm.code
    x, y = torch.randn(3), torch.randn(3)
    _assert_same(e_gm(ember.tensor(x.numpy()), ember.tensor(y.numpy())), t_gm(x, y))


def test_graph_surgery_matches_torch():
    def edit(lib, fx):
        def f(x):
            return lib.relu(x).neg()
        gm = fx.symbolic_trace(f)
        relu = next(n for n in gm.graph.nodes if n.op == "call_function")
        with gm.graph.inserting_after(relu):
            a = gm.graph.call_function(lib.sigmoid, (relu,))
            b = gm.graph.call_function(operator.mul, (relu, 2))
        neg = next(n for n in gm.graph.nodes if n.op == "call_method")
        neg.args = (a,)  # relu's user now uses sigmoid instead
        with gm.graph.inserting_before(relu):
            gm.graph.call_function(lib.tanh, (relu.prev,))
        gm.graph.eliminate_dead_code()
        gm.recompile()
        return gm, b
    t_gm, _ = edit(torch, torch.fx)
    e_gm, _ = edit(ember, ember.fx)
    assert str(e_gm.graph) == str(t_gm.graph)
    assert e_gm.code == t_gm.code


def _error(fn, fx):
    try:
        fx.symbolic_trace(fn)
    except Exception as e:
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("body", [
    lambda x: bool(x), lambda x: list(x), lambda x: len(x), lambda x: [a for a in x],
    lambda x: x.shape[0] if x.sum() > 0 else 1, lambda x: int(x)])
def test_trace_errors_match_torch(body):
    assert _error(body, ember.fx) == _error(body, torch.fx)


def test_free_graph_building_matches_torch():
    def build(lib, fx):
        g = fx.Graph()
        x = g.placeholder("x")
        y = g.placeholder("input", default_value=2)
        s = g.call_function(lib.sum, (x,), {"dim": 0})
        m = g.call_method("view", (s, -1))
        g.output((g.call_function(operator.add, (m, y)), g.call_function(lib.abs, (x,))))
        g.lint()
        return g, fx.GraphModule(lib.nn.Module(), g)
    (tg, tgm), (eg, egm) = build(torch, torch.fx), build(ember, ember.fx)
    assert str(eg) == str(tg)
    assert egm.code == tgm.code
    assert _node_rows(eg) == _node_rows(tg)
    x = torch.randn(3, 2)
    _assert_same(egm(ember.tensor(x.numpy())), tgm(x))


def test_concrete_args_match_torch():
    src = '''
def f(x, y=3, z=None, w=None, t=False):
    return x + y if t is False else x
'''
    for concrete in ({"y": 4, "z": None, "t": False}, {"y": "PH"}):
        codes = []
        for lib in (torch, ember):
            ns = _build(src, lib)
            args = {k: lib.fx.PH if v == "PH" else v for k, v in concrete.items()}
            gm = lib.fx.symbolic_trace(ns["f"], concrete_args=args)
            codes.append((gm.code, str(gm.graph)))
        assert codes[1] == codes[0]


def test_nn_module_stack_matches_torch():
    src = '''
class I(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(2, 2)
    def forward(self, x):
        return torch.relu(self.l(x))
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.i = I()
    def forward(self, x):
        return self.i(x) + 1
'''
    stacks = []
    for lib in (torch, ember):
        gm = lib.fx.symbolic_trace(_build(src, lib)["M"]())
        stacks.append([(n.name, [(k, v[0], v[1].__name__) for k, v in
                                 n.meta.get("nn_module_stack", {}).items()])
                       for n in gm.graph.nodes])
    assert stacks[1] == stacks[0]


def test_conv_bn_fusion_pass_matches_torch():
    # The FX conv-bn tutorial's model and pass (pytorch/tutorials, BSD-3-Clause), shortened.
    src = '''
import copy
class WrappedBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.mod = nn.BatchNorm2d(1)
    def forward(self, x):
        return self.mod(x)
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 1, 1)
        self.bn1 = nn.BatchNorm2d(1)
        self.conv2 = nn.Conv2d(1, 1, 1)
        self.nested = nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 1, 1))
        self.wrapped = WrappedBatchNorm()
    def forward(self, x):
        return self.wrapped(self.nested(self.conv2(self.bn1(self.conv1(x)))))
def fuse(model):
    fx_model = torch.fx.symbolic_trace(copy.deepcopy(model))
    modules = dict(fx_model.named_modules())
    for node in fx_model.graph.nodes:
        if node.op != "call_module":
            continue
        if type(modules[node.target]) is nn.BatchNorm2d and \\
                type(modules[node.args[0].target]) is nn.Conv2d:
            if len(node.args[0].users) > 1:
                continue
            node.replace_all_uses_with(node.args[0])
            fx_model.graph.erase_node(node)
    fx_model.graph.lint()
    fx_model.recompile()
    return fx_model
'''
    out = []
    for lib in (torch, ember):
        ns = _build(src, lib)
        model = ns["M"]().eval()
        fused = ns["fuse"](model)
        out.append((str(lib.fx.symbolic_trace(model).graph), fused.code, str(fused.graph),
                    [n for n, _ in fused.named_modules()]))
    assert out[1] == out[0]
