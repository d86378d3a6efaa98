"""Acceptance: the "torch.export Tutorial" (pytorch/tutorials
intermediate_source/torch_export_tutorial.py, BSD-3-Clause) runs on ember.

Cells are the tutorial's code with its prose removed. Changes, each for PyTorch 2.13 itself
(the tutorial snapshot predates it): an ExportedProgram is no longer callable, so cells call
``.module()`` on it; ``export`` takes an ``nn.Module`` only, so the functions the cells export
are wrapped in one (``Fn``); ``cond`` comes from ``torch`` instead of
``functorch.experimental.control_flow``. Skipped: ``torch._logging.set_logs`` (logging
internals), ``constrain_as_value``/``constrain_as_size`` (removed from PyTorch) and the custom
op cell (``Library`` with a "Meta" kernel: ember traces through custom ops instead of keeping
them as one node). The save/load cell follows the ``torch.export.save`` documentation.
"""
import pytest
from acceptance_runner import run

import ember

SETUP = """
    import torch
    from torch.export import export

    class Fn(torch.nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, *args):
            return self.fn(*args)
"""

BASIC = """
    class MyModule(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(100, 10)

        def forward(self, x, y):
            return torch.nn.functional.relu(self.lin(x + y), inplace=True)

    mod = MyModule()
    exported_mod = export(mod, (torch.randn(8, 100), torch.randn(8, 100)))
    print(type(exported_mod))
    print(exported_mod.module()(torch.randn(8, 100), torch.randn(8, 100)))

    print(exported_mod)
    print(exported_mod.graph_module)

    print(exported_mod.graph_signature)
"""

GRAPH_BREAKS = """
    def bad1(x):
        if x.sum() > 0:
            return torch.sin(x)
        return torch.cos(x)

    import traceback as tb
    try:
        export(Fn(bad1), (torch.randn(3, 3),))
    except Exception:
        tb.print_exc()

    def bad2(x):
        x.data[0, 0] = 3
        return x

    try:
        export(Fn(bad2), (torch.randn(3, 3),))
    except Exception:
        tb.print_exc()

    def bad3(x):
        x = x + 1
        return x + id(x)

    try:
        export(Fn(bad3), (torch.randn(3, 3),))
    except Exception:
        tb.print_exc()
"""

COND = """
    cond = torch.cond

    def bad1_fixed(x):
        def true_fn(x):
            return torch.sin(x)
        def false_fn(x):
            return torch.cos(x)
        return cond(x.sum() > 0, true_fn, false_fn, [x])

    exported_bad1_fixed = export(Fn(bad1_fixed), (torch.randn(3, 3),))
    print(exported_bad1_fixed.module()(torch.ones(3, 3)))
    print(exported_bad1_fixed.module()(-torch.ones(3, 3)))
"""

STATIC = """
    class MyModule2(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(100, 10)

        def forward(self, x, y):
            return torch.nn.functional.relu(self.lin(x + y), inplace=True)

    mod2 = MyModule2()
    exported_mod2 = export(mod2, (torch.randn(8, 100), torch.randn(8, 100)))

    try:
        exported_mod2.module()(torch.randn(10, 100), torch.randn(10, 100))
    except Exception:
        tb.print_exc()
"""

DYNAMIC = """
    from torch.export import Dim

    inp1 = torch.randn(10, 10, 2)

    def dynamic_shapes_example1(x):
        x = x[:, 2:]
        return torch.relu(x)

    inp1_dim0 = Dim("inp1_dim0")
    inp1_dim1 = Dim("inp1_dim1", min=4, max=18)
    dynamic_shapes1 = {
        "args": ({0: inp1_dim0, 1: inp1_dim1},),
    }

    exported_dynamic_shapes_example1 = export(Fn(dynamic_shapes_example1), (inp1,),
                                              dynamic_shapes=dynamic_shapes1)

    print(exported_dynamic_shapes_example1.module()(torch.randn(5, 5, 2)))

    errors = []
    for shape in [(8, 1, 2), (8, 20, 2), (8, 8, 3)]:
        try:
            exported_dynamic_shapes_example1.module()(torch.randn(*shape))
        except Exception as e:
            errors.append(e)

    inp1_dim1_bad = Dim("inp1_dim1_bad", min=11, max=18)
    dynamic_shapes1_bad = {
        "args": ({0: inp1_dim0, 1: inp1_dim1_bad},),
    }

    try:
        export(Fn(dynamic_shapes_example1), (inp1,), dynamic_shapes=dynamic_shapes1_bad)
    except Exception as e:
        bad_example = e

    inp2 = torch.randn(4, 8)
    inp3 = torch.randn(8, 2)

    def dynamic_shapes_example2(x, y):
        return x @ y

    inp2_dim0 = Dim("inp2_dim0")
    inner_dim = Dim("inner_dim")
    inp3_dim1 = Dim("inp3_dim1")

    dynamic_shapes2 = {
        "args": ({0: inp2_dim0, 1: inner_dim}, {0: inner_dim, 1: inp3_dim1}),
    }

    exported_dynamic_shapes_example2 = export(Fn(dynamic_shapes_example2), (inp2, inp3),
                                              dynamic_shapes=dynamic_shapes2)

    print(exported_dynamic_shapes_example2.module()(torch.randn(2, 16), torch.randn(16, 4)))

    try:
        exported_dynamic_shapes_example2.module()(torch.randn(4, 8), torch.randn(4, 2))
    except Exception as e:
        mismatch = e
"""

SUGGESTED_FIXES = """
    inp4 = torch.randn(8, 16)
    inp5 = torch.randn(16, 32)

    def dynamic_shapes_example3(x, y):
        if x.shape[0] <= 16:
            return x @ y[:, :16]
        return y

    dynamic_shapes3 = {
        "args": ({i: Dim(f"inp4_dim{i}") for i in range(inp4.dim())},
                 {i: Dim(f"inp5_dim{i}") for i in range(inp5.dim())}),
    }

    try:
        export(Fn(dynamic_shapes_example3), (inp4, inp5), dynamic_shapes=dynamic_shapes3)
    except Exception as e:
        violation = e

    def suggested_fixes():
        inp4_dim1 = Dim('shared_dim')
        # suggested fixes below
        inp4_dim0 = Dim('inp4_dim0', max=16)
        inp5_dim1 = Dim('inp5_dim1', min=17)
        inp5_dim0 = inp4_dim1
        # end of suggested fixes
        return {
            "args": ({0: inp4_dim0, 1: inp4_dim1}, {0: inp5_dim0, 1: inp5_dim1}),
        }

    dynamic_shapes3_fixed = suggested_fixes()
    exported_dynamic_shapes_example3 = export(Fn(dynamic_shapes_example3), (inp4, inp5),
                                              dynamic_shapes=dynamic_shapes3_fixed)
    print(exported_dynamic_shapes_example3.module()(torch.randn(4, 32), torch.randn(32, 64)))

    print(exported_dynamic_shapes_example3.range_constraints)
    print(exported_dynamic_shapes_example3.equality_constraints)
"""

EXPORTDB = """
    def cond_predicate(x):
        pred = x.dim() > 2 and x.shape[2] > 10
        return cond(pred, lambda x: x.cos(), lambda y: y.sin(), [x])

    exported_cond_predicate = export(Fn(cond_predicate), (torch.randn(6, 4, 3),))
    print(exported_cond_predicate.module()(torch.randn(6, 4, 3)))
"""

SAVE_LOAD = """
    torch.export.save(exported_mod, path)
    saved_exported_program = torch.export.load(path)
    x, y = torch.randn(8, 100), torch.randn(8, 100)
    reloaded = saved_exported_program.module()(x, y)
    original = exported_mod.module()(x, y)
"""


def test_export_tutorial(tmp_path):
    ns = run(SETUP)
    run(BASIC, ns)
    out = ns["_stdout"]
    assert "ExportedProgram" in out and "torch.ops.aten.linear.default" in out
    assert "p_lin_weight: PARAMETER target='lin.weight'" in out
    assert "relu_: USER_OUTPUT" in out

    run(GRAPH_BREAKS, ns)  # each cell prints its error; bad1's is the data-dependent one
    with pytest.raises(ember.export.GuardOnDataDependentSymNode):
        ember.export.export(ns["Fn"](ns["bad1"]), (ember.randn(3, 3),))

    run(COND, ns)
    assert "tensor(" in ns["_stdout"].split("torch.ops.aten")[-1]
    fixed = ns["exported_bad1_fixed"].module()
    assert ember.allclose(fixed(ember.ones(3, 3)), ember.ones(3, 3).sin())
    assert ember.allclose(fixed(-ember.ones(3, 3)), (-ember.ones(3, 3)).cos())

    run(STATIC, ns)
    run(DYNAMIC, ns)
    assert [type(e) for e in ns["errors"]] == [AssertionError] * 3
    assert isinstance(ns["bad_example"], ember.export.ConstraintViolationError)
    assert isinstance(ns["mismatch"], Exception)

    run(SUGGESTED_FIXES, ns)
    assert isinstance(ns["violation"], ember.export.UserError)
    assert "inp4_dim0 = Dim('inp4_dim0', max=16)" in str(ns["violation"])

    run(EXPORTDB, ns)

    run(SAVE_LOAD, ns, path=str(tmp_path / "exported_program.pt2"))
    assert ember.allclose(ns["reloaded"], ns["original"])
