"""ember.jit's scripted and traced modules and functions show ``code`` (the Python source that
runs) and ``graph``/``inlined_graph`` (ember.fx graphs), as the TorchScript tutorial prints
them; submodules are scripted too; save/load round-trips the whole tree."""
import numpy as np
import pytest

import ember
from ember import fx, jit


class Gate(ember.nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # control flow on a value: no symbolic graph
            return x
        return -x


class Scale(ember.nn.Module):
    def forward(self, x):
        return x * 2


class Cell(ember.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.linear = ember.nn.Linear(4, 4)

    def forward(self, x, h):
        new_h = ember.tanh(self.inner(self.linear(x)) + h)
        return new_h, new_h


def _targets(graph, op):
    return [str(n.target) for n in graph.nodes if n.op == op]


@pytest.mark.parametrize("make", [lambda m, x, h: jit.script(m),
                                  lambda m, x, h: jit.trace(m, (x, h))],
                         ids=["script", "trace"])
def test_module_code_and_graphs(make):
    x, h = ember.rand(3, 4), ember.rand(3, 4)
    cell = make(Cell(Scale()), x, h)
    assert cell.code.startswith("def forward(self, x, h):\n")
    assert "ember.tanh(self.inner(self.linear(x)) + h)" in cell.code
    assert isinstance(cell.graph, fx.Graph)
    assert _targets(cell.graph, "call_module") == ["linear", "inner"]
    # inlined: the user module is traced through, ember's Linear stays one node
    assert _targets(cell.inlined_graph, "call_module") == ["linear"]
    assert "mul" in [n.name for n in cell.inlined_graph.nodes]
    assert cell.inner.code == "def forward(self, x):\n    return x * 2\n"


def test_untraceable_code_still_shows_source():
    gate = jit.script(Gate())
    assert "if x.sum() > 0:" in gate.code
    with pytest.raises(RuntimeError, match="'Gate' has no graph: ember.fx cannot trace it"):
        print(gate.graph)
    cell = jit.script(Cell(Gate()))
    assert _targets(cell.graph, "call_module") == ["linear", "inner"]  # Gate is one node
    with pytest.raises(RuntimeError, match="'Cell' has no graph"):
        print(cell.inlined_graph)


def test_submodules_are_scripted_and_share_parameters():
    inner = Scale()
    model = ember.nn.Sequential(Cell(inner))
    model.add_module("again", inner)  # shared submodule stays shared
    scripted = jit.script(model)
    assert isinstance(scripted[0], jit.ScriptModule) and isinstance(scripted[0].linear,
                                                                    jit.ScriptModule)
    assert scripted[0].inner is scripted.again
    assert scripted[0].linear.weight is model[0].linear.weight
    assert not isinstance(model[0], jit.ScriptModule)


def test_own_graph_attribute_wins():
    class WithGraph(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.graph = {"nodes": 3}

        def forward(self, x):
            return x

    assert jit.script(WithGraph()).graph == {"nodes": 3}


def test_functions_become_script_functions():
    def f(x, y):
        return x * y + 1

    for sf in (jit.script(f), jit.trace(f, (ember.ones(2), ember.ones(2)))):
        assert isinstance(sf, jit.ScriptFunction) and sf.__wrapped__ is f
        assert sf.name == "f" and sf.qualified_name == "__torch__.f"
        assert sf.code == "def f(x, y):\n    return x * y + 1\n"
        assert [n.op for n in sf.graph.nodes] == ["placeholder", "placeholder",
                                                  "call_function", "call_function", "output"]
        np.testing.assert_allclose(sf(ember.full((2,), 3.0), ember.ones(2)).numpy(), [4.0, 4.0])
    scripted = jit.script(f)
    assert jit.script(scripted) is scripted
    assert jit.script(Cell) is Cell  # classes pass through


def test_code_without_source_comes_from_the_fx_trace():
    namespace = {}
    exec("def g(x):\n    return x.relu() + 1\n", {}, namespace)  # no file to read
    code = jit.script(namespace["g"]).code
    assert code.startswith("def forward(self, x):") and "relu" in code


def test_save_and_load_keep_code_and_the_tree(tmp_path):
    cell = jit.trace(Cell(Scale()), (ember.rand(3, 4), ember.rand(3, 4)))
    path = str(tmp_path / "cell.pt")
    cell.save(path)
    loaded = jit.load(path)
    assert isinstance(loaded.inner, jit.ScriptModule) and loaded.code == cell.code
    x, h = ember.rand(2, 4), ember.rand(2, 4)
    np.testing.assert_allclose(loaded(x, h)[0].detach().numpy(), cell(x, h)[0].detach().numpy())
