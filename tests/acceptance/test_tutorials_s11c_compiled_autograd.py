"""Acceptance: "Compiled Autograd: Capturing a larger backward graph for torch.compile"
(intermediate_source/compiled_autograd_tutorial.py) on ember.

Code from pytorch/tutorials (BSD-3-Clause), prose, comments and the logged-graph strings
removed; otherwise unchanged (sizes are already small). ember's ``compile`` and its autograd
engine run eagerly, so ``torch._dynamo.compiled_autograd.enable`` only scopes the block and
the gradients are the eager ones, which the tests check. The graph-break cell asserts
TorchDynamo's graph counts (3 backward graphs, then 1); ember captures no graphs, so its
counters stay 0: that cell is a strict xfail.
"""
# The tutorial's code is kept verbatim, trailing spaces included.
# ruff: noqa: E501, W291, W293, E701, E731

import numpy as np
import pytest
from acceptance_runner import run

import ember


@pytest.fixture(autouse=True)
def _compiled_autograd_config_restored():
    """The tutorial sets ``torch._dynamo.config.compiled_autograd = True`` for the process."""
    before = ember._dynamo.config.compiled_autograd
    yield
    ember._dynamo.config.compiled_autograd = before


SETUP = r'''
import torch

class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(10, 10)

    def forward(self, x):
        return self.linear(x)

model = Model()
x = torch.randn(10)

torch._dynamo.config.compiled_autograd = True
@torch.compile
def train(model, x):
    loss = model(x).sum()
    loss.backward()

train(model, x) 
'''

TRAIN_FLAGS = r'''
def train(model, x):
    model = torch.compile(model)
    loss = model(x).sum()
    torch._dynamo.config.compiled_autograd = True
    torch.compile(lambda: loss.backward(), fullgraph=True)()
'''

TRAIN_CONTEXT = r'''
def train(model, x):
    model = torch.compile(model)
    loss = model(x).sum()
    with torch._dynamo.compiled_autograd.enable(torch.compile(fullgraph=True)):
        loss.backward()
'''

GRAPH_BREAKS = r'''
@torch.compile(backend="aot_eager")
def fn(x):
    temp = x + 10
    torch._dynamo.graph_break()
    temp = temp + 10
    torch._dynamo.graph_break()
    return temp.sum()

x = torch.randn(10, 10, requires_grad=True)
torch._dynamo.utils.counters.clear()
loss = fn(x)

loss.backward(retain_graph=True)
assert(torch._dynamo.utils.counters["stats"]["unique_graphs"] == 3)
torch._dynamo.utils.counters.clear()

with torch._dynamo.compiled_autograd.enable(torch.compile(backend="aot_eager")):
    loss.backward()

assert(torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1)
'''

HOOKS = r'''
@torch.compile(backend="aot_eager")
def fn(x):
    return x.sum()

x = torch.randn(10, 10, requires_grad=True)
x.register_hook(lambda grad: grad+10)
loss = fn(x)

with torch._dynamo.compiled_autograd.enable(torch.compile(backend="aot_eager")):
    loss.backward()
'''

RECOMPILES = r'''
torch._dynamo.config.compiled_autograd = True
x = torch.randn(10, requires_grad=True)
for op in [torch.add, torch.sub, torch.mul, torch.div]:
    loss = op(x, x).sum()
    torch.compile(lambda: loss.backward(), backend="eager")()
'''

DYNAMIC_SHAPES = r'''
torch._dynamo.config.compiled_autograd = True
for i in [10, 100, 10]:
    x = torch.randn(i, i, requires_grad=True)
    loss = x.sum()
    torch.compile(lambda: loss.backward(), backend="eager")()
'''


def _linear_grads(model, x):
    """The gradients of ``model(x).sum()`` for a Linear: d/dW = ones ⊗ x, d/db = ones."""
    w = model.linear.weight
    return np.ones((w.shape[0], 1)) * x.numpy()[None, :], np.ones(w.shape[0])


def test_basic_usage_computes_eager_gradients():
    ns = run(SETUP)
    gw, gb = _linear_grads(ns["model"], ns["x"])
    np.testing.assert_allclose(ns["model"].linear.weight.grad.numpy(), gw, rtol=1e-6)
    np.testing.assert_allclose(ns["model"].linear.bias.grad.numpy(), gb)


@pytest.mark.parametrize("cell", [TRAIN_FLAGS, TRAIN_CONTEXT], ids=["flags", "context"])
def test_train_variants(cell):
    ns = run(SETUP + cell)
    model, x = ns["model"], ns["x"]
    model.zero_grad(set_to_none=True)
    ns["train"](model, x)
    gw, gb = _linear_grads(model, x)
    np.testing.assert_allclose(model.linear.weight.grad.numpy(), gw, rtol=1e-6)
    np.testing.assert_allclose(model.linear.bias.grad.numpy(), gb)


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="ember captures no graphs: torch._dynamo.utils.counters stay 0")
def test_graph_breaks_counts():
    run(SETUP + GRAPH_BREAKS)


def test_graph_break_backward_gradients():
    # The cell's computation without its graph-count asserts: both backward passes accumulate.
    code = GRAPH_BREAKS.replace('assert(torch._dynamo.utils.counters["stats"]["unique_graphs"] == 3)', "")
    code = code.replace('assert(torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1)', "")
    ns = run(SETUP + code)
    np.testing.assert_allclose(ns["x"].grad.numpy(), np.full((10, 10), 2.0))


def test_backward_hook_runs_inside_compiled_autograd():
    ns = run(SETUP + HOOKS)
    np.testing.assert_allclose(ns["x"].grad.numpy(), np.full((10, 10), 11.0))


def test_recompile_cells():
    ns = run(SETUP + RECOMPILES)
    # add 2, sub 0, mul 2x, div 0 accumulated into x.grad
    x = ns["x"].detach().numpy()
    np.testing.assert_allclose(ns["x"].grad.numpy(), 2.0 + 2.0 * x, rtol=1e-6)
    ns = run(SETUP + DYNAMIC_SHAPES)
    assert ns["x"].shape == (10, 10)
    np.testing.assert_allclose(ns["x"].grad.numpy(), np.ones((10, 10)))


def test_compiled_autograd_enable_is_a_context_manager():
    calls = []
    x = ember.randn(3, requires_grad=True)
    with ember._dynamo.compiled_autograd.enable(lambda gm: calls.append(gm) or gm):
        (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy(), rtol=1e-6)
    assert calls == []  # ember's backward runs eagerly: the compiler is never called
