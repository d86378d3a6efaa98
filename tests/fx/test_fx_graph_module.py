"""ember.fx GraphModule: attribute copying, recompile, printing, copying, pickling, saving."""
import copy
import io
import pickle

import numpy as np
import pytest

import ember
from ember import fx, nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.register_buffer("shift", ember.full((3,), 0.5))
        self.const = ember.arange(3.0)

    def forward(self, x):
        y = ember.relu(self.lin(x)) + self.shift - self.const
        return ember.cat([y[:, 0:2], y], 1).to(ember.float32), y.shape[-1]


def _close(a, b):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)


def test_copies_referenced_attributes_only():
    block = Block()
    block.unused = nn.Linear(2, 2)
    gm = fx.symbolic_trace(block)
    assert gm.lin is block.lin and not hasattr(gm, "unused")
    assert dict(gm.named_buffers()).keys() == {"shift", "const"}
    assert type(gm).__name__ == "Block" and isinstance(gm, fx.GraphModule)


def test_dict_root_and_missing_target():
    g = fx.Graph()
    x = g.placeholder("x")
    g.output(g.call_module("a.b", (g.call_function(ember.add, (x, g.get_attr("w"))),)))
    gm = fx.GraphModule({"a.b": nn.ReLU(), "w": ember.ones(1)}, g)
    _close(gm(ember.tensor([-3.0, 1.0])), ember.tensor([0.0, 2.0]))
    assert "getattr" not in gm.code and "self.a.b(add)" in gm.code
    with pytest.raises(RuntimeError, match="was not provided"):
        fx.GraphModule({"w": ember.ones(1)}, g)


def test_recompile_after_editing_graph():
    gm = fx.symbolic_trace(lambda x: ember.relu(x) * 2)
    relu = gm.graph.find_nodes(op="call_function", target=ember.relu)[0]
    relu.target = ember.sigmoid
    gm.recompile()
    assert "torch.sigmoid(x)" in gm.code
    _close(gm(ember.zeros(1)), ember.ones(1))


def test_generated_code_shows_in_tracebacks():
    gm = fx.symbolic_trace(lambda x: x.reshape(5))
    with pytest.raises(Exception) as info:
        gm(ember.ones(2, 2))
    assert "<eval_with_key>" in "".join(str(tb.path) for tb in info.traceback)


def test_str_and_print_readable(capsys):
    gm = fx.symbolic_trace(Block())
    text = str(gm)
    assert text.startswith("Block(\n  (lin): Linear(")
    assert text.endswith("# To see more debug info, please use "
                         "`graph_module.print_readable()`")
    readable = gm.print_readable()
    assert readable.startswith("class Block(torch.nn.Module):\n    def forward(self, x):\n")
    assert capsys.readouterr().out.startswith("class Block")


def test_copy_deepcopy_and_pickle_round_trip():
    block = Block()
    gm = fx.symbolic_trace(block)
    x = ember.randn(2, 3)
    expected = gm(x)[0]
    shallow = copy.copy(gm)
    assert shallow.lin is gm.lin
    deep = copy.deepcopy(gm)
    assert deep.lin is not gm.lin and deep.code == gm.code and type(deep).__name__ == "Block"
    _close(deep(x)[0], expected)
    loaded = pickle.loads(pickle.dumps(gm))
    assert loaded.code == gm.code and type(loaded).__name__ == "Block"
    _close(loaded(x)[0], expected)
    assert type(loaded) is not type(gm)  # each GraphModule has its own class


def test_ember_save_load_rebuilds_the_graph_without_running_file_code():
    gm = fx.symbolic_trace(Block())
    buf = io.BytesIO()
    ember.save(gm, buf)
    buf.seek(0)
    loaded = ember.load(buf, weights_only=False)
    x = ember.randn(2, 3)
    _close(loaded(x)[0], gm(x)[0])
    assert loaded.code == gm.code
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        ember.load(buf)  # weights_only: no modules at all


def test_pickle_refuses_unknown_targets():
    def local_fn(x):
        return x
    g = fx.Graph()
    g.output(g.call_function(local_fn, (g.placeholder("x"),)))
    data = pickle.dumps(fx.GraphModule(nn.Module(), g))
    with pytest.raises(pickle.UnpicklingError, match="is not a function"):
        pickle.loads(data)


def test_jit_script_of_graph_module_runs():
    gm = fx.symbolic_trace(Block())
    scripted = ember.jit.script(gm)
    x = ember.randn(2, 3)
    _close(scripted(x)[0], gm(x)[0])


class MyGraphModule(fx.GraphModule):
    def extra(self):
        return "extra"


def test_subclass_survives_pickling():
    gm = fx.symbolic_trace(Block())
    sub = MyGraphModule(gm, gm.graph, "Renamed")
    loaded = pickle.loads(pickle.dumps(sub))
    assert isinstance(loaded, MyGraphModule) and loaded.extra() == "extra"
    assert type(loaded).__name__ == "Renamed" and loaded.code == gm.code


def test_add_delete_and_prune_submodules():
    gm = fx.symbolic_trace(Block())
    assert gm.add_submodule("extra.deep", nn.ReLU())
    assert isinstance(gm.get_submodule("extra.deep"), nn.ReLU)
    assert not gm.add_submodule("shift.x", nn.ReLU())  # a buffer is in the way
    assert gm.delete_submodule("extra.deep") and not gm.delete_submodule("extra.deep")
    gm.add_submodule("unused", nn.Linear(1, 1))
    gm.delete_all_unused_submodules()
    assert [n for n, _ in gm.named_modules()] == ["", "lin"]


def test_save_load_keeps_every_kind_of_argument():
    def f(x):
        y = x[..., None, 0:1].to(ember.float64, device=ember.device("cpu"))
        z = (y.contiguous(memory_format=ember.contiguous_format) * complex(1, 0)).real
        return ember.cat([z, z + float("inf")], dim=-1), {"n": None, "s": "text"}
    gm = fx.symbolic_trace(f)
    buf = io.BytesIO()
    ember.save(gm, buf)
    buf.seek(0)
    loaded = ember.load(buf, weights_only=False)
    assert loaded.code == gm.code and str(loaded.graph) == str(gm.graph)
    x = ember.randn(2, 3)
    _close(loaded(x)[0], gm(x)[0])


def test_scripted_graph_module_pickles_as_a_graph_module():
    # ember's scripted modules are subclasses of their classes made on the fly, and a scripted
    # GraphModule is still a GraphModule: pickling it (as libraries caching generated code do)
    # stores and loads the GraphModule
    gm = fx.symbolic_trace(lambda x: ember.relu(x) * 2 + 1)
    loaded = pickle.loads(pickle.dumps(ember.jit.script(gm)))
    assert type(loaded).__mro__[1] is fx.GraphModule and loaded.code == gm.code
    x = ember.tensor([-1.0, 0.5, 2.0])
    np.testing.assert_allclose(loaded(x).numpy(), np.maximum(x.numpy(), 0) * 2 + 1)
