"""ember.export against torch.export: signatures, names, guards, errors and outputs."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402


def _pair(build):
    """The same module in both libraries (``build(lib)``), with torch's weights."""
    t = build(torch)
    e = build(ember)
    e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return t, e


def _inputs(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    return tuple(torch.tensor(a) for a in arrays), tuple(ember.tensor(a) for a in arrays)


def _small(lib):
    class Small(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = lib.nn.Linear(4, 3)
            self.register_buffer("buf", lib.zeros(3))
            self.register_buffer("scratch", lib.ones(3), persistent=False)
            self.bn = lib.nn.BatchNorm1d(3)

        def forward(self, x, y):
            self.buf.add_(1)
            z = self.bn(self.linear(x).relu() + self.buf * self.scratch)
            return z.view(x.shape[0], -1) * y, x.sum()
    return Small()


def _specs(sig):
    return [(s.kind.name, s.arg.name, s.target, getattr(s, "persistent", None))
            for s in sig.input_specs + sig.output_specs]


def test_signature_kinds_names_and_ops():
    t, e = _pair(_small)
    (tx, ty), (ex, ey) = _inputs((5, 4), (5, 3))
    tep = torch.export.export(t, (tx, ty))
    eep = ember.export.export(e, (ex, ey))
    assert _specs(eep.graph_signature) == _specs(tep.graph_signature)
    assert str(eep.graph_signature) == str(tep.graph_signature)
    for attr in ("parameters", "buffers", "user_inputs", "user_outputs"):
        assert getattr(eep.graph_signature, attr) == getattr(tep.graph_signature, attr)
    assert list(eep.state_dict) == list(tep.state_dict)
    assert list(eep.constants) == list(tep.constants)
    names = [n.name for n in tep.graph.nodes if n.op == "call_function"]
    assert [n.name for n in eep.graph.nodes if n.op == "call_function"] == names
    ops = {n.name: str(n.target) for n in tep.graph.nodes if n.op == "call_function"}
    ours = {n.name: str(n.target) for n in eep.graph.nodes if n.op == "call_function"}
    for name in ("add_", "linear", "relu", "add", "mul", "batch_norm", "view", "sum_1"):
        assert ours[name] == ops[name]
    for (a, b) in zip(eep.module()(ex, ey), tep.module()(tx, ty)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5,
                                   atol=1e-5)


def test_printed_header_and_signature_block():
    t, e = _pair(lambda lib: lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.ReLU()))
    (tx,), (ex,) = _inputs((2, 4))
    tep, eep = torch.export.export(t, (tx,)), ember.export.export(e, (ex,))
    ttext, etext = str(tep), str(eep)
    assert etext.splitlines()[:3] == ttext.splitlines()[:3]
    assert etext[etext.index("Graph signature"):] == ttext[ttext.index("Graph signature"):]


def test_run_decompositions_mutation_outputs():
    t, e = _pair(_small)
    (tx, ty), (ex, ey) = _inputs((5, 4), (5, 3))
    tsig = torch.export.export(t, (tx, ty)).run_decompositions().graph_signature
    esig = ember.export.export(e, (ex, ey)).run_decompositions().graph_signature
    assert [s.kind.name for s in esig.input_specs] == [s.kind.name for s in tsig.input_specs]
    assert sorted(esig.buffers_to_mutate.values()) == sorted(tsig.buffers_to_mutate.values())
    assert [s.kind.name for s in esig.output_specs] == [s.kind.name for s in tsig.output_specs]


def _dyn(lib):
    class Dyn(lib.nn.Module):
        def forward(self, x, y):
            return (x.view(x.shape[0], -1) + y).relu()
    return Dyn()


@pytest.mark.parametrize("make, bad_shapes", [
    (lambda lib: {"x": {0: lib.export.Dim("b", min=3, max=50)},
                  "y": {0: lib.export.Dim("b", min=3, max=50)}}, [(9, 4), (60, 3)]),
    (lambda lib: {"x": {0: lib.export.Dim.AUTO}, "y": {0: lib.export.Dim.AUTO}}, [(9, 4)])])
def test_dynamic_shapes_ranges_and_guards(make, bad_shapes):
    (tx, ty), (ex, ey) = _inputs((5, 3), (5, 3))
    tep = torch.export.export(_dyn(torch), (tx, ty), dynamic_shapes=make(torch))
    eep = ember.export.export(_dyn(ember), (ex, ey), dynamic_shapes=make(ember))
    tr = sorted((int(v.lower), str(v.upper)) for v in tep.range_constraints.values())
    er = sorted((int(v.lower), str(v.upper).replace("inf", "int_oo"))
                for v in eep.range_constraints.values())
    assert er[0] == tr[0]
    (tx2, ty2), (ex2, ey2) = _inputs((9, 3), (9, 3), seed=1)
    np.testing.assert_allclose(eep.module()(ex2, ey2).numpy(),
                               tep.module()(tx2, ty2).numpy(), rtol=1e-6)
    for shape in bad_shapes:
        (tx3, ty3), (ex3, ey3) = _inputs(shape, shape)
        with pytest.raises(AssertionError) as terr:
            tep.module()(tx3, ty3)
        with pytest.raises(AssertionError) as eerr:
            eep.module()(ex3, ey3)
        assert str(eerr.value) == str(terr.value)


def test_static_guard_message():
    (tx, ty), (ex, ey) = _inputs((5, 3), (5, 3))
    tep = torch.export.export(_dyn(torch), (tx, ty))
    eep = ember.export.export(_dyn(ember), (ex, ey))
    (tx2, ty2), (ex2, ey2) = _inputs((6, 3), (6, 3))
    with pytest.raises(AssertionError) as terr:
        tep.module()(tx2, ty2)
    with pytest.raises(AssertionError) as eerr:
        eep.module()(ex2, ey2)
    assert str(eerr.value) == str(terr.value)


def _error(lib, build, args, **kwargs):
    try:
        lib.export.export(build(lib), args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the class is what is compared
        return exc
    raise AssertionError("export did not raise")


def _branchy(lib):
    class Branchy(lib.nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x.sin()
            return x.cos()
    return Branchy()


@pytest.mark.parametrize("case", ["data_dependent", "strict", "spec_keys", "spec_length",
                                  "static_mismatch", "out_of_range"])
def test_error_classes(case):
    (tx, ty), (ex, ey) = _inputs((5, 3), (5, 3))
    if case in ("data_dependent", "strict"):
        kw = {"strict": case == "strict"}
        terr = _error(torch, _branchy, (tx,), **kw)
        eerr = _error(ember, _branchy, (ex,), **kw)
    else:
        def spec(lib):
            Dim = lib.export.Dim
            return {"spec_keys": {"z": {0: Dim("b")}, "y": None},
                    "spec_length": ({0: Dim("b")},),
                    "static_mismatch": {"x": {0: 4}, "y": None},
                    "out_of_range": {"x": {0: Dim("b", min=6, max=9)}, "y": None}}[case]
        terr = _error(torch, _dyn, (tx, ty), dynamic_shapes=spec(torch))
        eerr = _error(ember, _dyn, (ex, ey), dynamic_shapes=spec(ember))
    assert type(eerr).__name__ == type(terr).__name__
    assert isinstance(eerr, RuntimeError) == isinstance(terr, RuntimeError)
    if case in ("spec_keys", "spec_length", "static_mismatch", "out_of_range"):
        assert str(eerr).splitlines()[0] == str(terr).splitlines()[0]


def test_dim_reprs():
    for kwargs in ({}, {"max": 100}, {"min": 2, "max": 100}, {"min": 4}):
        assert repr(ember.export.Dim("b", **kwargs)) == repr(torch.export.Dim("b", **kwargs))
    for hint in ("AUTO", "STATIC", "DYNAMIC"):
        assert repr(getattr(ember.export.Dim, hint)) == repr(getattr(torch.export.Dim, hint))


def _with_cond(lib):
    class WithCond(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lib.nn.Linear(3, 3)

        def forward(self, x):
            return lib.cond(x.sum() > 0, lambda x: self.lin(x).sin(), lambda x: x.cos() + 1,
                            (x,))
    return WithCond()


def test_cond_outputs_match():
    t, e = _pair(_with_cond)
    (tx,), (ex,) = _inputs((2, 3))
    tep, eep = torch.export.export(t, (tx,)), ember.export.export(e, (ex,))
    assert [s.kind.name for s in eep.graph_signature.input_specs] == \
        [s.kind.name for s in tep.graph_signature.input_specs]
    for sign in (1.0, -1.0):
        a = eep.module()(ember.ones(2, 3) * sign).detach().numpy()
        b = tep.module()(torch.ones(2, 3) * sign).detach().numpy()
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_nested_and_constant_inputs_names():
    def build(lib):
        class K(lib.nn.Module):
            def forward(self, x, n: int, d):
                return x * n + d["a"], [x]
        return K()
    (tx, ta), (ex, ea) = _inputs((3,), (3,))
    tep = torch.export.export(build(torch), (tx, 2, {"a": ta}))
    eep = ember.export.export(build(ember), (ex, 2, {"a": ea}))
    assert _specs(eep.graph_signature) == _specs(tep.graph_signature)
    with pytest.raises(AssertionError) as terr:
        tep.module()(tx, 3, {"a": ta})
    with pytest.raises(AssertionError) as eerr:
        eep.module()(ex, 3, {"a": ea})
    assert str(eerr.value) == str(terr.value)


def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(0.1), nn.Linear(4, 2), nn.Softmax(-1), nn.GELU(),
                         nn.LayerNorm(2)).eval()


def test_cnn_node_names_targets_and_outputs():
    t, e = _pair(_cnn)
    (tx,), (ex,) = _inputs((2, 3, 8, 8))
    tep, eep = torch.export.export(t, (tx,)), ember.export.export(e, (ex,))

    def ops(ep):
        return [(n.name, str(n.target)) for n in ep.graph.nodes if n.op == "call_function"]
    assert ops(eep) == ops(tep)
    assert _specs(eep.graph_signature) == _specs(tep.graph_signature)
    np.testing.assert_allclose(eep.module()(ex).detach().numpy(),
                               tep.module()(tx).detach().numpy(), rtol=1e-4, atol=1e-5)
