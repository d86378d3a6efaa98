"""ember.fx Interpreter, Transformer, ShapeProp, replace_pattern and the conv-bn fuse."""
import numpy as np
import pytest

import ember
from ember import fx, nn
from ember.fx.experimental.optimization import fuse
from ember.fx.passes.shape_prop import ShapeProp, TensorMetadata


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x = ember.relu(self.bn(self.conv(x)))
        return self.fc(x.mean(dim=(2, 3)))


def _close(a, b, tol=1e-6):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


def test_interpreter_runs_and_frees_values():
    net = Net().eval()
    gm = fx.symbolic_trace(net)
    x = ember.randn(2, 2, 5, 5)
    interp = fx.Interpreter(gm)
    _close(interp.run(x), net(x))
    assert interp.env == {gm.graph.output_node(): interp.env[gm.graph.output_node()]}
    keep = fx.Interpreter(gm, garbage_collect_values=False)
    keep.run(x)
    assert len(keep.env) == len(gm.graph.nodes)


def test_interpreter_initial_env_and_boxed_run():
    gm = fx.symbolic_trace(lambda x, y: ember.relu(x) + y)
    relu = gm.graph.find_nodes(op="call_function", target=ember.relu)[0]
    x, y = gm.graph.find_nodes(op="placeholder")
    out = fx.Interpreter(gm).run(initial_env={x: ember.ones(1), y: ember.ones(1),
                                              relu: ember.full((1,), 5.0)})
    _close(out, ember.full((1,), 6.0))
    args = [ember.full((1,), -1.0), ember.ones(1)]
    _close(fx.Interpreter(gm).boxed_run(args), ember.ones(1))
    assert args == []


def test_interpreter_overrides_and_errors():
    class Negate(fx.Interpreter):
        def call_function(self, target, args, kwargs):
            return -super().call_function(target, args, kwargs)
    gm = fx.symbolic_trace(lambda x: ember.relu(x))
    _close(Negate(gm).run(ember.ones(2)), -ember.ones(2))
    with pytest.raises(RuntimeError, match="Expected positional argument for parameter x"):
        fx.Interpreter(gm).run()
    bad = fx.symbolic_trace(lambda x: x.reshape(7))
    with pytest.raises(Exception, match="While executing %reshape"):
        fx.Interpreter(bad).run(ember.ones(2))


def test_transformer_rewrites_calls():
    class ReluToGelu(fx.Transformer):
        def call_function(self, target, args, kwargs):
            if target is ember.relu:
                target = ember.nn.functional.gelu
            return super().call_function(target, args, kwargs)
    net = Net().eval()
    new = ReluToGelu(fx.symbolic_trace(net)).transform()
    assert "torch.nn.functional.gelu(bn)" in new.code
    x = ember.randn(1, 2, 4, 4)
    expected = net.fc(ember.nn.functional.gelu(net.bn(net.conv(x))).mean(dim=(2, 3)))
    _close(new(x), expected)
    assert type(new).__name__ == "GraphModule"


def test_shape_prop_records_metadata():
    gm = fx.symbolic_trace(lambda x: (x.t(), x.sum()))
    ShapeProp(gm).propagate(ember.randn(2, 3, requires_grad=True))
    meta = {n.name: n.meta for n in gm.graph.nodes}
    t = meta["t"]["tensor_meta"]
    assert isinstance(t, TensorMetadata)
    assert tuple(t.shape) == (3, 2) and t.stride == (1, 3) and t.requires_grad
    assert t.dtype is ember.float32 and t.memory_format is None
    assert meta["x"]["tensor_meta"].memory_format is ember.contiguous_format
    assert isinstance(meta["output"]["tensor_meta"], tuple)
    assert meta["sum_1"]["type"] is ember.Tensor


def test_replace_pattern_with_graph_module_pattern():
    def f(x):
        return ember.sigmoid(ember.relu(x)) * ember.relu(x)

    def pattern(x):
        return ember.relu(x)

    def replacement(x):
        return ember.clamp(x, min=0.0)
    gm = fx.symbolic_trace(f)
    matches = fx.replace_pattern(gm, fx.symbolic_trace(pattern), replacement)
    assert len(matches) == 2 and "relu" not in gm.code
    x = ember.randn(5)
    _close(gm(x), f(x))


def test_replace_pattern_skips_matches_with_outside_users():
    def f(x):
        a = ember.relu(x)
        return ember.neg(a), a

    def pattern(x):
        return ember.neg(ember.relu(x))

    def replacement(x):
        return x
    gm = fx.symbolic_trace(f)
    assert fx.replace_pattern(gm, pattern, replacement) == []


def test_fuse_folds_batch_norms():
    net = Net().eval()
    net.bn.running_mean.copy_(ember.randn(4))
    net.bn.running_var.copy_(ember.rand(4) + 0.5)
    fused = fuse(net)
    assert [n.target for n in fused.graph.nodes if n.op == "call_module"] == ["conv", "fc"]
    x = ember.randn(2, 2, 5, 5)
    _close(fused(x), net(x), tol=1e-5)
    assert net.bn.training is False and fused.conv is not net.conv
