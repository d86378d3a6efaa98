"""ember.export: exported programs reproduce the eager module, on the example inputs and on
other sizes along dynamic dims; signatures, guards, errors, cond, save/load, decompositions."""
import copy
import io
import json
import zipfile

import numpy as np
import pytest

import ember
from ember import nn
from ember.export import (
    ConstraintViolationError,
    Dim,
    ExportedProgram,
    GuardOnDataDependentSymNode,
    InputKind,
    OutputKind,
    Unsupported,
    UserError,
    export,
)


def _flat(out):
    if isinstance(out, ember.Tensor):
        return [out]
    if out is None:
        return []
    return [t for item in out for t in _flat(item)]


def _assert_same(a, b):
    a, b = _flat(a), _flat(b)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.register_buffer("buf", ember.zeros(3))
        self.register_buffer("scratch", ember.ones(3), persistent=False)

    def forward(self, x, y):
        return (self.linear(x).relu() + self.buf * self.scratch) * y, x.sum()


def test_signature_names_and_outputs():
    torch_like = Small()
    x, y = ember.randn(5, 4), ember.randn(5, 3)
    ep = export(torch_like, (x, y))
    assert isinstance(ep, ExportedProgram)
    sig = ep.graph_signature
    assert [(s.kind, s.arg.name, s.target) for s in sig.input_specs] == [
        (InputKind.PARAMETER, "p_linear_weight", "linear.weight"),
        (InputKind.PARAMETER, "p_linear_bias", "linear.bias"),
        (InputKind.BUFFER, "b_buf", "buf"),
        (InputKind.BUFFER, "b_scratch", "scratch"),
        (InputKind.USER_INPUT, "x", None),
        (InputKind.USER_INPUT, "y", None)]
    assert sig.parameters == ("linear.weight", "linear.bias")
    assert sig.buffers == ("buf", "scratch")
    assert sig.user_inputs == ("x", "y")
    assert sig.user_outputs == ("mul_1", "sum_1")
    assert [s.kind for s in sig.output_specs] == [OutputKind.USER_OUTPUT] * 2
    assert list(ep.state_dict) == ["linear.weight", "linear.bias", "buf"]
    assert list(ep.constants) == ["scratch"]
    assert [n for n, _ in ep.named_parameters()] == ["linear.weight", "linear.bias"]
    assert [n for n, _ in ep.named_buffers()] == ["buf", "scratch"]
    assert ep.example_inputs[0][0] is x and ep.range_constraints == {}
    m = ep.module()
    _assert_same(m(x, y), torch_like(x, y))
    x2, y2 = ember.randn(5, 4), ember.randn(5, 3)
    _assert_same(m(x2, y2), torch_like(x2, y2))
    assert list(m.state_dict()) == list(torch_like.state_dict())
    targets = [str(n.target) for n in ep.graph.nodes if n.op == "call_function"]
    assert targets == ["aten.linear.default", "aten.relu.default", "aten.mul.Tensor",
                       "aten.add.Tensor", "aten.mul.Tensor", "aten.sum.default"]


def test_printing_has_torchs_shape():
    ep = export(Small(), (ember.randn(5, 4), ember.randn(5, 3)))
    text = str(ep)
    assert text.startswith("ExportedProgram:\n    class GraphModule(torch.nn.Module):\n"
                           "        def forward(self, p_linear_weight: \"f32[3, 4]\", ")
    assert 'linear: "f32[5, 3]" = torch.ops.aten.linear.default(x, p_linear_weight, ' \
        'p_linear_bias)' in text
    assert "return (mul_1, sum_1)" in text
    assert "Graph signature: \n    # inputs\n    p_linear_weight: PARAMETER " \
        "target='linear.weight'\n" in text
    assert "b_scratch: BUFFER target='scratch' persistent=False" in text
    assert "mul_1: USER_OUTPUT" in text and text.endswith("Range constraints: {}\n")
    assert "torch.ops.aten.linear.default" in str(ep.graph)


def test_calling_the_program_and_non_modules_fail_like_torch():
    ep = export(Small(), (ember.randn(5, 4), ember.randn(5, 3)))
    with pytest.raises(RuntimeError, match="exported_program.module()"):
        ep(ember.randn(5, 4), ember.randn(5, 3))
    with pytest.raises(ValueError, match="instance of `torch.nn.Module`"):
        export(lambda x: x, (ember.randn(2),))


def test_static_shapes_are_guarded():
    m = export(Small(), (ember.randn(5, 4), ember.randn(5, 3))).module()
    with pytest.raises(AssertionError, match=r"Guard failed: x.size\(\)\[0\] == 5"):
        m(ember.randn(6, 4), ember.randn(6, 3))


def test_buffer_mutation_follows_eager_and_spares_the_module():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    before = copy.deepcopy(model)
    x = ember.randn(6, 3)
    ep = export(model, (x,))
    for a, b in zip(model.state_dict().values(), before.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # export ran, the module did not
    m = ep.module()
    _assert_same(m(x), before(x))
    _assert_same(list(m.state_dict().values()), list(before.state_dict().values()))
    mutating = [n for n in ep.graph.nodes if n.meta.get("mutated")]
    assert [n.name for n in mutating] == ["add_", "batch_norm"]


def test_run_decompositions_functionalizes():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    eager = copy.deepcopy(model)
    ep = export(model, (ember.randn(6, 3),)).run_decompositions()
    sig = ep.graph_signature
    assert sig.buffers_to_mutate and set(sig.buffers_to_mutate.values()) == {
        "1.running_mean", "1.running_var", "1.num_batches_tracked"}
    assert [s.kind for s in sig.output_specs][-1] is OutputKind.USER_OUTPUT
    assert "add_" not in [n.name for n in ep.graph.nodes]
    m = ep.module()
    x = ember.randn(6, 3)
    _assert_same(m(x), eager(x))
    _assert_same(list(m.state_dict().values()), list(eager.state_dict().values()))


def test_inplace_relu_and_input_mutation():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            x.add_(1)
            return nn.functional.relu(self.lin(x), inplace=True)
    model = M()
    x = ember.randn(2, 4)
    ep = export(model, (x,))
    assert [n.name for n in ep.graph.nodes if n.op == "call_function"] == [
        "add_", "linear", "relu_"]
    dec = ep.run_decompositions()
    assert [n.name for n in dec.graph.nodes if n.op == "call_function"] == [
        "add", "linear", "relu"]
    assert dec.graph_signature.user_inputs_to_mutate == {"add": "x"}
    a, b = x.clone(), x.clone()
    _assert_same(dec.module()(a), model(b))
    _assert_same(a, b)


def test_dynamic_batch_runs_on_other_sizes():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 3 * 3, 5)).eval()
    batch = Dim("batch", min=1, max=64)
    ep = export(model, (ember.randn(2, 3, 8, 8),), dynamic_shapes={"input": {0: batch}})
    (symbol, vr), = ep.range_constraints.items()
    assert (vr.lower, vr.upper) == (1, 64)
    placeholder = [n for n in ep.graph.nodes if n.op == "placeholder"][-1]
    assert placeholder.meta["val"].annotation() == f"f32[{symbol}, 3, 8, 8]"
    m = ep.module()
    for n in (1, 5):
        x = ember.randn(n, 3, 8, 8)
        _assert_same(m(x), model(x))
    with pytest.raises(AssertionError, match=r"size\(\)\[0\] <= 64"):
        m(ember.randn(65, 3, 8, 8))
    with pytest.raises(AssertionError, match=r"size\(\)\[2\] == 8"):
        m(ember.randn(2, 3, 9, 8))


@pytest.mark.parametrize("make, shape, dim", [
    (lambda: nn.LSTM(4, 6, batch_first=True), (2, 5, 4), 0),
    (lambda: nn.GRU(4, 6), (5, 2, 4), 1),
    (lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
     (2, 5, 8), 0),
    (lambda: nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4)), None, 0),
])
def test_library_modules_with_dynamic_dims(make, shape, dim):
    model = make()
    if shape is None:
        x, x2 = ember.randint(0, 10, (2, 5)), ember.randint(0, 10, (3, 5))
    else:
        x = ember.randn(*shape)
        bigger = list(shape)
        bigger[dim] += 2
        x2 = ember.randn(*bigger)
    ep = export(model, (x,), dynamic_shapes=[{dim: Dim.AUTO}])
    assert ep.constants == {}
    _assert_same(ep.module()(x2), model(x2))


def test_view_on_dynamic_size_and_equal_dims():
    class M(nn.Module):
        def forward(self, x, y):
            return (x.view(x.shape[0], -1) + y).relu()
    b = Dim("b", min=2, max=100)
    ep = export(M(), (ember.randn(5, 3), ember.randn(5, 3)),
                dynamic_shapes={"x": {0: b}, "y": {0: b}})
    assert "sym_size_int" in [n.name for n in ep.graph.nodes]
    m = ep.module()
    x, y = ember.randn(7, 3), ember.randn(7, 3)
    _assert_same(m(x, y), M()(x, y))
    with pytest.raises(AssertionError, match=r"Guard failed: y.size\(\)\[0\] == x.size"):
        m(ember.randn(7, 3), ember.randn(6, 3))


def test_slices_of_dynamic_dims_keep_their_expressions():
    class M(nn.Module):
        def forward(self, x):
            return ember.relu(x[:, 2:])
    ep = export(M(), (ember.randn(10, 10, 2),),
                dynamic_shapes={"x": {0: Dim("d0"), 1: Dim("d1", min=4, max=18)}})
    out = [n for n in ep.graph.nodes if n.name == "relu"][0]
    assert out.meta["val"].annotation() == "f32[s0, s1 - 2, 2]"
    m = ep.module()
    _assert_same(m(ember.ones(5, 5, 2)), ember.ones(5, 3, 2))
    with pytest.raises(AssertionError, match=r"x.size\(\)\[1\] >= 4"):
        m(ember.randn(8, 1, 2))


def test_dynamic_shapes_validation():
    class M(nn.Module):
        def forward(self, x, y):
            return x + y
    args = (ember.randn(5, 3), ember.randn(5, 3))
    b = Dim("b")
    with pytest.raises(UserError, match="top-level keys must be the arg names"):
        export(M(), args, dynamic_shapes={"z": {0: b}, "y": {0: b}})
    with pytest.raises(UserError, match="`inputs` has 2 elements, but `dynamic_shapes` has 1"):
        export(M(), args, dynamic_shapes=({0: b},))
    with pytest.raises(UserError, match="same length as the actual tensor shape"):
        export(M(), args, dynamic_shapes={"x": (b,), "y": None})
    with pytest.raises(ConstraintViolationError, match="Static shape constraint of 4"):
        export(M(), args, dynamic_shapes={"x": {0: 4}, "y": None})
    with pytest.raises(ConstraintViolationError, match=r"5 not in range \[6, 9\]"):
        export(M(), args, dynamic_shapes={"x": {0: Dim("c", min=6, max=9)}, "y": None})
    assert repr(Dim("b", max=100)) == "Dim('b', min=0, max=100)"
    assert repr(Dim.AUTO) == "DimHint(AUTO)"


def test_specializing_a_declared_dim_is_reported_with_a_fix():
    class M(nn.Module):
        def forward(self, x, y):
            if x.shape[0] <= 16:
                return x @ y[:, :16]
            return y
    with pytest.raises(UserError, match="Constraints violated") as info:
        export(M(), (ember.randn(8, 16), ember.randn(16, 32)),
               dynamic_shapes={"x": {0: Dim("inp4_dim0")}, "y": None})
    assert "inp4_dim0 = Dim('inp4_dim0', max=16)" in str(info.value)
    ep = export(M(), (ember.randn(8, 16), ember.randn(16, 32)),
                dynamic_shapes={"x": {0: Dim("inp4_dim0", max=16)}, "y": None})
    assert [n for n in ep.graph.nodes if n.name.startswith("_assert")] == []
    ep = export(M(), (ember.randn(8, 16), ember.randn(16, 32)),
                dynamic_shapes={"x": {0: Dim.AUTO}, "y": None})
    (vr,) = ep.range_constraints.values()
    assert (vr.lower, vr.upper) == (2, 16)


def test_data_dependent_control_flow_raises():
    class M(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x.sin()
            return x.cos()
    with pytest.raises(GuardOnDataDependentSymNode, match="data-dependent"):
        export(M(), (ember.randn(3),))
    with pytest.raises(Unsupported, match="Data-dependent branching"):
        export(M(), (ember.randn(3),), strict=True)

    class Item(nn.Module):
        def forward(self, x, y):
            if y.item() > 3:
                return x
            return x * 2
    with pytest.raises(GuardOnDataDependentSymNode, match=r"u\d+ > 3"):
        export(Item(), (ember.randn(3), ember.tensor(4)))


def test_item_as_an_argument_is_recorded():
    class M(nn.Module):
        def forward(self, x, y):
            return x * y.item()
    ep = export(M(), (ember.randn(3), ember.tensor(4)))
    _assert_same(ep.module()(ember.ones(3), ember.tensor(5)), ember.full((3,), 5.0))


class WithCond(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.scale = ember.tensor(2.0)

    def forward(self, x):
        def true_fn(x):
            return self.lin(x).sin() * self.scale

        def false_fn(x):
            return x.cos() + 1
        return ember.cond(x.sum() > 0, true_fn, false_fn, (x,))


def test_cond_traces_both_branches():
    model = WithCond()
    ep = export(model, (ember.ones(2, 3),))
    assert "torch.ops.higher_order.cond" in str(ep)
    assert "class true_graph_0(torch.nn.Module)" in str(ep)
    assert ep.graph_signature.lifted_tensor_constants == ("scale",)
    m = ep.module()
    for x in (ember.ones(2, 3), -ember.ones(2, 3)):
        _assert_same(m(x), model(x))


def test_cond_eagerly_and_with_a_constant_predicate():
    assert ember.cond(True, lambda x: x + 1, lambda x: x - 1, (ember.ones(1),)).item() == 2

    class M(nn.Module):
        def forward(self, x):
            return ember.cond(x.dim() > 1, lambda x: x.sin(), lambda x: x.cos(), (x,))
    ep = export(M(), (ember.ones(2, 2),))
    assert "cond" not in [n.name for n in ep.graph.nodes]


def test_nested_and_constant_inputs():
    class M(nn.Module):
        def forward(self, x, n: int, d):
            return x * n + d["a"], [x]
    args = (ember.randn(3), 2, {"a": ember.ones(3)})
    ep = export(M(), args)
    assert ep.graph_signature.user_inputs == ("x", "n", "d_a")
    m = ep.module()
    out = m(*args)
    assert isinstance(out, tuple) and isinstance(out[1], list)
    _assert_same(out, M()(*args))
    with pytest.raises(AssertionError, match="Guard failed: n == 2"):
        m(ember.randn(3), 3, {"a": ember.ones(3)})


def test_save_and_load_round_trip():
    model = WithCond()
    ep = export(model, (ember.ones(2, 3),))
    buf = io.BytesIO()
    ember.export.save(ep, buf)
    buf.seek(0)
    loaded = ember.export.load(buf)
    assert str(loaded) == str(ep)
    assert list(loaded.state_dict) == list(ep.state_dict)
    assert isinstance(loaded.state_dict["lin.weight"], nn.Parameter)
    for x in (ember.ones(2, 3), -ember.ones(2, 3)):
        _assert_same(loaded.module()(x), model(x))
    _assert_same(loaded.example_inputs[0], ep.example_inputs[0])


def test_save_to_path_with_dynamic_shapes(tmp_path):
    model = nn.Sequential(nn.Linear(4, 2), nn.Tanh())
    ep = export(model, (ember.randn(3, 4),), dynamic_shapes=({0: Dim("n", max=10)},))
    path = tmp_path / "m.pt2"
    ember.export.save(ep, path)
    loaded = ember.export.load(path)
    assert str(loaded.range_constraints) == str(ep.range_constraints)
    x = ember.randn(7, 4)
    _assert_same(loaded.module()(x), model(x))
    with pytest.raises(AssertionError):
        loaded.module()(ember.randn(11, 4))


def _tampered(ep, change) -> io.BytesIO:
    buf = io.BytesIO()
    ember.export.save(ep, buf)
    buf.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("model.json"):
                model = json.loads(data)
                change(model)
                data = json.dumps(model).encode()
            dst.writestr(name, data)
    out.seek(0)
    return out


@pytest.mark.parametrize("target", [["fn", "os.system"], ["aten", "os.system", "x", "default"],
                                    ["aten", "prim:os.path.join", "x", "default"],
                                    ["aten", "torch.Tensor._make_subclass", "x", "default"]])
def test_load_never_resolves_foreign_code(target):
    ep = export(nn.Linear(2, 2), (ember.randn(1, 2),))

    def change(model):
        for node in model["graph"]["nodes"]:
            if node[0] == "call_function":
                node[2] = target
    with pytest.raises(Exception, match="not|unknown|may call"):
        ember.export.load(_tampered(ep, change))


def test_unflatten_keeps_the_module_tree():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    ep = export(model, (ember.randn(2, 3),))
    unflat = ember.export.unflatten(ep)
    assert list(unflat.state_dict()) == list(model.state_dict())
    x = ember.randn(2, 3)
    _assert_same(unflat(x), model(x))


def test_private_paths_are_recorded_not_lost():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2))  # MaxPool keeps a raw function
    ep = export(model, (ember.randn(1, 1, 6, 6),))
    assert ep.constants == {}
    x = ember.randn(1, 1, 6, 6)
    _assert_same(ep.module()(x), model(x))


def test_size_arithmetic_stays_symbolic():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(4 * 13 * 13, 3)

        def forward(self, x, scale=None, *, bias=0.0):
            h = ember.relu(self.conv(x))
            h = h.view(h.size(0), -1)
            z = ember.zeros(x.shape[0], 3) + bias
            n = x.shape[0] * 2
            out = self.fc(h.reshape(-1, h.shape[-1])[: n // 2]) + z
            return {"out": out * scale, "n": n}
    model = Net()
    ep = export(model, (ember.randn(4, 1, 15, 15),), {"scale": ember.tensor(2.0), "bias": 1.0},
                dynamic_shapes={"x": {0: Dim("b", max=32)}, "scale": None, "bias": None})
    shapes = {n.name: n.meta["val"].annotation() for n in ep.graph.nodes
              if n.name in ("view", "reshape", "zeros")}
    assert shapes == {"view": "f32[s0, 676]", "reshape": "f32[s0, 676]", "zeros": "f32[s0, 3]"}
    assert not [n for n in ep.graph.nodes if n.name.startswith("_assert")]
    x = ember.randn(7, 1, 15, 15)
    got = ep.module()(x, scale=ember.tensor(2.0), bias=1.0)
    want = model(x, scale=ember.tensor(2.0), bias=1.0)
    assert got["n"] == want["n"] == 14
    _assert_same(got["out"], want["out"])


def test_attention_with_two_dynamic_dims():
    model = nn.MultiheadAttention(8, 2, batch_first=True)
    q = ember.randn(2, 5, 8)
    ep = export(model, (q, q, q), dynamic_shapes=({0: Dim("b"), 1: Dim("s")},) * 3)
    q2 = ember.randn(3, 7, 8)
    _assert_same(ep.module()(q2, q2, q2), model(q2, q2, q2))
