"""ember.fx symbolic tracing: interception, leaves, wrap, concrete args, errors."""
import math

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import cat as imported_cat
from ember import fx, nn
from ember.fx.proxy import TraceError


def my_helper(x, n):
    return x * len(range(n))


fx.wrap("my_helper")


def double(v):
    return v * 2


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8, 3))
        self.scale = nn.Parameter(ember.tensor(2.0))

    def forward(self, x):
        x = F.relu(self.conv(x)) * self.scale
        return self.head(x).log_softmax(-1)


def test_graph_module_matches_eager():
    net = Net()
    gm = fx.symbolic_trace(net)
    x = ember.randn(2, 1, 4, 4)
    np.testing.assert_allclose(gm(x).detach().numpy(), net(x).detach().numpy(), rtol=1e-6)
    assert [n.op for n in gm.graph.nodes] == [
        "placeholder", "call_module", "call_function", "get_attr", "call_function",
        "call_module", "call_module", "call_method", "output"]
    assert gm.get_submodule("head.1") is net.head[1] and gm.scale is net.scale


def test_gradients_flow_through_graph_module():
    net = Net()
    gm = fx.symbolic_trace(net)
    gm(ember.randn(2, 1, 4, 4)).sum().backward()
    assert net.conv.weight.grad is not None and net.scale.grad is not None


def test_interception_is_restored_also_after_errors():
    originals = (ember.relu, F.relu, ember.Tensor.add, nn.Module.__call__,
                 nn.Module.__getattr__, math.sqrt, ember.linalg.norm)

    def bad(x):
        if ember.relu(x).sum() > 0:
            return x
        return -x
    with pytest.raises(TraceError):
        fx.symbolic_trace(bad)
    fx.symbolic_trace(Net())
    assert (ember.relu, F.relu, ember.Tensor.add, nn.Module.__call__, nn.Module.__getattr__,
            math.sqrt, ember.linalg.norm) == originals


def test_targets_are_original_functions_printed_with_torch_names():
    def f(x):
        return ember.special.erfcx(ember.linalg.norm(x, dim=0)) + ember.fft.fft(x).real.sum()
    gm = fx.symbolic_trace(f)
    targets = [n.target for n in gm.graph.nodes if n.op == "call_function"]
    assert ember.special.erfcx in targets and ember.linalg.norm in targets
    assert "torch.special.erfcx(" in gm.code and "torch.linalg.norm(" in gm.code
    assert "torch.fft.fft(" in gm.code
    x = ember.randn(3, 4)
    np.testing.assert_allclose(gm(x).numpy(), f(x).numpy(), rtol=1e-6)


def test_concrete_tensors_in_forward_are_computed_or_become_constants():
    const = ember.ones(3)

    def f(x):
        return x + ember.zeros(3) + const.mul(2)
    gm = fx.symbolic_trace(f)
    assert [n.target for n in gm.graph.nodes if n.op == "get_attr"] == [
        "_tensor_constant0", "_tensor_constant1"]
    np.testing.assert_allclose(gm(ember.ones(3)).numpy(), [3.0, 3.0, 3.0])


def test_real_tensor_method_with_proxy_argument():
    const = ember.arange(3.0)

    def f(x):
        return const.add(x), const * x
    gm = fx.symbolic_trace(f)
    ops = [(n.op, getattr(n.target, "__name__", n.target)) for n in gm.graph.nodes]
    assert ("call_method", "add") in ops and ("call_function", "mul") in ops
    a, b = gm(ember.ones(3))
    np.testing.assert_allclose(a.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(b.numpy(), [0.0, 1.0, 2.0])


def test_wrap_keeps_function_a_leaf_and_code_rewraps():
    def f(x):
        return my_helper(x, 3)
    gm = fx.symbolic_trace(f)
    node = next(n for n in gm.graph.nodes if n.op == "call_function")
    assert node.target is my_helper
    assert 'torch.fx._symbolic_trace.wrap("test_fx_tracer_my_helper")' in gm.code
    np.testing.assert_allclose(gm(ember.ones(2)).numpy(), [3.0, 3.0])
    gm2 = fx.symbolic_trace(gm)
    assert "test_fx_tracer_my_helper(x, 3)" in gm2.code


def test_autowrap_math_and_functions():
    def f(x, n: int):
        return x * math.sqrt(n) + math.floor(2.5)
    gm = fx.symbolic_trace(f)
    assert "math_sqrt(n)" in gm.code and "+ 2" in gm.code
    np.testing.assert_allclose(gm(ember.ones(1), 4).numpy(), [4.0])

    def g(x):
        return double(x)
    tracer = fx.Tracer(autowrap_functions=(double,))
    graph = tracer.trace(g)
    assert [n.target for n in graph.nodes if n.op == "call_function"] == [double]


def test_custom_leaf_modules():
    class InnerIsLeaf(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            return qualname == "inner" or super().is_leaf_module(m, qualname)

    class Inner(nn.Module):
        def forward(self, x):
            return x + 1

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.inner = Inner()

        def forward(self, x):
            return self.inner(self.lin(x))
    default = fx.symbolic_trace(Outer())
    assert [n.op for n in default.graph.nodes] == [
        "placeholder", "call_module", "call_function", "output"]
    graph = InnerIsLeaf().trace(Outer())
    assert [(n.op, n.target) for n in graph.nodes][1:3] == [
        ("call_module", "lin"), ("call_module", "inner")]


def test_concrete_args_specialize():
    def f(x, flag=True):
        return x * 2 if flag else x - 1
    gm = fx.symbolic_trace(f, concrete_args={"flag": False})
    np.testing.assert_allclose(gm(ember.ones(1), False).numpy(), [0.0])
    assert "def forward(self, x, flag_1 = True):" in gm.code
    with pytest.raises(AssertionError, match="flag has been specialized to have value False"):
        gm(ember.ones(1), True)
    gm = fx.symbolic_trace(f, concrete_args={"flag": None})
    assert "_assert_is_none(flag_1, " in gm.code
    gm.graph.eliminate_dead_code()  # the checks have side effects
    assert len(gm.graph.find_nodes(op="call_function")) == 2
    with pytest.raises(TraceError):
        fx.symbolic_trace(f, concrete_args={"flag": fx.PH})


def test_varargs_and_unpacking():
    def f(x, *args, **kwargs):
        a, b = x.split(1)
        return a + args[0] + kwargs["k"] + b
    gm = fx.symbolic_trace(f)
    assert "def forward(self, x, *args, **kwargs):" in gm.code
    x = ember.tensor([1.0, 2.0])
    np.testing.assert_allclose(gm(x, ember.ones(1), k=ember.ones(1)).numpy(), [5.0])


def test_trace_errors():
    with pytest.raises(TraceError, match="control flow"):
        fx.symbolic_trace(lambda x: x if x else x)
    with pytest.raises(TraceError, match="cannot be iterated"):
        fx.symbolic_trace(lambda x: [a for a in x])
    with pytest.raises(RuntimeError, match="'len' is not supported"):
        fx.symbolic_trace(lambda x: len(x))


def test_param_shapes_constant():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(ember.ones(3, 2))

        def forward(self, x):
            return x.view(-1, self.w.shape[0]) @ self.w
    graph = fx.Tracer(param_shapes_constant=True).trace(M())
    assert "view(-1, 3)" in fx.GraphModule(M(), graph).code


def test_attribute_proxies():
    def f(x):
        return x.shape, x.T.size(0), x.dtype
    gm = fx.symbolic_trace(f)
    assert "x.shape" in gm.code and "x.T" in gm.code and "getattr_3 = x.dtype" in gm.code
    shape, n, dtype = gm(ember.ones(2, 3))
    assert tuple(shape) == (2, 3) and n == 3 and dtype is ember.float32


class UsesImportedName(nn.Module):
    def forward(self, x):
        return imported_cat([x, x], 0)


def test_names_imported_from_ember_are_intercepted():
    before = imported_cat

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = UsesImportedName()

        def forward(self, x):
            return self.inner(x)
    gm = fx.symbolic_trace(Outer())
    assert "torch.cat([x, x], 0)" in gm.code
    assert imported_cat is before  # restored
    assert gm(ember.ones(1)).shape == (2,)


def test_wrap_only_at_module_scope():
    with pytest.raises(NotImplementedError, match="top level of a module"):
        fx.wrap("my_helper")
