"""Acceptance: "Introduction to TorchScript" (beginner_source/Intro_to_TorchScript_tutorial.py)
on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose and comments removed, otherwise unchanged.
The script runs as ``__main__`` in a fresh interpreter (``run_script``), as the tutorial is
run: scripting reads the module's source (PyTorch's ``torch.jit.script`` needs it too), and
``traced.save``/``torch.jit.load`` find its classes. Checks appended after the tutorial save
what its modules compute; the tracing section also runs in-process.
"""
# The tutorial's code is kept verbatim, long lines included.
# ruff: noqa: E501


import numpy as np
from acceptance_runner import run, run_script

import ember

INTRO_TO_TORCHSCRIPT = r'''
import torch
print(torch.__version__)

class MyCell(torch.nn.Module):
    def __init__(self):
        super(MyCell, self).__init__()

    def forward(self, x, h):
        new_h = torch.tanh(x + h)
        return new_h, new_h

my_cell = MyCell()
x = torch.rand(3, 4)
h = torch.rand(3, 4)
print(my_cell(x, h))

class MyCell(torch.nn.Module):
    def __init__(self):
        super(MyCell, self).__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x, h):
        new_h = torch.tanh(self.linear(x) + h)
        return new_h, new_h

my_cell = MyCell()
print(my_cell)
print(my_cell(x, h))

class MyDecisionGate(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        else:
            return -x

class MyCell(torch.nn.Module):
    def __init__(self):
        super(MyCell, self).__init__()
        self.dg = MyDecisionGate()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x, h):
        new_h = torch.tanh(self.dg(self.linear(x)) + h)
        return new_h, new_h

my_cell = MyCell()
print(my_cell)
print(my_cell(x, h))

class MyCell(torch.nn.Module):
    def __init__(self):
        super(MyCell, self).__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x, h):
        new_h = torch.tanh(self.linear(x) + h)
        return new_h, new_h

my_cell = MyCell()
x, h = torch.rand(3, 4), torch.rand(3, 4)
traced_cell = torch.jit.trace(my_cell, (x, h))
print(traced_cell)
traced_cell(x, h)

print(traced_cell.graph)

print(traced_cell.code)

print(my_cell(x, h))
print(traced_cell(x, h))

class MyDecisionGate(torch.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x
        else:
            return -x

class MyCell(torch.nn.Module):
    def __init__(self, dg):
        super(MyCell, self).__init__()
        self.dg = dg
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x, h):
        new_h = torch.tanh(self.dg(self.linear(x)) + h)
        return new_h, new_h

my_cell = MyCell(MyDecisionGate())
traced_cell = torch.jit.trace(my_cell, (x, h))

print(traced_cell.dg.code)
print(traced_cell.code)

scripted_gate = torch.jit.script(MyDecisionGate())

my_cell = MyCell(scripted_gate)
scripted_cell = torch.jit.script(my_cell)

print(scripted_gate.code)
print(scripted_cell.code)

x, h = torch.rand(3, 4), torch.rand(3, 4)
traced_cell(x, h)

class MyRNNLoop(torch.nn.Module):
    def __init__(self):
        super(MyRNNLoop, self).__init__()
        self.cell = torch.jit.trace(MyCell(scripted_gate), (x, h))

    def forward(self, xs):
        h, y = torch.zeros(3, 4), torch.zeros(3, 4)
        for i in range(xs.size(0)):
            y, h = self.cell(xs[i], h)
        return y, h

rnn_loop = torch.jit.script(MyRNNLoop())
print(rnn_loop.code)

class WrapRNN(torch.nn.Module):
    def __init__(self):
        super(WrapRNN, self).__init__()
        self.loop = torch.jit.script(MyRNNLoop())

    def forward(self, xs):
        y, h = self.loop(xs)
        return torch.relu(y)

traced = torch.jit.trace(WrapRNN(), (torch.rand(10, 3, 4)))
print(traced.code)

traced.save('wrapped_rnn.pt')

loaded = torch.jit.load('wrapped_rnn.pt')

print(loaded)
print(loaded.code)
'''

# Everything before the control-flow ("Using Scripting to Convert Modules") section.
TRACING_SECTION = INTRO_TO_TORCHSCRIPT.split("class MyDecisionGate(torch.nn.Module):\n    def forward(self, x):\n        if x.sum() > 0:\n            return x\n        else:\n            return -x\n\nclass MyCell(torch.nn.Module):\n    def __init__(self, dg):")[0]

CHECKS = r'''
import numpy as np
xs = torch.rand(10, 3, 4)
np.save("loaded.npy", loaded(xs).detach().numpy())
np.save("traced.npy", traced(xs).detach().numpy())
ys, hs = rnn_loop(xs)
np.save("rnn_loop.npy", ys.detach().numpy())
cell = MyCell(scripted_gate)
cell.load_state_dict(rnn_loop.cell.state_dict())
h = torch.zeros(3, 4)
for i in range(10):
    y, h = cell(xs[i], h)
np.save("eager_loop.npy", y.detach().numpy())
neg = -torch.ones(2, 4)
np.save("gates.npy", np.stack([scripted_gate(neg).numpy(), MyDecisionGate()(neg).numpy()]))
'''


def test_tracing_section():
    ember.manual_seed(0)
    ns = run(TRACING_SECTION)
    x, h = ns["x"], ns["h"]
    eager = ns["my_cell"](x, h)
    traced = ns["traced_cell"](x, h)
    for a, b in zip(eager, traced):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)
    out = ns["_stdout"]
    assert out.splitlines()[0] == ember.__version__
    assert "def forward(self, x, h):" in out and "torch.tanh" in out
    assert "MyDecisionGate()" in out


def _write(tmp_path, code):
    (tmp_path / "intro_to_torchscript.py").write_text(code)
    return run_script(tmp_path, "intro_to_torchscript.py", timeout=120)


def test_tutorial(tmp_path):
    (tmp_path / "intro_to_torchscript.py").write_text(INTRO_TO_TORCHSCRIPT + CHECKS)
    done = run_script(tmp_path, "intro_to_torchscript.py", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    # scripting keeps the data-dependent branch of MyDecisionGate in its code
    assert "    if x.sum() > 0:\n        return x\n    else:\n        return -x" in out
    assert "for i in range(xs.size(0)):" in out and "torch.relu(y)" in out
    assert "WrapRNN(\n  (loop): MyRNNLoop(\n    (cell): MyCell(" in out
    loaded, traced = np.load(tmp_path / "loaded.npy"), np.load(tmp_path / "traced.npy")
    np.testing.assert_allclose(loaded, traced, rtol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "rnn_loop.npy"),
                               np.load(tmp_path / "eager_loop.npy"), rtol=1e-6)
    # the scripted gate takes the ``else`` branch for a negative sum: -(-1) = 1, as Python does
    gates = np.load(tmp_path / "gates.npy")
    np.testing.assert_array_equal(gates[0], np.ones((2, 4)))
    np.testing.assert_array_equal(gates[0], gates[1])
    assert (tmp_path / "wrapped_rnn.pt").stat().st_size > 0
